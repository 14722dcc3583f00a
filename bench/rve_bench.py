"""RVE benchmark: full effective tensor per BC, as a ratio to one bare dolfinx/PETSc solve.

For a 2D fibre RVE and a 3D spherical-inclusion RVE of ~100k dofs each, this
times, in one process:

* baseline: the same stiffness matrix assembled the plain dolfinx way
  (``assemble_matrix(a, bcs)`` with Dirichlet conditions on the box faces),
  then ONE MUMPS factorization + solve (``KSPSetUp`` + ``KSPSolve``), for both
  LU (what a dolfinx demo does) and Cholesky (what fe2 uses);
* fe2: for each BC, building the reduced operator (PtAP), factorizing once and
  solving all d(d+1)/2 unit load cases, with the averages and Hill–Mandel checks.

Ratios = fe2 time / baseline time; each timing is the best of ``repeats`` runs.
Run: ``python bench/rve_bench.py [--quick] [--json bench/rve.json]``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from mpi4py import MPI

import fe2  # noqa: F401  (dolfinx_solver before dolfinx / petsc4py)

# isort: split
from dolfinx import fem
from dolfinx import mesh as dmesh
from dolfinx.fem import petsc as fem_petsc
from petsc4py import PETSc

from fe2.geometry import square_array
from fe2.materials import IsotropicElastic
from fe2.micro.linear_solver import LinearSolverOptions
from fe2.micro.physics import Elasticity
from fe2.micro.rve_problem import RVEProblem


def bare_factor_solve(problem: RVEProblem, pc_type: str) -> float:
    """Plain dolfinx: K with Dirichlet rows on the box faces, one MUMPS factorization + solve (seconds)."""
    V = problem.V
    msh = V.mesh
    d = msh.geometry.dim
    lo, hi = problem.box_min, problem.box_max

    def on_box(x):
        m = np.zeros(x.shape[1], dtype=bool)
        for a in range(d):
            m |= np.isclose(x[a], lo[a]) | np.isclose(x[a], hi[a])
        return m

    facets = dmesh.locate_entities_boundary(msh, d - 1, on_box)
    dofs = fem.locate_dofs_topological(V, d - 1, facets)
    bc = fem.dirichletbc(np.zeros(d), dofs, V)
    A = fem_petsc.assemble_matrix(problem.a_form, bcs=[bc])
    A.assemble()
    b = problem.G[0].copy()
    b.scale(-1.0)
    fem_petsc.set_bc(b, [bc])
    x = b.duplicate()
    ksp = PETSc.KSP().create(msh.comm)
    ksp.setOperators(A)
    ksp.setType("preonly")
    ksp.getPC().setType(pc_type)
    ksp.getPC().setFactorSolverType("mumps")
    t0 = time.perf_counter()
    ksp.setUp()
    ksp.solve(b, x)
    t = time.perf_counter() - t0
    assert ksp.getConvergedReason() > 0
    ksp.destroy()
    A.destroy()
    return t


def run_case(name: str, dim: int, mesh_size: float, repeats: int, comm: MPI.Comm) -> dict:
    t0 = time.perf_counter()
    rve = square_array(comm, volume_fraction=0.3, mesh_size=mesh_size, dim=dim)
    t_mesh = time.perf_counter() - t0
    mats = {"matrix": IsotropicElastic(1.0, 0.3), "fibre": IsotropicElastic(10.0, 0.3)}
    t0 = time.perf_counter()
    problem = RVEProblem(rve, Elasticity(dim), mats, solver=LinearSolverOptions("direct"))
    t_setup = time.perf_counter() - t0
    base = {
        "lu": min(bare_factor_solve(problem, "lu") for _ in range(repeats)),
        "cholesky": min(bare_factor_solve(problem, "cholesky") for _ in range(repeats)),
    }
    bcs = {}
    for bc in ("kubc", "periodic", "tubc"):
        best = None
        for _ in range(repeats):
            res, fields = problem.solve(bc)
            for f in fields:
                f.destroy()
            if best is None or res.timings["total_s"] < best.timings["total_s"]:
                best = res
        bcs[bc] = {
            "time_s": best.timings["total_s"],
            "breakdown_s": best.timings,
            "ratio_to_bare_lu": best.timings["total_s"] / base["lu"],
            "ratio_to_bare_cholesky": best.timings["total_s"] / base["cholesky"],
            "load_cases": len(best.load_cases),
            "hill_mandel_max": best.hill_mandel_max,
            "C11": float(best.effective_voigt[0, 0]),
        }
    out = {
        "case": name,
        "dim": dim,
        "dofs": problem.mesh_info()["dofs"],
        "ranks": comm.size,
        "mesh_s": t_mesh,
        "setup_s": t_setup,
        "bare_factor_solve_s": base,
        "bcs": bcs,
    }
    if dim == 3:
        it = RVEProblem(rve, Elasticity(dim), mats, solver=LinearSolverOptions("iterative"))
        res, fields = it.solve("periodic")
        for f in fields:
            f.destroy()
        out["periodic_iterative"] = {
            "time_s": res.timings["total_s"],
            "ratio_to_bare_cholesky": res.timings["total_s"] / base["cholesky"],
            "iterations": [lc.iterations for lc in res.load_cases],
            "C11_rel_diff_to_direct": abs(res.effective_voigt[0, 0] - bcs["periodic"]["C11"]) / bcs["periodic"]["C11"],
        }
    return out


def collect(quick: bool, repeats: int = 2, comm: MPI.Comm = MPI.COMM_WORLD) -> list[dict]:
    """Run both cases and print the table on rank 0."""
    cases = [("2d_fibre", 2, 0.02 if quick else 0.0048), ("3d_sphere", 3, 0.12 if quick else 0.03)]
    results = [run_case(n, d, h, repeats, comm) for n, d, h in cases]
    if comm.rank == 0:
        print(f"\nRVE benchmark ({comm.size} rank(s)); ratio = fe2 time for the full effective tensor of one BC"
              " / one bare dolfinx MUMPS factorization + solve of the same matrix")
        print(f"{'case':10s}{'dofs':>9s}{'bare LU s':>11s}{'bare chol s':>12s}   "
              + "".join(f"{bc + ' s':>12s}{'/LU':>7s}{'/chol':>7s}" for bc in ("kubc", "periodic", "tubc")))
        for r in results:
            bare = r["bare_factor_solve_s"]
            line = f"{r['case']:10s}{r['dofs']:9d}{bare['lu']:11.3f}{bare['cholesky']:12.3f}   "
            for bc in ("kubc", "periodic", "tubc"):
                b = r["bcs"][bc]
                line += f"{b['time_s']:12.3f}{b['ratio_to_bare_lu']:7.2f}{b['ratio_to_bare_cholesky']:7.2f}"
            print(line)
            if "periodic_iterative" in r:
                pi = r["periodic_iterative"]
                print(f"{'':10s} periodic with CG+GAMG: {pi['time_s']:.3f} s (ratio {pi['ratio_to_bare_cholesky']:.2f}"
                      f" to bare Cholesky), iterations {pi['iterations']}")
    return results


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="small meshes (smoke test of the benchmark itself)")
    ap.add_argument("--json", default="bench/rve_solve.json")
    ap.add_argument("--repeats", type=int, default=2)
    args = ap.parse_args()
    results = collect(args.quick, args.repeats)
    if MPI.COMM_WORLD.rank == 0:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps({"benchmark": "rve", "results": results}, indent=2) + "\n")
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
