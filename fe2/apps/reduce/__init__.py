"""``fe2 reduce``: train a reduced RVE (POD + ECM) and store it (see docs/reduced_rve.md)."""
