"""A linear RVE as a micro model: the micro side of FE² (and of the phase-field link), behind the contract.

A linear RVE is linear: its apparent tensor under one boundary condition is
computed once (periodic conditions by default) and is then the answer at every
macro quadrature point — no micro solve per point. It declares ``is_linear``
and answers ``constant_tangent()`` with that tensor (Mandel for elasticity,
the plain matrix for conductivity-type physics; the contract ``kind`` is the
physics', :mod:`fe2.micro.physics`). Nonlinear RVEs (history per point,
commit/rollback) use the same contract
(:class:`~fe2.micro.nonlinear_rve.NonlinearRVEMaterial`).
"""

from __future__ import annotations

import time

import numpy as np

from fe2.materials.contract import MicroModel, MicroStatistics
from fe2.materials.energy import EnergyIncrement, linear_elastic_increment
from fe2.materials.state import BatchedState, EmptyState
from fe2.micro.results import BCResult
from fe2.micro.rve_problem import RVEProblem


class LinearRVEMaterial(MicroModel):
    """Homogenized linear response of an RVE: flux = C_hom · driver at every point.

    Args:
        problem: the RVE problem (any communicator; typically ``MPI.COMM_SELF`` on
            every rank, which computes the same C_hom everywhere without communication).
        bc: the boundary condition whose apparent tensor is used ('periodic' by default).

    Attributes:
        c_mandel: (m, m) apparent tensor, Mandel notation (= :meth:`constant_tangent`).
        result: the :class:`~fe2.micro.results.BCResult` of the RVE solve (load cases, checks).
        hill_mandel: the Hill–Mandel residual of the RVE solve.
        micro_solves: number of RVE solves performed (one per BC, never per point).
    """

    is_linear = True

    def __init__(self, problem: RVEProblem, bc: str = "periodic") -> None:
        t0 = time.perf_counter()
        result, fields = problem.solve(bc)
        for f in fields:
            f.destroy()
        self.result: BCResult = result
        self.physics = problem.physics
        self.kind = problem.physics.kind
        self.c_mandel = np.array(result.effective_mandel)
        self.hill_mandel = result.hill_mandel_max
        self.bc = bc
        self.dim = problem.rve.dim
        self.micro_solves = 1
        self.micro_time_s = time.perf_counter() - t0

    def constant_tangent(self) -> np.ndarray:
        """C_hom, the tangent of every point."""
        return self.c_mandel

    def statistics(self) -> MicroStatistics:
        """One RVE solve; no per-point solve, so no per-point Hill–Mandel residual (``hill_mandel``
        is the RVE solve's own).
        """
        return MicroStatistics(solves=self.micro_solves, time_s=self.micro_time_s)

    def energy_increment(self, driver_n: np.ndarray, driver: np.ndarray, state_n: BatchedState,
                         state: BatchedState) -> EnergyIncrement | None:
        """Elasticity: ψ = ½ E·C_hom·E (= ⟨½ ε:C:ε⟩ by Hill–Mandel), no dissipation; other physics: None."""
        if self.kind != "small_strain":
            return None
        return linear_elastic_increment(self.c_mandel, driver_n, driver)

    def evaluate(self, driver: np.ndarray, state: BatchedState, guess: BatchedState | None = None):
        """Flux (n, m) = driver @ C_homᵀ, tangent (n, m, m) = C_hom; no state."""
        flux = driver @ self.c_mandel.T
        tangent = np.broadcast_to(self.c_mandel, (driver.shape[0], *self.c_mandel.shape))
        return flux, tangent, EmptyState()
