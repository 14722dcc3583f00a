"""Cost-aware redistribution of micro solves over ranks (behind the material contract).

The macro mesh is partitioned for the macro solve, not for the micro work: plastic
points take more micro Newton iterations than elastic ones, so the rank with the
plastic zone finishes last and the others wait at the next collective. This
wrapper keeps the owner-computes data layout (every rank owns the drivers and the
committed state of its quadrature points) but lends points for one evaluation:

1. every rank publishes the cost of each of its points measured at the previous
   evaluation (seconds; 1.0 for all points before the first one);
2. every rank computes the same plan: while the most loaded rank is above
   ``tolerance`` × the mean load, its most expensive point that still fits moves
   to the least loaded rank;
3. lent points travel with their driver, committed state and warm-start guess;
   the borrower solves them on its own ``COMM_SELF`` RVE and sends back flux,
   tangent and trial state, which the owner writes in place.

The answer at a point does not depend on which rank solves it (the same RVE, the
same algorithm, the same inputs), so results agree with the unbalanced run to
solver round-off — the tests check ``-n 1`` against ``-n 2`` with balancing on.
States travel through :meth:`~fe2.materials.state.BatchedState.take` /
:meth:`~fe2.materials.state.BatchedState.put` (an RVE's state is a BatchedState
too). :class:`BalancedMaterial` is itself a micro model: it declares what the
wrapped model declares and delegates each capability explicitly.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping

import numpy as np
from mpi4py import MPI

from fe2.errors import ConvergenceError, Fe2Error
from fe2.materials.contract import Block, MicroModel, MicroStatistics
from fe2.materials.state import BatchedState


def _take(guess: BatchedState | None, idx: np.ndarray) -> BatchedState | None:
    """The guess of points ``idx`` (a guess is optional: None stays None)."""
    return None if guess is None else guess.take(idx)


def plan_moves(costs: list[np.ndarray], tolerance: float = 1.05) -> list[tuple[int, int, int]]:
    """Moves (source rank, local point index, destination rank) that bring the largest rank load
    within ``tolerance`` × the mean (or as close as single points allow). Deterministic: every rank
    computes the same plan from the same all-gathered costs.
    """
    load = np.array([float(np.sum(c)) for c in costs])
    mean = load.mean()
    available = [list(np.argsort(c)[::-1]) for c in costs]  # most expensive first
    moves = []
    while True:
        src, dst = int(np.argmax(load)), int(np.argmin(load))
        if load[src] <= tolerance * mean or src == dst:
            break
        gap = load[src] - load[dst]
        pick = next((k for k in available[src] if costs[src][k] < gap), None)
        if pick is None:  # no single point narrows the gap
            break
        available[src].remove(pick)
        c = float(costs[src][pick])
        load[src] -= c
        load[dst] += c
        moves.append((src, int(pick), dst))
    return moves


class BalancedMaterial(MicroModel[BatchedState]):
    """A per-point micro model (e.g. :class:`~fe2.micro.nonlinear_rve.NonlinearRVEMaterial`) whose points
    are evaluated wherever the measured cost balances best (collective ``evaluate``).

    It declares the wrapped model's capabilities and delegates each of them (``point_fields``,
    ``commit``, ``statistics`` …); its statistics add the points lent.

    Args:
        material: evaluated point by point on every rank (its own ``COMM_SELF`` objects).
        comm: the macro communicator.
        tolerance: accepted max/mean load ratio before points are lent.

    Attributes:
        points_lent: total points solved away from their owner on this rank's behalf.
        last_imbalance: (max/mean planned load before, after) of the last evaluation.
    """

    def __init__(self, material: MicroModel, comm: MPI.Comm, tolerance: float = 1.05) -> None:
        self.material = material
        self.comm = comm
        self.tolerance = tolerance
        self._cost: np.ndarray | None = None
        self.points_lent = 0
        self.last_imbalance = (1.0, 1.0)
        # the declarations of the wrapped model
        self.kind, self.dim = material.kind, material.dim
        self.is_linear, self.has_history = material.is_linear, material.has_history
        self.uses_guess, self.writes_point_fields = material.uses_guess, material.writes_point_fields
        self.point_data = material.point_data

    # ------------------------------------------------------- delegated capabilities
    @property
    def driver_blocks(self) -> tuple[Block, ...]:
        return self.material.driver_blocks

    @property
    def flux_blocks(self) -> tuple[Block, ...]:
        return self.material.flux_blocks

    def initial_state(self, n_points: int, point_data: Mapping[str, np.ndarray] | None = None) -> BatchedState:
        if self.point_data:
            return self.material.initial_state(n_points, point_data)
        return self.material.initial_state(n_points)

    def constant_tangent(self) -> np.ndarray | None:
        return self.material.constant_tangent()

    def commit(self) -> None:
        self.material.commit()

    def rollback(self) -> None:
        self.material.rollback()

    def point_fields(self, state: BatchedState) -> dict[str, np.ndarray]:
        return self.material.point_fields(state)

    def write_point_fields(self, path, driver, state, point, time_value, append, vtk_path=None) -> None:
        self.material.write_point_fields(path, driver, state, point, time_value, append, vtk_path)

    def energy_increment(self, driver_n, driver, state_n, state):
        """The wrapped model's, on the owner (the audit of a step runs after it, without lending)."""
        return self.material.energy_increment(driver_n, driver, state_n, state)

    def statistics(self) -> MicroStatistics:
        """The wrapped model's counters, with the points this rank lent."""
        return dataclasses.replace(self.material.statistics(), points_lent=self.points_lent)

    def _evaluate_timed(self, driver: np.ndarray, state: BatchedState, guess: BatchedState | None
                        ) -> tuple[np.ndarray, np.ndarray, BatchedState, np.ndarray]:
        """Point-by-point evaluation with the cost of each point (seconds)."""
        n = driver.shape[0]
        m = self.material
        if n == 0:
            flux, tangent, trial = m.evaluate(driver, state, guess=guess)
            return flux, tangent, trial, np.zeros(0)
        flux = np.empty((n, m.driver_size))
        tangent = np.empty((n, m.driver_size, m.driver_size))
        trial = state.copy()
        cost = np.empty(n)
        for i in range(n):
            one = np.array([i])
            t0 = time.perf_counter()
            f, C, tr = m.evaluate(driver[one], state.take(one), guess=_take(guess, one))
            cost[i] = time.perf_counter() - t0
            flux[i], tangent[i] = f[0], C[0]
            trial.put(one, tr)
        return flux, tangent, trial, cost

    def evaluate(self, driver: np.ndarray, state: BatchedState, guess: BatchedState | None = None
                 ) -> tuple[np.ndarray, np.ndarray, BatchedState]:
        """Same contract as the wrapped material; collective over ``comm``."""
        comm = self.comm
        n = driver.shape[0]
        if comm.size == 1:
            flux, tangent, trial, self._cost = self._evaluate_timed(driver, state, guess)
            return flux, tangent, trial
        cost = self._cost if self._cost is not None and self._cost.size == n else np.ones(n)
        costs = comm.allgather(cost)
        moves = plan_moves(costs, self.tolerance)
        loads = np.array([c.sum() for c in costs])
        after = loads.copy()
        for src, k, dst in moves:
            after[src] -= costs[src][k]
            after[dst] += costs[src][k]
        self.last_imbalance = (float(loads.max() / loads.mean()), float(after.max() / after.mean()))
        lend: dict[int, list[int]] = {}  # destination rank -> my local indices lent there
        for src, k, dst in moves:
            if src == comm.rank:
                lend.setdefault(dst, []).append(k)
        lent_idx = np.array(sorted(k for ks in lend.values() for k in ks), dtype=np.int64)
        keep = np.setdiff1d(np.arange(n), lent_idx)
        # (local indices, drivers, committed state, guess) of the points lent to each rank
        outgoing: list[tuple[np.ndarray, np.ndarray, BatchedState, BatchedState | None] | None] = [None] * comm.size
        for dst, ks in lend.items():
            idx = np.array(ks, dtype=np.int64)
            outgoing[dst] = (idx, driver[idx], state.take(idx), _take(guess, idx))
        incoming = comm.alltoall(outgoing)

        flux = np.empty((n, self.material.driver_size))
        tangent = np.empty((n, self.material.driver_size, self.material.driver_size))
        new_cost = np.zeros(n)
        failures: list[str] = []  # a failed point must not stop this rank before the exchange below
        trial = state.copy()
        try:
            f, C, tr, c = self._evaluate_timed(driver[keep], state.take(keep), _take(guess, keep))
            flux[keep], tangent[keep], new_cost[keep] = f, C, c
            trial.put(keep, tr)
        except Fe2Error as err:  # any typed failure: reported on every rank after the exchange
            failures.append(str(err))
        # to each lender: (its indices, flux, tangent, trial state, cost) of its points, or the error message
        replies: list[tuple[np.ndarray, np.ndarray, np.ndarray, BatchedState, np.ndarray] | str | None] = (
            [None] * comm.size)
        for src, parcel in enumerate(incoming):
            if parcel is None:
                continue
            idx, d, st, gs = parcel
            try:
                replies[src] = (idx, *self._evaluate_timed(d, st, gs))
            except Fe2Error as err:
                replies[src] = str(err)
        for reply in comm.alltoall(replies):
            if reply is None:
                continue
            if isinstance(reply, str):
                failures.append(reply)
                continue
            idx, f, C, tr, c = reply
            flux[idx], tangent[idx], new_cost[idx] = f, C, c
            trial.put(idx, tr)
            self.points_lent += idx.size
        failures = [f for fs in comm.allgather(failures) for f in fs]  # every rank raises, or none
        if failures:
            raise ConvergenceError(failures[0])
        self._cost = new_cost
        return flux, tangent, trial
