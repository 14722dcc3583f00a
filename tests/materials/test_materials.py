"""Tests of the material contract and the analytic laws (fe2.materials).

What is verified, and against what independent route:

* LinearElasticLaw: σ = C ε and tangent C, validation of C, StateStore life cycle.
* J2 plasticity (Mandel, 3D and plane strain):
  - elastic range: σ = C ε, tangent = C, plane strain σ33 = ν (σ11 + σ22);
  - uniaxial stress driven through the 3D law (lateral strains found by Newton
    with the returned tangent) against the closed-form bilinear curve
    σ = σy + E_t (ε − σy/E), E_t = E H/(E + H), for isotropic and for
    kinematic hardening, and against the closed-form Bauschinger reverse yield
    σ_rev = σ_max − 2 (σy + H_iso εᵖ_max) under cyclic loading;
  - consistency: ‖dev σ − β‖ = √(2/3) K(α) after every return;
  - consistent tangent vs central finite differences of evaluate();
  - purity: evaluate() never touches the committed state; commit/rollback.
* Neo-Hookean: P(I) = 0, A(I) = linear elastic tensor, A vs central FD of P,
  P vs central FD of W (energy conjugacy), objectivity P(QF) = Q P(F),
  plane strain = in-plane block of 3D with F33 = 1, det F <= 0 detection.

Pure numpy with fixed seeds: every MPI rank would run the same computation, so the
module is marked ``serial`` (the ``mpirun -n 2`` run skips it).

Finite-difference tolerances. Central differences with step h on a quantity
of scale x have truncation error ~ (h/x)² (relative, for smooth maps) and
round-off ~ 1e-16 · x/h. With h = 1e-6 · x both are ≤ 1e-10, far below the
1e-6 acceptance; a wrong tangent term (e.g. the continuum instead of the
algorithmic J2 tangent) is off by 1e-2 .. 1, so 1e-6 separates right from
wrong by many orders. For J2 the FD points are chosen well inside the plastic
regime (f_trial ≫ 0) so that the ± h perturbation never crosses the yield
surface (where σ(ε) has a kink and FD is meaningless).
"""

from __future__ import annotations

import numpy as np
import pytest

from fe2.errors import MaterialError
from fe2.materials import (
    EmptyState,
    InadmissibleDriverError,
    J2Plasticity,
    J2State,
    LinearElasticLaw,
    MaterialModel,
    NeoHookean,
    StateStore,
)
from fe2.materials.j2 import PLANE_STRAIN_INDEX
from fe2.tensors import isotropic_stiffness_mandel, lame_from_young_poisson, sym_to_mandel

# Pure numpy/scipy: every MPI rank would repeat the same computation, so run it once (serial run only).
pytestmark = pytest.mark.serial

# Steel-like parameters in MPa: yield strain σy/E = 1.25e-3.
E, NU, SY = 200e3, 0.3, 250.0
# Closed forms evaluated against a backward-Euler return map that is exact for
# proportional (uniaxial) paths with linear hardening: only round-off and the
# 1e-12 lateral-stress Newton tolerance remain, so 1e-10 relative.
RTOL_EXACT = 1e-10
# FD acceptance for tangents (see module docstring for the error budget).
RTOL_FD = 1e-6

RNG_SEED = 20240611


def _fd_tangent(fun, x: np.ndarray, h: float) -> np.ndarray:
    """Central-difference Jacobian of a batched map ``fun: (n, m) -> (n, m)``, ``(n, m, m)``."""
    n, m = x.shape
    jac = np.empty((n, m, m))
    for k in range(m):
        dx = np.zeros_like(x)
        dx[:, k] = h
        jac[:, :, k] = (fun(x + dx) - fun(x - dx)) / (2.0 * h)
    return jac


def _rel_err(a: np.ndarray, b: np.ndarray) -> float:
    """Max over points of max|a - b| / max|b| (per point)."""
    num = np.abs(a - b).reshape(a.shape[0], -1).max(axis=1)
    den = np.abs(b).reshape(b.shape[0], -1).max(axis=1)
    return float(np.max(num / den))


