"""PFHub benchmark 1a (periodic) and 1b (no-flux): F(t) on several lattices (mesh convergence).

The BM1 problem (ρ = 5, cα = 0.3, cβ = 0.7, κ = 2, M = 5, [0, 200]², the PFHub initial field),
P1 on n × n squares (h = 200/n), secant CN with local-error control error_tol = 1e-3, Δt₀ = 0.05,
to t_end (default 100: the full benchmark to 1e4 takes ~40 min per run on 200²), landing on the
output times. F(0) is the prescribed field's energy (docs/phasefield.md, "F(0) on periodic
lattices"). Prints one JSON record: per case and lattice F at the output times, steps, wall time,
and the differences between successive lattices with the observed rate
log(|F_n1 − F_n2| / |F_n2 − F_n3|) / log(h1/h2) where three lattices with a constant ratio exist.

    python bench/pfhub_bm1_mesh_convergence.py [--t-end T] [--cells 100 141 200] [--cases 1a 1b] [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fe2 import _compat  # noqa: E402,F401  (dolfinx_solver before dolfinx / petsc4py)

# isort: split

from dolfinx import mesh  # noqa: E402
from mpi4py import MPI  # noqa: E402

from fe2.physics.phasefield import (  # noqa: E402
    CahnHilliard,
    TimeStepping,
    pfhub_bm1_energy,
    pfhub_bm1_initial_condition,
)

TIMES = [0.0, 1.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1000.0, 2000.0, 3000.0, 5000.0, 10000.0]


def run(case: str, n: int, t_end: float, comm, out_dir: Path | None = None) -> dict:
    boundary = "periodic" if case == "1a" else "noflux"
    m = mesh.create_rectangle(comm, [[0.0, 0.0], [200.0, 200.0]], [n, n])
    ch = CahnHilliard(m, pfhub_bm1_energy(), kappa=2.0, mobility=5.0, boundary=boundary)
    ch.set_initial_condition(pfhub_bm1_initial_condition(0.5, 0.01))
    out = [t for t in TIMES if t <= t_end]
    wall = time.perf_counter()
    hist = ch.run(t_end, TimeStepping(dt=0.05, dt_max=500.0, error_tol=1e-3), t_stops=out)
    wall = time.perf_counter() - wall
    F = {f"{t:g}": next(r.energy for r in hist if abs(r.t - t) <= 1e-9 * max(1.0, t)) for t in out}
    rec = {"n": n, "h": 200.0 / n, "F": F, "steps": len(hist) - 1, "wall_s": wall,
           "seam_energy": ch.seam_energy}
    if out_dir is not None and comm.rank == 0:
        # the whole history, PFHub format (time,free_energy), for bench/pfhub_bm1_plot.py
        out_dir.mkdir(parents=True, exist_ok=True)
        with open(out_dir / f"free_energy_{case}_{n}.csv", "w") as fh:
            fh.write("time,free_energy\n")
            fh.writelines(f"{r.t!r},{r.energy!r}\n" for r in hist)
        (out_dir / f"record_{case}_{n}.json").write_text(json.dumps(rec, indent=1))
    ch.close()
    return rec


def rates(rows: list[dict]) -> dict:
    """Observed rate per output time from the first three lattices (if their h ratio is constant)."""
    # a constant ratio to 1 %: lattices such as 100, 141, 200 (ratio √2 rounded to whole cells)
    if len(rows) < 3 or not math.isclose(rows[0]["h"] / rows[1]["h"], rows[1]["h"] / rows[2]["h"], rel_tol=1e-2):
        return {}
    q = math.sqrt(rows[0]["h"] / rows[2]["h"])
    res = {}
    for t in rows[0]["F"]:
        d1 = rows[0]["F"][t] - rows[1]["F"][t]
        d2 = rows[1]["F"][t] - rows[2]["F"][t]
        res[t] = {"d_coarse": d1, "d_fine": d2, "rate": math.log(abs(d1 / d2)) / math.log(q) if d2 else None}
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--t-end", type=float, default=100.0)
    ap.add_argument("--cells", type=int, nargs="+", default=[50, 100, 200])
    ap.add_argument("--cases", nargs="+", default=["1a", "1b"])
    ap.add_argument("--out", type=Path, default=None, help="folder for the F(t) histories (CSV) and records")
    a = ap.parse_args()
    comm = MPI.COMM_WORLD
    record: dict = {"t_end": a.t_end, "ranks": comm.size, "cases": {}}
    for case in a.cases:
        rows = []
        for n in a.cells:
            rows.append(run(case, n, a.t_end, comm, a.out))
            if comm.rank == 0:
                print(f"# {case} {n}² done: {rows[-1]['steps']} steps, {rows[-1]['wall_s']:.0f} s", file=sys.stderr,
                      flush=True)
        record["cases"][case] = {"lattices": rows, "convergence": rates(rows)}
    if comm.rank == 0:
        print(json.dumps(record, indent=1))


if __name__ == "__main__":
    main()
