"""The solve sequence shared by the primal and mixed Darcy solvers: operator once, right-hand side,
solve and velocity recovery, audit — each phase timed.
"""

from __future__ import annotations

import time

from dolfinx import fem
from dolfinx.fem import petsc as fem_petsc
from mpi4py import MPI
from petsc4py import PETSc

from fe2.physics.darcy.audit import ConservationAudit
from fe2.solvers import destroy_petsc_attributes


class DarcySolverBase:
    """Subclasses set ``self._A = None`` (the operator matrix, created at the first assembly and
    reused after), ``self._operator_current = False``, ``self.inv_dt`` (Constant, 1/Δt) and ``self.p_prev`` (the
    pressure of the previous time level) in ``__init__`` and implement :meth:`assemble_operator`,
    :meth:`_assemble_rhs`, :meth:`_solve_and_recover` (returns KSP iterations) and :meth:`audit`;
    they expose ``self.p`` (pressure [Pa]) and ``self.u`` (velocity [m/s]).
    """

    comm: MPI.Comm
    p: fem.Function
    u: fem.Function
    a: fem.Form
    ksp: PETSc.KSP
    _A: PETSc.Mat | None
    _operator_current: bool

    def assemble_operator(self) -> None:  # pragma: no cover - interface
        raise NotImplementedError

    def _assemble_rhs(self) -> PETSc.Vec:  # pragma: no cover - interface
        raise NotImplementedError

    def _solve_and_recover(self, b: PETSc.Vec) -> int:  # pragma: no cover - interface
        raise NotImplementedError

    def audit(self) -> ConservationAudit:  # pragma: no cover - interface
        raise NotImplementedError

    inv_dt: fem.Constant
    p_prev: fem.Function

    def set_time_step(self, dt: float | None) -> None:
        """Backward-Euler step Δt [s] of S ∂p/∂t + ∇·u = s(p) (None: the steady problem); the
        operator is re-assembled at the next solve when Δt changes.
        """
        inv = 0.0 if dt is None else 1.0 / float(dt)
        if float(self.inv_dt.value) != inv:
            self.inv_dt.value = inv
            self._operator_current = False

    def _assemble_operator_matrix(self, bcs) -> None:
        """Assemble ``self.a`` into ``self._A`` (allocated once: the sparsity never changes) and hand it
        to the KSP, which refactorizes at its next solve.
        """
        if self._A is None:
            self._A = fem_petsc.create_matrix(self.a)
        self._A.zeroEntries()
        fem_petsc.assemble_matrix(self._A, self.a, bcs=bcs)
        self._A.assemble()
        self.ksp.setOperators(self._A)
        self._operator_current = True

    def destroy(self) -> None:
        """Release the KSPs and operator matrices now (collective; see :mod:`fe2.solvers.lifetime`)."""
        destroy_petsc_attributes(self, self.comm)

    def solve(self) -> tuple[fem.Function, fem.Function, ConservationAudit, dict]:
        """(p, u, audit, timings [s] per phase 'assemble', 'solve', 'audit', plus 'ksp_iterations')."""
        timings: dict = {}
        t0 = time.perf_counter()
        if not self._operator_current:
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