# =========================================================================== contract / linear
def test_linear_elastic_law_returns_c_eps_and_c():
    rng = np.random.default_rng(RNG_SEED)
    for dim in (2, 3):
        lam, mu = lame_from_young_poisson(E, NU)
        c = isotropic_stiffness_mandel(lam, mu, dim)
        law = LinearElasticLaw(c)
        assert isinstance(law, MaterialModel)
        assert law.is_linear and law.kind == "small_strain" and law.dim == dim
        eps = rng.standard_normal((7, law.driver_size)) * 1e-3
        sig, tan, st = law.evaluate(eps, law.initial_state(7))
        np.testing.assert_allclose(sig, eps @ c.T, rtol=1e-14, atol=0)
        np.testing.assert_array_equal(tan, np.broadcast_to(c, (7, *c.shape)))
        assert isinstance(st, EmptyState)
        # anisotropic C_hom plugs in identically
        a = rng.standard_normal((law.driver_size, law.driver_size))
        c_an = a @ a.T + law.driver_size * np.eye(law.driver_size)
        sig2, _, _ = LinearElasticLaw(c_an).evaluate(eps, EmptyState())
        np.testing.assert_allclose(sig2, eps @ c_an.T, rtol=1e-14)
    np.testing.assert_allclose(
        LinearElasticLaw.isotropic(E, NU, 3).c_mandel,
        isotropic_stiffness_mandel(*lame_from_young_poisson(E, NU), 3),
    )


def test_linear_elastic_law_rejects_bad_stiffness():
    c = isotropic_stiffness_mandel(1.0, 1.0, 3)
    bad = c.copy()
    bad[0, 1] += 1e-3
    with pytest.raises(MaterialError, match="symmetric"):
        LinearElasticLaw(bad)
    with pytest.raises(MaterialError, match="positive definite"):
        LinearElasticLaw(-c)
    with pytest.raises(MaterialError):
        LinearElasticLaw(np.eye(4))
    with pytest.raises(ValueError, match="driver must have shape"):
        LinearElasticLaw(c).evaluate(np.zeros((2, 3)), EmptyState())


def test_state_store_commit_rollback_checkpoint():
    law = J2Plasticity(E, NU, SY, h_iso=1e3, h_kin=2e3)
    store = StateStore(law, 4)
    eps = np.zeros((4, 6))
    eps[:, 0] = [0.0, 1e-3, 5e-3, 1e-2]  # elastic, elastic, plastic, plastic
    store.evaluate(eps)
    assert np.all(store.committed.eq_plastic_strain == 0.0)
    assert np.all(store.trial.eq_plastic_strain[2:] > 0.0)
    store.rollback()
    assert store.trial.allclose(store.committed)
    store.evaluate(eps)
    store.commit()
    assert np.all(store.committed.eq_plastic_strain[2:] > 0.0)
    ck = store.to_arrays()
    assert set(ck) == {"plastic_strain", "eq_plastic_strain", "back_stress"}
    other = StateStore(law, 4)
    other.from_arrays(ck)
    assert other.committed.allclose(store.committed) and other.trial.allclose(store.committed)
    # partial trial update (a subset of points re-evaluated)
    sub = np.array([1, 3])
    _, _, tr = law.evaluate(2.0 * eps[sub], store.committed.take(sub))
    store.update_trial(tr, sub)
    assert store.trial.take(sub).allclose(tr)
    assert store.trial.take(np.array([0, 2])).allclose(store.committed.take(np.array([0, 2])))
    with pytest.raises(MaterialError):
        J2State.from_arrays({"plastic_strain": np.zeros((1, 6))})


