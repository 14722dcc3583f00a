"""Reduced RVE (fe2.micro.reduced) vs the full nonlinear RVE: accuracy table and online speed-up.

RVE: square array of fibres (f = 0.3), J2 matrix (E 1, ν 0.3, σ_y0 0.01, H_iso 0.1) + elastic fibres
(E 10), periodic, P1. Training: ``--directions`` Sobol directions to ‖E‖ = 0.03, 5 steps up and 5 down
to −0.015 each. Test path (not in the training set): a ramp to 0.025 along a random direction, then
a turn to 0.02 along another (10 steps, plastic loading and partial unloading).

Printed: for each POD energy tolerance and hyper-reduction (all points / ECM at ``ecm_tol``) the
number of modes and cubature points, the largest relative macro-stress error along the test path
(max_t ‖σ̄_red − σ̄_full‖ / max_t ‖σ̄_full‖), and the time per point evaluation (one macro point, one
step, warm start from the committed state) with the ratio full / reduced. Times are wall-clock on
whatever the machine is doing (the full RVE is timed before and after the table, both printed);
the ratio is what to read, and it is not asserted anywhere.

Run: ``OMP_NUM_THREADS=1 python bench/reduced_rve_bench.py [--mesh-size 0.03] [--json out.json]``.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
from mpi4py import MPI

from fe2.geometry import square_array
from fe2.materials import LinearElasticLaw
from fe2.materials.j2 import J2Plasticity
from fe2.micro.nonlinear_rve import NonlinearRVEMaterial
from fe2.micro.reduced import ReducedRVEMaterial, TrainingDesign, build_reduced_rve, collect_snapshots, training_paths


def laws():
    return {"matrix": J2Plasticity(1.0, 0.3, 0.01, h_iso=0.1, dim=2), "fibre": LinearElasticLaw.isotropic(10.0, 0.3, 2)}


def test_path() -> np.ndarray:
    rng = np.random.default_rng(5)
    d1, d2 = (v / np.linalg.norm(v) for v in rng.normal(size=(2, 3)))
    up = np.linspace(0, 0.025, 6)[1:, None] * d1
    turn = 0.025 * d1 + np.linspace(0, 1, 6)[1:, None] * (0.02 * d2 - 0.025 * d1)
    return np.concatenate([up, turn])


def run(model, path) -> tuple[np.ndarray, float]:
    """Stresses along ``path`` and the mean wall time per point evaluation."""
    state, out, t = model.initial_state(1), [], 0.0
    for E in path:
        t0 = time.perf_counter()
        s, _, trial = model.evaluate(E[None, :], state, guess=state)
        t += time.perf_counter() - t0
        out.append(s[0])
        state = trial
    return np.asarray(out), t / len(path)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--mesh-size", type=float, default=0.03)
    ap.add_argument("--directions", type=int, default=16)
    ap.add_argument("--ecm-tol", type=float, default=1e-2)
    ap.add_argument("--pod-tols", type=float, nargs="+", default=[1e-2, 1e-3, 1e-4, 1e-5, 1e-6])
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    rve = square_array(MPI.COMM_SELF, volume_fraction=0.3, mesh_size=args.mesh_size)
    full = NonlinearRVEMaterial(rve, laws())
    design = TrainingDesign(n_directions=args.directions, max_amplitude=0.03, n_steps=5, reversal_fraction=0.5)
    snaps = collect_snapshots(full, training_paths(design, 3))
    path = test_path()
    run(full, path[:2])  # compile / warm caches
    ref, t_full = run(full, path)
    print(f"RVE: {full.n_w} dofs, {full.point_volume.size} quadrature points; {snaps.drivers.shape[0]} snapshots "
          f"in {snaps.time_s:.1f} s; full RVE {t_full * 1e3:.2f} ms per point")
    print(f"{'pod_tol':>8} {'hyper':>5} {'modes':>5} {'points':>6} {'stress err':>10} {'ms/point':>9} {'speed-up':>8}")
    rows = []
    for tol in args.pod_tols:
        for hyper in ("none", "ecm"):
            data = build_reduced_rve(full, design, snapshots=snaps, pod_tol=tol, hyper_reduction=hyper,
                                     ecm_tol=args.ecm_tol)
            red = ReducedRVEMaterial(data, laws())
            out, t_red = run(red, path)
            err = float(np.max(np.linalg.norm(out - ref, axis=1)) / np.max(np.linalg.norm(ref, axis=1)))
            row = {"pod_tol": tol, "hyper_reduction": hyper, "modes": data.n_modes, "points": int(data.weights.size),
                   "stress_error": err, "ms_per_point": t_red * 1e3, "speedup": t_full / t_red}
            rows.append(row)
            print(f"{tol:8.0e} {hyper:>5} {row['modes']:5d} {row['points']:6d} {err:10.2e} {t_red * 1e3:9.3f} "
                  f"{row['speedup']:8.1f}")
    _, t_full_after = run(full, path)  # the machine may be shared: the full RVE timed again at the end
    print(f"full RVE timed again after the table: {t_full_after * 1e3:.2f} ms per point (before: {t_full * 1e3:.2f});"
          f" speed-ups with the smaller: " + ", ".join(f"{min(t_full, t_full_after) * 1e3 / r['ms_per_point']:.1f}"
                                                      for r in rows))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"n_dofs": int(full.n_w), "n_qp": int(full.point_volume.size), "full_ms_per_point": t_full * 1e3,
                       "ecm_tol": args.ecm_tol, "rows": rows}, fh, indent=2)


if __name__ == "__main__":
    main()
