"""Bulk free energies f(c) = f_c + f_e (convex + concave) of the phase-field models.

Also the linear stability of a uniform state under Cahn–Hilliard (spinodal growth rate, fastest
wavenumber).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import ufl

from fe2.errors import ConfigError


class BulkEnergy:
    """A bulk free-energy density f(c) = f_c(c) + f_e(c), f_c convex, f_e concave.

    Subclasses give UFL expressions for f, f_c' (implicit) and f_e' (explicit),
    and the float f''(c) used by linear stability analysis.
    """

    def f(self, c):  # pragma: no cover - interface
        raise NotImplementedError

    def df_convex(self, c):  # pragma: no cover - interface
        raise NotImplementedError

    def df_concave(self, c):  # pragma: no cover - interface
        raise NotImplementedError

    def d2f(self, c0: float) -> float:  # pragma: no cover - interface
        raise NotImplementedError

    def secant(self, b, a):
        """Difference quotient S(b, a) = (f(b) − f(a)) / (b − a) (UFL), with S(a, a) = f'(a).

        Used by the secant (Crank–Nicolson-type) scheme: S(b, a)(b − a) = f(b) − f(a) holds
        exactly, which turns the discrete energy law into an identity. Generic version: the
        quotient for |b − a| > 1e-3, the midpoint Taylor series f'(m) + f⁽³⁾(m) d²/24 below
        (truncation ≲ d⁴ |f⁽⁵⁾|/1920 ≤ 1e-15 |f⁽⁵⁾|; cancellation in the quotient ≲ 1e-13 |f|).
        """
        d = b - a
        m = ufl.variable(0.5 * (a + b))
        d1 = ufl.diff(self.f(m), m)
        d3 = ufl.diff(ufl.diff(d1, m), m)
        big = ufl.gt(abs(d), 1e-3)
        safe_d = ufl.conditional(big, d, 1.0)
        return ufl.conditional(big, (self.f(b) - self.f(a)) / safe_d, d1 + d3 * d * d / 24.0)

    def to_dict(self) -> dict:
        return {"kind": type(self).__name__, **dict(vars(self).items())}


@dataclass
class DoubleWell(BulkEnergy):
    """f(c) = ρ (c − cα)² (cβ − c)²; with ρ = W, cα = 0, cβ = 1 the classic W c²(1−c)².

    With x = c − (cα+cβ)/2 and h = (cβ−cα)/2, f = ρ (x² − h²)² = ρx⁴ + ρh⁴ − 2ρh²x²:
    convex part ρx⁴ (+ const), concave part −2ρh²x².
    """

    rho: float = 1.0
    c_alpha: float = 0.0
    c_beta: float = 1.0

    def __post_init__(self):
        if not self.rho > 0 or not self.c_beta > self.c_alpha:
            raise ConfigError(f"double well needs rho > 0 and c_beta > c_alpha, got {self}")

    def _x(self, c):
        return c - 0.5 * (self.c_alpha + self.c_beta)

    @property
    def _h2(self) -> float:
        return (0.5 * (self.c_beta - self.c_alpha)) ** 2

    def f(self, c):
        return self.rho * (c - self.c_alpha) ** 2 * (self.c_beta - c) ** 2

    def df_convex(self, c):
        return 4.0 * self.rho * self._x(c) ** 3

    def df_concave(self, c):
        return -4.0 * self.rho * self._h2 * self._x(c)

    def d2f(self, c0: float) -> float:
        x = c0 - 0.5 * (self.c_alpha + self.c_beta)
        return self.rho * (12.0 * x * x - 4.0 * self._h2)

    def secant(self, b, a):
        """(f(b) − f(a))/(b − a) = ρ (x_b + x_a)(x_b² + x_a² − 2h²): exact, division-free."""
        xb, xa = self._x(b), self._x(a)
        return self.rho * (xb + xa) * (xb * xb + xa * xa - 2.0 * self._h2)


def pfhub_bm1_energy() -> DoubleWell:
    """PFHub benchmark 1 bulk energy: ρ = 5, cα = 0.3, cβ = 0.7."""
    return DoubleWell(rho=5.0, c_alpha=0.3, c_beta=0.7)


@dataclass
class FloryHuggins(BulkEnergy):
    """f(c) = s [c ln c / n_a + (1−c) ln(1−c) / n_b + χ c (1−c)], c ∈ (0, 1).

    Convex: the entropy terms; concave: χ c(1−c). Iterates leaving (0, 1) give a
    NaN residual, which the adaptive stepper treats as a failed step.
    """

    chi: float = 3.0
    n_a: float = 1.0
    n_b: float = 1.0
    scale: float = 1.0

    def __post_init__(self):
        if not (self.chi >= 0 and self.n_a > 0 and self.n_b > 0 and self.scale > 0):
            raise ConfigError(f"Flory–Huggins needs chi >= 0, n_a, n_b, scale > 0, got {self}")

    def f(self, c):
        return self.scale * (c * ufl.ln(c) / self.n_a + (1 - c) * ufl.ln(1 - c) / self.n_b
                             + self.chi * c * (1 - c))

    def df_convex(self, c):
        return self.scale * ((ufl.ln(c) + 1) / self.n_a - (ufl.ln(1 - c) + 1) / self.n_b)

    def df_concave(self, c):
        return self.scale * self.chi * (1 - 2 * c)

    def d2f(self, c0: float) -> float:
        return self.scale * (1 / (self.n_a * c0) + 1 / (self.n_b * (1 - c0)) - 2 * self.chi)


def ch_growth_rate(k, energy: BulkEnergy, c0: float, kappa: float, mobility: float):
    """Linearized CH growth rate σ(k) = −M k² (f''(c0) + κ k²) of a mode cos(k·x)."""
    k = np.asarray(k, dtype=float)
    return -mobility * k**2 * (energy.d2f(c0) + kappa * k**2)


def ch_fastest_wavenumber(energy: BulkEnergy, c0: float, kappa: float) -> float:
    """k_max = √(−f''(c0) / (2κ)); NaN when c0 is outside the spinodal (f''(c0) ≥ 0)."""
    d2 = energy.d2f(c0)
    return math.sqrt(-d2 / (2 * kappa)) if d2 < 0 else math.nan