# =========================================================================== J2
def test_j2_parameter_validation():
    bad = ({"young": 0.0}, {"poisson": 0.5}, {"poisson": -1.0}, {"sigma_y0": 0.0}, {"h_iso": -1.0})
    bad += ({"h_kin": -1.0}, {"voce_q": 10.0}, {"dim": 1})  # Voce Q > 0 needs b > 0
    for kw in bad:
        args = {"young": E, "poisson": NU, "sigma_y0": SY} | kw
        with pytest.raises(MaterialError):
            J2Plasticity(**args)


@pytest.mark.parametrize("dim", [2, 3])
def test_j2_elastic_below_yield(dim):
    law = J2Plasticity(E, NU, SY, h_iso=1e3, dim=dim)
    rng = np.random.default_rng(RNG_SEED)
    eps = rng.standard_normal((50, law.driver_size))
    # scale each strain so that its von Mises stress is 0.9 sigma_y
    lam, mu = law.lam, law.mu
    e3 = law.strain_3d(eps)
    dev = e3 - (e3[:, :3].sum(1) / 3.0)[:, None] * np.array([1, 1, 1, 0, 0, 0])
    svm = np.sqrt(1.5) * 2 * mu * np.linalg.norm(dev, axis=1)
    eps *= (0.9 * SY / svm)[:, None]
    sig, tan, trial = law.evaluate(eps, law.initial_state(50))
    c = isotropic_stiffness_mandel(lam, mu, dim)
    np.testing.assert_allclose(sig, eps @ c.T, rtol=1e-13, atol=1e-13 * SY)
    np.testing.assert_allclose(tan, np.broadcast_to(c, tan.shape), rtol=1e-15)
    assert np.all(trial.eq_plastic_strain == 0.0)
    if dim == 2:
        s3 = law.stress_3d(eps, trial)
        np.testing.assert_allclose(s3[:, 2], NU * (s3[:, 0] + s3[:, 1]), rtol=1e-12, atol=1e-12 * SY)
        np.testing.assert_allclose(s3[:, 3:5], 0.0, atol=1e-12 * SY)


def _uniaxial_path(law: J2Plasticity, eps11: np.ndarray) -> tuple[np.ndarray, int]:
    """Drive a 3D point along ε11 with σ22 = σ33 = 0 (shears zero); returns σ11 per step, max Newton its.

    The lateral strains (ε22, ε33) are found by Newton on (σ22, σ33) = 0 using
    the (2x2 lateral block of the) returned consistent tangent, always from the
    committed state; the state is committed once the lateral stress vanishes.
    """
    store = StateStore(law, 1)
    lat = np.zeros(2)
    out, max_it = [], 0
    for e11 in eps11:
        for it in range(1, 21):  # noqa: B007 -- read after the loop
            eps = np.array([[e11, lat[0], lat[1], 0.0, 0.0, 0.0]])
            sig, tan = store.evaluate(eps)
            r = sig[0, 1:3]
            if np.max(np.abs(r)) <= 1e-12 * SY:
                break
            lat -= np.linalg.solve(tan[0, 1:3, 1:3], r)
        else:  # pragma: no cover
            raise AssertionError("lateral Newton did not converge")
        max_it = max(max_it, it)
        store.commit()
        out.append(sig[0, 0])
    return np.array(out), max_it


@pytest.mark.parametrize("hardening", ["isotropic", "kinematic"])
def test_j2_uniaxial_matches_bilinear_closed_form(hardening):
    h = 10e3
    law = J2Plasticity(E, NU, SY, **({"h_iso": h} if hardening == "isotropic" else {"h_kin": h}))
    eps11 = np.linspace(0.0, 8e-3, 41)[1:]  # several elastic steps, then plastic; one step crosses yield
    sig, max_it = _uniaxial_path(law, eps11)
    e_t = E * h / (E + h)
    ey = SY / E
    ref = np.where(eps11 <= ey, E * eps11, SY + e_t * (eps11 - ey))
    np.testing.assert_allclose(sig, ref, rtol=RTOL_EXACT)
    # quadratic (here: exact, piecewise-linear response) convergence with the consistent tangent
    assert max_it <= 4


