"""Typed errors raised by fe2.

Every error is raised where the problem is detected; the CLI turns any
:class:`Fe2Error` into one line on stderr and a non-zero exit code.
"""

from __future__ import annotations


class Fe2Error(Exception):
    """Base class of all errors fe2 raises on purpose (bad input, failed solves)."""

    exit_code: int = 2
    #: True when every rank raised this same error at the same point (config parsing, the --out
    #: check): the CLI then exits on every rank without MPI_Abort. False: it may be one rank's.
    collective: bool = False


class ConfigError(Fe2Error):
    """A configuration (TOML or Python arguments) is malformed or inconsistent."""


class GeometryError(Fe2Error):
    """A requested geometry cannot be built (overlaps, impossible packing, empty phase...)."""


class MeshError(Fe2Error):
    """A mesh is unusable: missing file, missing physical groups, non-periodic under PBC..."""


class MaterialError(Fe2Error):
    """Material parameters are outside their admissible range (e.g. nu >= 0.5)."""


class SolverError(Fe2Error):
    """A linear solve failed (KSP diverged, factorization failed, NaN in the result)."""

    exit_code = 3


class ConvergenceError(SolverError):
    """A nonlinear iteration did not converge."""


def abort_job(comm, line: str, code: int) -> None:
    """Print ``line`` on stderr and end the whole MPI job with ``code`` (``MPI_Abort``): for a failure
    a peer may be waiting on in a collective. stderr is closed first, so the MPI library's own
    "application called MPI_Abort" message does not make a second line.
    """
    import os
    import sys

    print(line, file=sys.stderr, flush=True)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    comm.Abort(code)


class OutputError(Fe2Error):
    """A result file or picture cannot be written (raised on every rank together)."""

    exit_code = 3
