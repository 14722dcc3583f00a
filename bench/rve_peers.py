"""Time-to-accuracy of fe2 vs peer codes on one 2D periodic RVE.

Problem (identical in every code, see bench/peers/_rve_common.py): unit square
cell, centred circular fibre of area fraction 0.3, E = 10 (fibre) / 1 (matrix),
nu = 0.3, plane strain, periodic BCs; outputs C11, C12, C66 (Voigt, engineering shear).

* Reference: fe2 with P2 elements on curved (order-2) geometry at h = 0.025 and
  0.0125, Richardson-extrapolated with the observed O(h^4) rate; cross-checked
  against the P1 extrapolation and the peers' finest grids.
* Time-to-accuracy: for each code, the wall time of the cheapest resolution whose
  C11, C12 and C66 are all within 0.1 % of the reference. Two readings, because
  voxel methods converge non-monotonically:
  - "first": the first resolution in the sweep that is within 0.1 % (can be luck);
  - "stable": the first resolution from which every finer one stays within 0.1 %.
* All codes on one core (OMP/MKL/OPENBLAS threads = 1). fe2 times include gmsh
  meshing, assembly and the solve of the 3 load cases, with a warm JIT cache
  (forms compiled once per installation; the first-ever run is reported apart).
  Peer times exclude their imports and an untimed warm-up (FFT plans, solver
  libraries), as the peer scripts document.

Run: ``python bench/rve_peers.py [--quick] [--json bench/rve_peers.json]``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import time
from pathlib import Path

import numpy as np
from mpi4py import MPI

import fe2  # noqa: F401
from fe2.geometry import square_array
from fe2.materials import IsotropicElastic
from fe2.micro.linear_solver import LinearSolverOptions
from fe2.micro.physics import Elasticity
from fe2.micro.rve_problem import RVEProblem

ROOT = Path(__file__).resolve().parents[1]
PEER_PY = ROOT / ".venv-bench" / "bin" / "python"
TARGET = 1e-3
MATERIALS = {"matrix": IsotropicElastic(1.0, 0.3), "fibre": IsotropicElastic(10.0, 0.3)}


def fe2_run(h: float, order: int) -> tuple[np.ndarray, float, int]:
    """(C11, C12, C66), wall seconds (mesh + assemble + 3 periodic solves), dofs."""
    t0 = time.perf_counter()
    rve = square_array(MPI.COMM_SELF, volume_fraction=0.3, mesh_size=h, element_order=order)
    problem = RVEProblem(rve, Elasticity(2), MATERIALS, degree=order, solver=LinearSolverOptions("direct"))
    res, fields = problem.solve("periodic")
    wall = time.perf_counter() - t0
    for f in fields:
        f.destroy()
    C = res.effective_voigt
    return np.array([C[0, 0], C[0, 1], C[2, 2]]), wall, problem.mesh_info()["dofs"]


def fe2_sweep(order: int, sizes: list[float], repeats: int) -> list[dict]:
    out = []
    for h in sizes:
        runs = [fe2_run(h, order) for _ in range(repeats)]
        c, _, n = runs[0]
        out.append({"resolution": h, "dofs": n, "C11": c[0], "C12": c[1], "C66": c[2],
                    "wall_time_s": min(r[1] for r in runs)})
    return out


def run_peer(script: str, resolutions: list[int], extra: list[str]) -> list[dict]:
    cmd = [str(PEER_PY), str(ROOT / "bench" / "peers" / script), "--resolutions", *map(str, resolutions), *extra]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=3600)
    if proc.returncode != 0:
        raise RuntimeError(
            f"{script} failed: {proc.stderr.strip().splitlines()[-1] if proc.stderr else proc.returncode}"
        )
    return json.loads(proc.stdout)["peers"]


def rel_err(entry: dict, ref: np.ndarray) -> float:
    c = np.array([entry["C11"], entry["C12"], entry["C66"]])
    return float(np.max(np.abs(c / ref - 1.0)))


def time_to_accuracy(results: list[dict], ref: np.ndarray) -> dict:
    errs = [rel_err(r, ref) for r in results]
    first = next((i for i, e in enumerate(errs) if e < TARGET), None)
    stable = next((i for i in range(len(errs)) if all(e < TARGET for e in errs[i:])), None)

    def pick(i):
        if i is None:
            return None
        return {
            "resolution": results[i]["resolution"],
            "wall_time_s": results[i]["wall_time_s"],
            "max_rel_err": errs[i],
        }

    return {"first": pick(first), "stable": pick(stable), "finest_max_rel_err": errs[-1]}


def collect(quick: bool) -> dict:
    """fe2 sweeps, peer sweeps, time-to-accuracy table (printed); returns the JSON record."""
    os.environ["OMP_NUM_THREADS"] = "1"


    t0 = time.perf_counter()
    fe2_run(0.3, 2)
    fe2_run(0.3, 1)
    first_run = time.perf_counter() - t0  # includes JIT compilation if the cache was cold
    p2 = fe2_sweep(2, [0.3, 0.2, 0.15, 0.1, 0.05, 0.025, 0.0125], repeats=3)
    p1 = fe2_sweep(1, [0.1, 0.05, 0.025, 0.0125, 0.00625] if not quick else [0.1, 0.05, 0.025], repeats=2)
    c = [np.array([r["C11"], r["C12"], r["C66"]]) for r in p2[-2:]]
    ref = c[1] + (c[1] - c[0]) / (2**4 - 1)
    c1 = [np.array([r["C11"], r["C12"], r["C66"]]) for r in p1[-2:]]
    ref_p1 = c1[1] + (c1[1] - c1[0]) / (2**2 - 1)
    codes: dict[str, list[dict]] = {"fe2_P2_curved": p2, "fe2_P1": p1}
    notes: dict[str, str] = {}
    if PEER_PY.exists():
        fft_n = [33, 49, 75, 99, 135, 225, 275, 385, 525] + ([] if quick else [825, 1029])
        fe_n = [64, 128, 256, 384, 512] + ([] if quick else [768])
        jobs = [("muspectre_rve.py", fft_n, ["--methods", "fft"]),
                ("muspectre_rve.py", fe_n, ["--methods", "fe", "fe_q1"]),
                ("fedoo_rve.py", fe_n if not quick else fe_n[:-1], [])]
        for script, res, extra in jobs:
            try:
                for peer in run_peer(script, res, extra):
                    codes[peer["peer"]] = peer["results"]
            except (RuntimeError, subprocess.TimeoutExpired, json.JSONDecodeError) as err:
                notes[script + " " + " ".join(extra)] = str(err)
    else:
        notes["peers"] = f"{PEER_PY} missing: run bench/peers/setup_peers.sh"

    summary = {name: time_to_accuracy(res, ref) for name, res in codes.items()}
    fe2_best = summary["fe2_P2_curved"]["stable"]["wall_time_s"]
    peers = {k: v for k, v in summary.items() if not k.startswith("fe2")}
    ratios = {}
    for k, v in peers.items():
        for reading in ("first", "stable"):
            if v[reading] is not None:
                ratios[f"{k}/{reading}"] = v[reading]["wall_time_s"] / fe2_best
    record = {
        "benchmark": "rve_peers",
        "target_rel_err": TARGET,
        "reference": {"C11": ref[0], "C12": ref[1], "C66": ref[2], "method": "fe2 P2 curved, Richardson h=0.025/0.0125",
                      "p1_extrapolated": ref_p1.tolist()},
        "fe2_first_run_s": first_run,
        "codes": codes,
        "time_to_accuracy": summary,
        "speedup_of_fe2": ratios,
        "notes": notes,
    }
    print(f"\nreference (fe2 P2, Richardson): C11 {ref[0]:.7f}  C12 {ref[1]:.7f}  C66 {ref[2]:.7f}"
          f"   (P1 extrapolation differs by {np.max(np.abs(ref_p1 / ref - 1)):.1e})")
    print(f"{'code':16s}{'first: res':>12s}{'time s':>10s}{'stable: res':>13s}{'time s':>10s}{'finest err':>12s}")
    for name, s in summary.items():
        f, st = s["first"], s["stable"]
        def fmt(e):
            return (f"{e['resolution']:>12}", f"{e['wall_time_s']:10.3f}") if e else (f"{'-':>12s}", f"{'-':>10s}")
        a, b = fmt(f)
        c_, d = fmt(st)
        print(f"{name:16s}{a}{b}{c_:>13s}{d}{s['finest_max_rel_err']:12.1e}")
    for k, v in ratios.items():
        print(f"  fe2 is {v:6.1f}x faster than {k}")
    for k, v in notes.items():
        print(f"  note: {k}: {v}")
    return record


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--json", default="bench/rve_peers.json")
    args = ap.parse_args()
    record = collect(args.quick)
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(record, indent=2, default=float) + "\n")
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
