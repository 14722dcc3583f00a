"""fe2-SAV Cahn–Hilliard on PFHub 1a, 400² lattice, 10 steps of Δt = 1: time per step on N ranks.

    python bench/phasefield_sav_scaling.py                 # 1 rank (the serial default: MUMPS above 5e4 unknowns)
    python bench/phasefield_sav_scaling.py --lu mumps      # 1 rank with MUMPS, as on several ranks
    mpirun -n 2 python bench/phasefield_sav_scaling.py
Printed: ``run_s`` (the time loop), ``factorizing_s`` (its first two steps: the backward-Euler start-up
and the first BDF2 step each factorize their operator) and ``per_step_s`` (the mean of the other
steps: two back-substitutions each). Efficiency 1 → 2 ranks = T1 / (2 T2), for each of the three.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import phasefield_bench as pb
from mpi4py import MPI
from petsc4py import PETSc

if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lu", choices=("default", "mumps", "petsc"), default="default",
                    help="-fe2_ch_pc_factor_mat_solver_type (default: PETSc LU on 1 rank up to SERIAL_LU_MAX "
                         "unknowns, MUMPS above and on several)")
    ap.add_argument("--n", type=int, default=400)
    ap.add_argument("--steps", type=int, default=10)
    args = ap.parse_args()
    if args.lu != "default":
        PETSc.Options()["fe2_ch_pc_factor_mat_solver_type"] = args.lu
    rec = pb.run_fe2_sav(args.n, float(args.steps), 1.0, comm=MPI.COMM_WORLD)
    steps = rec.pop("step_s")
    if MPI.COMM_WORLD.rank == 0:
        print(json.dumps({"ranks": MPI.COMM_WORLD.size, "lu": args.lu, "N": args.n, **rec,
                          "factorizing_s": sum(steps[:2]), "per_step_s": sum(steps[2:]) / max(len(steps) - 2, 1)}))
