"""The own Newton of the periodic phase field: PᵀF(Pû) = 0 with a lagged-factorization GMRES.

Periodic boundaries on a box mesh whose opposite faces match node for node (a box mesh from
``dolfinx.mesh.create_rectangle/create_box`` does): u = P û with the prolongation of
:mod:`fe2.micro.constraints` (corner and edge chains closed, no gauge: a concentration, unlike an
RVE fluctuation, is not defined up to a constant). The reduced Jacobian PᵀJP is a
:class:`fe2.solvers.ConstrainedSystem`, the iteration runs on :func:`fe2.solvers.newton_loop`,
the KSP reads its options under the model's prefix (``fe2_ch_`` / ``fe2_ac_``).
"""

from __future__ import annotations

import numpy as np
import ufl
from dolfinx import fem
from dolfinx.fem import petsc as fem_petsc
from mpi4py import MPI
from petsc4py import PETSc

from fe2._compat import create_petsc_vector
from fe2.micro import constraints
from fe2.solvers import ConstrainedSystem, create_ksp, newton_loop

#: defaults of the periodic Newton's KSP: GMRES on PᵀJP, preconditioned by a (lagged) MUMPS LU
KSP_DEFAULTS = {"ksp_type": "gmres", "ksp_rtol": 1e-12, "ksp_atol": 1e-300, "ksp_max_it": 60,
                "ksp_gmres_restart": 60, "pc_type": "lu", "pc_factor_mat_solver_type": "mumps"}


class PeriodicNewton:
    """Newton for the residual form ``F`` of ``u`` under periodic constraints ``u = P û``.

    Args:
        F: the residual form (UFL) of the state ``u``; compiled here with its Jacobian, once.
        u: the state (its function space is the constrained one; its mesh a periodic box).
        prefix: options prefix of the KSP, one of :data:`fe2.solvers.PREFIXES`.
        rtol, atol, max_it: stop when |PᵀF| <= max(atol, rtol |PᵀF⁰|), at most ``max_it`` increments.
        axes: the periodic directions (default: all); faces normal to the others are boundaries.
        held: optional callable ``x (gdim, n) -> bool (n,)`` marking nodes whose value is held
            (Dirichlet data = the value they have when a step starts; P has no column there, so
            every Newton increment is zero on them). A held node on a periodic face is held on
            both sides (its data must be periodic).

    Attributes:
        factorizations: MUMPS factorizations so far (the lagged LU is refreshed only when needed).
    """

    #: refresh the lagged factorization when GMRES needs more iterations than this
    LAG_MAX_KSP_ITS = 6

    def __init__(self, F, u: fem.Function, prefix: str, rtol: float, atol: float, max_it: int, *,
                 axes: tuple[int, ...] | None = None, held=None) -> None:
        self.u = u
        V = u.function_space
        self.comm = comm = V.mesh.comm
        self._tol = (rtol, atol, max_it)
        self.P, self._held = periodic_prolongation(V, axes=axes, held=held)
        self._F_form = fem.form(F)
        self._J_form = fem.form(ufl.derivative(F, u))
        self._J = fem_petsc.assemble_matrix(self._J_form)
        self._J.assemble()
        self._sys = ConstrainedSystem(self._J, self.P)  # PᵀJP, refilled in place by update()
        self._Jr = self._sys.reduced
        self._b = create_petsc_vector(V)
        self._dx_full = create_petsc_vector(V)
        self._xr, self._br = self._sys.reduced_vectors()
        # Newton–Krylov with a lagged factorization: GMRES on the current Jacobian, preconditioned by
        # the MUMPS LU of an older one (self._Jp), refreshed only when GMRES needs more than
        # LAG_MAX_KSP_ITS iterations. Consecutive Newton iterates and time steps change the Jacobian
        # little, so most iterations cost a few back-substitutions instead of a factorization; the
        # linear solves stay accurate (rtol 1e-12), so Newton keeps its quadratic convergence.
        self._Jp = self._Jr.duplicate(copy=True)
        self.ksp = create_ksp(comm, prefix, KSP_DEFAULTS)
        self.ksp.setOperators(self._Jr, self._Jp)
        self._refactor = True  # factorize at the first solve
        self._restored = False  # a checkpoint's lagged matrix is in _Jp: factorize it, do not copy Jr
        self.factorizations = 0

    def residual(self) -> float:
        """|PᵀF(u)| at the current state (collective)."""
        with self._b.localForm() as loc:
            loc.set(0.0)
        fem_petsc.assemble_vector(self._b, self._F_form)
        self._b.ghostUpdate(addv=PETSc.InsertMode.ADD, mode=PETSc.ScatterMode.REVERSE)
        self._sys.restrict(self._b, self._br)
        return self._br.norm()

    def _step(self) -> bool:
        """Jacobian at the current iterate, PᵀJP, lagged-LU GMRES, u ← u − P x̂; False: the solve failed."""
        self._J.zeroEntries()
        fem_petsc.assemble_matrix(self._J, self._J_form)
        self._J.assemble()
        self._sys.update()
        if not self._solve_lagged():
            return False
        self._sys.expand(self._xr, self._dx_full, ghosts=False)  # axpy acts on owned entries only
        self.u.x.petsc_vec.axpy(-1.0, self._dx_full)
        self.u.x.scatter_forward()
        return True

    def solve(self) -> tuple[bool, int]:
        """Newton from the current state of ``u`` (fe2.solvers.newton_loop); ``(converged, increments)``."""
        rtol, atol, max_it = self._tol
        report = newton_loop(lambda it: self.residual(), lambda it: self._step(),
                             lambda r, r0: r <= max(atol, rtol * r0), max_it, comm=self.comm)
        return report.converged, report.iterations

    def _solve_lagged(self) -> bool:
        """Solve Jr x = br with the lagged LU as preconditioner.

        A failed or slow solve schedules a refactorization (a failed one is retried at once with
        the fresh factorization).
        """
        pc = self.ksp.getPC()
        fresh = self._refactor
        if self._restored and not fresh:  # the lagged matrix of a checkpoint: factorize it as it is
            self.ksp.setOperators(self._Jr, self._Jp)
            pc.setReusePreconditioner(False)
            self.factorizations += 1
            self._restored = False
        elif fresh:
            self._Jr.copy(self._Jp, structure=PETSc.Mat.Structure.SAME_NONZERO_PATTERN)
            self.ksp.setOperators(self._Jr, self._Jp)
            pc.setReusePreconditioner(False)
            self.factorizations += 1
            self._refactor = False
        else:
            pc.setReusePreconditioner(True)
        self.ksp.solve(self._br, self._xr)
        ok = self.ksp.getConvergedReason() > 0
        if not ok and not fresh:
            self._refactor = True
            return self._solve_lagged()
        if ok and self.ksp.getIterationNumber() > self.LAG_MAX_KSP_ITS:
            self._refactor = True  # good answer, weak preconditioner: refresh it for the next solve
        return ok

    # ---- restart: the lagged preconditioner is part of the state ------------------------------
    def lag_state(self) -> tuple[np.ndarray, bool]:
        """This rank's values of the lagged matrix (CSR order) and whether a refresh is due.

        A resumed run that factorizes this matrix again takes the same GMRES iterates as the run
        that wrote the checkpoint (MUMPS factorizes the same matrix the same way on the same ranks).
        """
        _, _, values = self._Jp.getValuesCSR()
        return np.array(values), bool(self._refactor or self.factorizations == 0)

    def restore_lag(self, values: np.ndarray, refactor: bool) -> None:
        """Put a checkpoint's lagged matrix back (same mesh and ranks: same sparsity)."""
        indptr, indices, old = self._Jp.getValuesCSR()
        if np.shape(values) != np.shape(old):
            raise ValueError("lagged matrix of the checkpoint does not fit this mesh/partition")
        self._Jp.setValuesCSR(indptr, indices, values)
        self._Jp.assemble()
        self._refactor = bool(refactor)
        self._restored = not self._refactor

    def make_periodic(self, u: fem.Function) -> None:
        """u ← P (PᵀP)⁻¹ Pᵀ u: the mean over each group of periodically identified nodes (held nodes keep
        their values).
        """
        make_periodic(self.P, self._held, u)

    def destroy(self) -> None:
        """Release the KSP, the matrices and vectors (collective)."""
        self._sys.destroy()  # the reduced operator PᵀJP
        for obj in (self.ksp, self._J, self._Jp, self.P, self._b, self._dx_full, self._br, self._xr):
            obj.destroy()


