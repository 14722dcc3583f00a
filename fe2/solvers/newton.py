"""The one Newton loop of fe2: macro problem, nonlinear RVE and periodic phase field.

Each solver supplies what only it knows, the loop does the rest the same way for
all of them::

    report = newton_loop(residual, step, converged, max_it, comm=comm)

* ``residual(it) -> float`` evaluates the residual at the current iterate (the
  material update happens here, as in a SNES residual callback) and returns its
  norm — the same number on every rank of ``comm``;
* ``converged(rnorm, r0) -> bool`` is the stopping test (relative/absolute, or a
  force-scale test that depends on what ``residual`` computed);
* ``step(it) -> bool | None`` solves for the increment and applies it;
  ``False`` means the linear solve failed (the loop stops, not converged).

The sequence is fixed: residual, test, (stop at ``max_it``), step, residual …,
so iteration ``k`` always means ``k`` increments. A non-finite residual stops
the loop (not converged). Failures are collective: an :class:`~fe2.errors.Fe2Error`
raised by a callback on one rank is raised on every rank of ``comm`` after the
callback (one ``allgather`` of a short message per callback and iteration when
``comm.size > 1``), so no rank is left waiting in the next collective. A callback
must therefore not raise *between* collectives of its own; the callbacks of fe2
raise only after theirs (the residual norm, the KSP's converged reason are
already collective).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, cast

import numpy as np

from fe2.errors import Fe2Error

if TYPE_CHECKING:  # pragma: no cover
    from mpi4py import MPI


@dataclass
class NewtonReport:
    """What one Newton solve did."""

    iterations: int = 0
    residuals: list[float] = field(default_factory=list)
    converged: bool = False
    linear_failure: bool = False


def _collective[T](comm: MPI.Comm | None, fn: Callable[..., T], *args: object) -> T:
    """``fn(*args)``; an Fe2Error on any rank of ``comm`` is re-raised on every rank (same type/message)."""
    if comm is None or comm.size == 1:
        return fn(*args)
    err: Fe2Error | None = None
    out = None
    try:
        out = fn(*args)
    except Fe2Error as exc:
        err = exc
    errors = [e for e in comm.allgather(None if err is None else (type(err), str(err))) if e is not None]
    if errors:
        if err is not None:
            raise err
        cls, msg = errors[0]
        raise cls(msg)
    return cast(T, out)  # fn returned: a failure on any rank raised above


def newton_loop(
    residual: Callable[[int], float],
    step: Callable[[int], bool | None],
    converged: Callable[[float, float], bool],
    max_it: int,
    *,
    comm=None,
    log: Callable[[int, float], None] | None = None,
) -> NewtonReport:
    """Run Newton until ``converged(rnorm, r0)`` or ``max_it`` increments; see the module docstring.

    Returns a :class:`NewtonReport`; raising on non-convergence is the caller's
    choice (the macro problem cuts the load step, the phase field the time step).
    """
    report = NewtonReport()
    r0: float | None = None
    for it in range(max_it + 1):
        rnorm = float(_collective(comm, residual, it))
        report.residuals.append(rnorm)
        report.iterations = it
        if log is not None:
            log(it, rnorm)
        if not np.isfinite(rnorm):
            return report
        if r0 is None:
            r0 = rnorm
        if converged(rnorm, r0):
            report.converged = True
            return report
        if it == max_it:
            return report
        if _collective(comm, step, it) is False:
            report.linear_failure = True
            return report
    return report
