"""The ``fe2`` command line: ``fe2 <subcommand> CONFIG.toml --out DIR``.

Every failure becomes one line ``fe2: error: ...`` on stderr and a non-zero exit
code (2 for bad input, 3 for failed solves or output, 1 for an internal error,
130/143 for SIGINT/SIGTERM with a line saying how to resume). ``--out`` is
checked collectively before any work (:mod:`fe2.io.outdir`). Under MPI, rank 0
reports; a failure on another rank alone is reported by that rank and aborts the
job so no rank waits forever.
"""

from __future__ import annotations

import argparse
import math
import os
import signal
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import NoReturn

from mpi4py import MPI

from fe2 import _compat  # noqa: F401  (dolfinx_solver first)
from fe2.apps.commands import (
    _cmd_bounds,
    _cmd_darcy,
    _cmd_homogenize,
    _cmd_identify,
    _cmd_phasefield,
    _cmd_reactions,
    _cmd_reduce,
    _cmd_run,
    _cmd_scales,
    _cmd_uq,
    _collective,
)
from fe2.config.schema import ConfigHelp, init_arguments, run_init
from fe2.errors import Fe2Error, abort_job
from fe2.io.outdir import prepare_out_dir
from fe2.io.terminal import Terminal, open_terminal
from fe2.solvers.options import PREFIXES, split_petsc_args


@dataclass(frozen=True)
class Command:
    """One row of the command table: a subcommand, its help, its runner and its extra flags."""

    name: str
    help: str
    run: Callable[[argparse.Namespace, MPI.Comm], int]
    config_doc: str | None = None  #: docs page of its TOML config; None: no config file
    out_help: str = "output folder"
    restart: str | None = None  #: help of --restart, None: not restartable
    fresh: str | None = None  #: help of --fresh, None: no such flag
    add_arguments: Callable[[argparse.ArgumentParser], None] | None = None
    load: str | None = None  #: "module:function" loading its config (for --check); None: no config file


def _scales_arguments(sc: argparse.ArgumentParser) -> None:
    sc.add_argument("--ell", type=float, required=True, help="micro length (RVE, particle, fibre size)")
    sc.add_argument("--L", type=float, required=True, help="macro length (over which macro fields vary)")
    sc.add_argument("--tau", type=float, help="micro relaxation time (e.g. particle diffusion time r^2/D)")
    sc.add_argument("--T", type=float, help="macro time (loading / charge time)")
    sc.add_argument("--nonlinear", action="store_true", help="micro response is nonlinear / history dependent")
    sc.add_argument("--space-max", type=float, default=0.05, help="largest ell/L counted as separated (0.05)")
    sc.add_argument("--time-max", type=float, default=0.1, help="largest tau/T counted as separated (0.1)")


