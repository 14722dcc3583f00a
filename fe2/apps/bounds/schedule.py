"""Scheduling of a bound-convergence study over MPI ranks, and rank-0 progress.

Tasks are independent. Sizes ``>= parallel.whole_comm_min_size`` are solved one
after the other on the whole communicator (the mesh distributed); all others are
assigned to ranks by longest-processing-time-first on an estimated cost
``∝ size^d`` (deterministic, no communication) and solved on ``MPI.COMM_SELF``.
Progress reaches rank 0 by point-to-point messages on a communicator of its own.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from mpi4py import MPI

from fe2.apps.bounds.plan import Task
from fe2.io.progress import progress_bar

__all__ = ["Progress", "assign_tasks", "idle_wait", "split_whole_comm"]

_PROGRESS_TAG = 7301


def assign_tasks(tasks: Sequence[Task], n_ranks: int) -> list[list[Task]]:
    """Longest-processing-time-first: biggest task to the least loaded rank (ties: lowest rank)."""
    order = sorted(tasks, key=lambda t: (-t.cost, t.size, t.realization, t.geometry_key))
    load = [0.0] * n_ranks
    out: list[list[Task]] = [[] for _ in range(n_ranks)]
    for t in order:
        r = min(range(n_ranks), key=lambda k: (load[k], k))
        out[r].append(t)
        load[r] += t.cost
    return out


class Progress:
    """Rank-0 progress lines for records finished on any rank (point-to-point, no collectives).

    Other ranks send a small message per record and one at the end; rank 0 drains
    them between its own tasks and, once done, until every rank has ended. A line (records
    solved of those to solve, fraction done, time left: :func:`fe2.io.progress.progress_bar`) is
    printed for the first record, then at most every ``every_s`` seconds, and for the last one (on a
    terminal, a rich bar instead).
    """

    def __init__(self, comm: MPI.Comm, total: int, say: Callable[[str], None], every_s: float = 10.0) -> None:
        self.comm = comm
        self.total = total
        self.say = say
        self.done = 0
        self._ended = 0
        self._reqs: list[MPI.Request] = []
        self._bar = progress_bar(say, "records", max(total, 1), every_s=every_s)

    def _show(self, msg: tuple) -> None:
        self.done += 1
        size, real, case, rank, secs = msg
        self._bar.update(self.done, f"records solved {self.done}/{self.total} [{self._bar.eta(self.done)}]; "
                                    f"last: L/ℓ = {size:g}, realization {real}, {case} (rank {rank}, {secs:.2f} s)")

    def _drain(self) -> None:
        status = MPI.Status()
        while self.comm.iprobe(source=MPI.ANY_SOURCE, tag=_PROGRESS_TAG, status=status):
            kind, msg = self.comm.recv(source=status.Get_source(), tag=_PROGRESS_TAG)
            if kind == "end":
                self._ended += 1
            else:
                self._show(msg)

    def record(self, msg: tuple, collective: bool = False) -> None:
        if collective or self.comm.rank == 0:
            if self.comm.rank == 0:
                self._show(msg)
                self._drain()
            return
        self._reqs.append(self.comm.isend(("rec", msg), dest=0, tag=_PROGRESS_TAG))

    def finish(self) -> None:
        if self.comm.rank != 0:
            self._bar.close()
            self._reqs.append(self.comm.isend(("end", None), dest=0, tag=_PROGRESS_TAG))
            MPI.Request.waitall(self._reqs)
            return
        while self._ended < self.comm.size - 1:
            self._drain()
            if self._ended < self.comm.size - 1:
                time.sleep(0.02)  # sleep instead of a busy MPI wait: other ranks may share this core
        self._bar.close()


def idle_wait(comm: MPI.Comm, poll_s: float = 0.005) -> None:
    """Barrier that sleeps instead of spinning (MPI busy-polls inside blocking collectives)."""
    if comm.size == 1:
        return
    req = comm.Ibarrier()
    while not req.Test():
        time.sleep(poll_s)


def split_whole_comm(tasks: Sequence[Task], whole_min: float | None) -> tuple[list[Task], list[Task]]:
    """(whole, local): the tasks solved on the whole communicator (size >= ``whole_min``, in order of
    size, realization, geometry key) and the others (solved on ``COMM_SELF``, in their given order).
    """
    whole = [t for t in tasks if whole_min is not None and t.size >= whole_min]
    local = [t for t in tasks if not (whole_min is not None and t.size >= whole_min)]
    whole.sort(key=lambda t: (t.size, t.realization, t.geometry_key))
    return whole, local
