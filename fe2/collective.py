"""Failures raised on every rank: work done on rank 0 only, and outcomes the ranks must agree on.

The project rule: any failure on any rank is raised on all ranks, so no peer waits in a collective
after a rank failed on its own. :func:`on_root` runs a piece of rank-0-only work (writing result
files) and broadcasts its value or its error; :func:`first_failure` is the agreement step of work
every rank does (one allgather of each rank's error, the lowest failed rank's wins). Errors raised
by either are marked ``collective`` (every rank raises the same line at the same point), so the
command line exits on every rank with the error's code instead of aborting the MPI job.
"""

from __future__ import annotations

from collections.abc import Callable

from fe2.errors import Fe2Error, OutputError


def on_root[T](comm, work: Callable[[], T], what: str = "writing the results") -> T:
    """``work()`` on rank 0 of ``comm``; its return value, or its error, on every rank. Collective.

    An :class:`~fe2.errors.Fe2Error` is raised again with its type and text (on one rank: itself); an
    ``OSError`` (a folder
    that is not writable, a full disk, a directory where a file should go) becomes a one-line
    :class:`~fe2.errors.OutputError` starting with ``what``; any other exception a RuntimeError with
    its type and text (a bug: the command line reports it with its traceback on rank 0).
    """
    payload: tuple | None = None
    if comm.rank == 0:
        try:
            payload = ("ok", work())
        except Fe2Error as err:
            if comm.size == 1:
                raise
            payload = ("error", type(err), str(err))
        except OSError as err:
            where = f" ({err.filename2 or err.filename})" if err.filename else ""
            payload = ("error", OutputError, f"{what}: {err.strerror or err}{where}")
        except Exception as err:  # broadcast before raising, so no peer waits
            if comm.size == 1:
                raise
            payload = ("error", RuntimeError, f"{type(err).__name__}: {err}")
    if comm.size > 1:
        payload = comm.bcast(payload, root=0)
    assert payload is not None
    if payload[0] == "error":
        failure = payload[1](payload[2])
        if isinstance(failure, Fe2Error):
            failure.collective = True
        raise failure
    return payload[1]


def first_failure(comm, failure: str | None) -> tuple[int, str] | None:
    """``(rank, text)`` of the lowest rank whose ``failure`` is not None, the same on every rank, or
    None when no rank failed. Collective (one allgather).
    """
    found = comm.allgather(failure) if comm.size > 1 else [failure]
    return next(((r, f) for r, f in enumerate(found) if f is not None), None)


__all__ = ["first_failure", "on_root"]
