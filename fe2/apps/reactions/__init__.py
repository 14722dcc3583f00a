"""`fe2 reactions`."""
