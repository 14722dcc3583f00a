"""Reduced RVE in 3D (Mandel strain size 6): POD-Galerkin + ECM against the full nonlinear RVE.

A coarse simple-cubic RVE (one elastic sphere, f = 0.2, in a J2 matrix; mesh 0.35: 324 dofs, 361
points) so that the 3D training (24 directions on the sphere of the 6D strain space, ramp + reversal,
144 snapshots) takes ~4 s. The bounds are the measured errors with a margin, stated at each assertion.
"""

from __future__ import annotations

import numpy as np
import pytest
from mpi4py import MPI

from fe2.geometry import square_array
from fe2.materials import LinearElasticLaw
from fe2.materials.j2 import J2Plasticity
from fe2.micro.nonlinear_rve import NonlinearRVEMaterial
from fe2.micro.reduced import ReducedRVEMaterial, TrainingDesign, build_reduced_rve, collect_snapshots, training_paths
from fe2.micro.reduced.training import run_path

pytestmark = pytest.mark.serial  # RVEs on COMM_SELF, one process's work

DESIGN = TrainingDesign(n_directions=24, max_amplitude=0.04, n_steps=3, reversal_fraction=0.5, seed=0)


def _laws():
    return {"matrix": J2Plasticity(3.0, 0.35, 0.03, h_iso=0.3, dim=3),
            "fibre": LinearElasticLaw.isotropic(70.0, 0.2, 3)}


@pytest.fixture(scope="module")
def trained():
    rve = square_array(MPI.COMM_SELF, volume_fraction=0.2, mesh_size=0.35, dim=3)
    full = NonlinearRVEMaterial(rve, _laws())
    snaps = collect_snapshots(full, training_paths(DESIGN, 6))
    return full, snaps


def _reduced_path(model, path):
    state, out = model.initial_state(1), []
    for E in path:
        s, _, trial = model.evaluate(E[None, :], state, guess=state)
        out.append(s[0])
        state = trial
    return np.asarray(out)


def _rel_error(a, ref):
    return float(np.max(np.linalg.norm(a - ref, axis=1)) / np.max(np.linalg.norm(ref, axis=1)))


def test_3d_reduced_rve_reproduces_the_full_rve_at_training_and_untrained_strains(trained):
    """Strain size 6. POD energy tolerance 1e-5 keeps the fluctuation's relative error ~sqrt(1e-5) = 3.2e-3
    on the snapshots; the stress error is asked below that bound along a training path (measured 3.8e-5)
    and below 1 % along an untrained path (random direction in 6D to 0.03, then turning to another; measured
    1.8e-4). With ECM 1e-2 (the training integrands to 1 %: 163 of the 361 points on this coarse mesh)
    both stay below 2e-2, twice the ECM tolerance (measured 2.3e-3, 4.1e-3). Hill–Mandel of the reduced
    solves ≤ 1e-10 (the reduced Newton tolerance; measured 6.5e-13)."""
    full, snaps = trained
    train = training_paths(DESIGN, 6)[5]
    ref_train, _, _ = run_path(full, train)
    rng = np.random.default_rng(3)
    d1, d2 = (v / np.linalg.norm(v) for v in rng.normal(size=(2, 6)))
    path = np.concatenate([np.linspace(0, 0.03, 4)[1:, None] * d1,
                           0.03 * d1 + np.linspace(0, 1, 4)[1:, None] * (0.02 * d2 - 0.03 * d1)])
    ref, _, _ = run_path(full, path)
    pod = build_reduced_rve(full, DESIGN, snapshots=snaps, pod_tol=1e-5, hyper_reduction="none")
    ecm = build_reduced_rve(full, DESIGN, snapshots=snaps, pod_tol=1e-5, ecm_tol=1e-2)
    assert pod.meta["dim"] == 3 and pod.meta["m"] == 6
    errors = {}
    for name, data in (("pod", pod), ("ecm", ecm)):
        red = ReducedRVEMaterial(data, _laws())
        errors[name] = (_rel_error(_reduced_path(red, train), ref_train), _rel_error(_reduced_path(red, path), ref))
        assert red.statistics().hill_mandel_max <= 1e-10
    assert errors["pod"][0] <= np.sqrt(1e-5), errors
    assert errors["pod"][1] <= 1e-2, errors
    assert ecm.weights.size < full.point_volume.size and np.all(ecm.weights > 0.0)
    assert max(errors["ecm"]) <= 2e-2, errors
