"""fe2-SAV Cahn–Hilliard on PFHub 1a, 400² lattice, 10 steps of Δt = 1: time per step on N ranks.

    python bench/phasefield_sav_scaling.py            # 1 rank
    mpirun -n 2 python bench/phasefield_sav_scaling.py
Efficiency 1 → 2 ranks = T1 / (2 T2) of the two printed ``run_s`` (the 2 factorizations included).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import phasefield_bench as pb
from mpi4py import MPI

if __name__ == "__main__":
    rec = pb.run_fe2_sav(400, 10.0, 1.0, comm=MPI.COMM_WORLD)
    if MPI.COMM_WORLD.rank == 0:
        print(json.dumps({"ranks": MPI.COMM_WORLD.size, **rec}))
