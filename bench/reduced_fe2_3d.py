"""Reduced and full FE² on a 3D macro bar under one wall-clock budget, side by side in one process.

Macro: bar [0, L] x [0, W] x [0, W] (``--lengths``, fe2.geometry.macro_domains.bar, ``--macro-mesh``),
P1 tetrahedra, one quadrature point per cell; clamped at x = 0 (u = 0), u_x = ``--stretch`` · L · load
factor on x = L (u_y, u_z free), load factors ``LOAD_FACTORS`` (the clamp makes the strain field non-uniform).
RVE: simple-cubic array (fe2.geometry.square_array, dim 3) of one elastic sphere (E 70, ν 0.2,
f = 0.2) in a J2 matrix (E 3, ν 0.35, σ_y0 0.03, H_iso 0.3), periodic, ``--rve-mesh``. Reduced RVE:
``--directions`` Sobol directions on the sphere of the 6D Mandel strain space to ‖E‖ = ``--amplitude``,
ramp + reversal (``--steps`` each), POD ``--pod-tol``, ECM ``--ecm-tol``; the full RVE is its fallback
(out of range, η > ``--indicator``, full history tracked).

Measured in this one serial process: the offline cost (snapshots, POD + ECM); then the reduced FE²
and the full FE² on the same macro mesh, each under the wall-clock budget ``--budget-s`` (reduced
first). A run that spends its budget is stopped cleanly before its next micro solve (the full run:
before its next point; the reduced run: before its next macro iteration) and reports what it
completed: load steps, macro Newton iterations (started), point evaluations. For every load step
both runs completed: the reaction force and the macro stress (quadrature field) L² relative
difference. The full FE²'s time for the whole load path is also printed as an ESTIMATE (labelled so):
its measured seconds per point evaluation × the reduced run's point evaluations.

Run (serial): ``OMP_NUM_THREADS=1 python bench/reduced_fe2_3d.py [--budget-s 300] [--json out.json]``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np
from mpi4py import MPI

import fe2  # noqa: F401  (dolfinx_solver before dolfinx / petsc4py)

# isort: split

from reduced_fe2_bench import l2_relative  # the same L2 stress difference as the 2D plate bench

from fe2.geometry import square_array
from fe2.geometry.macro_domains import bar
from fe2.macro.small_strain import Dirichlet, QuasiStaticMacroProblem
from fe2.materials import LinearElasticLaw
from fe2.materials.j2 import J2Plasticity
from fe2.micro.nonlinear_rve import NonlinearRVEMaterial
from fe2.micro.reduced import ReducedRVEMaterial, TrainingDesign, build_reduced_rve

LOAD_FACTORS = (1 / 3, 2 / 3, 1.0)


class BudgetSpent(Exception):
    """Raised before the next micro solve once a run's wall-clock budget is spent."""


class BudgetedFullRVE(NonlinearRVEMaterial):
    """The full RVE, stopping before the next point once ``deadline`` (perf_counter) is passed."""

    deadline = np.inf
    batches = 0  # evaluate calls = macro Newton iterations started

    def evaluate(self, driver, state, guess=None):
        self.batches += 1
        return super().evaluate(driver, state, guess)

    def solve_point(self, macro_strain, local_states, *starts):
        if time.perf_counter() > self.deadline:
            raise BudgetSpent
        return super().solve_point(macro_strain, local_states, *starts)


class BudgetedReducedRVE(ReducedRVEMaterial):
    """The reduced RVE, stopping before the next macro iteration once ``deadline`` is passed."""

    deadline = np.inf
    batches = 0

    def evaluate(self, driver, state, guess=None):
        if time.perf_counter() > self.deadline:
            raise BudgetSpent
        self.batches += 1
        return super().evaluate(driver, state, guess)


def laws():
    return {"matrix": J2Plasticity(3.0, 0.35, 0.03, h_iso=0.3, dim=3),
            "fibre": LinearElasticLaw.isotropic(70.0, 0.2, 3)}


