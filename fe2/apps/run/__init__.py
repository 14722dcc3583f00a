"""`fe2 run`."""
