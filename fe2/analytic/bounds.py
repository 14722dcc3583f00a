"""Bounds and exact results that need only the volume fractions.

Conventions
-----------
* Stiffness matrices are fe2's **Mandel** matrices (:mod:`fe2.tensors`), shape
  ``(n_sym, n_sym)``; conductivity matrices are ``(d, d)``. Any consistent unit
  (Pa, W/m/K, ...) goes in and the same unit comes out.
* ``dim = 2`` elasticity is **plane strain** (or, equivalently, the transverse
  behaviour of a unidirectional fibre composite): the 2D bulk modulus is
  ``kappa_2D = lambda + mu`` (mean in-plane stress per unit area change,
  :func:`bulk_modulus`), the shear modulus is the in-plane ``mu``.
* ``dim = 3`` elasticity uses the usual bulk modulus ``kappa = lambda + 2 mu / 3``.
* Isotropic phases are given as sequences, one value per phase; any number of
  phases is accepted. Phases with zero volume fraction are ignored.
* A zero modulus/conductivity is allowed (pores, insulating phase): the lower
  bounds then vanish. Infinite values are accepted where the docstring says so.

Every function returns ``(lower, upper)`` or a single exact value; the source
(author, year, equation) of each formula is in its docstring.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from fe2.analytic._checks import check_dim, check_fractions, check_moduli, check_volume_fraction
from fe2.errors import MaterialError

__all__ = [
    "bulk_modulus",
    "coated_sphere_bulk",
    "hashin_shtrikman_bulk",
    "hashin_shtrikman_conductivity",
    "hashin_shtrikman_shear",
    "maxwell_garnett_conductivity",
    "reuss_bound",
    "voigt_bound",
]


# --------------------------------------------------------------------------- Voigt / Reuss
def _phase_stack(phase_tensors: ArrayLike, fractions: ArrayLike) -> tuple[np.ndarray, np.ndarray, bool]:
    t = np.asarray(phase_tensors, dtype=float)
    scalar = t.ndim == 1
    if scalar:
        t = t[:, None, None]
    if t.ndim != 3 or t.shape[1] != t.shape[2]:
        raise MaterialError(
            f"phase tensors must have shape (n_phases,) or (n_phases, m, m), got {np.shape(phase_tensors)}"
        )
    if not np.all(np.isfinite(t)):
        raise MaterialError("phase tensors must be finite")
    f = check_fractions(fractions, t.shape[0])
    return t, f, scalar


def voigt_bound(phase_tensors: ArrayLike, fractions: ArrayLike) -> np.ndarray | float:
    """Voigt (upper, uniform-strain / uniform-gradient) bound: the arithmetic mean ``sum_i f_i A_i``.

    Source: Voigt (1889), Ann. Phys. 274, 573; as a rigorous bound Hill (1952),
    Proc. Phys. Soc. A 65, 349 (strain energy of the uniform-strain trial field).

    Args:
        phase_tensors: ``(n_phases, m, m)`` symmetric matrices (Mandel stiffnesses
            ``(n_sym, n_sym)`` or conductivities ``(d, d)``), or ``(n_phases,)`` scalars.
        fractions: ``(n_phases,)`` volume fractions, summing to 1.

    Returns:
        ``(m, m)`` matrix, or a float for scalar phases. In the positive
        semi-definite order, every effective tensor of these phases lies below it.
    """
    t, f, scalar = _phase_stack(phase_tensors, fractions)
    mean = np.einsum("i,ijk->jk", f, t)
    return float(mean[0, 0]) if scalar else mean


def reuss_bound(phase_tensors: ArrayLike, fractions: ArrayLike) -> np.ndarray | float:
    """Reuss (lower, uniform-stress / uniform-flux) bound: ``(sum_i f_i A_i^-1)^-1``.

    Source: Reuss (1929), Z. Angew. Math. Mech. 9, 49; as a rigorous bound Hill
    (1952), Proc. Phys. Soc. A 65, 349 (complementary energy of the uniform-stress trial field).

    Args: as :func:`voigt_bound`. Matrix phases with a positive fraction must be
    invertible; a scalar phase equal to 0 (void) with a positive fraction gives 0.

    Returns:
        ``(m, m)`` matrix, or a float for scalar phases.
    """
    t, f, scalar = _phase_stack(phase_tensors, fractions)
    keep = f > 0.0
    t, f = t[keep], f[keep]
    if scalar:
        vals = t[:, 0, 0]
        if np.any(vals == 0.0):
            return 0.0
        return float(1.0 / np.sum(f / vals))
    try:
        inv = np.linalg.inv(t)
    except np.linalg.LinAlgError as exc:
        raise MaterialError("reuss_bound: a phase tensor with a positive fraction is singular") from exc
    mean_inv = np.einsum("i,ijk->jk", f, inv)
    out = np.linalg.inv(mean_inv)
    return 0.5 * (out + out.T)


# --------------------------------------------------------------------------- Hashin-Shtrikman
def bulk_modulus(lam: ArrayLike, mu: ArrayLike, dim: int) -> np.ndarray | float:
    """Bulk modulus from Lamé constants: ``lambda + 2 mu / 3`` (3D), ``lambda + mu`` (2D plane strain).

    The 2D value is the plane-strain ("area", "transverse") bulk modulus: the
    mean in-plane stress ``(s11 + s22) / 2`` per in-plane dilatation ``e11 + e22``.
    """
    check_dim(dim)
    k = np.asarray(lam, dtype=float) + (2.0 / 3.0 if dim == 3 else 1.0) * np.asarray(mu, dtype=float)
    return float(k) if k.ndim == 0 else k


def _hs_transform(values: np.ndarray, fractions: np.ndarray, ref: float) -> float:
    """``[sum_i f_i / (v_i + ref)]^-1 - ref``: the HS / Walpole polarization formula.

    Robust to voids (``v_i + ref == 0`` gives 0) and to infinite ``v_i`` (a term 0);
    an infinite ``ref`` gives inf.
    """
    if np.isinf(ref):
        return float("inf")
    den = values + ref
    if np.any(den == 0.0):
        return float(-ref)  # only reachable with ref == 0 and a void phase: the bound is 0
    s = float(np.sum(fractions / den))
    if s == 0.0:
        return float("inf")
    return float(1.0 / s - ref)


def _present(fractions: ArrayLike, *values: ArrayLike, names: tuple[str, ...], allow_inf: bool = False):
    arrays = [check_moduli(v, nm, allow_inf=allow_inf) for v, nm in zip(values, names, strict=False)]
    f = check_fractions(fractions, arrays[0].size)
    for a, nm in zip(arrays, names, strict=False):
        if a.size != f.size:
            raise MaterialError(f"{a.size} values of {nm} given for {f.size} phases")
    keep = f > 0.0
    return (f[keep], *[a[keep] for a in arrays])


def _zeta(kappa: float, mu: float, dim: int) -> float:
    """Shear reference of the HS/Walpole shear bound, d-dimensional.

    ``zeta = mu [d kappa / 2 + (d + 1)(d - 2) mu / d] / (kappa + 2 mu)``, i.e.
    ``mu (9 kappa + 8 mu) / (6 (kappa + 2 mu))`` in 3D and
    ``kappa mu / (kappa + 2 mu)`` in 2D (Torquato 2002, ch. 21; Hashin 1965 for 2D).
    ``zeta -> 0`` when ``mu -> 0`` (the fraction stays bounded).
    """
    if mu == 0.0:
        return 0.0
    return mu * (dim * kappa / 2.0 + (dim + 1) * (dim - 2) * mu / dim) / (kappa + 2.0 * mu)


def hashin_shtrikman_bulk(
    kappa: ArrayLike, mu: ArrayLike, fractions: ArrayLike, dim: int = 3
) -> tuple[float, float]:
    """Hashin-Shtrikman(-Walpole) bounds on the bulk modulus of an isotropic composite.

    ``kappa*(mu0) = [sum_i f_i / (kappa_i + c mu0)]^-1 - c mu0``, ``c = 2 (d-1) / d``
    (4/3 in 3D, 1 in 2D); lower bound with ``mu0 = min_i mu_i``, upper with
    ``mu0 = max_i mu_i``. The reference shear modulus is chosen by the shear
    moduli alone, whatever the ordering of the bulk moduli, so the bounds hold
    for "ill-ordered" phases (stiffer in bulk, softer in shear) too.

    Sources: Hashin & Shtrikman (1963), J. Mech. Phys. Solids 11, 127 (bulk bounds);
    Walpole (1966), J. Mech. Phys. Solids 14, 151, eq. (26) (general, any ordering);
    2D (plane strain / transverse bulk modulus ``k = lambda + mu``): Hashin (1965),
    J. Mech. Phys. Solids 13, 119, and Hill (1964), J. Mech. Phys. Solids 12, 199.
    When all shear moduli are equal the bounds coincide and give the exact value
    for any geometry (Hill 1963, J. Mech. Phys. Solids 11, 357; Hill 1964).

    Args:
        kappa: ``(n_phases,)`` bulk moduli (3D ``lambda + 2mu/3``; 2D ``lambda + mu``,
            see :func:`bulk_modulus`), >= 0.
        mu: ``(n_phases,)`` shear moduli, >= 0.
        fractions: ``(n_phases,)`` volume (area) fractions, summing to 1.
        dim: 2 or 3.

    Returns:
        ``(lower, upper)``. With a void phase (``kappa = mu = 0``) the lower bound is 0.
    """
    dim = check_dim(dim)
    f, k, m = _present(fractions, kappa, mu, names=("kappa", "mu"))
    c = 2.0 * (dim - 1) / dim
    return _hs_transform(k, f, c * float(m.min())), _hs_transform(k, f, c * float(m.max()))


def hashin_shtrikman_shear(
    kappa: ArrayLike, mu: ArrayLike, fractions: ArrayLike, dim: int = 3
) -> tuple[float, float]:
    """Hashin-Shtrikman(-Walpole) bounds on the shear modulus of an isotropic composite.

    ``mu*(zeta0) = [sum_i f_i / (mu_i + zeta0)]^-1 - zeta0`` with
    ``zeta(kappa, mu) = mu [d kappa/2 + (d+1)(d-2) mu / d] / (kappa + 2 mu)``
    (3D: ``mu (9 kappa + 8 mu) / (6 (kappa + 2 mu))``; 2D: ``kappa mu / (kappa + 2 mu)``).
    Lower bound: ``zeta0 = zeta(min kappa, min mu)``; upper: ``zeta0 = zeta(max kappa, max mu)``,
    the minima/maxima taken separately over the phases (Walpole's form). For
    well-ordered phases (the stiffer phase has both the larger kappa and mu)
    this is exactly the Hashin-Shtrikman bound.

    Sources: Hashin & Shtrikman (1963), J. Mech. Phys. Solids 11, 127 (shear bounds);
    Walpole (1966), J. Mech. Phys. Solids 14, 151, eq. (26) (ill-ordered phases);
    2D transverse shear: Hashin (1965), J. Mech. Phys. Solids 13, 119 (upper:
    ``G2 + f1 / (1/(G1-G2) + f2 (k2 + 2 G2) / (2 G2 (k2 + G2)))``); d-dimensional
    form: Torquato (2002), Random Heterogeneous Materials, ch. 21 (HS bounds in d dimensions).

    In 2D, ``kappa`` is the plane-strain bulk modulus ``lambda + mu`` and ``mu`` the
    in-plane shear modulus; the bound is on the in-plane shear modulus of an
    in-plane isotropic (e.g. transversely isotropic fibre) composite.

    Returns:
        ``(lower, upper)``. With a void phase (``mu = 0``) the lower bound is 0.
    """
    dim = check_dim(dim)
    f, k, m = _present(fractions, kappa, mu, names=("kappa", "mu"))
    z_lo = _zeta(float(k.min()), float(m.min()), dim)
    z_hi = _zeta(float(k.max()), float(m.max()), dim)
    return _hs_transform(m, f, z_lo), _hs_transform(m, f, z_hi)


def hashin_shtrikman_conductivity(sigma: ArrayLike, fractions: ArrayLike, dim: int) -> tuple[float, float]:
    """Hashin-Shtrikman bounds on the conductivity of an isotropic d-dimensional composite.

    ``sigma*(s0) = [sum_i f_i / (sigma_i + (d-1) s0)]^-1 - (d-1) s0``, lower bound
    with ``s0 = min sigma_i``, upper with ``s0 = max sigma_i``. For two phases
    ``1 < 2`` the lower bound is the familiar
    ``s1 + f2 / (1/(s2 - s1) + f1 / (d s1))``.

    Sources: Hashin & Shtrikman (1962), J. Appl. Phys. 33, 3125 (3D, two phases);
    d-dimensional and multiphase form: Torquato (2002), Random Heterogeneous
    Materials, ch. 21; Milton (2002), The Theory of Composites, ch. 23.
    The 2D bounds are also the bounds on the transverse conductivity of a fibre
    composite with in-plane isotropy (or square symmetry).

    Args:
        sigma: ``(n_phases,)`` conductivities >= 0; ``inf`` allowed (perfect
            conductor: the upper bound is then inf).
        fractions: ``(n_phases,)``, summing to 1.
        dim: 2 or 3.

    Returns:
        ``(lower, upper)``; the lower bound is 0 with an insulating phase.
    """
    dim = check_dim(dim)
    f, s = _present(fractions, sigma, names=("sigma",), allow_inf=True)
    return _hs_transform(s, f, (dim - 1) * float(s.min())), _hs_transform(s, f, (dim - 1) * float(s.max()))


# --------------------------------------------------------------------------- exact dilute / assemblage
def maxwell_garnett_conductivity(
    volume_fraction: ArrayLike, sigma_inclusion: float, sigma_matrix: float, dim: int
) -> np.ndarray | float:
    """Maxwell-Garnett (Clausius-Mossotti) conductivity of spheres (3D) / cylinders (2D) in a matrix.

    ``sigma* / sigma_m = 1 + d f beta / (1 - f beta)``,
    ``beta = (sigma_i - sigma_m) / (sigma_i + (d - 1) sigma_m)``.

    Exact to O(f) for any dilute dispersion, exact to O(f^2) for
    arrays with cubic (3D) / square or hexagonal (2D) symmetry (corrections are
    O(f^{10/3}) in 3D, O(f^5) / O(f^7) for square / hexagonal arrays in 2D: Rayleigh
    1892), and exact at every ``f`` for Hashin's coated-sphere (coated-cylinder)
    assemblage, where it coincides with a Hashin-Shtrikman bound.

    Sources: Maxwell (1873), Treatise on Electricity and Magnetism, art. 314;
    Maxwell Garnett (1904), Phil. Trans. R. Soc. A 203, 385; coated spheres: Hashin
    (1962), J. Appl. Mech. 29, 143; d-dimensional form: Torquato (2002), ch. 18
    and Milton (2002), ch. 7.

    Args:
        volume_fraction: inclusion fraction ``f`` in [0, 1] (scalar or array).
        sigma_inclusion: >= 0, ``inf`` allowed (perfectly conducting: ``beta = 1``).
        sigma_matrix: > 0.
        dim: 2 or 3.

    Returns:
        ``sigma*`` in the units of ``sigma_matrix`` (same shape as ``volume_fraction``).
    """
    dim = check_dim(dim)
    f = check_volume_fraction(volume_fraction)
    (s_i,) = check_moduli([sigma_inclusion], "sigma_inclusion", allow_inf=True)
    (s_m,) = check_moduli([sigma_matrix], "sigma_matrix")
    if s_m == 0.0:
        raise MaterialError("maxwell_garnett_conductivity: the matrix conductivity must be > 0")
    beta = 1.0 if np.isinf(s_i) else (s_i - s_m) / (s_i + (dim - 1) * s_m)
    with np.errstate(divide="ignore"):
        out = s_m * (1.0 + dim * f * beta / (1.0 - f * beta))
    return float(out) if out.ndim == 0 else out


def coated_sphere_bulk(
    volume_fraction: ArrayLike, kappa_inclusion: float, kappa_matrix: float, mu_matrix: float, dim: int = 3
) -> np.ndarray | float:
    """Exact bulk modulus of Hashin's composite-sphere (3D) / composite-cylinder (2D) assemblage.

    ``kappa* = kappa_m + f (kappa_i - kappa_m) / (1 + (1 - f)(kappa_i - kappa_m) / (kappa_m + c mu_m))``,
    ``c = 4/3`` in 3D, ``c = 1`` in 2D (there ``kappa`` is the plane-strain bulk
    modulus ``lambda + mu``: Hashin & Rosen's transverse bulk modulus ``k23``).
    The inclusion shear modulus does not enter. It equals the Hashin-Shtrikman
    bulk bound whose reference shear modulus is ``mu_matrix`` (the lower bound when
    the matrix is the more compliant phase in shear), which it realizes.

    Sources: Hashin (1962), J. Appl. Mech. 29, 143 (composite spheres);
    Hashin & Rosen (1964), J. Appl. Mech. 31, 223 (composite cylinders, ``k23``).

    Args:
        volume_fraction: core (inclusion) fraction ``f`` in [0, 1] (scalar or array).
        kappa_inclusion: core bulk modulus >= 0 (0: hollow spheres).
        kappa_matrix, mu_matrix: coating moduli, ``kappa_matrix > 0``.
        dim: 3 (spheres) or 2 (cylinders, plane strain).
    """
    dim = check_dim(dim)
    f = check_volume_fraction(volume_fraction)
    k_i, k_m, m_m = check_moduli([kappa_inclusion, kappa_matrix, mu_matrix], "moduli")
    if k_m == 0.0:
        raise MaterialError("coated_sphere_bulk: the coating bulk modulus must be > 0")
    c = 2.0 * (dim - 1) / dim
    dk = k_i - k_m
    out = k_m + f * dk / (1.0 + (1.0 - f) * dk / (k_m + c * m_m))
    return float(out) if np.ndim(out) == 0 else out