def budgeted_run(material, lengths, macro_mesh: float, stretch: float, budget_s: float, comm) -> dict:
    """The load path with ``material`` until done or ``budget_s`` seconds after the start (mesh included)."""
    t_start = time.perf_counter()
    material.deadline = t_start + budget_s
    dom = bar(comm, lengths=lengths, mesh_size=macro_mesh)
    bcs = [Dirichlet(dom.tag("xmin"), [0.0, 0.0, 0.0]), Dirichlet(dom.tag("xmax"), stretch * lengths[0], 0)]
    solver = QuasiStaticMacroProblem(dom.mesh, dom.facet_tags, material, dirichlet=bcs)
    right = solver.dirichlet_dofs_for(dom.tag("xmax"))
    out: dict = {"setup_s": time.perf_counter() - t_start, "step_s": [], "micro_s": [], "iterations": [],
                 "solves": [], "full_solves": [], "reaction": [], "stress": [], "completed_steps": 0,
                 "stopped_by_budget": False}
    for factor in LOAD_FACTORS:
        before = material.statistics()
        t0 = time.perf_counter()
        try:
            rep = solver.solve_step(factor)
        except BudgetSpent:
            after = material.statistics()
            out["stopped_by_budget"] = True
            out["interrupted_step"] = {"load_factor": factor, "seconds": time.perf_counter() - t0,
                                       "solves": after.solves - before.solves}
            break
        out["step_s"].append(time.perf_counter() - t0)
        after = material.statistics()
        out["micro_s"].append(after.time_s - before.time_s)
        out["solves"].append(after.solves - before.solves)
        out["full_solves"].append(getattr(after, "full_solves", after.solves) - getattr(before, "full_solves",
                                                                                         before.solves))
        out["iterations"].append(rep.iterations)
        out["reaction"].append(solver.reaction(right, 0))
        out["stress"].append(solver.quad.flux.x.array.copy())
        out["completed_steps"] += 1
    out["wall_s"] = time.perf_counter() - t_start
    st = material.statistics()
    out["counts"] = {"solves": st.solves, "hill_mandel_max": st.hill_mandel_max,
                     "macro_iterations_started": material.batches}
    for key in ("reduced_solves", "full_solves", "out_of_range", "indicator_max"):
        if hasattr(st, key):
            out["counts"][key] = getattr(st, key)
    out["n_points"] = solver.quad.n_points
    out["n_cells"] = dom.mesh.topology.index_map(3).size_global
    out["solver"] = solver
    return out


def collect(macro_mesh: float = 0.15, lengths=(2.0, 0.5, 0.5), stretch: float = 0.01, directions: int = 24,
            amplitude: float = 0.04, steps: int = 3, indicator: float | None = 0.2, rve_mesh: float = 0.15,
            pod_tol: float = 1e-4, ecm_tol: float = 3e-3, budget_s: float = 300.0) -> dict:
    comm = MPI.COMM_WORLD
    rve = square_array(MPI.COMM_SELF, volume_fraction=0.2, mesh_size=rve_mesh, dim=3)
    design = TrainingDesign(n_directions=directions, max_amplitude=amplitude, n_steps=steps, reversal_fraction=0.5)
    t0 = time.perf_counter()
    data = build_reduced_rve(NonlinearRVEMaterial(rve, laws()), design, pod_tol=pod_tol, ecm_tol=ecm_tol)
    offline_s = time.perf_counter() - t0
    reduced = BudgetedReducedRVE(data, laws(), full=NonlinearRVEMaterial(rve, laws()), indicator_threshold=indicator)
    red = budgeted_run(reduced, lengths, macro_mesh, stretch, budget_s, comm)
    full = BudgetedFullRVE(rve, laws())
    ful = budgeted_run(full, lengths, macro_mesh, stretch, budget_s, comm)
    both = min(red["completed_steps"], ful["completed_steps"])
    compare = {"steps": both,
               "reaction_rel_diff": [abs(a - b) / abs(b) for a, b in zip(red["reaction"][:both],
                                                                          ful["reaction"][:both], strict=True)],
               "stress_l2_rel_diff": [l2_relative(ful["solver"], s, r) for s, r in
                                      zip(red["stress"][:both], ful["stress"][:both], strict=True)]}
    full_evals = ful["counts"]["solves"]
    s_per_full = sum(ful["micro_s"]) / max(sum(ful["solves"]), 1) if ful["solves"] else None
    for run in (red, ful):
        run.pop("solver")
        run.pop("stress")
    full_stats = full.statistics()
    ful["micro_s_total"] = full_stats.time_s
    ful["s_per_evaluation"] = full_stats.time_s / max(full_evals, 1)
    red_evals = red["counts"]["solves"]
    return {"macro_mesh": macro_mesh, "lengths": list(lengths), "stretch": stretch, "load_factors": list(LOAD_FACTORS),
            "budget_s": budget_s, "macro_points": red["n_points"], "macro_cells": red["n_cells"],
            "rve_mesh": rve_mesh, "rve_dofs": int(full.n_w), "rve_quadrature_points": int(full.point_volume.size),
            "reduced_modes": data.n_modes, "cubature_points": int(data.weights.size), "ecm": data.meta["ecm"],
            "training": {**design.as_dict(), "n_snapshots": data.meta["training"]["n_snapshots"]},
            "offline_s": {"total": offline_s, "snapshots": data.meta["training"]["full_solve_time_s"],
                          "pod_ecm": offline_s - data.meta["training"]["full_solve_time_s"]},
            "indicator_threshold": indicator, "pod_tol": pod_tol, "ecm_tol": ecm_tol,
            "reduced": {**red, "micro_s_per_evaluation": reduced.statistics().time_s / max(red_evals, 1)},
            "full": ful, "reduced_vs_full": compare,
            "full_fe2_estimate": {"micro_s": ful["s_per_evaluation"] * red_evals, "evaluations": red_evals,
                                  "completed_step_s_per_evaluation": s_per_full,
                                  "note": "ESTIMATE, not a run: the full run's s per evaluation x the reduced "
                                          "run's point evaluations"}}


