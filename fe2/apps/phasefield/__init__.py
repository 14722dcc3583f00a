"""`fe2 phasefield`."""
