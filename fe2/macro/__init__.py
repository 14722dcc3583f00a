"""Macro layer: DOLFINx problems whose constitutive response lives at quadrature points."""
