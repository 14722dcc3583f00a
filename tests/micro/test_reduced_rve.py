"""Reduced RVEs (fe2.micro.reduced): POD-Galerkin + ECM against the full nonlinear RVE.

Small RVEs (square array of fibres, f = 0.3, mesh 0.12: 2.3e2 dofs) so that a full training run takes
~1-2 s; the bounds are the measured errors with a margin, stated at each assertion.
"""

from __future__ import annotations

import numpy as np
import pytest
from mpi4py import MPI

from fe2.errors import ConfigError, MaterialError
from fe2.geometry import square_array
from fe2.materials import LinearElasticLaw
from fe2.materials.j2 import J2Plasticity
from fe2.micro.nonlinear_rve import NonlinearRVEMaterial
from fe2.micro.reduced import (
    ReducedRVEData,
    ReducedRVEMaterial,
    TrainingDesign,
    build_reduced_rve,
    collect_snapshots,
    training_paths,
)
from fe2.micro.reduced.training import run_path

pytestmark = pytest.mark.serial  # RVEs on COMM_SELF, one process's work

J2 = {"young": 1.0, "poisson": 0.3, "sigma_y0": 0.01, "h_iso": 0.1}
DESIGN = TrainingDesign(n_directions=12, max_amplitude=0.03, n_steps=4, reversal_fraction=0.5, seed=0)


def _j2_laws():
    return {"matrix": J2Plasticity(**J2, dim=2), "fibre": LinearElasticLaw.isotropic(10.0, 0.3, 2)}


@pytest.fixture(scope="module")
def j2_full():
    rve = square_array(MPI.COMM_SELF, volume_fraction=0.3, mesh_size=0.12)
    return NonlinearRVEMaterial(rve, _j2_laws())


@pytest.fixture(scope="module")
def j2_snapshots(j2_full):
    return collect_snapshots(j2_full, training_paths(DESIGN, 3))


def _untrained_path():
    """Loading along a random direction (not a training direction) to 0.025, then turning to another."""
    rng = np.random.default_rng(5)
    d1, d2 = (v / np.linalg.norm(v) for v in rng.normal(size=(2, 3)))
    up = np.linspace(0, 0.025, 6)[1:, None] * d1
    turn = 0.025 * d1 + np.linspace(0, 1, 6)[1:, None] * (0.02 * d2 - 0.025 * d1)
    return np.concatenate([up, turn])


def _reduced_path(model, path):
    state, out = model.initial_state(1), []
    for E in path:
        s, _, trial = model.evaluate(E[None, :], state, guess=state)
        out.append(s[0])
        state = trial
    return np.asarray(out), state


def _rel_error(a, ref):
    return float(np.max(np.linalg.norm(a - ref, axis=1)) / np.max(np.linalg.norm(ref, axis=1)))


