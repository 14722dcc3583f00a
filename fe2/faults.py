"""Fault injection for the reliability tests: a run killed or failing at a named point.

Set ``FE2_FAULT=<point>[#<hit>][@<rank>][:<action>]`` and the ``<hit>``-th time (default 1)
rank ``<rank>`` (default: every rank) of ``MPI.COMM_WORLD`` passes :func:`fault_point`
``(<point>)`` it

* ``kill`` (default): sends itself SIGKILL — a crash, the OOM killer, a lost node;
* ``term``: sends itself SIGTERM — a scheduler's time limit, Ctrl-C;
* ``raise``: raises ``RuntimeError`` — a failure on that rank alone (the other ranks go on).

Unset (every normal run), :func:`fault_point` is one dictionary lookup. The points are
placed in the writes that must survive a kill (:mod:`fe2.solvers.checkpoint`,
:mod:`fe2.io.series`, :mod:`fe2.io.results`) and at the start of every step of the
restartable commands; ``tests/test_kill_resume.py`` kills at each of them and checks that
``--restart`` gives the numbers of the uninterrupted run.
"""

from __future__ import annotations

import os
import signal

_hits: dict[str, int] = {}


def _parse(spec: str) -> tuple[str, int, int | None, str]:
    point, _, action = spec.partition(":")
    point, _, rank = point.partition("@")
    point, _, hit = point.partition("#")
    return point, int(hit or 1), (int(rank) if rank else None), (action or "kill")


def fault_point(name: str) -> None:
    """Fire the fault ``FE2_FAULT`` names if it names ``name`` and this is its hit (see the module docstring)."""
    spec = os.environ.get("FE2_FAULT")
    if not spec:
        return
    point, hit, rank, action = _parse(spec)
    if point != name:
        return
    _hits[name] = _hits.get(name, 0) + 1
    if _hits[name] != hit:
        return
    if rank is not None:
        from mpi4py import MPI

        if MPI.COMM_WORLD.rank != rank:
            return
    if action == "raise":
        raise RuntimeError(f"injected fault at {name}")
    os.kill(os.getpid(), signal.SIGTERM if action == "term" else signal.SIGKILL)
