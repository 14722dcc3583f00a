"""Applications assembled from the geometry, micro and io layers."""