def test_linear_rve_three_unit_cases_give_the_exact_tensor():
    """Linear elastic phases: the fluctuations are linear in E, so the 3 unit load cases span them (3 modes,
    the 4th singular value is round-off) and the POD-Galerkin effective tensor equals the full one to
    round-off (asked 1e-10 relative; measured 1.1e-15). ECM integrates the training integrands to its NNLS
    tolerance (1e-8) with the volume exact (1e-12) on 16 of the 208 points: the training stresses are
    averaged to 4.8e-12 and the effective tensor is the exact one to 1.2e-11 (both asked 1e-9)."""
    rve = square_array(MPI.COMM_SELF, volume_fraction=0.3, mesh_size=0.12)
    laws = {"matrix": LinearElasticLaw.isotropic(1.0, 0.3, 2), "fibre": LinearElasticLaw.isotropic(10.0, 0.3, 2)}
    full = NonlinearRVEMaterial(rve, laws)
    snaps = collect_snapshots(full, [np.eye(3)[j][None, :] for j in range(3)])
    design = TrainingDesign(n_directions=3, max_amplitude=1.0, n_steps=1, reversal_fraction=0.0)
    _, C_full, _ = full.evaluate(np.array([[0.1, -0.2, 0.3]]), full.initial_state(1))
    for hr in ("none", "ecm"):
        data = build_reduced_rve(full, design, snapshots=snaps, pod_tol=0.0, hyper_reduction=hr, ecm_tol=1e-8)
        assert data.n_modes == 3
        red = ReducedRVEMaterial(data, laws)
        _, C, _ = red.evaluate(np.array([[0.1, -0.2, 0.3]]), red.initial_state(1))
        assert abs(data.weights.sum() - full.volume) <= 1e-12 * full.volume
        if hr == "none":
            assert np.max(np.abs(C[0] - C_full[0])) <= 1e-10 * np.max(np.abs(C_full[0]))
        else:
            assert data.meta["ecm"]["integration_residual"] <= 1e-8
            assert data.weights.size < full.point_volume.size
            assert np.all(data.weights > 0.0)
            # the training stresses (integrands of the ECM) are averaged exactly by the rule:
            # σ̄ of each unit case from its full micro stresses, ECM vs exact weights
            exact = np.einsum("p,tpm->tm", full.point_volume, snaps.micro_flux)
            ecm = np.einsum("s,tsm->tm", data.weights, snaps.micro_flux[:, data.points])
            assert np.max(np.abs(ecm - exact)) <= 1e-9 * np.max(np.abs(exact))
            # and the reduced tensor on these points is the exact one to the same tolerance
            assert np.max(np.abs(C[0] - C_full[0])) <= 1e-9 * np.max(np.abs(C_full[0]))


def test_j2_reduced_stress_on_an_untrained_path_converges_with_the_energy_fraction(j2_full, j2_snapshots):
    """J2 matrix + elastic fibres, a loading-then-turning path not in the training set: the reduced macro
    stress is within 1 % of the full one and the error decreases as the POD energy tolerance is tightened
    1e-2 → 1e-3 → 1e-4 (measured 1.2e-3, 4.5e-4, 1.1e-4 with 5, 8, 15 modes); with ECM (tol 1e-2: 120 of
    208 points) 1.4e-3. See docs/reduced_rve.md for the larger RVE of the bench."""
    path = _untrained_path()
    ref, _, _ = run_path(j2_full, path)
    errors = []
    for tol in (1e-2, 1e-3, 1e-4):
        data = build_reduced_rve(j2_full, DESIGN, snapshots=j2_snapshots, pod_tol=tol, hyper_reduction="none")
        out, _ = _reduced_path(ReducedRVEMaterial(data, _j2_laws()), path)
        errors.append(_rel_error(out, ref))
    assert max(errors) < 1e-2, errors
    assert errors[0] > errors[1] > errors[2], errors
    data = build_reduced_rve(j2_full, DESIGN, snapshots=j2_snapshots, pod_tol=1e-4, ecm_tol=1e-2)
    red = ReducedRVEMaterial(data, _j2_laws())
    out, state = _reduced_path(red, path)
    assert data.weights.size < 0.8 * j2_full.point_volume.size
    assert _rel_error(out, ref) < 1e-2
    assert np.max(red.point_fields(state)["eq_plastic_strain"]) > 1e-3  # plastic flow happened
    assert red.hill_mandel_max < 1e-9  # reduced Newton tolerance 1e-11 of the force scale


