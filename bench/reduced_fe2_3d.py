"""Reduced FE² on a 3D macro bar, reduced only; the full FE²'s time estimated from measured full solves.

Macro: bar [0, L] x [0, W] x [0, W] (``--lengths``, fe2.geometry.macro_domains.bar, ``--macro-mesh``),
P1 tetrahedra, one quadrature point per cell; clamped at x = 0 (u = 0), u_x = ``--stretch`` · L · load
factor on x = L (u_y, u_z free), load factors ``LOAD_FACTORS`` (the clamp makes the strain field non-uniform).
RVE: simple-cubic array (fe2.geometry.square_array, dim 3) of one elastic sphere (E 70, ν 0.2,
f = 0.2) in a J2 matrix (E 3, ν 0.35, σ_y0 0.03, H_iso 0.3), periodic, ``--rve-mesh``. Reduced RVE:
``--directions`` Sobol directions on the sphere of the 6D Mandel strain space to ‖E‖ = ``--amplitude``,
ramp + reversal (``--steps`` each), POD ``--pod-tol``, ECM ``--ecm-tol``; the full RVE is its fallback
(out of range, η > ``--indicator``).

Measured in this one process (serial): the offline cost; the reduced FE² run (wall time and micro
time per step, macro Newton iterations, point evaluations, fallback counts, max η, max Hill–Mandel);
then the full RVE's cost per point evaluation, from ``--full-samples`` macro points of the last step
solved by the full RVE (cold: from the virgin history, the strain of the converged step). The full
FE²'s time is an ESTIMATE, not a run: full seconds per evaluation × the reduced run's point
evaluations (= macro points × macro Newton iterations, summed over the steps); it assumes the full
FE² needs the same macro Newton iterations, and a warm-started full solve costs like a cold one.

Run: ``OMP_NUM_THREADS=1 python bench/reduced_fe2_3d.py [--macro-mesh 0.25] [--json out.json]``.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
from mpi4py import MPI

import fe2  # noqa: F401  (dolfinx_solver before dolfinx / petsc4py)

# isort: split
from fe2.geometry import square_array
from fe2.geometry.macro_domains import bar
from fe2.macro.small_strain import Dirichlet, QuasiStaticMacroProblem
from fe2.materials import LinearElasticLaw
from fe2.materials.j2 import J2Plasticity
from fe2.micro.nonlinear_rve import NonlinearRVEMaterial
from fe2.micro.reduced import ReducedRVEMaterial, TrainingDesign, build_reduced_rve

LOAD_FACTORS = (1 / 3, 2 / 3, 1.0)


def laws():
    return {"matrix": J2Plasticity(3.0, 0.35, 0.03, h_iso=0.3, dim=3),
            "fibre": LinearElasticLaw.isotropic(70.0, 0.2, 3)}


def reduced_run(material: ReducedRVEMaterial, lengths, macro_mesh: float, stretch: float, comm) -> dict:
    """The load path with the reduced RVE: per step wall and micro time, iterations, counts, reaction."""
    t0 = time.perf_counter()
    dom = bar(comm, lengths=lengths, mesh_size=macro_mesh)
    bcs = [Dirichlet(dom.tag("xmin"), [0.0, 0.0, 0.0]), Dirichlet(dom.tag("xmax"), stretch * lengths[0], 0)]
    solver = QuasiStaticMacroProblem(dom.mesh, dom.facet_tags, material, dirichlet=bcs)
    setup_s = time.perf_counter() - t0
    right = solver.dirichlet_dofs_for(dom.tag("xmax"))
    out: dict = {"setup_s": setup_s, "step_s": [], "micro_s": [], "iterations": [], "solves": [],
                 "full_solves": [], "reaction": []}
    for factor in LOAD_FACTORS:
        before = material.statistics().reduce(comm)
        t0 = time.perf_counter()
        rep = solver.solve_step(factor)
        out["step_s"].append(comm.allreduce(time.perf_counter() - t0, op=MPI.MAX))
        after = material.statistics().reduce(comm)
        out["micro_s"].append(after.time_s - before.time_s)
        out["solves"].append(after.solves - before.solves)
        out["full_solves"].append(after.full_solves - before.full_solves)
        out["iterations"].append(rep.iterations)
        out["reaction"].append(solver.reaction(right, 0))
    st = material.statistics().reduce(comm)
    out["counts"] = {"solves": st.solves, "reduced_solves": st.reduced_solves, "full_solves": st.full_solves,
                     "out_of_range": st.out_of_range, "indicator_max": st.indicator_max,
                     "hill_mandel_max": st.hill_mandel_max}
    out["n_points"] = comm.allreduce(solver.quad.n_points)
    out["n_cells"] = dom.mesh.topology.index_map(3).size_global
    out["last_driver"] = solver.quad.evaluate(solver.strain_expr)
    return out


def full_cost(full: NonlinearRVEMaterial, plain: ReducedRVEMaterial, drivers: np.ndarray) -> dict:
    """Seconds per full point evaluation: ``drivers`` solved cold (virgin history), one batch; and the
    relative stress difference of the reduced model (no fallback) solved cold at the same strains.
    """
    before = full.statistics()
    t0 = time.perf_counter()
    sig_full = full.evaluate(drivers, full.initial_state(drivers.shape[0]))[0]
    wall = time.perf_counter() - t0
    after = full.statistics()
    solves = after.solves - before.solves
    sig_red = plain.evaluate(drivers, plain.initial_state(drivers.shape[0]))[0]
    rel = np.linalg.norm(sig_red - sig_full, axis=1) / np.linalg.norm(sig_full, axis=1)
    return {"points": int(drivers.shape[0]), "wall_s": wall, "solves": solves,
            "iterations": after.iterations - before.iterations, "s_per_solve": wall / max(solves, 1),
            "hill_mandel_max": after.hill_mandel_max, "reduced_stress_rel_diff_max": float(rel.max())}


def collect(macro_mesh: float = 0.25, lengths=(2.0, 0.5, 0.5), stretch: float = 0.01, directions: int = 24,
            amplitude: float = 0.04, steps: int = 3, indicator: float | None = 0.2, rve_mesh: float = 0.15,
            pod_tol: float = 1e-5, ecm_tol: float = 1e-3, full_samples: int = 4) -> dict:
    comm = MPI.COMM_WORLD
    rve = square_array(MPI.COMM_SELF, volume_fraction=0.2, mesh_size=rve_mesh, dim=3)
    design = TrainingDesign(n_directions=directions, max_amplitude=amplitude, n_steps=steps, reversal_fraction=0.5)
    t0 = time.perf_counter()
    data = build_reduced_rve(NonlinearRVEMaterial(rve, laws()), design, pod_tol=pod_tol, ecm_tol=ecm_tol)
    offline_s = time.perf_counter() - t0
    full = NonlinearRVEMaterial(rve, laws())
    reduced = ReducedRVEMaterial(data, laws(), full=NonlinearRVEMaterial(rve, laws()), indicator_threshold=indicator)
    t0 = time.perf_counter()
    run = reduced_run(reduced, lengths, macro_mesh, stretch, comm)
    run_s = comm.allreduce(time.perf_counter() - t0, op=MPI.MAX)
    drivers = run.pop("last_driver")
    pick = np.linspace(0, drivers.shape[0] - 1, min(full_samples, drivers.shape[0])).astype(int)
    plain = ReducedRVEMaterial(data, laws())
    cost = full_cost(full, plain, drivers[pick])
    evaluations = sum(run["solves"])
    est_full_micro_s = cost["s_per_solve"] * evaluations
    return {"macro_mesh": macro_mesh, "lengths": list(lengths), "stretch": stretch, "load_factors": list(LOAD_FACTORS),
            "macro_points": run["n_points"], "macro_cells": run["n_cells"], "rve_mesh": rve_mesh,
            "rve_dofs": int(full.n_w), "rve_quadrature_points": int(full.point_volume.size),
            "reduced_modes": data.n_modes, "cubature_points": int(data.weights.size),
            "training": {**design.as_dict(), "n_snapshots": data.meta["training"]["n_snapshots"]},
            "offline_s": offline_s, "indicator_threshold": indicator, "pod_tol": pod_tol, "ecm_tol": ecm_tol,
            "reduced": {**run, "wall_s": run_s,
                        "micro_s_per_evaluation": sum(run["micro_s"]) / max(evaluations, 1)},
            "full_per_solve": cost,
            "full_fe2_estimate": {"micro_s": est_full_micro_s, "evaluations": evaluations,
                                  "ratio_to_reduced_wall": est_full_micro_s / run_s,
                                  "note": "estimate: s_per_solve x the reduced run's point evaluations"}}


def report(rec: dict) -> None:
    r, c, e = rec["reduced"], rec["full_per_solve"], rec["full_fe2_estimate"]
    print(f"3D bar {rec['lengths']} mesh {rec['macro_mesh']}: {rec['macro_points']} macro points; RVE mesh "
          f"{rec['rve_mesh']}: {rec['rve_dofs']} dofs, {rec['rve_quadrature_points']} points; reduced: "
          f"{rec['reduced_modes']} modes, {rec['cubature_points']} cubature points; offline {rec['offline_s']:.1f} s "
          f"({rec['training']['n_snapshots']} snapshots)")
    print(f"[reduced] wall {r['wall_s']:.1f} s (setup {r['setup_s']:.1f} s); step s {np.round(r['step_s'], 2).tolist()}"
          f"; micro s/step {np.round(r['micro_s'], 2).tolist()}; iterations {r['iterations']}; evaluations "
          f"{r['solves']}; full fallbacks/step {r['full_solves']}; reaction {np.round(r['reaction'], 6).tolist()}")
    print(f"   counts {r['counts']}")
    print(f"[full RVE] {c['points']} cold solves: {c['s_per_solve']:.3f} s/solve, {c['iterations']} Newton its, "
          f"HM max {c['hill_mandel_max']:.1e}; reduced (cold, same strains) stress rel diff max "
          f"{c['reduced_stress_rel_diff_max']:.2e}")
    print(f"[full FE2 ESTIMATE] {e['evaluations']} evaluations x {c['s_per_solve']:.3f} s = {e['micro_s']:.0f} s "
          f"micro time = {e['ratio_to_reduced_wall']:.0f}x the reduced run's whole wall time")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--macro-mesh", type=float, default=0.25)
    ap.add_argument("--lengths", type=float, nargs=3, default=(2.0, 0.5, 0.5))
    ap.add_argument("--stretch", type=float, default=0.01)
    ap.add_argument("--directions", type=int, default=24)
    ap.add_argument("--amplitude", type=float, default=0.04)
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--indicator", type=float, default=0.2)
    ap.add_argument("--rve-mesh", type=float, default=0.15)
    ap.add_argument("--pod-tol", type=float, default=1e-5)
    ap.add_argument("--ecm-tol", type=float, default=1e-3)
    ap.add_argument("--full-samples", type=int, default=4)
    ap.add_argument("--json", default=None)
    a = ap.parse_args()
    rec = collect(a.macro_mesh, tuple(a.lengths), a.stretch, a.directions, a.amplitude, a.steps, a.indicator,
                  a.rve_mesh, a.pod_tol, a.ecm_tol, a.full_samples)
    if MPI.COMM_WORLD.rank == 0:
        report(rec)
        if a.json:
            with open(a.json, "w") as fh:
                json.dump(rec, fh, indent=2, default=float)


if __name__ == "__main__":
    main()
