"""PETSc options under stable, caller-named prefixes — the only place fe2 writes the options database.

Every KSP/SNES of fe2 reads its options under one of the stable prefixes of
:data:`PREFIXES`. A solver passes its *defaults*; a default is written only
where the database holds no value for that key yet, and only the keys written
here are removed again after ``setFromOptions`` — so whatever a user set stays
and wins::

    fe2 homogenize rve.toml --out out -fe2_rve_ksp_type cg -fe2_rve_pc_type gamg

or, in the command's TOML file::

    [petsc]
    fe2_rve_ksp_type = "cg"

Global (unprefixed) options are never written: a macro solver and hundreds of
RVE solvers share one process. Many solvers share a prefix (every RVE of an
FE² run reads ``fe2_rve_``); their defaults are set and removed around each
``setFromOptions`` call, which runs on one thread, so they never see each
other's.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager

import numpy as np
from petsc4py import PETSc

from fe2.errors import ConfigError, SolverError

#: Every options prefix of fe2 and what it solves (docs/solvers.md has the same table).
PREFIXES: dict[str, str] = {
    "fe2_macro_": "macro Newton systems of `fe2 run` (KSP)",
    "fe2_rve_": "RVE systems: linear load cases (homogenize, bounds, phase-field RVEs, linear FE² micro "
                "models) and the micro Newton of nonlinear RVEs (KSP)",
    "fe2_stokes_": "Stokes permeability cells (KSP, MUMPS)",
    "fe2_darcy_": "Darcy pressure / mixed system of `fe2 darcy` (KSP)",
    "fe2_darcy_proj_": "velocity recovery (DG projection) of the primal Darcy formulation (KSP)",
    "fe2_dual_": "dual (adjoint) problems of the goal-oriented error estimates (degree + 1; KSP, MUMPS)",
    "fe2_solute_": "SUPG solute transport of `fe2 darcy` (KSP)",
    "fe2_ch_": "Cahn–Hilliard Newton (SNES with no-flux boundaries; KSP of the periodic Newton)",
    "fe2_ac_": "Allen–Cahn Newton (SNES with no-flux boundaries; KSP of the periodic Newton)",
    "fe2_rd_": "reaction–diffusion: diffusion systems of the split schemes (KSP)",
    "fe2_rd_mono_": "reaction–diffusion: monolithic backward-Euler / BDF2 Newton (SNES)",
}


def _check_prefix(prefix: str) -> None:
    if prefix not in PREFIXES:
        raise ValueError(f"unknown PETSc options prefix {prefix!r}; fe2's prefixes are {sorted(PREFIXES)}")


def missing_defaults(prefix: str, defaults: Mapping[str, object]) -> dict[str, object]:
    """The entries of ``defaults`` whose key the options database does not hold under ``prefix``.

    Not for dolfinx's ``NonlinearProblem(petsc_options=...)``: dolfinx 0.11 writes those under a
    pushed prefix and never removes them, so they would outlive the solver and look like user
    options to the next one; give it ``petsc_options={}`` inside :func:`configure_from_defaults`.
    """
    _check_prefix(prefix)
    opts = PETSc.Options()
    return {k: v for k, v in defaults.items() if not opts.hasName(prefix + k)}


@contextmanager
def configure_from_defaults(prefix: str, defaults: Mapping[str, object]) -> Iterator[None]:
    """Inside the block, ``defaults`` are in the database under ``prefix`` where the user set nothing.

    Call ``setFromOptions`` (and ``setUp`` where a package reads options at
    factorization time, as MUMPS does) inside the block; the defaults written
    here are removed on exit, the user's entries stay.
    """
    opts = PETSc.Options()
    mine = []
    for key, value in missing_defaults(prefix, defaults).items():
        opts[prefix + key] = value
        mine.append(prefix + key)
    try:
        yield
    finally:
        for key in mine:
            opts.delValue(key)


def create_ksp(
    comm, prefix: str, defaults: Mapping[str, object], operators: Sequence[PETSc.Mat] = (), *, setup: bool = False
) -> PETSc.KSP:
    """A KSP on ``comm`` with options prefix ``prefix``, configured from the database over ``defaults``.

    Args:
        comm: the communicator of the system.
        prefix: one of :data:`PREFIXES`.
        defaults: options (without the prefix) used where the user set nothing.
        operators: ``(A,)`` or ``(A, P)``, set before ``setFromOptions`` when given.
        setup: call ``setUp()`` while the defaults are in place (options read at
            factorization, e.g. ``mat_mumps_icntl_*``). A PETSc error there is a
            :class:`~fe2.errors.SolverError`.
    """
    ksp = PETSc.KSP().create(comm)
    ksp.setOptionsPrefix(prefix)
    if operators:
        ksp.setOperators(*operators)
    with configure_from_defaults(prefix, defaults):
        ksp.setFromOptions()
        if setup:
            try:
                ksp.setUp()
            except PETSc.Error as exc:
                raise SolverError(f"{prefix}: solver set-up (factorization) failed (PETSc error {exc.ierr})") from exc
    return ksp


def solve_checked(ksp: PETSc.KSP, b: PETSc.Vec, x: PETSc.Vec, what: str) -> int:
    """Solve, raising SolverError on divergence or a non-finite result. Returns iterations."""
    ksp.solve(b, x)
    reason = ksp.getConvergedReason()
    if reason < 0:
        raise SolverError(f"{what}: linear solver diverged (PETSc reason {reason})")
    norm = x.norm()
    if not np.isfinite(norm):
        raise SolverError(f"{what}: linear solve produced NaN/inf (singular matrix or bad data)")
    return ksp.getIterationNumber()


# --------------------------------------------------------------------------- user options
def _normalize_key(key: str, where: str) -> str:
    name = key.lstrip("-")
    if not any(name.startswith(p) and len(name) > len(p) for p in PREFIXES):
        raise ConfigError(
            f"{where}{key}: PETSc options must start with one of fe2's prefixes "
            f"({', '.join(sorted(PREFIXES))}), e.g. fe2_rve_ksp_type"
        )
    return name


def _value_text(value: object, where: str) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | str):
        return str(value)
    raise ConfigError(f"{where}: a PETSc option value must be a string, number or boolean, got {type(value).__name__}")


def set_user_options(options: Mapping[str, object], where: str = "petsc.") -> None:
    """Write user options (TOML ``[petsc]`` table or command line) into the database.

    Keys carry an fe2 prefix (``fe2_rve_ksp_type``; a leading ``-`` is allowed);
    anything else is a :class:`~fe2.errors.ConfigError` naming the key.
    """
    opts = PETSc.Options()
    for key, value in options.items():
        name = _normalize_key(str(key), where)
        opts[name] = _value_text(value, f"{where}{key}")


@contextmanager
def user_options(options: Mapping[str, object], where: str = "petsc.") -> Iterator[None]:
    """:func:`set_user_options` for the duration of a block; the keys set are removed afterwards."""
    set_user_options(options, where)
    opts = PETSc.Options()
    try:
        yield
    finally:
        for key in options:
            opts.delValue(str(key).lstrip("-"))


def split_petsc_args(argv: Sequence[str]) -> tuple[list[str], dict[str, str]]:
    """Separate ``-fe2_<prefix>_<option> [value]`` pairs from the other command-line arguments.

    A PETSc flag followed by another option (or by nothing) gets the empty value
    (PETSc's "flag set"). Returns ``(other arguments, {option: value})``.
    """
    rest: list[str] = []
    found: dict[str, str] = {}
    args = list(argv)
    i = 0
    while i < len(args):
        a = args[i]
        if a.startswith("-fe2_"):
            name = _normalize_key(a, "command line: ")
            value = ""
            if i + 1 < len(args) and not (args[i + 1].startswith("-") and not _is_number(args[i + 1])):
                value = args[i + 1]
                i += 1
            found[name] = value
        else:
            rest.append(a)
        i += 1
    return rest, found


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