@pytest.mark.parametrize("h_iso,h_kin", [(0.0, 10e3), (4e3, 6e3)])
def test_j2_bauschinger_reverse_yield(h_iso, h_kin):
    """Load to ε_max, reverse to −ε_max. Closed form (uniaxial, linear hardening):
    forward σ_max = σy + H εᵖ_max (H = H_iso + H_kin); elastic unloading with slope E until
    σ_rev = X − R = H_kin εᵖ_max − (σy + H_iso εᵖ_max) = σ_max − 2 (σy + H_iso εᵖ_max);
    then reverse hardening with slope E_t = E H/(E + H).
    """
    law = J2Plasticity(E, NU, SY, h_iso=h_iso, h_kin=h_kin)
    e_max = 6e-3
    fwd = np.linspace(0.0, e_max, 25)[1:]
    bwd = np.linspace(e_max, -e_max, 49)[1:]
    sig, _ = _uniaxial_path(law, np.concatenate([fwd, bwd]))
    h = h_iso + h_kin
    e_t = E * h / (E + h)
    ep_max = (e_max - SY / E) * (1.0 - e_t / E)  # plastic strain at ε_max: ε − σ/E
    s_max = SY + h * ep_max
    s_rev = s_max - 2.0 * (SY + h_iso * ep_max)
    e_rev = e_max - (s_max - s_rev) / E
    ref_b = np.where(bwd >= e_rev, s_max - E * (e_max - bwd), s_rev - e_t * (e_rev - bwd))
    np.testing.assert_allclose(sig[: fwd.size][-1], s_max, rtol=RTOL_EXACT)
    np.testing.assert_allclose(sig[fwd.size :], ref_b, rtol=RTOL_EXACT, atol=RTOL_EXACT * SY)
    if h_iso == 0.0:
        # pure kinematic: the elastic range is 2σy wide (Bauschinger effect), independent of ε_max
        np.testing.assert_allclose(s_max - s_rev, 2.0 * SY, rtol=RTOL_EXACT)


def _random_history(law: J2Plasticity, n: int, rng) -> J2State:
    """A committed state after one random plastic step (non-zero εᵖ, α, β)."""
    eps = rng.standard_normal((n, law.driver_size)) * 5e-3
    _, _, st = law.evaluate(eps, law.initial_state(n))
    return st


@pytest.mark.parametrize("dim", [2, 3])
@pytest.mark.parametrize("voce", [False, True])
def test_j2_on_yield_surface_after_return(dim, voce):
    extra = {"voce_q": 150.0, "voce_b": 40.0} if voce else {}
    law = J2Plasticity(E, NU, SY, h_iso=2e3, h_kin=5e3, dim=dim, **extra)
    rng = np.random.default_rng(RNG_SEED + dim)
    st0 = _random_history(law, 200, rng)
    eps = rng.standard_normal((200, law.driver_size)) * 1e-2
    _, _, st = law.evaluate(eps, st0)
    plastic = st.eq_plastic_strain > st0.eq_plastic_strain
    assert plastic.sum() >= 190  # a few random directions may unload elastically
    s = law.stress_3d(eps, st)
    dev = s - (s[:, :3].sum(1) / 3.0)[:, None] * np.array([1, 1, 1, 0, 0, 0])
    lhs = np.linalg.norm(dev - st.back_stress, axis=1)[plastic]
    rhs = np.sqrt(2.0 / 3.0) * law.yield_stress(st.eq_plastic_strain)[plastic]
    np.testing.assert_allclose(lhs, rhs, rtol=1e-10)
    # plastic flow is deviatoric, back stress deviatoric
    np.testing.assert_allclose(st.plastic_strain[:, :3].sum(1), 0.0, atol=1e-15)
    np.testing.assert_allclose(st.back_stress[:, :3].sum(1), 0.0, atol=1e-10)


