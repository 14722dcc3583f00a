"""Empirical cubature (fe2.micro.reduced.basis): the Lawson–Hanson greedy against scipy's NNLS, and
the number of points on a 2D J2 RVE governed by the integrand content (not the integrand rank).

RVE: square array f = 0.3, mesh 0.12 (246 dofs, 208 quadrature points), J2 matrix (E 1, ν 0.3,
σ_y0 0.01, H_iso 0.1) + elastic fibres (E 10); 12 training directions to 0.03, 4 + 4 steps (96
snapshots), POD 1e-4 (15 modes) — the set-up of tests/micro/test_reduced_rve.py. The bounds are the
measured values with a margin, stated at each assertion.
"""

from __future__ import annotations

import numpy as np
import pytest
from mpi4py import MPI
from scipy.optimize import nnls

from fe2.geometry import square_array
from fe2.materials import LinearElasticLaw
from fe2.materials.j2 import J2Plasticity
from fe2.micro.nonlinear_rve import NonlinearRVEMaterial
from fe2.micro.reduced import (
    ReducedRVEMaterial,
    TrainingDesign,
    build_reduced_rve,
    collect_snapshots,
    empirical_cubature,
    training_paths,
)
from fe2.micro.reduced.basis import greedy_nnls, pod_basis
from fe2.micro.reduced.offline import strain_modes, training_integrands
from fe2.micro.reduced.training import run_path

pytestmark = pytest.mark.serial  # RVEs on COMM_SELF, one process's work

DESIGN = TrainingDesign(n_directions=12, max_amplitude=0.03, n_steps=4, reversal_fraction=0.5, seed=0)


def _laws():
    return {"matrix": J2Plasticity(1.0, 0.3, 0.01, h_iso=0.1, dim=2), "fibre": LinearElasticLaw.isotropic(10.0, 0.3, 2)}


@pytest.fixture(scope="module")
def trained():
    full = NonlinearRVEMaterial(square_array(MPI.COMM_SELF, volume_fraction=0.3, mesh_size=0.12), _laws())
    snaps = collect_snapshots(full, training_paths(DESIGN, 3))
    basis = pod_basis(snaps.fluctuations, 1e-4)
    return full, snaps, basis


@pytest.mark.parametrize("shape", [(80, 60), (30, 200)])
def test_greedy_nnls_is_the_lawson_hanson_optimum(shape):
    """Run to tolerance 0, the greedy (QR-updated active set) is an NNLS solver: on random problems
    (overdetermined with an active bound; underdetermined, residual 0) it returns scipy's
    ``optimize.nnls`` solution to round-off (asked 1e-10; measured 5e-16) and residual."""
    rng = np.random.default_rng(0)
    A, b = rng.normal(size=shape), rng.normal(size=shape[0])
    cols, x = greedy_nnls(A, b, 0.0, shape[1])
    got = np.zeros(shape[1])
    got[cols] = x
    ref, ref_res = nnls(A, b)
    assert np.all(x > 0.0)
    assert np.max(np.abs(got - ref)) <= 1e-10 * np.max(np.abs(ref))
    assert abs(np.linalg.norm(A @ got - b) - ref_res) <= 1e-10 * np.linalg.norm(b)


