"""The command functions behind ``fe2 <subcommand>``: load the config collectively, run the
command's runner under its PETSc options, report progress on rank 0 (the table that names them
is :data:`fe2.cli.COMMANDS`; the parser, error reporting and exit codes live in :mod:`fe2.cli`).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager

from mpi4py import MPI

from fe2.errors import Fe2Error
from fe2.faults import fault_point
from fe2.solvers.options import user_options


def _petsc(cfg, args: argparse.Namespace) -> AbstractContextManager[None]:
    """The config's ``[petsc]`` table and the command line's PETSc options (which win), for the run."""
    return user_options({**cfg.petsc, **args.petsc_cli}, f"{args.config}: petsc.")


@contextmanager
def _collective(comm: MPI.Comm | None = None) -> Iterator[None]:
    """Errors raised inside are raised by every rank alike.

    With ``comm``, the ranks agree first (one allgather): when any rank failed, every rank raises
    the first failed rank's error, so a rank that read another file (node-local paths, a file
    edited during start-up) never goes on alone. Without, each rank is known to do the same work.
    """
    failure: Fe2Error | None = None
    try:
        yield
    except Fe2Error as err:
        failure = err
    if comm is not None and comm.size > 1:
        found = comm.allgather(None if failure is None else (type(failure), str(failure)))
        first = next((f for f in found if f is not None), None)
        if first is not None and failure is None:
            cls, text = first
            failure = cls(text) if issubclass(cls, Fe2Error) else Fe2Error(text)
    if failure is not None:
        failure.collective = True
        raise failure


def _load(loader: Callable, args: argparse.Namespace):
    """``loader(args.config)`` collectively, then the size estimates against ``[limits]`` / ``--max-cells``."""
    from fe2.config.limits import check_limits

    with _collective(MPI.COMM_WORLD):
        loaded = loader(args.config)
        cfg = loaded[0] if isinstance(loaded, tuple) else loaded
        check_limits(cfg.size_estimates(), cfg.limits, str(args.config), getattr(args, "max_cells", None))
    fault_point("cli.loaded")  # the config is valid, no work done yet
    return loaded


def _progress(comm: MPI.Comm) -> Callable[[str], None]:
    t0 = time.perf_counter()

    def say(msg: str) -> None:
        if comm.rank == 0:
            print(f"[fe2 {time.perf_counter() - t0:7.1f}s] {msg}", flush=True)

    return say


def _cmd_homogenize(args: argparse.Namespace, comm: MPI.Comm) -> int:
    from fe2.apps.homogenize.runner import print_effective_table, run_homogenization
    from fe2.config import load_homogenize_config

    cfg = _load(load_homogenize_config, args)
    say = _progress(comm)
    say(f"homogenize {args.config}: {cfg.physics}, BCs {', '.join(cfg.boundary_conditions)}, {comm.size} rank(s)")
    with _petsc(cfg, args):
        data = run_homogenization(cfg, comm, args.out, progress=say)
    if comm.rank == 0:
        print_effective_table(data)
        for line in data.get("warnings", []):
            print(line, flush=True)
        fields = " and fields/ (.xdmf: ParaView, .pvd: pyvista, fe2.io.open_results)" if data.get("fields") else ""
        print(f"wrote {args.out}/result.json{fields}")
    return 0


def _cmd_bounds(args: argparse.Namespace, comm: MPI.Comm) -> int:
    from fe2.apps.bounds import run_bounds_study
    from fe2.apps.bounds.report import print_bounds_table
    from fe2.config import load_bounds_config

    cfg = _load(load_bounds_config, args)
    say = _progress(comm)
    say(f"bounds {args.config}: {cfg.physics} {cfg.dim}D, BCs {', '.join(cfg.boundary_conditions)}, "
        f"{comm.size} rank(s); finished realizations in {args.out} are reused")
    with _petsc(cfg, args):
        summary = run_bounds_study(cfg, comm, args.out, progress=say, fresh=args.fresh)
    if comm.rank == 0:
        print_bounds_table(summary)
        for line in summary.get("warnings", []):
            print(line, flush=True)
        print(f"wrote {args.out}/summary.json, statistics.csv, gaps.csv, fits.csv, realizations.csv and "
              f"{', '.join(summary['files']['figures'])}")
    return 0


def _cmd_run(args: argparse.Namespace, comm: MPI.Comm) -> int:
    from fe2.apps.run.runner import run_fe2
    from fe2.config.run import load_run_config

    cfg = _load(load_run_config, args)
    say = _progress(comm)
    say(f"run {args.config} on {comm.size} rank(s)" + (" (restart)" if args.restart else ""))
    with _petsc(cfg, args):
        result = run_fe2(cfg, comm, args.out, restart=args.restart, progress=say)
    if comm.rank == 0:
        verb = "left" if result.get("_finished_before") else "wrote"
        print(f"{verb} {args.out}/result.json; open {args.out}/displacement.xdmf and stress.xdmf in ParaView")
    return 0


def _cmd_reduce(args: argparse.Namespace, comm: MPI.Comm) -> int:
    from fe2.apps.reduce.runner import run_reduce
    from fe2.config.reduce import load_reduce_config

    cfg = _load(load_reduce_config, args)
    say = _progress(comm)
    say(f"reduce {args.config} on {comm.size} rank(s)")
    with _petsc(cfg, args):
        result = run_reduce(cfg, comm, args.out, progress=say)
    if comm.rank == 0 and result.get("method") == "balanced_truncation":
        print(f"wrote {args.out}/reduced_model.npz, reduced_model.json, hsv.png and result.json: order "
              f"{result['order']}, H∞ error {result['hinf_error_grid']:.3e} <= bound {result['hinf_bound']:.3e}")
    elif comm.rank == 0:
        print(f"wrote {args.out}/reduced_rve.npz, reduced_rve.json and result.json: {result['n_modes']} modes, "
              f"{result['ecm']['n_points']} cubature points")
    return 0


def _cmd_phasefield(args: argparse.Namespace, comm: MPI.Comm) -> int:
    from fe2.apps.phasefield.runner import run_phasefield
    from fe2.config.phasefield import load_phasefield_config

    cfg = _load(load_phasefield_config, args)
    say = _progress(comm)
    say(f"phasefield {args.config}: {cfg.model}, {comm.size} rank(s)" + (" (restart)" if args.restart else ""))
    with _petsc(cfg, args):
        res = run_phasefield(cfg, comm, args.out, restart=args.restart, progress=say)
    if comm.rank == 0:
        print(f"free energy {res['energy_initial']:.6g} -> {res['energy_final']:.6g} in {res['steps']} steps; "
              f"mass drift {res['mass_relative_drift']:.1e}")
        print(f"wrote {args.out}/result.json, free_energy.csv/.png; open {args.out}/concentration.xdmf in ParaView")
    return 0


def _cmd_reactions(args: argparse.Namespace, comm: MPI.Comm) -> int:
    from fe2.apps.reactions.runner import run_reactions
    from fe2.config.reactions import load_reactions

    cfg, network = _load(load_reactions, args)
    say = _progress(comm)
    say(f"reactions {args.config}: {cfg.mode}, {network.n_species} species, {network.n_reactions} reactions, "
        f"{comm.size} rank(s)")
    with _petsc(cfg, args):
        res = run_reactions(cfg, network, comm, args.out, progress=say)
    if comm.rank == 0:
        print(f"wrote {args.out}/" + ", ".join(res["files"]))
    return 0


def _cmd_identify(args: argparse.Namespace, comm: MPI.Comm) -> int:
    from fe2.apps.identify.runner import run_identify
    from fe2.config.identify import load_identify

    cfg, network = _load(load_identify, args)
    say = _progress(comm)
    say(f"identify {args.config}: {len(cfg.parameters) + len(cfg.initial)} parameter(s), "
        f"observables {', '.join(cfg.observable_names)}, {comm.size} rank(s)")
    res = run_identify(cfg, network, comm, args.out, progress=say)
    if comm.rank == 0:
        for name, v in res["verdicts"].items():
            print(f"  {name}: " + ", ".join(f"{k} {x}" for k, x in v.items() if k in
                                            ("structural_local", "structural_symbolic", "practical")))
        print(f"wrote {args.out}/" + ", ".join(res["files"]))
    return 0


def _cmd_darcy(args: argparse.Namespace, comm: MPI.Comm) -> int:
    from fe2.apps.darcy.runner import run_darcy
    from fe2.config.darcy import load_darcy_config

    cfg = _load(load_darcy_config, args)
    say = _progress(comm)
    say(f"darcy {args.config}: {cfg.domain.kind}, {cfg.formulation} formulation, "
        f"K from {'micro Stokes cells' if cfg.permeability else 'tissue data'}, {comm.size} rank(s)")
    with _petsc(cfg, args):
        res = run_darcy(cfg, comm, args.out, progress=say)
    if comm.rank == 0:
        a = res["darcy"]["audit"]
        print(f"fluid balance [m^3/s per unit depth in 2D]: Starling inflow {a['starling_inflow']:.4e}, "
              f"lymphatic drainage {a['lymphatic_drainage']:.4e}, boundary outflow {a['boundary_outflow']:.4e}, "
              f"relative residual {a['relative_residual']:.1e}")
        print(f"wrote {args.out}/" + ", ".join(res["files"]) + " (open fields.bp in ParaView)")
    return 0


def _cmd_scales(args: argparse.Namespace, comm: MPI.Comm) -> int:
    from fe2.apps.scales.coupling import decide_coupling
    from fe2.io.results import write_json_atomic

    d = decide_coupling(args.ell, args.L, args.tau, args.T, nonlinear=args.nonlinear,
                        space_max=args.space_max, time_max=args.time_max)
    if comm.rank == 0:
        print(d.report())
    if args.out:
        write_json_atomic(f"{args.out}/scales.json", d.to_dict(), comm)
    return 0


def _cmd_uq(args: argparse.Namespace, comm: MPI.Comm) -> int:
    from fe2.apps.uq.runner import run_uq
    from fe2.config.uq import load_uq_config

    cfg = _load(load_uq_config, args)
    say = _progress(comm)
    say(f"uq {args.config}: {cfg.method} over {cfg.base}, {len(cfg.inputs)} inputs, {len(cfg.qoi)} QoIs, "
        f"{comm.size} rank(s)" + (" (restart)" if args.restart else ""))
    with _petsc(cfg, args):
        res = run_uq(cfg, args.config, comm, args.out, restart=args.restart, progress=say)
    if comm.rank == 0:
        print(f"wrote {args.out}/result.json" + (", " + ", ".join(res["figures"]) if res["figures"] else ""))
    return 0