def test_reduced_tangent_is_the_derivative_of_the_reduced_stress(j2_full, j2_snapshots):
    """C̄ of the reduced (ECM) problem vs central differences of its stress in the plastic range: 1e-6 of
    max |C̄| (h = 1e-7: truncation O(h²) ~ 1e-14, round-off and the Newton tolerance 1e-11 of the force
    scale divided by h leave ~1e-9; measured 2.2e-11)."""
    data = build_reduced_rve(j2_full, DESIGN, snapshots=j2_snapshots, pod_tol=1e-4, ecm_tol=1e-2)
    red = ReducedRVEMaterial(data, _j2_laws())
    state = red.initial_state(1)
    E = np.array([[0.02, -0.005, 0.004]])
    _, C, trial = red.evaluate(E, state)
    assert np.max(trial.reduced.phase_states["matrix"].eq_plastic_strain) > 1e-3
    h = 1e-7
    fd = np.zeros((3, 3))
    for j in range(3):
        dE = h * np.eye(3)[j]
        fp, _, _ = red.evaluate(E + dE, state)
        fm, _, _ = red.evaluate(E - dE, state)
        fd[:, j] = (fp[0] - fm[0]) / (2 * h)
    assert np.max(np.abs(fd - C[0])) <= 1e-6 * np.max(np.abs(C[0]))


def test_storage_round_trip_and_range_refusal(j2_full, j2_snapshots, tmp_path):
    """Saved and loaded, the model answers bitwise the same; other laws, another dimension or a strain
    above the trained maximum (without a full RVE to fall back to) are refused with one line."""
    data = build_reduced_rve(j2_full, DESIGN, snapshots=j2_snapshots, pod_tol=1e-3, ecm_tol=1e-3)
    data.save(tmp_path / "rom")
    loaded = ReducedRVEData.load(tmp_path / "rom")
    assert loaded.meta["pod"]["n_modes"] == data.n_modes and loaded.meta["training"]["n_snapshots"] == 96
    E = np.array([[0.01, 0.004, -0.006]])
    a = ReducedRVEMaterial(data, _j2_laws())
    b = ReducedRVEMaterial(loaded, _j2_laws())
    np.testing.assert_array_equal(a.evaluate(E, a.initial_state(1))[0], b.evaluate(E, b.initial_state(1))[0])
    wrong = {**_j2_laws(), "matrix": J2Plasticity(**{**J2, "sigma_y0": 0.02}, dim=2)}
    with pytest.raises(ConfigError, match="sigma_y0"):
        ReducedRVEMaterial(loaded, wrong)
    with pytest.raises(ConfigError, match="phases"):
        ReducedRVEMaterial(loaded, {"matrix": _j2_laws()["matrix"]})
    laws_3d = {"matrix": J2Plasticity(**J2, dim=3), "fibre": LinearElasticLaw.isotropic(10.0, 0.3, 3)}
    with pytest.raises(ConfigError, match="trained in 2D"):
        ReducedRVEMaterial(loaded, laws_3d)
    with pytest.raises(MaterialError, match="trained maximum"):
        a.evaluate(np.array([[0.04, 0.0, 0.0]]), a.initial_state(1))
    with pytest.raises(ConfigError, match="not a reduced RVE"):
        ReducedRVEData.load(tmp_path)


