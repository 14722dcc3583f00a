"""Mobilities M(c) of the gradient flows.

A number, :class:`ConstantMobility`, the floored degenerate :class:`QuadraticMobility`, or any
callable c ↦ M(c) (UFL).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import ufl
from dolfinx import fem
from petsc4py import PETSc

from fe2.errors import ConfigError


@dataclass(frozen=True)
class ConstantMobility:
    """M(c) = value (> 0)."""

    value: float

    def __post_init__(self):
        if not (math.isfinite(self.value) and self.value > 0):
            raise ConfigError(f"constant mobility must be finite and > 0, got {self.value}")

    def __call__(self, c):
        return self.value + 0.0 * c  # solvers use a fem.Constant instead (see _mobility_expr)

    def at(self, c: float) -> float:
        return self.value


@dataclass(frozen=True)
class QuadraticMobility:
    """Degenerate quadratic mobility, regularized:
    M(c) = m0 · max(4 (c − c_min)(c_max − c) / (c_max − c_min)², floor).

    M = m0 at the midpoint (c_min + c_max)/2 and → m0·floor at and beyond c_min, c_max, so
    M ≥ m0·floor > 0 for every c (an iterate that leaves [c_min, c_max] cannot stall the flow,
    and the energy law, which needs M ≥ 0 pointwise, holds for any c).
    """

    m0: float
    c_min: float = 0.0
    c_max: float = 1.0
    floor: float = 1e-3

    def __post_init__(self):
        if not (math.isfinite(self.m0) and self.m0 > 0):
            raise ConfigError(f"quadratic mobility: m0 must be finite and > 0, got {self.m0}")
        if not self.c_max > self.c_min:
            raise ConfigError(f"quadratic mobility: need c_max > c_min, got {self.c_min}, {self.c_max}")
        if not 0 < self.floor <= 1:
            raise ConfigError(f"quadratic mobility: need 0 < floor <= 1, got {self.floor}")

    def _shape(self, c):
        return 4.0 * (c - self.c_min) * (self.c_max - c) / (self.c_max - self.c_min) ** 2

    def __call__(self, c):
        return self.m0 * ufl.max_value(self._shape(c), self.floor)

    def at(self, c: float) -> float:
        return self.m0 * max(self._shape(c), self.floor)


Mobility = float | ConstantMobility | QuadraticMobility | Callable[[ufl.core.expr.Expr], ufl.core.expr.Expr]


def _mobility_expr(mesh, mobility: Mobility, c_lag):
    """UFL mobility: a fem.Constant for a number (the historical path, bit-identical), else
    mobility(c_lag).
    """
    if isinstance(mobility, ConstantMobility):
        mobility = mobility.value
    if callable(mobility):
        return mobility(c_lag)
    if not (math.isfinite(float(mobility)) and float(mobility) > 0):
        raise ConfigError(f"mobility must be finite and > 0, got {mobility}")
    return fem.Constant(mesh, PETSc.ScalarType(float(mobility)))