@pytest.mark.parametrize("dim", [2, 3])
@pytest.mark.parametrize("voce", [False, True])
def test_j2_consistent_tangent_vs_finite_differences(dim, voce):
    extra = {"voce_q": 150.0, "voce_b": 40.0} if voce else {}
    law = J2Plasticity(E, NU, SY, h_iso=2e3, h_kin=5e3, dim=dim, **extra)
    rng = np.random.default_rng(RNG_SEED + 10 + dim)
    st0 = _random_history(law, 30, rng)
    eps = rng.standard_normal((30, law.driver_size)) * 1e-2  # f_trial >> 0: well inside the plastic regime
    _, tan, st = law.evaluate(eps, st0)
    assert np.all(st.eq_plastic_strain - st0.eq_plastic_strain > 1e-4)
    h = 1e-6 * float(np.max(np.abs(eps)))
    fd = _fd_tangent(lambda x: law.evaluate(x, st0)[0], eps, h)
    err = _rel_err(tan, fd)
    assert err <= RTOL_FD, f"consistent tangent vs FD: {err:.2e}"
    np.testing.assert_allclose(
        tan, tan.transpose(0, 2, 1), rtol=1e-13, atol=1e-13 * E
    )  # symmetric (associative flow)
    law3 = J2Plasticity(E, NU, SY, h_iso=2e3, h_kin=5e3, dim=3, **extra)
    e3 = law.strain_3d(eps)
    _, tan3, st3 = law3.evaluate(e3, st0)
    if dim == 2:
        # 2D tangent = in-plane block of the 3D tangent (suppressed strains held at zero)
        np.testing.assert_allclose(
            tan, tan3[:, PLANE_STRAIN_INDEX][:, :, PLANE_STRAIN_INDEX], rtol=1e-13, atol=1e-13 * E
        )
    # the test discriminates: the continuum elastoplastic tangent (theta = 1, no
    # algorithmic terms) misses the FD tangent by orders of magnitude more than RTOL_FD
    s3 = law3.stress_3d(e3, st3)
    xi = s3 - (s3[:, :3].sum(1) / 3.0)[:, None] * np.array([1, 1, 1, 0, 0, 0]) - st3.back_stress
    nrm = xi / np.linalg.norm(xi, axis=1)[:, None]
    kp = law3._dyield(st3.eq_plastic_strain)
    c_cont = law3.c_elastic_3d - (2 * law3.mu / (1 + (kp + law3.h_kin) / (3 * law3.mu)))[
        :, None, None
    ] * np.einsum("ni,nj->nij", nrm, nrm)
    idx = PLANE_STRAIN_INDEX if dim == 2 else np.arange(6)
    assert _rel_err(c_cont[:, idx][:, :, idx], fd) > 1e3 * RTOL_FD


def test_j2_evaluate_is_pure_and_repeatable():
    law = J2Plasticity(E, NU, SY, h_iso=2e3, h_kin=5e3, voce_q=100.0, voce_b=30.0)
    rng = np.random.default_rng(RNG_SEED + 99)
    st0 = _random_history(law, 20, rng)
    frozen = st0.copy()
    eps = rng.standard_normal((20, 6)) * 1e-2
    eps_copy = eps.copy()
    out1 = law.evaluate(eps, st0)
    out2 = law.evaluate(eps, st0)
    assert st0.allclose(frozen)  # committed state untouched (exact equality)
    np.testing.assert_array_equal(eps, eps_copy)
    np.testing.assert_array_equal(out1[0], out2[0])
    np.testing.assert_array_equal(out1[1], out2[1])
    assert out1[2].allclose(out2[2])
    # the trial state shares no memory with the committed one
    for name in ("plastic_strain", "eq_plastic_strain", "back_stress"):
        assert not np.shares_memory(getattr(out1[2], name), getattr(st0, name))
    # rollback through the store gives the same answer as the first evaluation
    store = StateStore(law, 20)
    store.from_arrays(st0.to_arrays())
    a = store.evaluate(eps)
    store.evaluate(2.0 * eps)
    store.rollback()
    b = store.evaluate(eps)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])


