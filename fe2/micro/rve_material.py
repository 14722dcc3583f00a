"""An RVE as a material: the micro side of FE², behind the material contract.

A linear RVE is detected as such: its effective stiffness is computed once
(periodic conditions by default) and is then the answer at every macro
quadrature point — no micro solve per point. Nonlinear RVEs (history per
point, commit/rollback) use the same contract.
"""

from __future__ import annotations

import time

import numpy as np

from fe2.micro.rve_problem import RVEProblem


class LinearRVEMaterial:
    """Homogenized linear elastic response of an RVE: σ = C_hom ε at every point.

    Args:
        problem: the RVE problem (any communicator; typically ``MPI.COMM_SELF`` on
            every rank, which computes the same C_hom everywhere without communication).
        bc: the boundary condition whose apparent tensor is used ('periodic' by default).

    Attributes:
        c_mandel: (m, m) effective stiffness, Mandel notation.
        hill_mandel: the Hill–Mandel residual of the RVE solve.
        micro_solves: number of RVE solves performed (one per BC, never per point).
    """

    is_linear = True
    kind = "small_strain"

    def __init__(self, problem: RVEProblem, bc: str = "periodic") -> None:
        t0 = time.perf_counter()
        result, fields = problem.solve(bc)
        for f in fields:
            f.destroy()
        self.c_mandel = np.array(result.effective_mandel)
        self.hill_mandel = result.hill_mandel_max
        self.bc = bc
        self.dim = problem.rve.dim
        self.driver_size = self.c_mandel.shape[0]
        self.micro_solves = 1
        self.micro_time_s = time.perf_counter() - t0

    def initial_state(self, n_points: int) -> None:
        """A linear RVE carries no history."""
        return None

    def evaluate(self, driver: np.ndarray, state=None):
        """Stress (n, m) = driver @ C_homᵀ, tangent (n, m, m) = C_hom; state unchanged."""
        flux = driver @ self.c_mandel.T
        tangent = np.broadcast_to(self.c_mandel, (driver.shape[0],) + self.c_mandel.shape)
        return flux, tangent, state