def test_error_indicator_and_range_send_points_to_the_full_rve(j2_full, j2_snapshots):
    """Error control on. η (the full-order residual of the reconstructed fluctuation in units of the full
    Newton's force scale) decreases with the basis — measured max η 0.11 (3 modes), 0.061 (5), 0.037 (15)
    on the untrained path — so a threshold of 0.08 accepts every point of the 15-mode model and re-solves
    some of the 3-mode one with the full RVE; a path beyond the trained amplitude (to 1.8x) is handed to the
    full RVE from the tracked history, and the counts say so. With the fallback, the stress along that path
    stays within 1 % of the full RVE's (measured 4.9e-5)."""
    path = _untrained_path()
    good = build_reduced_rve(j2_full, DESIGN, snapshots=j2_snapshots, pod_tol=1e-4, hyper_reduction="none")
    poor = build_reduced_rve(j2_full, DESIGN, snapshots=j2_snapshots, pod_tol=1e-1, hyper_reduction="none")
    red = ReducedRVEMaterial(good, _j2_laws(), full=j2_full, indicator_threshold=0.08)
    _reduced_path(red, path)
    st = red.statistics()
    assert st.full_solves == 0 and st.reduced_solves == len(path) and 0.0 < st.indicator_max < 0.08
    red_poor = ReducedRVEMaterial(poor, _j2_laws(), full=j2_full, indicator_threshold=0.08)
    _reduced_path(red_poor, path)
    st = red_poor.statistics()
    assert st.full_solves > 0 and st.out_of_range == 0 and st.solves == len(path)
    # outside the trained range: the last steps go beyond 0.03
    far = np.concatenate([path[:5], path[4] * (1.0 + 0.3 * np.arange(1, 5))[:, None]])
    assert np.linalg.norm(far[-1]) > 1.4 * DESIGN.max_amplitude
    ref, _, _ = run_path(j2_full, far)
    red = ReducedRVEMaterial(good, _j2_laws(), full=j2_full, indicator_threshold=0.08)
    out, _ = _reduced_path(red, far)
    st = red.statistics()
    n_out = int(np.sum(np.linalg.norm(far, axis=1) > DESIGN.max_amplitude))
    assert st.out_of_range == n_out and st.full_solves >= n_out and st.reduced_solves == len(far) - st.full_solves
    assert _rel_error(out, ref) < 1e-2


def test_state_round_trips_through_arrays_and_take_put(j2_full, j2_snapshots):
    """What a checkpoint stores (to_arrays) restores the same state (restored, bitwise), with and without
    the tracked full history; take/put move one macro point's reduced and full history together."""
    data = build_reduced_rve(j2_full, DESIGN, snapshots=j2_snapshots, pod_tol=1e-3, hyper_reduction="none")
    for red in (ReducedRVEMaterial(data, _j2_laws()),
                ReducedRVEMaterial(data, _j2_laws(), full=j2_full, indicator_threshold=1.0)):
        E = np.array([[0.02, -0.005, 0.004], [0.0, 0.01, -0.02], [0.001, 0.0, 0.0]])
        _, _, state = red.evaluate(E, red.initial_state(3))
        assert np.max(state.reduced.phase_states["matrix"].eq_plastic_strain) > 1e-3
        back = red.initial_state(3).restored(state.to_arrays())
        assert back.allclose(state) and (back.full is None) == (red.full is None)
        one = state.take(np.array([1]))
        target = red.initial_state(3)
        target.put(np.array([2]), one)
        assert target.take(np.array([2])).allclose(one) and target.take(np.array([0])).allclose(
            red.initial_state(1))


def test_ecm_on_monomials_is_a_positive_gauss_like_rule():
    """ECM on the monomials 1, x, …, x⁵ sampled at 400 midpoints of [0, 1] (weights 1/400): a rule of at
    most 6 points (a positive interpolatory rule for 6 functions needs no more; Gauss needs 3) with
    positive weights summing to 1 (volume constraint, 1e-12), integrating every monomial as the full rule
    does to the NNLS tolerance (1e-10 asked), hence ∫x^k = 1/(k+1) to the midpoint rule's error
    (k²/(24·400²) ≤ 1e-5). Measured: 6 points, volume 2e-16, vs the full rule 2.1e-12, vs exact 1.3e-6."""
    from fe2.micro.reduced import empirical_cubature

    n = 400
    x = (np.arange(n) + 0.5) / n
    vol = np.full(n, 1.0 / n)
    monomials = np.column_stack([x**k for k in range(6)])
    rule = empirical_cubature(monomials, vol, tol=1e-12, svd_tol=1e-14)
    assert rule.points.size <= 6 and np.all(rule.weights > 0.0)
    assert abs(rule.weights.sum() - 1.0) <= 1e-12
    got = rule.weights @ monomials[rule.points]
    assert np.max(np.abs(got - vol @ monomials)) <= 1e-10
    assert np.max(np.abs(got - 1.0 / np.arange(1, 7))) <= 1e-5