def test_j2_unloading_after_plastic_step_is_elastic():
    """Re-evaluating at the committed strain stays elastic (no round-off plastic step), tangent = C."""
    law = J2Plasticity(E, NU, SY, h_iso=1e3)
    eps = np.array([[5e-3, -1e-3, 0.0, 0.0, 0.0, 2e-3]])
    _, _, st = law.evaluate(eps, law.initial_state(1))
    _, tan, st2 = law.evaluate(eps, st)
    np.testing.assert_array_equal(tan[0], law.c_elastic_3d)
    assert st2.allclose(st)


# =========================================================================== neo-Hookean
def _random_f(rng, n: int, dim: int, amp: float = 0.3) -> np.ndarray:
    """n random deformation gradients (n, dim, dim) with det F > 0.3 (resampled until so)."""
    f = np.eye(dim) + amp * rng.standard_normal((n, dim, dim))
    while np.any(bad := np.linalg.det(f) <= 0.3):
        f[bad] = np.eye(dim) + amp * rng.standard_normal((int(bad.sum()), dim, dim))
    return f


def test_neo_hookean_parameter_validation():
    for args in ((0.0, 0.3), (1.0, 0.5), (1.0, -1.0)):
        with pytest.raises(MaterialError):
            NeoHookean(*args)
    with pytest.raises(MaterialError):
        NeoHookean(1.0, 0.3, dim=1)


@pytest.mark.parametrize("dim", [2, 3])
def test_neo_hookean_reference_state(dim):
    law = NeoHookean(E, NU, dim=dim)
    assert isinstance(law, MaterialModel) and law.kind == "finite_strain" and not law.is_linear
    f = np.broadcast_to(np.eye(dim).ravel(), (3, dim * dim)).copy()
    p, a, _ = law.evaluate(f, law.initial_state(3))
    np.testing.assert_allclose(p, 0.0, atol=1e-12 * E)
    d = np.eye(dim)
    lam, mu = law.lam, law.mu
    a_lin = lam * np.einsum("ij,kl->ijkl", d, d) + mu * (
        np.einsum("ik,jl->ijkl", d, d) + np.einsum("il,jk->ijkl", d, d)
    )
    np.testing.assert_allclose(
        a, np.broadcast_to(a_lin.reshape(dim * dim, dim * dim), a.shape), rtol=1e-14, atol=1e-12 * E
    )
    # W(I) = 0: the reference configuration is stress- and energy-free
    np.testing.assert_allclose(law.strain_energy(f), 0.0, atol=1e-12 * E)


@pytest.mark.parametrize("dim", [2, 3])
def test_neo_hookean_tangent_and_stress_vs_finite_differences(dim):
    law = NeoHookean(E, NU, dim=dim)
    rng = np.random.default_rng(RNG_SEED + 30 + dim)
    f = _random_f(rng, 20, dim).reshape(20, dim * dim)
    p, a, _ = law.evaluate(f, EmptyState())
    h = 1e-6  # F = O(1): truncation ~1e-12, round-off ~1e-10 relative
    fd_a = _fd_tangent(lambda x: law.evaluate(x, EmptyState())[0], f, h)
    err_a = _rel_err(a, fd_a)
    assert err_a <= RTOL_FD, f"dP/dF vs FD: {err_a:.2e}"
    np.testing.assert_allclose(a, a.transpose(0, 2, 1), rtol=1e-12, atol=1e-12 * E)  # major symmetry
    # energy conjugacy: P = dW/dF
    fd_p = np.empty_like(p)
    for k in range(dim * dim):
        df = np.zeros_like(f)
        df[:, k] = h
        fd_p[:, k] = (law.strain_energy(f + df) - law.strain_energy(f - df)) / (2 * h)
    err_p = _rel_err(p, fd_p)
    assert err_p <= RTOL_FD, f"P vs dW/dF by FD: {err_p:.2e}"