#: The command table: ``fe2 <name> ...`` for every row, in this order in ``fe2 --help``.
COMMANDS: tuple[Command, ...] = (
    Command("homogenize", "effective tensor of one RVE under KUBC / periodic / TUBC", _cmd_homogenize,
            "docs/config.md", "output folder (result.json, fields/, PNG)", load="fe2.config:load_homogenize_config"),
    Command("bounds", "bound-convergence study: KUBC / periodic / TUBC vs RVE size over random realizations",
            _cmd_bounds, "docs/config.md, section fe2 bounds",
            "output folder; finished realizations found there are reused (the study resumes)",
            fresh="discard the realizations of earlier runs in --out", load="fe2.config:load_bounds_config"),
    Command("run", "FE² macro problem with an RVE at every quadrature point", _cmd_run,
            "docs/config.md, section fe2 run", "output folder (XDMF series, CSV/PNG, checkpoint/, result.json)",
            restart="continue from the last checkpoint in --out", load="fe2.config.run:load_run_config"),
    Command("reduce", "train a reduced model: an RVE for FE² (POD + empirical cubature), or balanced "
            "truncation / POD-Galerkin of reaction–diffusion", _cmd_reduce,
            "docs/reduced_rve.md", "output folder (reduced_rve.npz, reduced_rve.json, result.json)",
            load="fe2.config.reduce:load_reduce_config"),
    Command("phasefield", "Cahn–Hilliard / Allen–Cahn phase field (energy-stable, adaptive dt)", _cmd_phasefield,
            "docs/phasefield.md", "output folder (XDMF series, free_energy.csv/.png, result.json, checkpoint/)",
            restart="continue from the last checkpoint in --out (same rank count)",
            load="fe2.config.phasefield:load_phasefield_config"),
    Command("reactions", "reaction network: well-mixed ODEs, stochastic (SSA / tau-leap / hybrid) "
            "or reaction–diffusion on a rectangle", _cmd_reactions, "docs/reactions.md and docs/config.md",
            "output folder (CSV time series, PNG plots, result.json, XDMF)",
            load="fe2.config.reactions:load_reactions"),
    Command("identify", "identifiability of reaction-network parameters: structural (sensitivity rank, "
            "observability rank) and practical (profile likelihood), calibration vs validation data",
            _cmd_identify, "docs/identifiability.md",
            "output folder (result.json, profile_*.png, fit.png, synthetic CSV data)",
            load="fe2.config.identify:load_identify"),
    Command("darcy", "tissue perfusion: Darcy flow with Starling exchange, K from tissue data or "
            "micro Stokes cells, conservation audit, solute transport", _cmd_darcy, "docs/darcy.md",
            "output folder (fields.bp, result.json, profile.csv/.png)", load="fe2.config.darcy:load_darcy_config"),
    Command("uq", "uncertainty study over any fe2 command: Sobol' indices, Morris, polynomial chaos, "
            "aleatory/epistemic variance split", _cmd_uq, "docs/uq.md",
            "output folder (samples/*.jsonl, PNG, result.json)",
            restart="continue the study in --out: finished samples are kept, the others run",
            load="fe2.config.uq:load_uq_config"),
    Command("scales", "sequential vs concurrent coupling from the length and time scale ratios", _cmd_scales,
            None, "optional folder for scales.json", add_arguments=_scales_arguments),
    Command("init", "write a commented template config of a command (from its schema; it validates)",
            run_init, None, "file to write (default: print it)", add_arguments=init_arguments),
)

PETSC_EPILOG = (
    "PETSc options for fe2's solvers go after the other arguments, with a stable prefix "
    "(" + ", ".join(sorted(PREFIXES)) + "), e.g. -fe2_rve_ksp_type cg -fe2_rve_ksp_view; "
    "a [petsc] table in the config sets them too (the command line wins). See docs/solvers.md."
)


