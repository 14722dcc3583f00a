"""The solve sequence shared by the primal and mixed Darcy solvers: operator once, right-hand side,
solve and velocity recovery, audit — each phase timed."""

from __future__ import annotations

import time

from dolfinx import fem
from petsc4py import PETSc

from fe2.physics.darcy.audit import ConservationAudit


class DarcySolverBase:
    """Subclasses set ``self._A = None`` in ``__init__`` and implement :meth:`assemble_operator`,
    :meth:`_assemble_rhs`, :meth:`_solve_and_recover` (returns KSP iterations) and :meth:`audit`;
    they expose ``self.p`` (pressure [Pa]) and ``self.u`` (velocity [m/s])."""

    p: fem.Function
    u: fem.Function

    def assemble_operator(self) -> None:  # pragma: no cover - interface
        raise NotImplementedError

    def _assemble_rhs(self) -> PETSc.Vec:  # pragma: no cover - interface
        raise NotImplementedError

    def _solve_and_recover(self, b: PETSc.Vec) -> int:  # pragma: no cover - interface
        raise NotImplementedError

    def audit(self) -> ConservationAudit:  # pragma: no cover - interface
        raise NotImplementedError

    def solve(self) -> tuple[fem.Function, fem.Function, ConservationAudit, dict]:
        """(p, u, audit, timings [s] per phase 'assemble', 'solve', 'audit', plus 'ksp_iterations')."""
        timings: dict = {}
        t0 = time.perf_counter()
        if self._A is None:
            self.assemble_operator()
        b = self._assemble_rhs()
        timings["assemble"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        its = self._solve_and_recover(b)
        b.destroy()
        timings["solve"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        audit = self.audit()
        timings["audit"] = time.perf_counter() - t0
        timings["ksp_iterations"] = its
        return self.p, self.u, audit, timings
