"""`fe2 identify`: structural and practical identifiability of reaction-network parameters."""
