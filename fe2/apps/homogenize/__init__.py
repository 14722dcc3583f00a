"""`fe2 homogenize`."""
