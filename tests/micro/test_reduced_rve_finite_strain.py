"""Reduced RVE at finite strain (driver F̄, flux P): neo-Hookean matrix (E 1) and fibres (E 20), f = 0.3,
mesh 0.12 (246 dofs, 208 points); 16 training directions in the space of F̄ − I to ‖F̄ − I‖ = 0.3, 4 + 4
steps (128 snapshots). Same formulas as at small strain with ε → ∇, σ → P (fe2/micro/reduced/model.py)."""

from __future__ import annotations

import numpy as np
import pytest
from mpi4py import MPI

from fe2.errors import MaterialError
from fe2.geometry import square_array
from fe2.materials.neo_hookean import NeoHookean
from fe2.micro.nonlinear_rve import NonlinearRVEMaterial
from fe2.micro.reduced import ReducedRVEMaterial, TrainingDesign, build_reduced_rve, collect_snapshots, training_paths
from fe2.micro.reduced.training import run_path

pytestmark = pytest.mark.serial

DESIGN = TrainingDesign(n_directions=16, max_amplitude=0.3, n_steps=4, reversal_fraction=0.5)
I2 = np.eye(2).ravel()


def _laws():
    return {"matrix": NeoHookean(1.0, 0.3, dim=2), "fibre": NeoHookean(20.0, 0.3, dim=2)}


def _path(model, drivers):
    state, out = model.initial_state(1), []
    for F in drivers:
        s, _, state = model.evaluate(F[None, :], state, guess=state)
        out.append(s[0])
    return np.asarray(out)


def test_neo_hookean_reduced_rve_on_an_untrained_path_and_its_tangent():
    """Untrained path (stretch to ‖F̄ − I‖ = 0.25 along a random direction, turn to 0.2 along another): the
    reduced P̄ error decreases with the POD tolerance 1e-2 → 1e-3 → 1e-4 (all points; measured 7.7e-3,
    2.1e-3, 7.2e-4 with 4, 7, 9 modes) and with ECM 1e-3 (117 of 208 points) stays below 1 % (measured
    7.1e-4). The reduced tangent dP̄/dF̄ matches central differences (h = 1e-7) to 1e-6 (measured 1.1e-9)
    and ‖F̄ − I‖ above the trained 0.3 is refused without a full RVE to fall back to."""
    rve = square_array(MPI.COMM_SELF, volume_fraction=0.3, mesh_size=0.12)
    full = NonlinearRVEMaterial(rve, _laws())
    snaps = collect_snapshots(full, training_paths(DESIGN, 4, "finite_strain"))
    rng = np.random.default_rng(3)
    d1, d2 = (v / np.linalg.norm(v) for v in rng.normal(size=(2, 4)))
    path = np.concatenate([I2 + np.linspace(0, 0.25, 6)[1:, None] * d1,
                           I2 + 0.25 * d1 + np.linspace(0, 1, 6)[1:, None] * (0.2 * d2 - 0.25 * d1)])
    ref, _, _ = run_path(full, path)

    def error(data):
        out = _path(ReducedRVEMaterial(data, _laws()), path)
        return float(np.max(np.linalg.norm(out - ref, axis=1)) / np.max(np.linalg.norm(ref, axis=1)))

    errors = [error(build_reduced_rve(full, DESIGN, snapshots=snaps, pod_tol=t, hyper_reduction="none"))
              for t in (1e-2, 1e-3, 1e-4)]
    assert errors[0] > errors[1] > errors[2], errors
    data = build_reduced_rve(full, DESIGN, snapshots=snaps, pod_tol=1e-4, ecm_tol=1e-3)
    assert data.meta["kind"] == "finite_strain" and data.weights.size < full.point_volume.size
    assert error(data) < 1e-2
    red = ReducedRVEMaterial(data, _laws())
    assert red.kind == "finite_strain"
    F = (I2 + 0.2 * d1)[None, :]
    _, C, _ = red.evaluate(F, red.initial_state(1))
    h = 1e-7
    fd = np.zeros((4, 4))
    for j in range(4):
        dF = h * np.eye(4)[j]
        fd[:, j] = (red.evaluate(F + dF, red.initial_state(1))[0][0]
                    - red.evaluate(F - dF, red.initial_state(1))[0][0]) / (2 * h)
    assert np.max(np.abs(fd - C[0])) <= 1e-6 * np.max(np.abs(C[0]))
    assert red.hill_mandel_max < 1e-9
    with pytest.raises(MaterialError, match="trained maximum"):
        red.evaluate((I2 + 0.35 * d1)[None, :], red.initial_state(1))
