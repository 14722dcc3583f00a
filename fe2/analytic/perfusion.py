"""Baxter & Jain (1989) interstitial pressure of a uniformly perfused, isolated tumour.

Steady Darcy flow with Starling exchange in a ball (3D) or disk (2D) of radius R,
uniform K, L_p S/V, no lymphatics, p = 0 on r = R:

    −K Δp = L_p S/V (p_e − p),   p_e = p_v − σ (π_v − π_i),   α = R sqrt(L_p S/V / K).

Solutions (φ = p_e − p solves Δφ = (α/R)² φ, regular at r = 0, φ(R) = p_e):

* sphere (Baxter & Jain 1989, Microvasc. Res. 37:77, eq. for the isolated tumour):
  p/p_e = 1 − sinh(α r/R) / ((r/R) sinh α)
* disk:  p/p_e = 1 − I₀(α r/R) / I₀(α)

Surface (outward) velocity u_R = −K dp/dr|_R:

* sphere: u_R = (K p_e / R) (α coth α − 1)
* disk:   u_R = (K p_e / R) α I₁(α)/I₀(α)

Units: any consistent set (fe2 uses SI). Pure numpy/scipy.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike
from scipy import special

from fe2.errors import ConfigError


def _check(radius: float, alpha: float, dim: int) -> None:
    if dim not in (2, 3):
        raise ConfigError(f"dimension must be 2 or 3, got {dim}")
    if not (radius > 0 and alpha > 0):
        raise ConfigError(f"radius and alpha must be positive, got R = {radius}, alpha = {alpha}")


def baxter_jain_pressure(r: ArrayLike, radius: float, alpha: float, p_e: float, dim: int = 3) -> np.ndarray:
    """Interstitial pressure p(r) for 0 ≤ r ≤ R (same shape as r); p(R) = 0.

    Evaluated with exponentially scaled functions so α up to ~700 (and beyond) stays finite.
    """
    _check(radius, alpha, dim)
    x = np.asarray(r, dtype=float) / radius
    if dim == 2:
        # I0(a x)/I0(a) = ive(0, a x)/ive(0, a) * exp(a x − a)
        ratio = special.ive(0, alpha * x) / special.ive(0, alpha) * np.exp(alpha * (x - 1.0))
        return p_e * (1.0 - ratio)
    ax = alpha * x
    with np.errstate(divide="ignore", invalid="ignore"):
        # sinh(a x)/(x sinh a) = exp(a(x−1)) (1 − exp(−2 a x)) / (x (1 − exp(−2a)))
        ratio = np.exp(alpha * (x - 1.0)) * (-np.expm1(-2.0 * ax)) / (x * (-np.expm1(-2.0 * alpha)))
    limit = 2.0 * alpha * np.exp(-alpha) / (-np.expm1(-2.0 * alpha))  # x → 0: α / sinh α
    ratio = np.where(x > 1e-12, ratio, limit)
    return p_e * (1.0 - ratio)


def baxter_jain_surface_velocity(radius: float, alpha: float, p_e: float, K: float, dim: int = 3) -> float:
    """Outward interstitial fluid velocity at r = R, u_R = −K dp/dr|_R."""
    _check(radius, alpha, dim)
    if dim == 2:
        return float(K * p_e / radius * alpha * special.ive(1, alpha) / special.ive(0, alpha))
    return float(K * p_e / radius * (alpha / np.tanh(alpha) - 1.0))


def baxter_jain_center_pressure(radius: float, alpha: float, p_e: float, dim: int = 3) -> float:
    """p(0): sphere p_e (1 − α/sinh α), disk p_e (1 − 1/I₀(α))."""
    return float(baxter_jain_pressure(np.array([0.0]), radius, alpha, p_e, dim)[0])
