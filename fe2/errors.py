"""Typed errors raised by fe2.

Every error is raised where the problem is detected; the CLI turns any
:class:`Fe2Error` into one line on stderr and a non-zero exit code.
"""

from __future__ import annotations

import os


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
    import sys

    print(line, file=sys.stderr, flush=True)
    _wait_until_read(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    comm.Abort(code)


def _wait_until_read(fd: int, timeout_s: float = 3.0) -> None:
    """Wait (at most ``timeout_s``) until the reader of the pipe ``fd`` has taken what was written.

    Under ``mpirun`` stderr is a pipe to the launcher's proxy, and ``MPI_Abort`` makes the proxy
    end every process: a line still in the pipe then never reaches the terminal (seen on a loaded
    2-core CI machine). Linux reports the unread bytes of a pipe (``FIONREAD``) on either end; a
    terminal or a file returns at once.
    """
    import array
    import fcntl
    import stat
    import termios
    import time

    try:
        if not stat.S_ISFIFO(os.fstat(fd).st_mode):
            return
        unread = array.array("i", [0])
        t_end = time.monotonic() + timeout_s
        while time.monotonic() < t_end:
            fcntl.ioctl(fd, termios.FIONREAD, unread)
            if unread[0] == 0:
                break
            time.sleep(0.005)
        time.sleep(0.05)  # and the proxy's forwarding of it
    except OSError:
        pass


class OutputError(Fe2Error):
    """A result file or picture cannot be written (raised on every rank together)."""

    exit_code = 3
