"""`fe2 darcy`."""