def report(rec: dict) -> None:
    r, f, c, e, o = (rec["reduced"], rec["full"], rec["reduced_vs_full"], rec["full_fe2_estimate"],
                     rec["offline_s"])
    print(f"3D bar {rec['lengths']} mesh {rec['macro_mesh']}: {rec['macro_points']} macro points; RVE mesh "
          f"{rec['rve_mesh']}: {rec['rve_dofs']} dofs, {rec['rve_quadrature_points']} points; reduced: "
          f"{rec['reduced_modes']} modes, {rec['cubature_points']} cubature points (ECM {rec['ecm_tol']:g}, rank "
          f"{rec['ecm']['n_integrands']}); offline {o['total']:.1f} s = {o['snapshots']:.1f} s snapshots "
          f"({rec['training']['n_snapshots']}) + {o['pod_ecm']:.1f} s POD + ECM; budget {rec['budget_s']:.0f} s "
          "per run")
    for name, run in (("reduced", r), ("full", f)):
        done = f"{run['completed_steps']} of {len(rec['load_factors'])} load steps"
        stop = (f"STOPPED by the budget in the step to load factor "
                f"{run['interrupted_step']['load_factor']:.3g} after "
                f"{run['interrupted_step']['solves']} point evaluations in it" if run["stopped_by_budget"] else "done")
        print(f"[{name}] wall {run['wall_s']:.1f} s (setup {run['setup_s']:.1f} s): {done}, {stop}; step s "
              f"{np.round(run['step_s'], 1).tolist()}; micro s {np.round(run['micro_s'], 1).tolist()}; iterations "
              f"{run['iterations']}; evaluations {run['solves']}; reaction {np.round(run['reaction'], 6).tolist()}")
        print(f"   counts {run['counts']}")
    print(f"[reduced vs full] on the {c['steps']} step(s) both completed: reaction rel diff "
          f"{np.round(c['reaction_rel_diff'], 6).tolist()}; stress L2 rel diff "
          f"{np.round(c['stress_l2_rel_diff'], 6).tolist()}")
    print(f"[full micro s per evaluation] {f['s_per_evaluation'] * 1e3:.1f} ms (measured) vs reduced "
          f"{r['micro_s_per_evaluation'] * 1e3:.2f} ms (tracking included)")
    print(f"[full FE2 ESTIMATE, not a run] {e['evaluations']} evaluations x {f['s_per_evaluation']:.3f} s = "
          f"{e['micro_s']:.0f} s micro time for the whole load path")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--macro-mesh", type=float, default=0.15)
    ap.add_argument("--lengths", type=float, nargs=3, default=(2.0, 0.5, 0.5))
    ap.add_argument("--stretch", type=float, default=0.01)
    ap.add_argument("--directions", type=int, default=24)
    ap.add_argument("--amplitude", type=float, default=0.04)
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--indicator", type=float, default=0.2)
    ap.add_argument("--rve-mesh", type=float, default=0.15)
    ap.add_argument("--pod-tol", type=float, default=1e-4)
    ap.add_argument("--ecm-tol", type=float, default=3e-3)
    ap.add_argument("--budget-s", type=float, default=300.0,
                    help="wall-clock budget of each FE2 run in seconds (> 0); default 300: the whole bench "
                         "(offline + both runs) stays within ~12 min serial")
    ap.add_argument("--json", default=None)
    a = ap.parse_args()
    if MPI.COMM_WORLD.size > 1:
        sys.exit("bench/reduced_fe2_3d.py runs serially (the budget stop is per process)")
    if not a.budget_s > 0:
        ap.error(f"--budget-s must be > 0, got {a.budget_s}")
    rec = collect(a.macro_mesh, tuple(a.lengths), a.stretch, a.directions, a.amplitude, a.steps, a.indicator,
                  a.rve_mesh, a.pod_tol, a.ecm_tol, a.budget_s)
    report(rec)
    if a.json:
        with open(a.json, "w") as fh:
            json.dump(rec, fh, indent=2, default=float)


if __name__ == "__main__":
    main()
