"""The ``fe2`` command line: ``fe2 <subcommand> CONFIG.toml --out DIR``.

Every :class:`~fe2.errors.Fe2Error` becomes one line ``fe2: error: ...`` on
stderr and a non-zero exit code (2 for bad input, 3 for failed solves). Under
MPI, rank 0 reports; a failure on another rank alone is reported by that rank
and aborts the job so no rank waits forever.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence

from fe2 import _compat  # noqa: F401  (dolfinx_solver first)
from mpi4py import MPI

from fe2.errors import Fe2Error


def _progress(comm: MPI.Comm) -> Callable[[str], None]:
    t0 = time.perf_counter()

    def say(msg: str) -> None:
        if comm.rank == 0:
            print(f"[fe2 {time.perf_counter() - t0:7.1f}s] {msg}", flush=True)

    return say


def _cmd_homogenize(args: argparse.Namespace, comm: MPI.Comm) -> int:
    from fe2.config import load_homogenize_config
    from fe2.studies.homogenize import run_homogenization

    cfg = load_homogenize_config(args.config)
    say = _progress(comm)
    say(f"homogenize {args.config}: {cfg.physics}, BCs {', '.join(cfg.boundary_conditions)}, {comm.size} rank(s)")
    data = run_homogenization(cfg, comm, args.out, progress=say)
    if comm.rank == 0:
        _print_table(data)
        print(f"wrote {args.out}/result.json" + (" and fields/ (open the .xdmf files in ParaView)" if data.get("fields") else ""))
    return 0


def _print_table(data: dict) -> None:
    """Diagonal and the (1,2) entry of each effective tensor (Voigt notation), and Hill–Mandel residuals."""
    comps = data["components"]
    pairs = [(i, i) for i in range(len(comps))] + [(0, 1)]
    sym = "C" if data["physics"] == "elasticity" else "K"
    head = "".join(f"{sym + comps[i] + comps[j]:>11s}" for i, j in pairs)
    print(f"{'BC':9s}{head}{'Hill-Mandel':>13s}")
    for bc, C in data["effective"].items():
        vals = "".join(f" {C[i][j]:10.5g}" for i, j in pairs)
        print(f"{bc:9s}{vals}{data['hill_mandel'][bc]:13.1e}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fe2", description="FE² multiscale homogenization on DOLFINx")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("homogenize", help="effective tensor of one RVE under KUBC / periodic / TUBC")
    p.add_argument("config", help="TOML file (see docs/config.md)")
    p.add_argument("--out", required=True, help="output folder (result.json, fields/, PNG)")
    p.set_defaults(func=_cmd_homogenize)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    comm = MPI.COMM_WORLD
    try:
        return args.func(args, comm)
    except Fe2Error as err:
        if comm.rank == 0 or comm.size == 1:
            print(f"fe2: error: {err}", file=sys.stderr, flush=True)
            code = err.exit_code
        else:
            time.sleep(0.5)  # let rank 0 report a collective error first
            print(f"fe2: error (rank {comm.rank}): {err}", file=sys.stderr, flush=True)
            code = err.exit_code
        if comm.size > 1:
            comm.Abort(code)
        return code


if __name__ == "__main__":
    sys.exit(main())
