"""Tests of fe2.analytic: every reference formula against an independent route.

Independent routes used here (none calls the formula under test):

* laminates: a direct numerical solution of the 1D cell problem (one jump vector
  per layer, traction continuity + zero mean jump) for arbitrary layer stiffnesses;
* Hashin-Shtrikman: textbook two-phase forms, Voigt/Reuss nesting, Hill's exact
  equal-shear result (realized by the laminate), and Hashin's coated sphere /
  cylinder solved here as a small ODE boundary-value problem;
* Rayleigh arrays: lattice sums by brute-force summation, Keller's theorem, the
  Maxwell-Garnett dilute limit and a finite-volume solve of the periodic cell.

Pure numpy/scipy: every MPI rank would compute the same thing, so the module is marked
``serial`` (the ``mpirun -n 2`` run skips it).
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from fe2 import analytic as an
from fe2.errors import ConfigError, MaterialError
from fe2.tensors import (
    isotropic_stiffness_mandel,
    mandel_basis,
    n_sym,
    psd_min_eigenvalue,
    stiffness_voigt_to_mandel,
    sym_to_mandel,
)

# Pure numpy/scipy: every MPI rank would repeat the same computation, so run it once (serial run only).
pytestmark = pytest.mark.serial

# Round-off tolerance for closed forms evaluated two algebraically different
# ways: a few hundred ulps of O(1..100) quantities.
RTOL_ROUNDOFF = 1e-12


# --------------------------------------------------------------------------- helpers (independent routes)
def _jump_operator(dim: int, axis: int) -> np.ndarray:
    """G (n_sym x dim): Mandel vector of sym(a (x) n) is G @ a; the traction of stress s is G.T @ s."""
    n = np.zeros(dim)
    n[axis] = 1.0
    cols = []
    for c in range(dim):
        e = np.zeros(dim)
        e[c] = 1.0
        cols.append(sym_to_mandel(0.5 * (np.outer(e, n) + np.outer(n, e))))
    return np.array(cols).T


def laminate_direct(c_layers: list[np.ndarray], fractions, dim: int, axis: int = 0) -> np.ndarray:
    """Effective Mandel stiffness of a laminate by solving the 1D cell problem numerically.

    Layer strain ``E + sym(a_i (x) n)``; unknowns ``a_i`` (dim each). Equations:
    equal tractions ``G^T C_i (E + G a_i)`` across layers and ``sum_i f_i a_i = 0``.
    Works for any (anisotropic) layer stiffness; no averaging formula is used.
    """
    g = _jump_operator(dim, axis)
    nl, ns = len(c_layers), n_sym(dim)
    f = np.asarray(fractions, dtype=float)
    out = np.zeros((ns, ns))
    for k in range(ns):
        e = np.zeros(ns)
        e[k] = 1.0
        a_mat = np.zeros((dim * nl, dim * nl))
        rhs = np.zeros(dim * nl)
        for i in range(1, nl):  # traction of layer i minus traction of layer 0
            r = slice(dim * (i - 1), dim * i)
            a_mat[r, dim * i : dim * (i + 1)] = g.T @ c_layers[i] @ g
            a_mat[r, 0:dim] = -g.T @ c_layers[0] @ g
            rhs[r] = -(g.T @ (c_layers[i] - c_layers[0]) @ e)
        for i in range(nl):  # mean jump = 0
            a_mat[dim * (nl - 1) :, dim * i : dim * (i + 1)] = f[i] * np.eye(dim)
        jumps = np.linalg.solve(a_mat, rhs).reshape(nl, dim)
        out[:, k] = sum(f[i] * c_layers[i] @ (e + g @ jumps[i]) for i in range(nl))
    return out


def coated_sphere_bulk_solve(f: float, k_core: float, k_coat: float, mu_coat: float, dim: int) -> float:
    """Bulk modulus of one coated sphere (3D) / cylinder (2D, plane strain) under u(1) = r.

    Radial displacement: core ``C r``; coating ``A r + B r^(1-d)``. Radial stress:
    ``d k A - 2 (d-1) mu B r^-d`` in the coating (``k`` the d-dimensional bulk modulus),
    ``d k_core C`` in the core. Conditions: u and s_rr continuous at r = a, u(1) = 1.
    Result: ``s_rr(1) / d``. (The assemblage's effective modulus equals this, Hashin 1962.)
    """
    a = f ** (1.0 / dim)
    # unknowns (A, B, C)
    m = np.array(
        [
            [a, a ** (1 - dim), -a],
            [dim * k_coat, -2 * (dim - 1) * mu_coat * a ** (-dim), -dim * k_core],
            [1.0, 1.0, 0.0],
        ]
    )
    coef_a, coef_b, _ = np.linalg.solve(m, [0.0, 0.0, 1.0])
    return (dim * k_coat * coef_a - 2 * (dim - 1) * mu_coat * coef_b) / dim


def coated_sphere_conductivity_solve(f: float, s_core: float, s_coat: float, dim: int) -> float:
    """Effective conductivity of the coated-sphere (cylinder) assemblage: the neutral-inclusion condition.

    Potential ``(A r + B r^(1-d)) cos(theta)`` in the coating, ``C r cos(theta)`` in the core,
    ``E r cos(theta)`` outside in the effective medium (no dipole). Continuity of potential
    and flux at ``r = a`` and ``r = 1`` (E = 1) gives a linear system in (A, B, C) plus
    ``sigma* = s_coat (A - (d-1) B)``.
    """
    a = f ** (1.0 / dim)
    m = np.array(
        [
            [a, a ** (1 - dim), -a],  # potential at a
            [s_coat, -(dim - 1) * s_coat * a ** (-dim), -s_core],  # flux at a
            [1.0, 1.0, 0.0],  # potential at 1
        ]
    )
    coef_a, coef_b, _ = np.linalg.solve(m, [0.0, 0.0, 1.0])
    return s_coat * (coef_a - (dim - 1) * coef_b)


def direct_lattice_sum(n: int, tau: complex, nmax: int = 300) -> float:
    """``sum' (m + k tau)^-n`` by brute force over |m|, |k| <= nmax."""
    m = np.arange(-nmax, nmax + 1)
    mm, kk = np.meshgrid(m, m)
    z = (mm + kk * tau)[(mm != 0) | (kk != 0)]
    return float(np.sum(z ** (-n)).real)


def fv_square_array(f: float, rho: float, n: int) -> float:
    """sigma_xx / sigma_m of the square array on an n x n periodic finite-volume grid.

    Cell conductivity from the sub-sampled area fraction (mean of arithmetic and
    harmonic mixing), face conductivities harmonic, macroscopic unit gradient along x.
    First-order accurate in h (staircase boundary).
    """
    h = 1.0 / n
    x = (np.arange(n) + 0.5) * h
    xx, yy = np.meshgrid(x, x, indexing="ij")
    r2 = f / np.pi
    sub = (np.arange(8) + 0.5) / 8 * h - h / 2
    frac = sum(((xx + dx - 0.5) ** 2 + (yy + dy - 0.5) ** 2 < r2) for dx in sub for dy in sub) / 64.0
    k = 0.5 * (1.0 + (rho - 1.0) * frac + 1.0 / (1.0 + (1.0 / rho - 1.0) * frac))
    kx = 2 * k * np.roll(k, -1, 0) / (k + np.roll(k, -1, 0))
    ky = 2 * k * np.roll(k, -1, 1) / (k + np.roll(k, -1, 1))
    idx = np.arange(n * n).reshape(n, n)
    rows, cols, vals = [], [], []
    for kf, ax in ((kx, 0), (ky, 1)):
        j = np.roll(idx, -1, ax)
        rows += [idx.ravel(), idx.ravel(), j.ravel(), j.ravel()]
        cols += [idx.ravel(), j.ravel(), j.ravel(), idx.ravel()]
        vals += [kf.ravel(), -kf.ravel(), kf.ravel(), -kf.ravel()]
    ij = (np.concatenate(rows), np.concatenate(cols))
    mat = sp.csc_matrix((np.concatenate(vals), ij), shape=(n * n, n * n))
    mat = mat + sp.eye(n * n, format="csc") * 1e-10  # fixes the constant; negligible elsewhere
    phi = spla.spsolve(mat, ((kx - np.roll(kx, 1, 0)) * h).ravel()).reshape(n, n)
    return float(np.mean(kx * (np.roll(phi, -1, 0) - phi + h) / h))


def rotate_mandel(c_m: np.ndarray, rot: np.ndarray) -> np.ndarray:
    """Rotate a Mandel stiffness: C'_ijkl = R_ip R_jq R_kr R_ls C_pqrs."""
    b = mandel_basis(rot.shape[0])
    c4 = np.einsum("ab,aij,bkl->ijkl", c_m, b, b)
    c4 = np.einsum("ip,jq,kr,ls,pqrs->ijkl", rot, rot, rot, rot, c4)
    return np.einsum("aij,ijkl,bkl->ab", b, c4, b)


def random_rotation(rng: np.random.Generator, dim: int) -> np.ndarray:
    q, r = np.linalg.qr(rng.normal(size=(dim, dim)))
    q = q * np.sign(np.diag(r))
    if np.linalg.det(q) < 0:
        q[:, 0] *= -1
    return q


# --------------------------------------------------------------------------- Voigt / Reuss
def test_voigt_reuss_scalars():
    f = [0.25, 0.75]
    assert an.voigt_bound([1.0, 5.0], f) == pytest.approx(0.25 + 3.75, rel=RTOL_ROUNDOFF)
    assert an.reuss_bound([1.0, 5.0], f) == pytest.approx(1.0 / (0.25 + 0.15), rel=RTOL_ROUNDOFF)
    # void phase: Reuss (series) bound vanishes, unless its fraction is zero
    assert an.reuss_bound([0.0, 5.0], f) == 0.0
    assert an.reuss_bound([0.0, 5.0], [0.0, 1.0]) == pytest.approx(5.0, rel=RTOL_ROUNDOFF)


def test_voigt_reuss_matrices():
    rng = np.random.default_rng(0)
    mats = []
    for _ in range(3):
        a = rng.normal(size=(6, 6))
        mats.append(a @ a.T + 6.0 * np.eye(6))
    f = [0.2, 0.5, 0.3]
    cv, cr = an.voigt_bound(mats, f), an.reuss_bound(mats, f)
    # Voigt - Reuss is positive semi-definite (Hill 1952); scaled eigenvalue tolerance = round-off
    assert psd_min_eigenvalue(cv - cr) > -RTOL_ROUNDOFF
    assert np.allclose(cr, cr.T, rtol=0, atol=RTOL_ROUNDOFF * np.abs(cr).max())
    # identical phases: both bounds return the phase
    assert np.allclose(an.reuss_bound([mats[0]] * 2, [0.4, 0.6]), mats[0], rtol=RTOL_ROUNDOFF)
    assert np.allclose(an.voigt_bound([mats[0]] * 2, [0.4, 0.6]), mats[0], rtol=RTOL_ROUNDOFF)


@pytest.mark.parametrize("dim", [2, 3])
def test_voigt_reuss_isotropic_phases(dim):
    """For isotropic phases the bounds are isotropic with <kappa>, <mu> and harmonic means."""
    lam, mu, f = np.array([2.0, 30.0]), np.array([1.0, 20.0]), np.array([0.35, 0.65])
    kap = an.bulk_modulus(lam, mu, dim)
    mats = [isotropic_stiffness_mandel(lam[i], mu[i], dim) for i in range(2)]
    read = an.bulk_shear_2d if dim == 2 else an.bulk_shear_3d
    v, r = read(an.voigt_bound(mats, f)), read(an.reuss_bound(mats, f))
    assert v.bulk == pytest.approx(f @ kap, rel=RTOL_ROUNDOFF)
    assert v.shear_iso == pytest.approx(f @ mu, rel=RTOL_ROUNDOFF)
    assert r.bulk == pytest.approx(1.0 / (f @ (1.0 / kap)), rel=RTOL_ROUNDOFF)
    assert r.shear_iso == pytest.approx(1.0 / (f @ (1.0 / mu)), rel=RTOL_ROUNDOFF)
    assert v.anisotropy == pytest.approx(1.0, rel=RTOL_ROUNDOFF)
    assert r.anisotropy == pytest.approx(1.0, rel=RTOL_ROUNDOFF)


def test_fraction_and_input_validation():
    with pytest.raises(ConfigError):
        an.voigt_bound([1.0, 2.0], [0.5, 0.6])
    with pytest.raises(ConfigError):
        an.voigt_bound([1.0, 2.0], [0.5])
    with pytest.raises(ConfigError):
        an.hashin_shtrikman_conductivity([1.0, 2.0], [-0.1, 1.1], 2)
    with pytest.raises(MaterialError):
        an.hashin_shtrikman_bulk([1.0, -2.0], [1.0, 1.0], [0.5, 0.5])
    with pytest.raises(MaterialError):
        an.reuss_bound([np.eye(3), np.zeros((3, 3))], [0.5, 0.5])
    with pytest.raises(MaterialError):
        an.laminate_stiffness([1.0, 1.0], [1.0, 0.0], [0.5, 0.5], 3)
    with pytest.raises(ConfigError):
        an.hashin_shtrikman_conductivity([1.0, 2.0], [0.5, 0.5], 4)
    with pytest.raises(ConfigError):
        an.rayleigh_square_array(0.8, 2.0)  # beyond touching, pi/4
    with pytest.raises(MaterialError):
        an.rayleigh_square_array(0.3, -1.0)


# --------------------------------------------------------------------------- laminates
LAMINATE_CASES = [
    # (lam, mu, fractions): two phases; three phases with a negative lambda (nu < 0)
    ([1.0, 50.0], [0.5, 30.0], [0.4, 0.6]),
    ([10.0, -0.2, 3.0], [2.0, 1.0, 7.0], [0.2, 0.5, 0.3]),
]


@pytest.mark.parametrize("dim,axis", [(2, 0), (2, 1), (3, 0), (3, 1), (3, 2)])
@pytest.mark.parametrize("case", LAMINATE_CASES)
def test_laminate_stiffness_vs_direct_1d_solve(dim, axis, case):
    lam, mu, f = case
    layers = [isotropic_stiffness_mandel(lam[i], mu[i], dim) for i in range(len(f))]
    ref = laminate_direct(layers, f, dim, axis)
    got = an.laminate_stiffness(lam, mu, f, dim, axis=axis)
    # Both are exact; the direct route is a small dense solve: agreement to round-off
    # relative to the largest stiffness entry.
    assert np.allclose(got, ref, rtol=0, atol=RTOL_ROUNDOFF * np.abs(ref).max())


def test_laminate_formulas_as_stated():
    """The component formulas of the brief, evaluated literally, and the Mandel placement."""
    lam, mu, f = np.array([3.0, 40.0]), np.array([1.0, 25.0]), np.array([0.3, 0.7])
    m = lam + 2 * mu
    c1111 = 1 / (f @ (1 / m))
    r = f @ (lam / m)
    c = an.laminate_stiffness(lam, mu, f, 3)
    assert c[0, 0] == pytest.approx(c1111, rel=RTOL_ROUNDOFF)
    assert c[0, 1] == pytest.approx(c1111 * r, rel=RTOL_ROUNDOFF)
    assert c[1, 1] == pytest.approx(f @ (4 * mu * (lam + mu) / m) + c1111 * r**2, rel=RTOL_ROUNDOFF)
    assert c[1, 2] == pytest.approx(f @ (2 * lam * mu / m) + c1111 * r**2, rel=RTOL_ROUNDOFF)
    assert c[3, 3] == pytest.approx(2 * (f @ mu), rel=RTOL_ROUNDOFF)  # 23: Mandel 2 C2323
    assert c[4, 4] == pytest.approx(2 / (f @ (1 / mu)), rel=RTOL_ROUNDOFF)  # 13
    assert c[5, 5] == pytest.approx(2 / (f @ (1 / mu)), rel=RTOL_ROUNDOFF)  # 12
    # plane strain = in-plane block of the 3D laminate (e33 = 0 is a uniform strain)
    c2 = an.laminate_stiffness(lam, mu, f, 2)
    assert np.allclose(c2, c[np.ix_([0, 1, 5], [0, 1, 5])], rtol=RTOL_ROUNDOFF)


def test_laminate_direct_route_sanity():
    """The independent solver itself: one phase returns it; anisotropic layers sit between Voigt and Reuss."""
    rng = np.random.default_rng(1)
    c_iso = isotropic_stiffness_mandel(2.0, 1.0, 3)
    assert np.allclose(laminate_direct([c_iso, c_iso], [0.3, 0.7], 3), c_iso, rtol=RTOL_ROUNDOFF)
    layers = []
    for _ in range(3):
        a = rng.normal(size=(6, 6))
        layers.append(a @ a.T + 3 * np.eye(6))
    f = [0.3, 0.3, 0.4]
    c = laminate_direct(layers, f, 3, axis=2)
    # PSD-order nesting (scaled eigenvalue, round-off tolerance)
    assert psd_min_eigenvalue(an.voigt_bound(layers, f) - c) > -RTOL_ROUNDOFF
    assert psd_min_eigenvalue(c - an.reuss_bound(layers, f)) > -RTOL_ROUNDOFF
    assert np.allclose(c, c.T, rtol=0, atol=1e-10 * np.abs(c).max())  # symmetric up to solve round-off


@pytest.mark.parametrize("dim", [2, 3])
def test_laminate_within_voigt_reuss(dim):
    lam, mu, f = [1.0, 50.0], [0.5, 30.0], [0.4, 0.6]
    phases = [isotropic_stiffness_mandel(lam[i], mu[i], dim) for i in range(2)]
    c = an.laminate_stiffness(lam, mu, f, dim)
    assert psd_min_eigenvalue(an.voigt_bound(phases, f) - c) > -RTOL_ROUNDOFF
    assert psd_min_eigenvalue(c - an.reuss_bound(phases, f)) > -RTOL_ROUNDOFF


@pytest.mark.parametrize("dim", [2, 3])
def test_laminate_equal_shear_is_hill_exact(dim):
    """Equal shear moduli: the laminate is isotropic and its bulk modulus is Hill's exact value,
    where the two HS bulk bounds coincide (Hill 1963, 1964)."""
    lam, mu, f = [1.0, 7.0, 20.0], [2.0, 2.0, 2.0], [0.3, 0.5, 0.2]
    c = an.laminate_stiffness(lam, mu, f, dim)
    read = an.bulk_shear_2d(c) if dim == 2 else an.bulk_shear_3d(c)
    lo, hi = an.hashin_shtrikman_bulk(an.bulk_modulus(np.array(lam), np.array(mu), dim), mu, f, dim)
    assert lo == pytest.approx(hi, rel=RTOL_ROUNDOFF)
    assert read.bulk == pytest.approx(lo, rel=RTOL_ROUNDOFF)
    assert read.anisotropy == pytest.approx(1.0, rel=RTOL_ROUNDOFF)
    iso = isotropic_stiffness_mandel(read.bulk - (2 / 3 if dim == 3 else 1) * 2.0, 2.0, dim)
    assert np.allclose(c, iso, rtol=0, atol=RTOL_ROUNDOFF * np.abs(c).max())


def laminate_conductivity_direct(s, fractions, dim: int, axis: int) -> np.ndarray:
    """Effective conductivity of a laminate from the 1D cell problem, solved numerically.

    Layer gradient ``e + a_i n`` (scalar jumps a_i); equations: equal normal fluxes
    ``s_i (e_n + a_i)`` across layers and ``sum_i f_i a_i = 0``.
    """
    nl = len(s)
    n = np.eye(dim)[axis]
    out = np.zeros((dim, dim))
    for k in range(dim):
        e = np.eye(dim)[k]
        mat = np.zeros((nl, nl))
        rhs = np.zeros(nl)
        for i in range(1, nl):
            mat[i - 1, i], mat[i - 1, 0] = s[i], -s[0]
            rhs[i - 1] = -(s[i] - s[0]) * (e @ n)
        mat[nl - 1, :] = fractions
        jumps = np.linalg.solve(mat, rhs)
        out[:, k] = sum(fractions[i] * s[i] * (e + jumps[i] * n) for i in range(nl))
    return out


@pytest.mark.parametrize("dim,axis", [(2, 0), (2, 1), (3, 2)])
def test_laminate_conductivity(dim, axis):
    s, f = [1.0, 10.0, 4.0], [0.5, 0.3, 0.2]
    got = an.laminate_conductivity(s, f, dim, axis=axis)
    assert np.allclose(got, laminate_conductivity_direct(s, f, dim, axis), rtol=RTOL_ROUNDOFF)
    assert an.laminate_conductivity([0.0, 2.0], [0.5, 0.5], dim, axis)[axis, axis] == 0.0  # insulating layer


# --------------------------------------------------------------------------- Hashin-Shtrikman
def _hs_textbook_3d(k1, m1, k2, m2, f1):
    """HS 1963 two-phase bounds in the familiar form, phase 1 the softer (well-ordered): (kL, kU, mL, mU)."""
    f2 = 1 - f1
    kl = k1 + f2 / (1 / (k2 - k1) + 3 * f1 / (3 * k1 + 4 * m1))
    ku = k2 + f1 / (1 / (k1 - k2) + 3 * f2 / (3 * k2 + 4 * m2))
    ml = m1 + f2 / (1 / (m2 - m1) + 6 * f1 * (k1 + 2 * m1) / (5 * m1 * (3 * k1 + 4 * m1)))
    mu_ = m2 + f1 / (1 / (m1 - m2) + 6 * f2 * (k2 + 2 * m2) / (5 * m2 * (3 * k2 + 4 * m2)))
    return kl, ku, ml, mu_


def _hs_textbook_2d(k1, m1, k2, m2, f1):
    """Hashin (1965) transverse bounds (k = plane-strain bulk modulus), phase 1 softer."""
    f2 = 1 - f1
    kl = k1 + f2 / (1 / (k2 - k1) + f1 / (k1 + m1))
    ku = k2 + f1 / (1 / (k1 - k2) + f2 / (k2 + m2))
    ml = m1 + f2 / (1 / (m2 - m1) + f1 * (k1 + 2 * m1) / (2 * m1 * (k1 + m1)))
    mu_ = m2 + f1 / (1 / (m1 - m2) + f2 * (k2 + 2 * m2) / (2 * m2 * (k2 + m2)))
    return kl, ku, ml, mu_


@pytest.mark.parametrize("dim", [2, 3])
@pytest.mark.parametrize("f1", [0.1, 0.5, 0.83])
def test_hs_well_ordered_matches_textbook(dim, f1):
    k1, m1, k2, m2 = 2.0, 1.0, 40.0, 25.0
    ref = (_hs_textbook_2d if dim == 2 else _hs_textbook_3d)(k1, m1, k2, m2, f1)
    # phase order must not matter
    for order in ([0, 1], [1, 0]):
        k = np.array([k1, k2])[order]
        m = np.array([m1, m2])[order]
        f = np.array([f1, 1 - f1])[order]
        kb = an.hashin_shtrikman_bulk(k, m, f, dim)
        mb = an.hashin_shtrikman_shear(k, m, f, dim)
        assert np.allclose([*kb, *mb], ref, rtol=RTOL_ROUNDOFF)


@pytest.mark.parametrize("dim", [2, 3])
def test_hs_nested_in_voigt_reuss(dim):
    """Reuss <= HS lower <= HS upper <= Voigt for bulk and shear, well- and ill-ordered phases."""
    rng = np.random.default_rng(2)
    read = an.bulk_shear_2d if dim == 2 else an.bulk_shear_3d
    for _ in range(40):
        mu = rng.uniform(0.1, 10.0, size=2)
        nu = rng.uniform(-0.5, 0.45, size=2)
        lam = 2 * mu * nu / (1 - 2 * nu)
        f1 = rng.uniform(0.0, 1.0)
        f = np.array([f1, 1 - f1])
        kap = an.bulk_modulus(lam, mu, dim)
        mats = [isotropic_stiffness_mandel(lam[i], mu[i], dim) for i in range(2)]
        v, r = read(an.voigt_bound(mats, f)), read(an.reuss_bound(mats, f))
        kl, ku = an.hashin_shtrikman_bulk(kap, mu, f, dim)
        ml, mu_hi = an.hashin_shtrikman_shear(kap, mu, f, dim)
        tol = RTOL_ROUNDOFF * max(kap.max(), mu.max())
        assert r.bulk - tol <= kl <= ku + tol and ku <= v.bulk + tol
        assert r.shear_iso - tol <= ml <= mu_hi + tol and mu_hi <= v.shear_iso + tol


@pytest.mark.parametrize("dim", [2, 3])
def test_hs_ill_ordered_contains_coated_spheres(dim):
    """kappa1 > kappa2 but mu1 < mu2. Both coated-sphere assemblages (each phase as coating) are
    realizable isotropic composites, so both must lie within the Walpole bulk bounds; the one
    coated by the high-shear phase exceeds the naive bound built on the high-bulk phase's mu."""
    k = np.array([10.0, 1.0])
    m = np.array([1.0, 10.0])
    c = 2 * (dim - 1) / dim
    for f1 in (0.2, 0.5, 0.8):
        f = np.array([f1, 1 - f1])
        lo, hi = an.hashin_shtrikman_bulk(k, m, f, dim)
        csa_1_in_2 = coated_sphere_bulk_solve(f1, k[0], k[1], m[1], dim)  # phase 2 coats phase 1
        csa_2_in_1 = coated_sphere_bulk_solve(1 - f1, k[1], k[0], m[0], dim)
        tol = RTOL_ROUNDOFF * k.max()
        for csa in (csa_1_in_2, csa_2_in_1):
            assert lo - tol <= csa <= hi + tol
        assert csa_1_in_2 == pytest.approx(hi, rel=1e-11)  # the mu_max coating attains the upper bound
        assert csa_2_in_1 == pytest.approx(lo, rel=1e-11)
        # naive "HS upper" with the reference shear of the phase stiffer in bulk (phase 1):
        naive_hi = 1 / np.sum(f / (k + c * m[0])) - c * m[0]
        assert csa_1_in_2 > naive_hi * (1 + 1e-6)
        ml, mh = an.hashin_shtrikman_shear(k, m, f, dim)
        assert 0 < ml < mh


@pytest.mark.parametrize("dim", [2, 3])
@pytest.mark.parametrize(
    "k,m", [([100.0, 1.0], [1.0, 100.0]), ([50.0, 0.5], [2.0, 20.0]), ([10.0, 1.0], [1.0, 10.0])]
)
def test_hs_ill_ordered_contain_polycrystal_of_laminates(dim, k, m):
    """A polycrystal of randomly oriented laminate grains is an isotropic two-phase composite, so its
    moduli obey the (Walpole) HS bounds, and they lie between the orientation (Voigt, Reuss) averages
    of the grain (Hill 1952). Hence HS lower <= Voigt average and HS upper >= Reuss average.
    With ill-ordered phases this fails in 2D for an upper shear bound whose reference uses the kappa
    of the max-mu phase instead of max kappa (e.g. 6.57 < 7.67 at f1 = 0.2 for the first case)."""
    k, m = np.array(k), np.array(m)
    lam = k - (2 / 3 if dim == 3 else 1) * m
    read = an.bulk_shear_2d if dim == 2 else an.bulk_shear_3d
    for f1 in (0.2, 0.5, 0.8):
        f = np.array([f1, 1 - f1])
        grain = an.laminate_stiffness(lam, m, f, dim)
        v = read(grain)
        # isotropic projection of the compliance: bulk 1/(d^2 kappa_R), shear 1/(4 mu_R)
        r = read(np.linalg.inv(grain))
        kappa_r, mu_r = 1 / (dim * dim * r.bulk), 1 / (4 * r.shear_iso)
        kl, kh = an.hashin_shtrikman_bulk(k, m, f, dim)
        ml, mh = an.hashin_shtrikman_shear(k, m, f, dim)
        tol = 1 + RTOL_ROUNDOFF
        assert kl <= v.bulk * tol and kh * tol >= kappa_r
        assert ml <= v.shear_iso * tol and mh * tol >= mu_r


@pytest.mark.parametrize("dim", [2, 3])
def test_hs_limits_and_porous(dim):
    k, m = np.array([5.0, 2.0]), np.array([3.0, 1.0])
    for f in ([1.0, 0.0], [0.0, 1.0]):  # one phase only: both bounds equal it
        i = int(np.argmax(f))
        assert np.allclose(an.hashin_shtrikman_bulk(k, m, f, dim), k[i], rtol=RTOL_ROUNDOFF)
        assert np.allclose(an.hashin_shtrikman_shear(k, m, f, dim), m[i], rtol=RTOL_ROUNDOFF)
    # porous: phase 2 a void
    kp, mp = np.array([5.0, 0.0]), np.array([3.0, 0.0])
    for f1 in (0.3, 0.9):
        f = [f1, 1 - f1]
        kl, ku = an.hashin_shtrikman_bulk(kp, mp, f, dim)
        ml, mh = an.hashin_shtrikman_shear(kp, mp, f, dim)
        assert kl == 0.0 and ml == 0.0
        # the upper bulk bound is attained by hollow spheres/cylinders (independent solve)
        assert ku == pytest.approx(coated_sphere_bulk_solve(1 - f1, 0.0, 5.0, 3.0, dim), rel=1e-11)
        assert ku == pytest.approx(an.coated_sphere_bulk(1 - f1, 0.0, 5.0, 3.0, dim), rel=RTOL_ROUNDOFF)
        assert 0.0 < mh < 3.0 * f1 + 1e-12  # below the Voigt shear bound


def test_hs_conductivity_textbook_and_porous():
    for dim in (2, 3):
        s1, s2 = 1.0, 20.0
        for f1 in (0.25, 0.6):
            f2 = 1 - f1
            lo = s1 + f2 / (1 / (s2 - s1) + f1 / (dim * s1))  # HS 1962, two-phase form
            hi = s2 + f1 / (1 / (s1 - s2) + f2 / (dim * s2))
            got = an.hashin_shtrikman_conductivity([s1, s2], [f1, f2], dim)
            assert np.allclose(got, [lo, hi], rtol=RTOL_ROUNDOFF)
    # insulating pores, solid fraction phi: upper = 2 phi s / (3 - phi) (3D), phi s / (2 - phi) (2D)
    phi = 0.7
    assert an.hashin_shtrikman_conductivity([3.0, 0.0], [phi, 1 - phi], 3) == pytest.approx(
        (0.0, 2 * phi * 3.0 / (3 - phi)), rel=RTOL_ROUNDOFF
    )
    assert an.hashin_shtrikman_conductivity([3.0, 0.0], [phi, 1 - phi], 2) == pytest.approx(
        (0.0, phi * 3.0 / (2 - phi)), rel=RTOL_ROUNDOFF
    )
    # perfectly conducting inclusions: upper bound infinite, lower = Maxwell-Garnett
    lo, hi = an.hashin_shtrikman_conductivity([1.0, np.inf], [0.7, 0.3], 3)
    assert hi == np.inf and lo == pytest.approx(1 + 3 * 0.3 / 0.7, rel=RTOL_ROUNDOFF)


def test_hs_conductivity_2d_duality_and_multiphase():
    """2D: sigma -> 1/sigma maps the upper bound onto the reciprocal of the lower one
    (Keller-Mendelson duality); three phases: bounds nested inside Wiener's (Voigt/Reuss)."""
    s, f = np.array([0.5, 3.0, 40.0]), np.array([0.2, 0.5, 0.3])
    lo, hi = an.hashin_shtrikman_conductivity(s, f, 2)
    lo_d, hi_d = an.hashin_shtrikman_conductivity(1 / s, f, 2)
    assert hi * lo_d == pytest.approx(1.0, rel=RTOL_ROUNDOFF)
    assert lo * hi_d == pytest.approx(1.0, rel=RTOL_ROUNDOFF)
    for dim in (2, 3):
        lo, hi = an.hashin_shtrikman_conductivity(s, f, dim)
        assert an.reuss_bound(s, f) < lo < hi < an.voigt_bound(s, f)


@pytest.mark.parametrize("dim", [2, 3])
def test_maxwell_garnett_and_coated_sphere(dim):
    for s_i, s_m in ((25.0, 1.0), (0.1, 2.0), (0.0, 1.0)):
        for f in (0.05, 0.4, 0.9):
            mg = an.maxwell_garnett_conductivity(f, s_i, s_m, dim)
            # exact for the coated-sphere assemblage (independent neutral-inclusion solve)
            assert mg == pytest.approx(coated_sphere_conductivity_solve(f, s_i, s_m, dim), rel=1e-11)
            lo, hi = an.hashin_shtrikman_conductivity([s_i, s_m], [f, 1 - f], dim)
            assert mg == pytest.approx(lo if s_i > s_m else hi, rel=RTOL_ROUNDOFF)
    for k_i, k_m, m_m in ((30.0, 2.0, 1.0), (0.5, 4.0, 3.0)):
        for f in (0.1, 0.6):
            got = an.coated_sphere_bulk(f, k_i, k_m, m_m, dim)
            assert got == pytest.approx(coated_sphere_bulk_solve(f, k_i, k_m, m_m, dim), rel=1e-11)
    # array input, perfect conductor
    fs = np.array([0.0, 0.5])
    assert np.allclose(an.maxwell_garnett_conductivity(fs, np.inf, 1.0, dim), 1 + dim * fs / (1 - fs))


# --------------------------------------------------------------------------- Rayleigh / Perrins arrays
def test_lattice_sums_vs_brute_force():
    sq = an.lattice_sums("square", 6)
    hx = an.lattice_sums("hexagonal", 6)
    w = np.exp(1j * np.pi / 3)
    # brute-force sums over a 601 x 601 block: the tail beyond radius 300 is bounded by
    # 2 pi / ((n - 2) 300^(n-2)) = 3.5e-5 for n = 4 and its angular cancellation leaves 3.7e-6
    # (measured), so 1e-5 for S4; for n = 6 the bound is 2e-10 (1e-9 used); for n >= 8 the
    # tail is < 1e-14 and 1e-10 covers the round-off of the 360 000-term sum.
    assert sq[2] == pytest.approx(direct_lattice_sum(4, 1j), abs=1e-5)
    assert sq[4] == pytest.approx(direct_lattice_sum(8, 1j), abs=1e-10)
    assert sq[6] == pytest.approx(direct_lattice_sum(12, 1j), abs=1e-10)
    assert hx[3] == pytest.approx(direct_lattice_sum(6, w), abs=1e-9)
    assert hx[6] == pytest.approx(direct_lattice_sum(12, w), abs=1e-10)
    # closed form S4 = Gamma(1/4)^8 / (960 pi^2) (round-off)
    from scipy.special import gamma

    assert sq[2] == pytest.approx(gamma(0.25) ** 8 / (960 * np.pi**2), rel=RTOL_ROUNDOFF)
    # symmetry zeros: S_2n vanishes unless 4 | 2n (square), 6 | 2n (hexagonal)
    assert sq[3] == 0.0 and hx[2] == 0.0 and hx[4] == 0.0
    # far terms: nearest neighbours dominate, S_2n -> 4 (square, n even), 6 (hexagonal, 3 | n)
    big_sq, big_hx = an.lattice_sums("square", 120), an.lattice_sums("hexagonal", 120)
    assert big_sq[120] == pytest.approx(4.0, rel=1e-10) and big_hx[120] == pytest.approx(6.0, rel=1e-10)


def test_perrins_constants_from_lattice_sums():
    """The published constants equal their lattice-sum expressions (brute-force sums here)."""
    s4, s8 = direct_lattice_sum(4, 1j), direct_lattice_sum(8, 1j)
    w = np.exp(1j * np.pi / 3)
    s6, s12 = direct_lattice_sum(6, w), direct_lattice_sum(12, w)
    c = np.sqrt(3) / 2 / np.pi
    sq = (3 * s4**2 / np.pi**4, 735 * s8**2 / np.pi**8, 7 * s8**2 / np.pi**8)
    hx = (5 * s6**2 * c**6, 152460 * s12**2 * c**12, 11 * s12**2 * c**12)
    # Printed to 6 decimals: |difference| <= 0.5e-6 plus the brute-force sum error; Perrins'
    # 1.402958 is 2e-6 below 735 S8^2/pi^8 = 1.4029600 and 0.000076 truncates 0.0000765:
    # a 2.5e-6 absolute tolerance admits these printing differences and nothing larger.
    assert np.allclose(an.SQUARE_ARRAY_CONSTANTS, sq, rtol=0, atol=2.5e-6)
    assert np.allclose(an.HEXAGONAL_ARRAY_CONSTANTS, hx, rtol=0, atol=2.5e-6)


@pytest.mark.parametrize(
    "fun,f_max", [(an.rayleigh_square_array, an.F_MAX_SQUARE), (an.rayleigh_hexagonal_array, an.F_MAX_HEXAGONAL)]
)
def test_rayleigh_keller_and_limits(fun, f_max):
    fs = np.linspace(0.0, f_max * 0.99, 40)
    for rho in (0.01, 0.3, 2.0, 50.0):
        # Keller (1964): F(rho) F(1/rho) = 1; the closed forms satisfy it identically (round-off)
        assert np.allclose(fun(fs, rho) * fun(fs, 1 / rho), 1.0, rtol=RTOL_ROUNDOFF)
    assert np.allclose(fun(fs, np.inf) * fun(fs, 0.0), 1.0, rtol=RTOL_ROUNDOFF)
    assert np.allclose(fun(fs, 1.0), 1.0)
    # perfect conductor: finite, increasing; insulator: positive, decreasing
    up, down = fun(fs, np.inf), fun(fs, 0.0)
    assert np.all(np.isfinite(up)) and np.all(np.diff(up) > 0)
    assert np.all(down > 0) and np.all(np.diff(down) < 0)
    # inside the 2D HS bounds (the conductivity of both arrays is isotropic)
    for rho in (0.0, 0.1, 10.0):
        for f in fs[1:]:
            lo, hi = an.hashin_shtrikman_conductivity([rho, 1.0], [f, 1 - f], 2)
            val = fun(f, rho)
            assert lo * (1 - RTOL_ROUNDOFF) <= val <= hi * (1 + RTOL_ROUNDOFF)


@pytest.mark.parametrize("rho", [np.inf, 10.0, 0.2, 0.0])
def test_rayleigh_dilute_limit_is_maxwell_garnett(rho):
    """Maxwell-Garnett is exact through O(f^4) (square) / O(f^6) (hexagonal); the first corrections are
    ``-2 a beta^3 f^5`` with ``a = 3 S4^2 / pi^4`` and ``-2 a6 beta^3 f^7`` with ``a6 = 5 S6^2 (A/pi)^6``,
    lattice sums by brute force here."""
    beta = -1.0 if np.isinf(rho) else (1 - rho) / (1 + rho)
    a_sq = 3 * direct_lattice_sum(4, 1j) ** 2 / np.pi**4
    a_hx = 5 * direct_lattice_sum(6, np.exp(1j * np.pi / 3)) ** 2 * (np.sqrt(3) / 2 / np.pi) ** 6
    # f >= 0.02 keeps the corrections (>= 1e-12) far above the round-off of F and MG (~1e-16).
    for f in (0.02, 0.04, 0.08):
        mg = an.maxwell_garnett_conductivity(f, rho, 1.0, 2)
        # exact correction = lead / (1 + f beta)^2 * (1 + O(f^4)): relative deviation from the
        # leading term is 2 |f beta| + O(f^2) <= 2f, so rel = 3f.
        lead_sq = -2 * a_sq * beta**3 * f**5
        assert an.rayleigh_square_array(f, rho) - mg == pytest.approx(lead_sq, rel=3 * f)
        lead_hx = -2 * a_hx * beta**3 * f**7
        assert an.rayleigh_hexagonal_array(f, rho) - mg == pytest.approx(lead_hx, rel=3 * f)


@pytest.mark.parametrize("lattice", ["square", "hexagonal"])
def test_rayleigh_multipole_converged_and_keller(lattice):
    f_hi = 0.78 if lattice == "square" else 0.9
    for f in (0.3, 0.6, f_hi):
        for rho in (np.inf, 10.0, 0.05):
            v100 = an.rayleigh_multipole(f, rho, lattice)
            v200 = an.rayleigh_multipole(f, rho, lattice, n_multipoles=200)
            # converged: doubling the truncation changes nothing beyond 1e-9 (measured 1e-15
            # for f <= 0.78 / 0.90)
            assert v100 == pytest.approx(v200, rel=1e-9)
            # Keller's theorem holds for the full solution as well (not built in: a physical check)
            inv = 0.0 if np.isinf(rho) else 1 / rho
            assert v100 * an.rayleigh_multipole(f, inv, lattice) == pytest.approx(1.0, rel=1e-9)
    assert an.rayleigh_multipole(0.4, 1.0, lattice) == 1.0
    assert an.rayleigh_multipole(0.0, np.inf, lattice) == 1.0


# (f, tolerance) for the closed forms against the converged multipole solution. The closed forms
# drop terms of relative order f^12 (square) / f^18 (hexagonal) and higher; the tolerances are
# ~2x the largest error measured over rho in {0, 0.2, 10, inf}.
SQUARE_ACCURACY = [(0.1, 5e-11), (0.3, 1e-8), (0.5, 1.5e-5), (0.6, 5e-4), (0.7, 1.5e-2)]
HEXAGONAL_ACCURACY = [(0.3, 2e-10), (0.5, 1e-8), (0.7, 1e-5), (0.8, 8e-4), (0.85, 1e-2)]


@pytest.mark.parametrize(
    "fun,lattice,table",
    [
        (an.rayleigh_square_array, "square", SQUARE_ACCURACY),
        (an.rayleigh_hexagonal_array, "hexagonal", HEXAGONAL_ACCURACY),
    ],
)
def test_rayleigh_closed_form_vs_multipole(fun, lattice, table):
    for f, tol in table:
        for rho in (np.inf, 10.0, 0.2, 0.0):
            assert fun(f, rho) == pytest.approx(an.rayleigh_multipole(f, rho, lattice), rel=tol)


def test_rayleigh_multipole_vs_finite_volume():
    """Independent check of the multipole solution at high f: a periodic finite-volume solve.

    The FV scheme is first order (staircase interface): the raw values at n = 96, 192 are
    1.2 % and 0.6 % high; their Richardson extrapolation is 1.2e-3 off (measured; n = 128, 256
    gives 6e-4, 256, 512 gives 3e-4), hence the 3e-3 tolerance.
    """
    f, rho = 0.6, 10.0
    ref = an.rayleigh_multipole(f, rho)
    v1, v2 = fv_square_array(f, rho, 96), fv_square_array(f, rho, 192)
    assert 2 * v2 - v1 == pytest.approx(ref, rel=3e-3)
    # first-order convergence from above: halving h about halves the error (0.55 measured)
    assert 0 < v2 - ref < 0.7 * (v1 - ref)


# --------------------------------------------------------------------------- scalar moduli
def test_bulk_shear_isotropic():
    lam, mu = 3.0, 1.7
    b2 = an.bulk_shear_2d(isotropic_stiffness_mandel(lam, mu, 2))
    assert np.allclose(b2, (lam + mu, mu, mu, mu, 1.0), rtol=RTOL_ROUNDOFF)
    assert b2.bulk == pytest.approx(an.bulk_modulus(lam, mu, 2), rel=RTOL_ROUNDOFF)
    b3 = an.bulk_shear_3d(isotropic_stiffness_mandel(lam, mu, 3))
    assert np.allclose(b3, (lam + 2 * mu / 3, mu, mu, mu, 1.0), rtol=RTOL_ROUNDOFF)


def test_bulk_shear_cubic_and_rotation_invariance():
    rng = np.random.default_rng(3)
    c11, c12, c44 = 170.0, 120.0, 75.0  # copper-like cubic constants (GPa)
    cv = np.zeros((6, 6))
    cv[:3, :3] = c12
    np.fill_diagonal(cv[:3, :3], c11)
    cv[3:, 3:] = np.eye(3) * c44
    cm = stiffness_voigt_to_mandel(cv)
    b = an.bulk_shear_3d(cm)
    assert np.allclose(
        b,
        ((c11 + 2 * c12) / 3, c44, (c11 - c12) / 2, ((c11 - c12) + 3 * c44) / 5, 2 * c44 / (c11 - c12)),
        rtol=RTOL_ROUNDOFF,
    )
    # bulk and the isotropic shear are rotation invariants (orientation averages); 1e-12 relative
    # covers the round-off of the four-fold rotation contraction
    rb = an.bulk_shear_3d(rotate_mandel(cm, random_rotation(rng, 3)))
    assert rb.bulk == pytest.approx(b.bulk, rel=1e-12)
    assert rb.shear_iso == pytest.approx(b.shear_iso, rel=1e-12)
    # 2D square symmetry: (C11 + C12)/2, C66, (C11 - C12)/2; invariants under in-plane rotation
    c2 = np.array([[10.0, 4.0, 0.0], [4.0, 10.0, 0.0], [0.0, 0.0, 2 * 1.5]])  # Mandel: 2 C66
    s = an.bulk_shear_2d(c2)
    assert np.allclose(s[:3], (7.0, 1.5, 3.0), rtol=RTOL_ROUNDOFF)
    th = 0.37
    rot = np.array([[np.cos(th), -np.sin(th)], [np.sin(th), np.cos(th)]])
    s_rot = an.bulk_shear_2d(rotate_mandel(c2, rot))
    assert s_rot.bulk == pytest.approx(s.bulk, rel=1e-12)
    assert s_rot.shear_iso == pytest.approx(s.shear_iso, rel=1e-12)
    # a 2D laminate is not isotropic: the Zener ratio detects it
    lam_c = an.laminate_stiffness([1.0, 50.0], [0.5, 30.0], [0.4, 0.6], 2)
    assert abs(an.bulk_shear_2d(lam_c).anisotropy - 1.0) > 0.1
    with pytest.raises(MaterialError):
        an.bulk_shear_3d(np.eye(3))
