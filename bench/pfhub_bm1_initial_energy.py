"""F(0) of PFHub benchmark 1 on periodic and no-flux lattices against the continuum value.

The continuum value is ∫ over the open square (0, 200)² of f(c) + κ/2|∇c|² of the BM1 initial
field (319.0433; composite Gauss–Legendre, tests/physics/phasefield/test_phasefield_theory.py).
Prints, per lattice n × n (h = 200/n): the reported F(0) (step-0 record: the prescribed field),
its error and observed rate, the energy the periodic closure adds (seam_energy), h·seam_energy
and the limit κ/4∮|[c]|² it tends to, as one JSON record.

    python bench/pfhub_bm1_initial_energy.py [n ...]      (default 100 200 300 400)
"""

from __future__ import annotations

import itertools
import json
import math
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "physics" / "phasefield"))

from fe2 import _compat  # noqa: E402,F401  (dolfinx_solver before dolfinx / petsc4py)

# isort: split

from dolfinx import mesh  # noqa: E402
from mpi4py import MPI  # noqa: E402
from test_phasefield_theory import bm1_continuum_energy, seam_jump_term  # noqa: E402

from fe2.physics.phasefield import CahnHilliard, pfhub_bm1_energy, pfhub_bm1_initial_condition  # noqa: E402


def main(ns: list[int]) -> dict:
    comm, L = MPI.COMM_WORLD, 200.0
    F_cont, jump = bm1_continuum_energy(L), seam_jump_term(L)
    rows = []
    for n in ns:
        m = mesh.create_rectangle(comm, [[0.0, 0.0], [L, L]], [n, n])
        row: dict = {"n": n, "h": L / n}
        for boundary in ("periodic", "noflux"):
            ch = CahnHilliard(m, pfhub_bm1_energy(), kappa=2.0, mobility=5.0, boundary=boundary)
            ch.set_initial_condition(pfhub_bm1_initial_condition())
            F0 = ch.run(0.0)[0].energy
            row[boundary] = {"F0": F0, "error": F0 - F_cont, "closed_state_energy": ch.free_energy(),
                             "seam_energy": ch.seam_energy}
            ch.close()
        row["h_times_seam"] = row["h"] * row["periodic"]["seam_energy"]
        rows.append(row)
    for a, b in itertools.pairwise(rows):
        b["rate"] = math.log(abs(a["periodic"]["error"] / b["periodic"]["error"])) / math.log(a["h"] / b["h"])
    return {"continuum": F_cont, "seam_limit_kappa_over_4_jump2": jump, "lattices": rows}


if __name__ == "__main__":
    rec = main([int(a) for a in sys.argv[1:]] or [100, 200, 300, 400])
    if MPI.COMM_WORLD.rank == 0:
        print(json.dumps(rec, indent=1))
