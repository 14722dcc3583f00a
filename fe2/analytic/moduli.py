"""Scalar moduli read off an (effective) stiffness matrix.

Input is fe2's **Mandel** stiffness (:mod:`fe2.tensors`): order ``11 22 12`` (2D,
plane strain) or ``11 22 33 23 13 12`` (3D), shear entries ``C_M[s, s] = 2 C_ijij``.
Below ``C11, C12, ...`` are the usual *Voigt* entries (``C44 = C2323``,
``C55 = C1313``, ``C66 = C1212`` tensor components).

Every returned modulus is a projection that is exact for the symmetry named:

* ``bulk`` = ``(I : C : I) / d^2`` -- the response to a uniform dilatation,
  ``sigma_mean = bulk * tr(eps)``. 3D: ``(C11+C22+C33 + 2(C12+C13+C23)) / 9``
  (= ``(C11 + 2 C12)/3`` for cubic symmetry); 2D: ``(C11 + C22 + 2 C12) / 4``
  (= ``(C11 + C12)/2`` for square symmetry, = ``lambda + mu`` for isotropic plane strain).
* ``shear_prime`` ("C prime") -- the response to the normal-difference shears
  ``eps11 = -eps22``...: 3D ``(C11+C22+C33 - C12-C13-C23) / 6`` (= ``(C11 - C12)/2``
  cubic); 2D ``(C11 + C22 - 2 C12) / 4`` (= ``(C11 - C12)/2`` square).
* ``shear_44`` (3D: mean of ``C44, C55, C66``; = ``C44`` cubic) /
  ``shear_66`` (2D: ``C66`` = ``C1212``) -- the response to the off-diagonal shears.
* ``shear_iso`` -- the shear modulus of the isotropic projection of C (its
  orientation average, i.e. the Voigt average over rotations): 3D
  ``(2 shear_prime + 3 shear_44) / 5``; 2D ``(shear_prime + shear_66) / 2``.
  Together with ``bulk`` it is invariant under rotations of C.
* ``anisotropy`` -- Zener's ratio ``shear_44 / shear_prime`` (2D: ``shear_66 / shear_prime``);
  1 for an isotropic C.

Sources: Voigt (1928), Lehrbuch der Kristallphysik (orientation average:
``K_V = (C11+C22+C33 + 2(C12+C13+C23))/9``,
``G_V = (C11+C22+C33 - C12-C13-C23 + 3(C44+C55+C66))/15``); Hill (1952), Proc.
Phys. Soc. A 65, 349; Zener (1948), Elasticity and Anelasticity of Metals
(anisotropy ratio). Coupling terms (e.g. ``C16``, ``C14``) do not enter these
projections; check them separately if the symmetry is in doubt.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike

from fe2.errors import MaterialError
from fe2.tensors import stiffness_mandel_to_voigt

__all__ = ["BulkShear2D", "BulkShear3D", "bulk_shear_2d", "bulk_shear_3d"]


class BulkShear2D(NamedTuple):
    """Scalar moduli of a 2D (plane-strain) stiffness; see the module docstring."""

    bulk: float
    shear_66: float
    shear_prime: float
    shear_iso: float
    anisotropy: float


class BulkShear3D(NamedTuple):
    """Scalar moduli of a 3D stiffness; see the module docstring."""

    bulk: float
    shear_44: float
    shear_prime: float
    shear_iso: float
    anisotropy: float


def _voigt(c_mandel: ArrayLike, n: int) -> np.ndarray:
    c = np.asarray(c_mandel, dtype=float)
    if c.shape != (n, n):
        raise MaterialError(f"expected a ({n}, {n}) Mandel stiffness, got shape {c.shape}")
    c = 0.5 * (c + c.T)
    return stiffness_mandel_to_voigt(c)


def _ratio(a: float, b: float) -> float:
    return float(a / b) if b != 0.0 else float("inf")


def bulk_shear_2d(c_mandel: ArrayLike) -> BulkShear2D:
    """Bulk and shear moduli of a 2D plane-strain Mandel stiffness ``(3, 3)``.

    Returns :class:`BulkShear2D` ``(bulk, shear_66, shear_prime, shear_iso, anisotropy)``:
    ``bulk = (C11 + C22 + 2 C12)/4`` (the 2D/plane-strain bulk modulus
    ``lambda + mu`` of an isotropic material, comparable with
    :func:`fe2.analytic.hashin_shtrikman_bulk` at ``dim=2``), ``shear_66 = C66``,
    ``shear_prime = (C11 + C22 - 2 C12)/4``, ``shear_iso = (shear_66 + shear_prime)/2``,
    ``anisotropy = shear_66 / shear_prime`` (Voigt entries; units of C). For square
    symmetry (``C11 = C22``) these are ``(C11 + C12)/2``, ``C66`` and ``(C11 - C12)/2``.
    """
    v = _voigt(c_mandel, 3)
    bulk = (v[0, 0] + v[1, 1] + 2.0 * v[0, 1]) / 4.0
    s_prime = (v[0, 0] + v[1, 1] - 2.0 * v[0, 1]) / 4.0
    s66 = v[2, 2]
    s_iso = 0.5 * (s66 + s_prime)
    return BulkShear2D(float(bulk), float(s66), float(s_prime), float(s_iso), _ratio(s66, s_prime))


def bulk_shear_3d(c_mandel: ArrayLike) -> BulkShear3D:
    """Bulk and shear moduli of a 3D Mandel stiffness ``(6, 6)``.

    Returns :class:`BulkShear3D` ``(bulk, shear_44, shear_prime, shear_iso, anisotropy)``:
    ``bulk = (C11+C22+C33 + 2(C12+C13+C23))/9`` (Voigt-average bulk modulus),
    ``shear_44 = (C44+C55+C66)/3``, ``shear_prime = (C11+C22+C33 - C12-C13-C23)/6``,
    ``shear_iso = (2 shear_prime + 3 shear_44)/5`` (Voigt-average shear modulus),
    ``anisotropy = shear_44 / shear_prime`` (Zener ratio). For cubic symmetry these are
    ``(C11 + 2 C12)/3``, ``C44`` and ``(C11 - C12)/2`` exactly.
    """
    v = _voigt(c_mandel, 6)
    diag = v[0, 0] + v[1, 1] + v[2, 2]
    off = v[0, 1] + v[0, 2] + v[1, 2]
    bulk = (diag + 2.0 * off) / 9.0
    s_prime = (diag - off) / 6.0
    s44 = (v[3, 3] + v[4, 4] + v[5, 5]) / 3.0
    s_iso = (2.0 * s_prime + 3.0 * s44) / 5.0
    return BulkShear3D(float(bulk), float(s44), float(s_prime), float(s_iso), _ratio(s44, s_prime))