@pytest.mark.parametrize("tol, max_points", [(1e-2, 50), (1e-3, 140)])
def test_ecm_points_follow_the_integrand_content(trained, tol, max_points):
    """ECM of the per-snapshot scaled training integrands (forces G_pᵀσ_p and stresses σ_p of the 96
    snapshots, 15 modes) at ``tol``:

    * its points: ≤ ``max_points`` (measured 46 at 1e-2, 133 at 1e-3, of 208), while the former
      formulation — every integrand column scaled to unit norm, every basis function integrated to
      ``tol`` (``weighted=False``) — keeps about as many points as the rank r of the integrand basis
      (measured 122 of r = 129, 183 of r = 184): asked ≥ 0.9 r, and the new rule ≤ 0.8 × that;
    * the integration error of all the (untruncated) training integrands, ‖Jᵀ(V − ω)‖/‖JᵀV‖: ≤ 1.5 tol
      (the stopping test bounds it for the basis truncated at svd_tol = tol; the discarded tail adds
      a little: measured 1.02 tol, 0.99 tol); weights positive, volume exact (1e-12);
    * the reduced model on these points, along a training path (ramp + reversal) against the full
      RVE: stress error ≤ 2 tol (measured 2.2e-3 / 2.1e-4) and Hill–Mandel ≤ 1e-10 (the reduced
      Newton tolerance; measured 2e-14 / 9e-16).
    """
    full, snaps, basis = trained
    vol = full.point_volume
    G = strain_modes(full, basis.modes)
    J = training_integrands(G, snaps.micro_flux, vol)
    rule = empirical_cubature(J, vol, tol=tol, svd_tol=tol)
    assert rule.points.size <= max_points, rule.points.size
    fs = np.einsum("pmk,tpm->ptk", G, snaps.micro_flux).reshape(vol.size, -1)
    per_column = np.column_stack([fs, np.transpose(snaps.micro_flux, (1, 0, 2)).reshape(vol.size, -1)])
    norms = np.sqrt(vol @ per_column**2)
    per_column = per_column[:, norms > 1e-14 * norms.max()] / norms[norms > 1e-14 * norms.max()]
    former = empirical_cubature(per_column, vol, tol=tol, svd_tol=tol, weighted=False)
    assert former.points.size >= 0.9 * former.n_integrands, (former.points.size, former.n_integrands)
    assert rule.points.size <= 0.8 * former.points.size, (rule.points.size, former.points.size)
    omega = np.zeros(vol.size)
    omega[rule.points] = rule.weights
    Jc = np.column_stack([J, np.ones(vol.size)])
    error = np.linalg.norm(Jc.T @ (vol - omega)) / np.linalg.norm(Jc.T @ vol)
    assert error <= 1.5 * tol, error
    assert np.all(rule.weights > 0.0) and abs(rule.weights.sum() - vol.sum()) <= 1e-12 * vol.sum()

    data = build_reduced_rve(full, DESIGN, snapshots=snaps, pod_tol=1e-4, ecm_tol=tol)
    assert np.array_equal(data.points, rule.points)
    red = ReducedRVEMaterial(data, _laws())
    path = training_paths(DESIGN, 3)[5]
    ref, _, _ = run_path(full, path)
    state, out = red.initial_state(1), []
    for E in path:
        s, _, state = red.evaluate(E[None, :], state, guess=state)
        out.append(s[0])
    err = np.max(np.linalg.norm(np.asarray(out) - ref, axis=1)) / np.max(np.linalg.norm(ref, axis=1))
    assert err <= 2 * tol, err
    assert red.statistics().hill_mandel_max <= 1e-10


def test_ecm_does_not_depend_on_the_length_unit():
    """The same integrands on an RVE measured in a unit 100× smaller (volumes × 1e6 in 3D): the same points
    and weights × 1e6 (the constant column carries unit √V-norm like the scaled integrand blocks; before, its
    norm √|Y| made it dominate the stopping test for |Y| ≫ 1). Random smooth-ish integrands, unit volume."""
    rng = np.random.default_rng(5)
    n_qp = 300
    x = rng.uniform(size=n_qp)
    J = np.column_stack([np.cos(k * np.pi * x) for k in range(1, 25)]) + 1e-3 * rng.normal(size=(n_qp, 24))
    vol = rng.uniform(0.5, 1.5, size=n_qp)
    vol /= vol.sum()
    a = empirical_cubature(J / np.sqrt(vol @ J**2), vol, tol=1e-3, svd_tol=1e-6)
    big = vol * 1e6
    b = empirical_cubature(J / np.sqrt(big @ J**2), big, tol=1e-3, svd_tol=1e-6)
    assert np.array_equal(a.points, b.points)
    assert np.allclose(b.weights, 1e6 * a.weights, rtol=1e-9)