def test_neo_hookean_objectivity():
    law = NeoHookean(E, NU, dim=3)
    rng = np.random.default_rng(RNG_SEED + 40)
    f = _random_f(rng, 10, 3)
    q, _ = np.linalg.qr(rng.standard_normal((10, 3, 3)))
    q[np.linalg.det(q) < 0] *= -1.0  # proper rotations
    p = law.evaluate(f.reshape(10, 9), EmptyState())[0].reshape(10, 3, 3)
    pq = law.evaluate((q @ f).reshape(10, 9), EmptyState())[0].reshape(10, 3, 3)
    np.testing.assert_allclose(pq, q @ p, rtol=1e-12, atol=1e-12 * np.abs(p).max())
    np.testing.assert_allclose(
        law.strain_energy((q @ f).reshape(10, 9)), law.strain_energy(f.reshape(10, 9)), rtol=1e-12
    )


def test_neo_hookean_plane_strain_equals_3d_with_f33_one():
    rng = np.random.default_rng(RNG_SEED + 50)
    f2 = _random_f(rng, 15, 2)
    f3 = np.zeros((15, 3, 3))
    f3[:, :2, :2] = f2
    f3[:, 2, 2] = 1.0
    law2, law3 = NeoHookean(E, NU, dim=2), NeoHookean(E, NU, dim=3)
    p2, a2, _ = law2.evaluate(f2.reshape(15, 4), EmptyState())
    p3, a3, _ = law3.evaluate(f3.reshape(15, 9), EmptyState())
    ip = np.array([0, 1, 3, 4])  # 11 12 21 22 in row-major 3x3
    np.testing.assert_allclose(p2, p3[:, ip], rtol=1e-12, atol=1e-12 * E)
    np.testing.assert_allclose(a2, a3[:, ip][:, :, ip], rtol=1e-12, atol=1e-12 * E)
    np.testing.assert_allclose(law2.stress_3d(f2.reshape(15, 4)), p3, rtol=1e-12, atol=1e-12 * E)
    np.testing.assert_allclose(
        law2.strain_energy(f2.reshape(15, 4)), law3.strain_energy(f3.reshape(15, 9)), rtol=1e-12
    )


def test_neo_hookean_small_strain_limit_matches_linear_law():
    """For F = I + ε (ε symmetric, tiny), P ≈ C ε: ties the finite-strain law to the Mandel one."""
    law = NeoHookean(E, NU, dim=3)
    rng = np.random.default_rng(RNG_SEED + 60)
    g = rng.standard_normal((5, 3, 3))
    eps = 1e-7 * 0.5 * (g + g.transpose(0, 2, 1))
    p = law.evaluate((np.eye(3) + eps).reshape(5, 9), EmptyState())[0].reshape(5, 3, 3)
    sig_lin = sym_to_mandel(eps) @ isotropic_stiffness_mandel(law.lam, law.mu, 3).T
    # error O(|ε|²) relative: 1e-7 -> ~1e-6
    np.testing.assert_allclose(
        sym_to_mandel(0.5 * (p + p.transpose(0, 2, 1))), sig_lin, rtol=1e-5, atol=1e-5 * np.abs(sig_lin).max()
    )


def test_neo_hookean_detects_inverted_elements():
    law = NeoHookean(E, NU, dim=2)
    f = np.tile(np.eye(2).ravel(), (4, 1))
    f[1] = [1.0, 0.0, 0.0, -0.5]  # J < 0
    f[3] = [1.0, 1.0, 1.0, 1.0]  # J = 0
    with pytest.raises(InadmissibleDriverError, match="det F") as info:
        law.evaluate(f, EmptyState())
    np.testing.assert_array_equal(info.value.points, [1, 3])
    assert isinstance(info.value, MaterialError)
