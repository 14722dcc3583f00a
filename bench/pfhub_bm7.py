"""PFHub benchmark 7, part (a): spatial and temporal convergence of fe2's Allen–Cahn to t = 8.

The benchmark's own set-up (fe2.physics.phasefield.pfhub_bm7): [0, 1] × [0, 0.5], periodic in x,
η = 1 / η = 0 on y = 0 / y = 0.5, the manufactured source, secant Crank–Nicolson with a fixed Δt.
Error: the L² norm of η_h − η_sol at t = 8 (dimensionless). Writes, under OUT (default
out/bench/pfhub_bm7), the benchmark's upload files — ``spatial_P<k>.csv`` (``mesh_size,L2_error``,
mesh size h = 1/n, the side of the lattice squares) and ``temporal.csv`` (``time_step,L2_error``)
— and ``pfhub_bm7.json`` with the time errors against a fine-Δt run, the least-squares orders
p of log E = p log R + b (the benchmark's fit) and the wall time of every run (seconds, this
machine, for orientation only).

    python bench/pfhub_bm7.py [--quick] [--parts spatial temporal] [--out OUT]   (mpirun -n N works too)
"""

from __future__ import annotations

import argparse
import csv
import itertools
import json
import math
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fe2 import _compat  # noqa: E402,F401  (dolfinx_solver before dolfinx / petsc4py)

# isort: split

import numpy as np  # noqa: E402
from mpi4py import MPI  # noqa: E402

from fe2.analytic import pfhub_bm7 as bm7  # noqa: E402
from fe2.physics.phasefield.pfhub_bm7 import bm7_allen_cahn, initial_field  # noqa: E402
from fe2.physics.phasefield.stepping import TimeStepping  # noqa: E402


def one_run(comm, n: int, degree: int, dt: float, t_end: float = bm7.T_END) -> dict:
    t0 = time.perf_counter()
    ac = bm7_allen_cahn(comm, n, degree)
    ac.run(t_end, TimeStepping(dt=dt, adaptive=False))
    err = bm7.l2_error(ac.u, ac.t)
    ac.close()
    row = {"n": n, "h": 1.0 / n, "degree": degree, "dt": dt, "L2_error": err,
           "wall_s": comm.allreduce(time.perf_counter() - t0, op=MPI.MAX)}
    if comm.rank == 0:
        print(f"  P{degree} n = {n:4d}  dt = {dt:<6g} L2 = {row['L2_error']:.4e}  ({row['wall_s']:.1f} s)", flush=True)
    return row


def order(rows: list[dict], key: str, err: str = "L2_error") -> float:
    """Least-squares slope of log(err) against log(key) (the benchmark's fit)."""
    return float(np.polyfit(np.log([r[key] for r in rows]), np.log([r[err] for r in rows]), 1)[0])


def temporal(comm, n: int, dts: list[float], dt_ref: float) -> list[dict]:
    """P2 on one lattice: for each Δt the L2 error against η_sol and the time error against a Δt_ref run
    (the same discrete space: the spatial error cancels, so the time order is visible).
    """
    import ufl
    from dolfinx import fem

    ac = bm7_allen_cahn(comm, n, 2)
    ac.run(bm7.T_END, TimeStepping(dt=dt_ref, adaptive=False))
    ref = ac.u.x.array.copy()
    diff = fem.Function(ac.V)
    dx = ufl.Measure("dx", domain=ac.mesh, metadata={"quadrature_degree": 6})
    form = fem.form(diff**2 * dx)
    rows = []
    for dt in dts:
        t0 = time.perf_counter()
        ac.set_initial_condition(lambda x: initial_field(x))
        ac.run(bm7.T_END, TimeStepping(dt=dt, adaptive=False))
        diff.x.array[:] = ac.u.x.array - ref
        e_t = math.sqrt(comm.allreduce(fem.assemble_scalar(form), op=MPI.SUM))
        row = {"n": n, "degree": 2, "dt": dt, "L2_error": bm7.l2_error(ac.u, ac.t), "time_error": e_t,
               "wall_s": comm.allreduce(time.perf_counter() - t0, op=MPI.MAX)}
        if comm.rank == 0:
            print(f"  P2 n = {n:4d}  dt = {dt:<6g} L2 = {row['L2_error']:.4e}  time error = {e_t:.4e}", flush=True)
        rows.append(row)
    ac.close()
    return rows