def periodic_prolongation(V: fem.FunctionSpace, *, axes: tuple[int, ...] | None = None,
                          held=None) -> tuple[PETSc.Mat, np.ndarray]:
    """The prolongation P (full → reduced) of the periodic box ``V`` lives on, and the held-node mask.

    ``axes``: the periodic directions (default: all); ``held``: optional callable ``x (gdim, n) -> bool (n,)``
    marking owned nodes that P has no column for (held values). No gauge: a concentration, unlike an
    RVE fluctuation, is not defined up to a constant. Collective.
    """
    comm = V.mesh.comm
    gdim = V.mesh.geometry.dim
    n_nodes = V.dofmap.index_map.size_local
    bs = V.dofmap.index_map_bs
    x = V.tabulate_dof_coordinates()[:n_nodes, :gdim]
    lo = np.array([comm.allreduce(float(x[:, a].min()) if n_nodes else np.inf, op=MPI.MIN)
                   for a in range(gdim)])
    hi = np.array([comm.allreduce(float(x[:, a].max()) if n_nodes else -np.inf, op=MPI.MAX)
                   for a in range(gdim)])
    held_mask = (np.zeros(n_nodes, dtype=bool) if held is None
                 else np.asarray(held(x.T), dtype=bool).reshape(n_nodes))
    nm = constraints.periodic_node_map(comm, x, lo, hi, gauge=False, axes=axes, removed=held_mask)
    return constraints.prolongation(comm, nm, n_nodes, bs), held_mask


def make_periodic(P: PETSc.Mat, held: np.ndarray, u: fem.Function) -> None:
    """u ← P (PᵀP)⁻¹ Pᵀ u: the mean over each group of periodically identified nodes; the nodes of the
    ``held`` mask keep their values. Collective.
    """
    bs = u.function_space.dofmap.index_map_bs
    held_dofs = (np.flatnonzero(held)[:, None] * bs + np.arange(bs)[None, :]).ravel()
    held_values = u.x.array[held_dofs].copy()
    ones, uh = P.createVecLeft(), P.createVecRight()
    counts = uh.duplicate()
    ones.set(1.0)
    P.multTranspose(ones, counts)
    P.multTranspose(u.x.petsc_vec, uh)
    uh.pointwiseDivide(uh, counts)
    P.mult(uh, u.x.petsc_vec)
    u.x.array[held_dofs] = held_values
    u.x.scatter_forward()
    for v in (ones, counts, uh):
        v.destroy()
