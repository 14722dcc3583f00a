"""The reduced RVE's error indicator as array work (fe2.micro.reduced.model, ``_indicator``) against the
full RVE's own dolfinx evaluation and assembly (``_indicator_assembled``, the former implementation).

Small RVEs (square array f = 0.3, mesh 0.12: 2.3e2 dofs, 208 points), small training designs: what is
checked is an identity, so the sizes only need to exercise both phases, a plastic history and both
boundary conditions. Tolerance 1e-12 relative: both sides compute the same sums in a different order
(round-off ~1e-16 times the number of terms per entry, ≤ ~10).
"""

from __future__ import annotations

import numpy as np
import pytest
from mpi4py import MPI

from fe2.geometry import square_array
from fe2.materials import LinearElasticLaw
from fe2.materials.j2 import J2Plasticity
from fe2.materials.neo_hookean import NeoHookean
from fe2.micro.nonlinear_rve import NonlinearRVEMaterial
from fe2.micro.reduced import ReducedRVEMaterial, TrainingDesign, build_reduced_rve

pytestmark = pytest.mark.serial  # RVEs on COMM_SELF

RTOL = 1e-12


def _j2_laws():
    return {"matrix": J2Plasticity(1.0, 0.3, 0.01, h_iso=0.1, dim=2), "fibre": LinearElasticLaw.isotropic(10.0, 0.3, 2)}


def _neo_laws():
    return {"matrix": NeoHookean(1.0, 0.3, dim=2), "fibre": NeoHookean(20.0, 0.3, dim=2)}


def _model(laws, bc, design):
    rve = square_array(MPI.COMM_SELF, volume_fraction=0.3, mesh_size=0.12)
    data = build_reduced_rve(NonlinearRVEMaterial(rve, laws(), bc=bc), design, pod_tol=1e-4, ecm_tol=1e-3)
    model = ReducedRVEMaterial(data, laws(), full=NonlinearRVEMaterial(rve, laws(), bc=bc))
    assert model._full_G is not None and model._full_R is not None  # the array path is the one taken
    return model


def _compare_along(model, path):
    """At each step of ``path`` (committed full history from the steps before): η and the full trial
    states of the array path equal the assembled ones; returns the η's."""
    state, etas = model.initial_state(1), []
    for E in path:
        _, _, trial = model.evaluate(E[None, :], state, guess=state)
        q = trial.coordinates[0]
        eta, trials = model._indicator(E, q, state.full)
        eta_ref, trials_ref = model._indicator_assembled(E, q, state.full)
        assert abs(eta - eta_ref) <= RTOL * eta_ref, (eta, eta_ref)
        for ph in trials_ref:  # each state array to 1e-12 of its largest entry (entries near 0 differ by 1e-18)
            mine, theirs = trials[ph].to_arrays(), trials_ref[ph].to_arrays()
            assert sorted(mine) == sorted(theirs)
            for key, ref in theirs.items():
                assert np.max(np.abs(mine[key] - ref), initial=0.0) <= RTOL * np.max(np.abs(ref), initial=0.0), key
        etas.append(eta)
        state = trial
    return np.asarray(etas)


@pytest.mark.parametrize("bc", ["periodic", "kubc"])
def test_array_indicator_is_the_assembled_one_at_small_strain(bc):
    """J2 matrix loaded past yield (‖E‖ 0.03 ≫ ε_y 0.01) and unloaded, so the committed history is
    plastic. Checked: (i) ε = E + G_full q equals dolfinx's strain expression at every point; (ii) R σ
    equals the assembled Pᵀ r(σ) for a random flux; (iii) R of a constant flux is zero (divergence
    theorem: the periodic boundary terms cancel, KUBC tests vanish on the boundary) to 1e-12 of ‖R‖‖σ‖;
    (iv) η and the trial states of the indicator equal the assembled ones at every step."""
    design = TrainingDesign(n_directions=6, max_amplitude=0.04, n_steps=3, reversal_fraction=0.5, seed=0)
    model = _model(_j2_laws, bc, design)
    full, rng = model.full, np.random.default_rng(7)
    E, q = np.array([0.02, -0.01, 0.005]), 0.01 * rng.normal(size=model.data.n_modes)
    full.E.value[:] = E
    full.w.x.array[:] = model.data.modes @ q
    ref = full.quad.evaluate(full.strain_expr)
    assert np.max(np.abs(E + model._full_G @ q - ref)) <= RTOL * np.max(np.abs(ref))
    sigma = rng.normal(size=ref.shape)
    full.quad.set(sigma, np.zeros((sigma.shape[0], full.m, full.m)))
    full._reduced_residual()
    assembled = full.rr.getArray().copy()
    mine = model._full_R @ sigma.ravel()
    assert np.max(np.abs(mine - assembled)) <= RTOL * np.max(np.abs(assembled))
    constant = np.tile([1.0, -2.0, 0.5], sigma.shape[0])
    r_norm = float(np.sqrt(abs(model._full_R.multiply(model._full_R).sum())))
    assert np.linalg.norm(model._full_R @ constant) <= RTOL * r_norm * np.linalg.norm(constant)
    direction = np.array([1.0, -0.6, 0.4]) / np.linalg.norm([1.0, -0.6, 0.4])
    path = np.concatenate([np.linspace(0, 0.03, 4)[1:], np.linspace(0.03, 0.0, 3)[1:]])[:, None] * direction
    etas = _compare_along(model, path)
    assert np.all(etas > 0)


def test_array_indicator_is_the_assembled_one_at_finite_strain():
    """Neo-Hookean phases, driver F̄: η and trial states equal the assembled ones along a stretch to
    ‖F̄ − I‖ = 0.2 (the kinematics' variation is ∇w, linear in q as at small strain)."""
    # 4 + 4 steps: the reversal then never lands on F̄ = I exactly (zero stress: no Newton criterion there)
    design = TrainingDesign(n_directions=6, max_amplitude=0.3, n_steps=4, reversal_fraction=0.5, seed=0)
    model = _model(_neo_laws, "periodic", design)
    direction = np.array([1.0, 0.3, -0.2, 0.5]) / np.linalg.norm([1.0, 0.3, -0.2, 0.5])
    path = np.eye(2).ravel()[None, :] + np.linspace(0, 0.2, 4)[1:, None] * direction
    etas = _compare_along(model, path)
    assert np.all(etas > 0)
