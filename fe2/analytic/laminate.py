"""Exact effective properties of simple (rank-1) laminates of isotropic layers.

The layers are normal to axis ``axis`` (0 = x1 by default, as in
:func:`fe2.geometry.laminate.laminate_rve`). Only the volume fractions of the
phases matter, not the number or order of the layers.

Derivation (elasticity), normal ``n = e1``, ``M = lambda + 2 mu``, ``<.>`` the
volume average: the in-plane strains (``e22, e33, e23``) and the tractions
``(s11, s12, s13)`` are uniform across the layers (compatibility and
equilibrium). From ``s11 = M e11 + lambda (e22 + e33)`` uniform,
``e11 = (s11 - lambda (e22 + e33)) / M``; averaging gives

* ``C1111 = <1/M>^-1``,
* ``C1122 = C1133 = C1111 <lambda/M>``,
* ``C2222 = C3333 = <4 mu (lambda + mu) / M> + C1111 <lambda/M>^2``,
* ``C2233 = <2 lambda mu / M> + C1111 <lambda/M>^2``
  (from ``s22 = (lambda/M) s11 + (M - lambda^2/M) e22 + (lambda - lambda^2/M) e33``,
  with ``M - lambda^2/M = 4 mu (lambda + mu)/M`` and ``lambda - lambda^2/M = 2 lambda mu / M``),
* ``C1212 = C1313 = <1/mu>^-1`` (uniform shear traction),
* ``C2323 = <mu>`` (uniform in-plane shear strain).

Sources: Postma (1955), Geophysics 20, 780 (periodic isotropic layers);
Backus (1962), J. Geophys. Res. 67, 4427 (general long-wave equivalent medium,
the same averages); Milton (2002), The Theory of Composites, ch. 9 (laminates).
In 2D (plane strain, ``e33 = 0``) the in-plane block is the same
(``C1111, C1122, C2222, C1212``).

Conductivity: harmonic mean across the layers, arithmetic mean along them
(Wiener 1912, Abh. Math.-Phys. Kl. Sächs. Ges. Wiss. 32, 509; Milton 2002, ch. 9).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from fe2.analytic._checks import check_dim, check_fractions, check_moduli
from fe2.errors import ConfigError, MaterialError
from fe2.tensors import VOIGT_PAIRS, n_sym

__all__ = ["laminate_conductivity", "laminate_moduli", "laminate_stiffness"]


def _check_axis(axis: int, dim: int) -> int:
    if axis not in range(dim):
        raise ConfigError(f"lamination axis must be in 0..{dim - 1}, got {axis}")
    return int(axis)


def laminate_moduli(lam: ArrayLike, mu: ArrayLike, fractions: ArrayLike, dim: int = 3) -> dict[str, float]:
    """The independent tensor components of the laminate stiffness (normal x1), as a dict.

    Keys: ``"C1111", "C1122", "C2222", "C2233", "C1212", "C2323"`` (tensor
    components, not Voigt/Mandel entries; ``C1313 = C1212``, ``C3333 = C2222``,
    ``C1133 = C1122``). Units: those of ``lam`` and ``mu``.

    Args:
        lam, mu: ``(n_phases,)`` Lamé constants of the layer phases; ``mu > 0`` and a
            positive bulk modulus: ``3 lam + 2 mu > 0`` (``dim=3``) or ``lam + mu > 0``
            (``dim=2``, plane strain: only the in-plane stiffness must be positive definite;
            the 3D-only entries ``C2233``, ``C2323`` are then still returned but unused).
        fractions: ``(n_phases,)`` volume fractions, summing to 1.
        dim: 3 or 2; selects the admissibility check only.
    """
    dim = check_dim(dim)
    lam_a = np.atleast_1d(np.asarray(lam, dtype=float))
    mu_a = check_moduli(mu, "mu", n=lam_a.size)
    f = check_fractions(fractions, lam_a.size)
    bulk = lam_a + (2.0 / 3.0 if dim == 3 else 1.0) * mu_a
    if not np.all(np.isfinite(lam_a)) or np.any(mu_a <= 0.0) or np.any(bulk <= 0.0):
        raise MaterialError(
            f"laminate layers need mu > 0 and a positive {dim}D bulk modulus, "
            f"got lambda={lam_a.tolist()}, mu={mu_a.tolist()}"
        )
    keep = f > 0.0
    f, lam_a, mu_a = f[keep], lam_a[keep], mu_a[keep]
    m = lam_a + 2.0 * mu_a
    c1111 = 1.0 / np.sum(f / m)
    r = np.sum(f * lam_a / m)  # <lambda / M>
    return {
        "C1111": float(c1111),
        "C1122": float(c1111 * r),
        "C2222": float(np.sum(f * 4.0 * mu_a * (lam_a + mu_a) / m) + c1111 * r * r),
        "C2233": float(np.sum(f * 2.0 * lam_a * mu_a / m) + c1111 * r * r),
        "C1212": float(1.0 / np.sum(f / mu_a)),
        "C2323": float(np.sum(f * mu_a)),
    }


def laminate_stiffness(
    lam: ArrayLike, mu: ArrayLike, fractions: ArrayLike, dim: int, axis: int = 0
) -> np.ndarray:
    """Exact effective Mandel stiffness of a laminate of isotropic layers.

    Args:
        lam, mu: ``(n_phases,)`` Lamé constants of the phases (any stress unit);
            ``mu > 0`` and ``3 lam + 2 mu > 0`` (3D) / ``lam + mu > 0`` (2D).
        fractions: ``(n_phases,)`` volume fractions, summing to 1.
        dim: 3, or 2 for plane strain (in-plane components ``11 22 12``).
        axis: the layer normal (0 = x1, 1 = x2, 2 = x3).

    Returns:
        ``(n_sym, n_sym)`` Mandel stiffness in fe2's component order (shear
        entries are ``2 C_ijij``). See the module docstring for the formulas.
    """
    dim = check_dim(dim)
    axis = _check_axis(axis, dim)
    c = laminate_moduli(lam, mu, fractions, dim)
    pairs = VOIGT_PAIRS[dim]
    out = np.zeros((n_sym(dim), n_sym(dim)))
    for a, (i, j) in enumerate(pairs):
        for b, (k, l) in enumerate(pairs):  # noqa: E741 -- index names of C_ijkl
            if i == j and k == l:  # normal-normal block
                if i == axis and k == axis:
                    val = c["C1111"]
                elif i == axis or k == axis:
                    val = c["C1122"]
                elif i == k:
                    val = c["C2222"]
                else:
                    val = c["C2233"]
                out[a, b] = val
            elif a == b and i != j:  # shear diagonal: Mandel entry 2 C_ijij
                out[a, b] = 2.0 * (c["C1212"] if axis in (i, j) else c["C2323"])
    return out


def laminate_conductivity(sigma: ArrayLike, fractions: ArrayLike, dim: int, axis: int = 0) -> np.ndarray:
    """Exact effective conductivity ``(dim, dim)`` of a laminate of isotropic phases.

    Diagonal: ``<1/sigma>^-1`` along the normal ``axis`` (layers in series),
    ``<sigma>`` along the layers (in parallel). A zero conductivity is allowed
    (the normal entry is then 0).
    """
    dim = check_dim(dim)
    axis = _check_axis(axis, dim)
    s = check_moduli(sigma, "sigma")
    f = check_fractions(fractions, s.size)
    keep = f > 0.0
    f, s = f[keep], s[keep]
    out = np.eye(dim) * float(np.sum(f * s))
    out[axis, axis] = 0.0 if np.any(s == 0.0) else float(1.0 / np.sum(f / s))
    return out
