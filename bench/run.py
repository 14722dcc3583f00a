"""``make bench``: every fe2 benchmark, one JSON record per topic under bench/.

* bench/fe2.json — FE²: micro solves per second and per-iteration cost vs a bare
  factorization, linear-RVE FE² vs single-scale, strong scaling 1 -> 2 ranks.
* bench/rve.json — RVE homogenization: (a) the full effective tensor per BC as a
  ratio to one bare dolfinx/PETSc factorization + solve of the same matrix, 2D and
  3D, ~100k dofs; (b) time-to-accuracy against muSpectre and fedoo (1 core).
* bench/reactions.json — batched stiff node-ODE throughput vs a per-node scipy loop and
  vs libroadrunner (one SBML system, and looped per node); hybrid SSA/ODE vs pure SSA on the
  telegraph gene (CPU-time ratio, measured side by side: ``hybrid_vs_ssa``).
* bench/phasefield.json — Cahn–Hilliard PFHub 1a at matched resolution, fe2 vs FiPy (wall-time
  ratio, free-energy difference at the end time), fe2-SAV vs FiPy step for step
  (``sav_step_for_step``), and fe2 vs FiPy run at the steps it needs for fe2's time error
  (``equal_accuracy``).
* bench/bounds.json — a reference bound-convergence study (sizes x realizations x
  BCs) on 1 and 2 MPI ranks: total times and parallel efficiency T1 / (2 T2).

* bench/reduction.json — reduced vs full FE² on the plate-with-hole J2 problem (micro time per step,
  reaction and stress-field differences, fallback counts, offline cost and break-even), and balanced
  truncation of a 2601-state reaction–diffusion system at r = 5, 10, 20 (speed-up, output and H∞ errors).

``--only NAME`` runs one of them (rve, bounds, reactions, fe2, phasefield, reduction).

Ratios are measured within one process run, never compared with absolute times
from elsewhere. ``--quick`` runs small sizes (a smoke test of the scripts).
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--no-peers", action="store_true", help="skip the peer comparison")
    ap.add_argument("--only", choices=("rve", "bounds", "reactions", "fe2", "phasefield", "reduction"),
                    help="run one benchmark only")
    args = ap.parse_args()
    machine = {"python": sys.version.split()[0], "platform": platform.platform()}

    def wanted(name: str) -> bool:
        return args.only in (None, name)

    def write(name: str, record: dict) -> None:
        out = ROOT / "bench" / f"{name}.json"
        out.write_text(json.dumps({"benchmark": name, "machine": machine, **record}, indent=2, default=float) + "\n")
        print(f"wrote {out.relative_to(ROOT)}", flush=True)

    if wanted("bounds"):
        import bounds_bench

        write("bounds", bounds_bench.collect(args.quick))
    if wanted("rve"):
        import rve_bench
        import rve_peers

        record = {"solve_ratios": rve_bench.collect(args.quick)}
        if not args.no_peers:
            if not rve_peers.PEER_PY.exists():
                print("setting up the peer venv (.venv-bench) with bench/peers/setup_peers.sh ...", flush=True)
                proc = subprocess.run(["bash", str(ROOT / "bench" / "peers" / "setup_peers.sh")], cwd=ROOT)
                if proc.returncode != 0:
                    print("peer set-up failed; the peer comparison reports that", flush=True)
            record["peers"] = rve_peers.collect(args.quick)
        write("rve", record)
    if wanted("reactions"):
        import reactions_bench

        write("reactions", reactions_bench.collect(args.quick))
    if wanted("fe2"):
        import fe2_bench

        write("fe2", fe2_bench.collect(args.quick))
    if wanted("phasefield"):
        import phasefield_bench

        write("phasefield", {**phasefield_bench.collect(args.quick),
                             "sav_step_for_step": phasefield_bench.collect_sav(args.quick),
                             "equal_accuracy": phasefield_bench.collect_equal_accuracy(args.quick)})
    if wanted("reduction"):
        import balanced_truncation_bench
        import reduced_fe2_bench

        fe2_rom = (reduced_fe2_bench.collect(macro_mesh=0.5, directions=4, steps=3) if args.quick else
                   reduced_fe2_bench.collect(macro_mesh=0.2, rve_mesh=0.02, pod_tol=1e-4, ecm_tol=3e-3))
        import reduced_fe2_3d

        fe2_rom_3d = (reduced_fe2_3d.collect(macro_mesh=0.5, rve_mesh=0.35, budget_s=60.0) if args.quick else
                      reduced_fe2_3d.collect())
        write("reduction", {"reduced_fe2": fe2_rom, "reduced_fe2_3d": fe2_rom_3d,
                            "balanced_truncation": balanced_truncation_bench.collect(12 if args.quick else 50)})


if __name__ == "__main__":
    main()
