"""Reduced FE² vs full FE² on the plate-with-hole J2 problem of demos/configs/run/fe2_plate_j2.toml.

Macro: quarter plate with a hole (width = height 1, radius 0.2), P1, u_x = 0.02 x load factor on the
right edge, load factors 0.25, 0.5, 0.75, 1 (``--macro-mesh``, default 0.2 as in the demo config).
RVE: square array f = 0.3, periodic, J2 matrix (E 3, ν 0.35, σ_y0 0.03, H_iso 0.3) + elastic fibres
(E 70, ν 0.2), mesh 0.15 (the demo config). Reduced RVE: ``--directions`` Sobol directions to
‖E‖_Mandel = ``--amplitude``, ``--steps`` + ``--steps`` steps (ramp, reversal to −0.5 max), POD 1e-5,
ECM 1e-3 (``--rve-mesh``, ``--pod-tol``, ``--ecm-tol``); the full RVE is its fallback
(out-of-range strains, error indicator η > ``--indicator``).

Both FE² runs are made in this one process, one after the other, on the same mesh (serial). Printed
and written (``--json``): micro time per macro step (MicroStatistics.time_s) and the ratio full /
reduced; the reaction force of every step and its relative difference; the relative L2 difference
of the macro stress (quadrature field) at every step; the reduced model's counters (reduced solves,
fallbacks, out-of-range, max η); the offline cost (snapshots, POD + ECM) and the break-even number of
macro point evaluations: offline time / (full − reduced time per point evaluation).

Run: ``OMP_NUM_THREADS=1 python bench/reduced_fe2_bench.py [--macro-mesh 0.2] [--json out.json]``.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
from mpi4py import MPI

import fe2  # noqa: F401  (dolfinx_solver before dolfinx / petsc4py)

# isort: split
import ufl
from dolfinx import fem

from fe2.geometry import square_array
from fe2.geometry.macro_domains import plate_with_hole
from fe2.macro.small_strain import Dirichlet, QuasiStaticMacroProblem
from fe2.materials import LinearElasticLaw
from fe2.materials.j2 import J2Plasticity
from fe2.micro.nonlinear_rve import NonlinearRVEMaterial
from fe2.micro.reduced import ReducedRVEMaterial, TrainingDesign, build_reduced_rve

LOAD_FACTORS = (0.25, 0.5, 0.75, 1.0)


def laws():
    return {"matrix": J2Plasticity(3.0, 0.35, 0.03, h_iso=0.3, dim=2),
            "fibre": LinearElasticLaw.isotropic(70.0, 0.2, 2)}


def fe2_run(material, macro_mesh: float, comm) -> dict:
    """The load path with ``material``: per step the reaction, micro time, Newton iterations and stress."""
    plate = plate_with_hole(comm, width=1.0, height=1.0, radius=0.2, mesh_size=macro_mesh)
    bcs = [Dirichlet(plate.tag("left"), 0.0, 0), Dirichlet(plate.tag("bottom"), 0.0, 1),
           Dirichlet(plate.tag("right"), 0.02, 0)]
    solver = QuasiStaticMacroProblem(plate.mesh, plate.facet_tags, material, dirichlet=bcs)
    right = solver.dirichlet_dofs_for(plate.tag("right"))
    out: dict = {"reaction": [], "micro_s": [], "step_s": [], "iterations": [], "stress": [], "solves": []}
    for factor in LOAD_FACTORS:
        before = material.statistics().reduce(comm)
        t0 = time.perf_counter()
        rep = solver.solve_step(factor)
        out["step_s"].append(comm.allreduce(time.perf_counter() - t0, op=MPI.MAX))
        after = material.statistics().reduce(comm)
        out["micro_s"].append(after.time_s - before.time_s)
        out["solves"].append(after.solves - before.solves)
        out["iterations"].append(rep.iterations)
        out["reaction"].append(solver.reaction(right, 0))
        out["stress"].append(solver.quad.flux.x.array.copy())
    out["n_points"] = comm.allreduce(solver.quad.n_points)
    out["solver"] = solver
    return out


def l2_relative(solver: QuasiStaticMacroProblem, values: np.ndarray, reference: np.ndarray) -> float:
    """‖values − reference‖_L2 / ‖reference‖_L2 of two quadrature stress fields on ``solver``'s mesh."""
    f = fem.Function(solver.quad.flux.function_space)
    norms = []
    for arr in (values - reference, reference):
        f.x.array[:] = arr
        norms.append(solver.comm.allreduce(fem.assemble_scalar(fem.form(ufl.inner(f, f) * solver.quad.dx))))
    return float(np.sqrt(norms[0] / norms[1]))