def write_csv(path: Path, head: str, rows: list[dict], key: str) -> None:
    tmp = path.with_suffix(".tmp")
    with tmp.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow([head, "L2_error"])
        for r in rows:
            w.writerow([f"{r[key]:.9g}", f"{r['L2_error']:.9g}"])
    tmp.replace(path)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="coarser lattices (a few minutes)")
    ap.add_argument("--parts", nargs="+", choices=("spatial", "temporal"), default=["spatial", "temporal"])
    ap.add_argument("--out", type=Path, default=ROOT / "out" / "bench" / "pfhub_bm7")
    args = ap.parse_args()
    comm = MPI.COMM_WORLD
    spatial_n = {1: [16, 32, 64] if args.quick else [64, 128, 256],
                 2: [16, 32, 64] if args.quick else [32, 64, 128]}
    dt_space = 0.02  # the time error is negligible at this step (dt_check halves it on the finest P2 lattice)
    record: dict = {"benchmark": "PFHub 7a (MMS Allen-Cahn)", "t_end": bm7.T_END, "ranks": comm.size,
                    "scheme": "secant_cn", "units": "dimensionless", "spatial": {}, "temporal": {}}
    if "spatial" in args.parts:
        if comm.rank == 0:
            print("spatial convergence (fixed dt = 0.02):", flush=True)
        for degree, ns in spatial_n.items():
            rows = [one_run(comm, n, degree, dt_space) for n in ns]
            record["spatial"][f"P{degree}"] = {"rows": rows, "order_fit": order(rows, "h"),
                                               "order_pairs": [math.log2(a["L2_error"] / b["L2_error"])
                                                               for a, b in itertools.pairwise(rows)]}
        n_f = spatial_n[2][-1]
        check = one_run(comm, n_f, 2, dt_space / 2)
        finest = record["spatial"]["P2"]["rows"][-1]["L2_error"]
        record["spatial"]["dt_check"] = {"n": n_f, "dt": dt_space / 2, "L2_error": check["L2_error"],
                                         "relative_change": abs(check["L2_error"] - finest) / finest}
    if "temporal" in args.parts:
        rows_t = temporal(comm, n=spatial_n[2][1], dts=[0.8, 0.4, 0.2] if args.quick else [0.8, 0.4, 0.2, 0.1],
                          dt_ref=0.025)
        record["temporal"] = {"n": spatial_n[2][1], "degree": 2, "dt_reference": 0.025, "rows": rows_t,
                              "order_fit": order(rows_t, "dt", "time_error"),
                              "note": "time_error = ||eta_dt - eta_ref||_L2 at t = 8 on the same lattice (the "
                                      "spatial error cancels); L2_error = against eta_sol (spatial floor included)"}
    if comm.rank == 0:
        args.out.mkdir(parents=True, exist_ok=True)
        summary = {}
        if "spatial" in args.parts:
            for degree in spatial_n:
                write_csv(args.out / f"spatial_P{degree}.csv", "mesh_size", record["spatial"][f"P{degree}"]["rows"],
                          "h")
                summary[f"spatial P{degree}"] = round(record["spatial"][f"P{degree}"]["order_fit"], 3)
            summary["dt check"] = f"{record['spatial']['dt_check']['relative_change']:.2e}"
        if "temporal" in args.parts:
            write_csv(args.out / "temporal.csv", "time_step", record["temporal"]["rows"], "dt")  # L2 vs eta_sol
            summary["temporal (time error)"] = round(record["temporal"]["order_fit"], 3)
        tmp = args.out / "pfhub_bm7.json.tmp"
        tmp.write_text(json.dumps(record, indent=1))
        tmp.replace(args.out / "pfhub_bm7.json")
        print(f"orders (least squares): {summary}; written to {args.out}")

if __name__ == "__main__":
    main()
