"""`fe2 scales`."""