def collect(macro_mesh: float = 0.2, directions: int = 16, amplitude: float = 0.08, steps: int = 6,
            indicator: float | None = 0.2, rve_mesh: float = 0.15, pod_tol: float = 1e-5,
            ecm_tol: float = 1e-3) -> dict:
    comm = MPI.COMM_WORLD
    rve = square_array(MPI.COMM_SELF, volume_fraction=0.3, mesh_size=rve_mesh)
    full = NonlinearRVEMaterial(rve, laws())
    design = TrainingDesign(n_directions=directions, max_amplitude=amplitude, n_steps=steps, reversal_fraction=0.5)
    t0 = time.perf_counter()
    data = build_reduced_rve(NonlinearRVEMaterial(rve, laws()), design, pod_tol=pod_tol, ecm_tol=ecm_tol)
    offline_s = time.perf_counter() - t0
    snapshot_s = data.meta["training"]["full_solve_time_s"]
    reduced = ReducedRVEMaterial(data, laws(), full=NonlinearRVEMaterial(rve, laws()), indicator_threshold=indicator)
    plain = ReducedRVEMaterial(data, laws(), full=NonlinearRVEMaterial(rve, laws()), track_full_history=False)
    runs = {"full": fe2_run(full, macro_mesh, comm), "reduced": fe2_run(reduced, macro_mesh, comm),
            "reduced_no_indicator": fe2_run(plain, macro_mesh, comm)}
    ref = runs["full"]
    rec: dict = {"macro_mesh": macro_mesh, "rve_mesh": rve_mesh, "pod_tol": pod_tol, "ecm_tol": ecm_tol,
                 "macro_points": ref["n_points"], "rve_dofs": int(full.n_w),
                 "rve_quadrature_points": int(full.point_volume.size), "load_factors": list(LOAD_FACTORS),
                 "reduced_modes": data.n_modes, "cubature_points": int(data.weights.size),
                 "training": {**design.as_dict(), "n_snapshots": data.meta["training"]["n_snapshots"]},
                 "offline_s": {"total": offline_s, "snapshots": snapshot_s, "pod_ecm": offline_s - snapshot_s},
                 "indicator_threshold": indicator, "runs": {}}
    for name, run in runs.items():
        row = {"micro_s_per_step": run["micro_s"], "step_s": run["step_s"], "iterations": run["iterations"],
               "solves": run["solves"], "reaction": run["reaction"],
               "micro_s_per_point_evaluation": sum(run["micro_s"]) / max(sum(run["solves"]), 1)}
        if name != "full":
            row["micro_time_ratio_full_over_reduced"] = [a / b for a, b in
                                                         zip(ref["micro_s"], run["micro_s"], strict=True)]
            row["reaction_rel_diff"] = [abs(a - b) / abs(b) for a, b in
                                        zip(run["reaction"], ref["reaction"], strict=True)]
            row["stress_l2_rel_diff"] = [l2_relative(ref["solver"], s, r)
                                         for s, r in zip(run["stress"], ref["stress"], strict=True)]
            mat = reduced if name == "reduced" else plain
            st = mat.statistics().reduce(comm)
            row["counts"] = {"solves": st.solves, "reduced_solves": st.reduced_solves, "full_solves": st.full_solves,
                             "out_of_range": st.out_of_range, "indicator_max": st.indicator_max}
            gain = ref["micro_s"] and (sum(ref["micro_s"]) / sum(ref["solves"]) - row["micro_s_per_point_evaluation"])
            row["break_even_point_evaluations"] = offline_s / gain if gain > 0 else None
            row["break_even_macro_point_steps"] = (row["break_even_point_evaluations"] / (sum(ref["solves"]) /
                                                   (ref["n_points"] * len(LOAD_FACTORS)))
                                                   if gain > 0 else None)
        rec["runs"][name] = row
    return rec


def report(rec: dict) -> None:
    print(f"macro mesh {rec['macro_mesh']}: {rec['macro_points']} macro points; RVE mesh {rec['rve_mesh']}: "
          f"{rec['rve_dofs']} dofs, "
          f"{rec['rve_quadrature_points']} points; reduced: {rec['reduced_modes']} modes, "
          f"{rec['cubature_points']} cubature points (POD {rec['pod_tol']:g}, ECM {rec['ecm_tol']:g})")
    o = rec["offline_s"]
    print(f"offline: {o['total']:.1f} s ({o['snapshots']:.1f} s snapshots of {rec['training']['n_snapshots']} steps,"
          f" {o['pod_ecm']:.2f} s POD + ECM)")
    for name, row in rec["runs"].items():
        print(f"[{name}] micro s/step {np.round(row['micro_s_per_step'], 3).tolist()} iterations {row['iterations']}"
              f" reaction {np.array(row['reaction']).round(6).tolist()}")
        if name != "full":
            print(f"   micro-time ratio full/reduced {np.round(row['micro_time_ratio_full_over_reduced'], 1).tolist()}"
                  f"; reaction rel diff {np.array(row['reaction_rel_diff']).round(6).tolist()}"
                  f"; stress L2 rel diff {np.array(row['stress_l2_rel_diff']).round(6).tolist()}")
            print(f"   counts {row['counts']}; break-even after {row['break_even_point_evaluations']:.0f} point "
                  f"evaluations = {row['break_even_macro_point_steps']:.0f} macro point-steps")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--macro-mesh", type=float, default=0.2)
    ap.add_argument("--directions", type=int, default=16)
    ap.add_argument("--amplitude", type=float, default=0.08)
    ap.add_argument("--steps", type=int, default=6)
    ap.add_argument("--indicator", type=float, default=0.2)
    ap.add_argument("--rve-mesh", type=float, default=0.15)
    ap.add_argument("--pod-tol", type=float, default=1e-5)
    ap.add_argument("--ecm-tol", type=float, default=1e-3)
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    rec = collect(args.macro_mesh, args.directions, args.amplitude, args.steps, args.indicator, args.rve_mesh,
                  args.pod_tol, args.ecm_tol)
    if MPI.COMM_WORLD.rank == 0:
        report(rec)
        if args.json:
            with open(args.json, "w") as fh:
                json.dump(rec, fh, indent=2, default=float)


if __name__ == "__main__":
    main()
