"""``make bench``: every fe2 benchmark, one JSON record per topic under bench/.

* bench/fe2.json — FE²: micro solves per second and per-iteration cost vs a bare
  factorization, linear-RVE FE² vs single-scale, strong scaling 1 -> 2 ranks.
* bench/rve.json — RVE homogenization: (a) the full effective tensor per BC as a
  ratio to one bare dolfinx/PETSc factorization + solve of the same matrix, 2D and
  3D, ~100k dofs; (b) time-to-accuracy against muSpectre and fedoo (1 core).
* bench/reactions.json — batched stiff node-ODE throughput vs a per-node scipy loop.
* bench/bounds.json — a reference bound-convergence study (sizes x realizations x
  BCs) on 1 and 2 MPI ranks: total times and parallel efficiency T1 / (2 T2).

``--only rve`` / ``--only bounds`` runs one of them.

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
    ap.add_argument("--only", choices=("rve", "bounds"), help="run one benchmark only")
    args = ap.parse_args()
    if args.only != "rve":
        import bounds_bench

        bounds = {"benchmark": "bounds", "machine": {"python": sys.version.split()[0], "platform": platform.platform()},
                  **bounds_bench.collect(args.quick)}
        out = ROOT / "bench" / "bounds.json"
        out.write_text(json.dumps(bounds, indent=2, default=float) + "\n")
        print(f"wrote {out.relative_to(ROOT)}")
        if args.only == "bounds":
            return
    import rve_bench
    import rve_peers

    record = {"benchmark": "rve", "machine": {"python": sys.version.split()[0], "platform": platform.platform()}}
    record["solve_ratios"] = rve_bench.collect(args.quick)
    if not args.no_peers:
        if not rve_peers.PEER_PY.exists():
            print("setting up the peer venv (.venv-bench) with bench/peers/setup_peers.sh ...", flush=True)
            proc = subprocess.run(["bash", str(ROOT / "bench" / "peers" / "setup_peers.sh")], cwd=ROOT)
            if proc.returncode != 0:
                print("peer set-up failed; the peer comparison reports that", flush=True)
        record["peers"] = rve_peers.collect(args.quick)
    out = ROOT / "bench" / "rve.json"
    out.write_text(json.dumps(record, indent=2, default=float) + "\n")
    print(f"wrote {out.relative_to(ROOT)}")

    import reactions_bench

    reactions = {"benchmark": "reactions", "machine": record["machine"], **reactions_bench.collect(args.quick)}
    out = ROOT / "bench" / "reactions.json"
    out.write_text(json.dumps(reactions, indent=2, default=float) + "\n")
    print(f"wrote {out.relative_to(ROOT)}")

    import fe2_bench

    fe2_record = {"benchmark": "fe2", "machine": record["machine"], **fe2_bench.collect(args.quick)}
    out = ROOT / "bench" / "fe2.json"
    out.write_text(json.dumps(fe2_record, indent=2, default=float) + "\n")
    print(f"wrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