def _positive_float(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not (math.isfinite(v) and v > 0):
        raise argparse.ArgumentTypeError(f"must be a finite number > 0, got {text!r}")
    return v


class UsageError(Fe2Error):
    """A command line argparse rejects (every rank parses the same command line)."""

    exit_code = 2
    collective = True


class _Parser(argparse.ArgumentParser):
    """argparse with its errors as one line (``fe2 run: error: ...``) instead of usage + message."""

    def error(self, message: str) -> NoReturn:  # raises instead of exiting
        raise UsageError(f"{self.prog}: {message} (see {self.prog} --help)")


class _VersionAction(argparse.Action):
    """``fe2 --version``: fe2's version and the stack it runs on (rank 0 prints), exit 0."""

    def __init__(self, option_strings, dest=argparse.SUPPRESS, default=argparse.SUPPRESS, help=None):
        super().__init__(option_strings, dest=dest, default=default, nargs=0, help=help)

    def __call__(self, parser, namespace, values, option_string=None):
        import platform

        import dolfinx
        from petsc4py import PETSc

        from fe2 import __version__

        petsc = ".".join(str(v) for v in PETSc.Sys.getVersion())
        mpi = " ".join(MPI.Get_library_version().splitlines()[0].split())
        if MPI.COMM_WORLD.rank == 0:
            print(f"fe2 {__version__} (dolfinx {dolfinx.__version__}, PETSc {petsc}, {mpi}, "
                  f"Python {platform.python_version()})")
        parser.exit(0)


def build_parser() -> argparse.ArgumentParser:
    """The ``fe2`` argument parser, one subparser per row of :data:`COMMANDS`."""
    parser = _Parser(prog="fe2", description="FE² multiscale homogenization on DOLFINx", epilog=PETSC_EPILOG)
    parser.set_defaults(petsc_cli={})
    parser.add_argument("--version", action=_VersionAction, help="print the versions of fe2 and its stack, exit")
    sub = parser.add_subparsers(dest="command", required=True)
    for cmd in COMMANDS:
        conf = cmd.config_doc is not None  # a command with a config: its --help lists the config's keys
        p = sub.add_parser(cmd.name, help=cmd.help, description=cmd.help, epilog=PETSC_EPILOG, add_help=not conf)
        if conf:
            p.add_argument("-h", "--help", action=ConfigHelp, epilog=PETSC_EPILOG, help="this help and the config keys")
            p.add_argument("config", help=f"TOML file (see {cmd.config_doc})")
            p.add_argument("--max-cells", type=_positive_float, metavar="N",
                           help="largest mesh (cells) this run may build; wins over [limits] max_cells (2e6)")
        if cmd.add_arguments is not None:
            cmd.add_arguments(p)
        p.add_argument("--out", help=cmd.out_help + (" (required unless --check)" if conf else ""))
        if conf:
            p.add_argument("--check", action="store_true", help="validate, estimate sizes, print the plan only")
        if cmd.restart:
            p.add_argument("--restart", action="store_true", help=cmd.restart)
        if cmd.fresh:
            p.add_argument("--fresh", action="store_true", help=cmd.fresh)
        p.add_argument("--quiet", action="store_true", help="print only warnings and errors (exit codes unchanged)")
        p.add_argument("--log", metavar="FILE", help="also write the full output (plain text, rank 0) to FILE")
        p.set_defaults(func=cmd.run, command_row=cmd)
    return parser


def _check(args: argparse.Namespace, comm: MPI.Comm) -> int:
    """``fe2 SUB CONFIG --check``: the config validated and its sizes estimated, as a run would; nothing written."""
    import importlib

    from fe2.config.limits import check_limits

    cmd: Command = args.command_row
    assert cmd.load is not None
    module, name = cmd.load.split(":")
    loader = getattr(importlib.import_module(module), name)
    with _collective(MPI.COMM_WORLD):
        loaded = loader(args.config)
        cfg = loaded[0] if isinstance(loaded, tuple) else loaded
        estimates = cfg.size_estimates()
        check_limits(estimates, cfg.limits, str(args.config), getattr(args, "max_cells", None))
    if comm.rank == 0:
        print(f"fe2 {cmd.name} {args.config}: valid; would run on {comm.size} rank(s)"
              + (f", writing to {args.out}" if args.out else ""))
        cap = float(args.max_cells) if getattr(args, "max_cells", None) else cfg.limits.max_cells
        for key, n in estimates:
            micro = key.startswith("micro:")
            limit = cfg.limits.max_micro_cells if micro else cap
            what = "" if micro else " cells"
            size = "not estimated (imported mesh)" if n is None else f"about {n:.3g}{what} (limit {limit:.3g})"
            print(f"  {key.removeprefix('micro:')}: {size}")
        print("  nothing written (--check)")
    return 0


class Interrupted(BaseException):
    """SIGTERM (or SIGINT) received: the run stops at once; what its checkpoint holds is kept."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def _raise_interrupted(signum, frame) -> None:
    raise Interrupted(signum)


def _resume_hint(args: argparse.Namespace | None) -> str:
    """How to continue after an interrupt, for the command that was running."""
    if args is None or not getattr(args, "out", None):
        return "nothing was written"
    cmd = next((c for c in COMMANDS if c.name == args.command), None)
    if cmd is not None and cmd.restart:
        return f"resume with: fe2 {cmd.name} {args.config} --out {args.out} --restart"
    if cmd is not None and cmd.fresh is not None:
        return f"finished work in {args.out} is kept; rerun the same command to resume"
    return f"{args.out} holds no result; rerun the command"


#: seconds a failed rank waits for its peers to fail too before it aborts the job (see :func:`_report`);
#: ``FE2_ERROR_WAIT_S`` overrides it (the MPI failure tests use 1 s)
AGREE_S = 5.0


def _all_failed(errors: MPI.Comm | None) -> bool:
    """Whether every rank of ``errors`` (a communicator used for nothing else) reaches this call within
    :data:`AGREE_S` seconds: a non-blocking barrier, so a rank never waits on a peer that is busy
    elsewhere (that peer is then ended by the caller's ``MPI_Abort``).
    """
    if errors is None or errors.size == 1:
        return True
    req = errors.Ibarrier()
    try:
        wait = float(os.environ.get("FE2_ERROR_WAIT_S", AGREE_S))
    except ValueError:
        wait = AGREE_S
    t_end = time.monotonic() + wait
    while time.monotonic() < t_end:
        if req.Test():
            return True
        time.sleep(0.005)
    return False


def _report(comm: MPI.Comm, line: str, code: int, collective: bool = False, errors: MPI.Comm | None = None,
            term: Terminal | None = None) -> int:
    """Print one error line (rank 0, or the failing rank alone) and end every rank of the job.

    ``collective``: every rank has this error (rank 0 prints it, all return ``code``). Otherwise the
    ranks that failed wait up to :data:`AGREE_S` s on ``errors`` for the others: when every rank
    failed (the same error met in a collective operation), rank 0 prints its line and all return
    ``code``; when a peer did not fail, it may be waiting in a collective, and the job is aborted.
    """
    for sig in (signal.SIGTERM, signal.SIGINT):  # a second signal must not cut the report short
        try:
            signal.signal(sig, signal.SIG_IGN)
        except ValueError:  # not the main thread
            pass
    if term is not None:  # --log holds the error lines too (rank 0's)
        term.log_only(line)
    if collective or _all_failed(errors):
        if comm.rank == 0:
            print(line, file=sys.stderr, flush=True)
        return code
    if comm.size == 1:
        print(line, file=sys.stderr, flush=True)
        return code
    if comm.rank != 0:
        time.sleep(0.5)  # let rank 0 report a collective error first
        line = line.replace("fe2: error:", f"fe2: error (rank {comm.rank}):")
    abort_job(comm, line, code)  # a peer may be waiting in a collective: end the job, never hang
    return code


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``fe2``; returns the exit code.

    0 on success; 2 for bad input, 3 for failed solves or unwritable output (the
    :class:`~fe2.errors.Fe2Error` subclasses), 1 for an internal error (a bug: one line, the
    traceback with ``FE2_TRACEBACK=1``), 130/143 after SIGINT/SIGTERM. Every failure is one line
    on stderr; under MPI a failure on any rank ends every rank (``MPI_Abort``), so no rank waits
    in a collective for a peer that already failed.
    """
    comm = MPI.COMM_WORLD
    errors = comm.Dup() if comm.size > 1 else None  # for the error agreement of _report only
    argv = list(sys.argv[1:] if argv is None else argv)
    args: argparse.Namespace | None = None
    term: Terminal | None = None
    previous = {}
    for sig in (signal.SIGTERM, signal.SIGINT):
        try:
            previous[sig] = signal.signal(sig, _raise_interrupted)
        except ValueError:  # not the main thread (e.g. an embedding application): leave signals alone
            pass
    try:
        argv, petsc_cli = split_petsc_args(argv)
        parser = build_parser()
        args = parser.parse_args(argv)
        args.petsc_cli = petsc_cli
        row = getattr(args, "command_row", None)
        if row is not None and row.config_doc is not None and not args.out and not args.check:
            raise UsageError(f"fe2 {row.name}: the following arguments are required: --out (or --check) "
                             f"(see fe2 {row.name} --help)")
        term = args.terminal = open_terminal(comm, quiet=args.quiet, log=args.log)
        with term.capture():  # every line of the command through the terminal (--quiet, --log)
            if getattr(args, "check", False):
                return _check(args, comm)
            if getattr(args, "out", None) and args.command != "init":  # init's --out is a file
                with _collective():
                    prepare_out_dir(args.out, comm, keep_results=bool(getattr(args, "restart", False)))
            return args.func(args, comm)
    except Fe2Error as err:  # one line per problem (a config with several errors lists them all)
        lines = "\n".join(f"fe2: error: {line}" for line in str(err).splitlines() or [""])
        return _report(comm, lines, err.exit_code, collective=err.collective, errors=errors,
                       term=term)
    except (Interrupted, KeyboardInterrupt) as err:
        signum = err.signum if isinstance(err, Interrupted) else signal.SIGINT
        name = signal.Signals(signum).name
        return _report(comm, f"fe2: error: interrupted by {name}; {_resume_hint(args)}", 128 + int(signum),
                       errors=errors, term=term)
    except MemoryError as err:
        return _report(comm, f"fe2: error: out of memory ({err or 'MemoryError'}); use a coarser mesh or fewer "
                             "points, or a machine with more memory", 3, errors=errors, term=term)
    except Exception as err:  # noqa: BLE001 -- the last line of defence: one line, not a traceback
        if os.environ.get("FE2_TRACEBACK") == "1":
            traceback.print_exc()
        what = f"{type(err).__name__}: {err}".splitlines()[0] if str(err) else type(err).__name__
        return _report(comm, f"fe2: error: internal error ({what}); please report it, with FE2_TRACEBACK=1 "
                             "for the traceback", 1, errors=errors, term=term)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if errors is not None:
            errors.Free()
        if term is not None:
            term.close()


if __name__ == "__main__":
    sys.exit(main())
