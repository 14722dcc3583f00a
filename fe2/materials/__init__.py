"""Constitutive laws of the phases."""

from fe2.materials.linear import IsotropicConductor, IsotropicElastic

__all__ = ["IsotropicConductor", "IsotropicElastic"]
