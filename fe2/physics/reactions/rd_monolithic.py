"""Fully coupled implicit reaction–diffusion step: Newton (PETSc SNES) on the block system.

Semi-discrete system (P1, ``n`` nodes, ``s`` species, species ``a``):

    Mt dc_a/dt + A_a c_a = b_a + Mt R_a(c)

``Mt`` the mass matrix (consistent, or lumped by vertex quadrature), ``A_a = D_a K + Robin``
boundary mass, ``b_a`` the Robin/flux load, ``R(c)`` the reaction rates evaluated node by node
(the nodal vector of rates multiplied by ``Mt``: the same product approximation the operator-
splitting scheme integrates, so both converge in time to the same semi-discrete solution).
With lumped ``Mt`` every reaction term is purely nodal. Time stepping (``a0``, ``hist``):
backward Euler ``(c - c^n)/dt`` (1, ``-c^n``), BDF2 ``(3/2 c - 2 c^n + 1/2 c^{n-1})/dt``.

Unknowns are interleaved node-major (``row = node * s + species``), so a rank owns the rows of
its owned nodes and the layout is the dolfinx one with block size ``s``. Residual

    F(c) = (Mt ⊗ I_s) [(a0 c + hist)/dt - R(c)] + (⊕_a A_a) c - b,

Jacobian block ``(i, j)`` = ``Mt_ij (a0/dt I - dR/dc(c_j)) + diag_a(A_a,ij)`` with the analytic
Jacobian of :class:`CompiledNetwork` (ghost-node Jacobians come by a scatter). Dirichlet rows are
``c - g`` with unit Jacobian rows. Every conserved moiety ``w`` with ``w^T dR/dc = 0`` is kept by
each Newton update exactly (up to the linear solve), because ``(1 ⊗ w)^T`` annihilates the
reaction and, with no-flux boundaries, the diffusion part of the Jacobian.
"""

from __future__ import annotations

import numpy as np
from petsc4py import PETSc

from fe2.errors import ConvergenceError, SolverError
from fe2.solvers import configure_from_defaults

DEFAULT_SNES_OPTIONS = {
    "snes_type": "newtonls",
    "snes_linesearch_type": "basic",
    "snes_rtol": 1e-10,
    "snes_atol": 1e-14,
    "snes_stol": 1e-10,  # relative Newton step: quadratic convergence makes the error ~1e-20
    "snes_max_it": 25,
    "ksp_type": "preonly",
    "pc_type": "lu",
}


def _block_pattern(indptr: np.ndarray, indices: np.ndarray, s: int):
    """Scalar CSR of ``kron(P, ones(s, s))`` for the CSR pattern ``P`` and the gather index that
    reads its values from a block array of shape ``(nnz_blocks, s, s)``.
    """
    n = indptr.size - 1
    r_i = np.repeat(np.arange(n), s)
    r_a = np.tile(np.arange(s), n)
    row_len = np.diff(indptr)[r_i] * s
    new_indptr = np.concatenate([[0], np.cumsum(row_len)])
    row = np.repeat(np.arange(n * s), row_len)
    p = np.arange(new_indptr[-1]) - new_indptr[row]
    k = indptr[r_i[row]] + p // s
    b = p % s
    new_indices = indices[k] * s + b
    gather = (k * s + r_a[row]) * s + b
    it = PETSc.IntType
    return new_indptr.astype(it), new_indices.astype(it), gather


class MonolithicStepper:
    """Newton solver of one implicit step of the coupled system (collective on ``comm``).

    Args:
        comm: communicator of the mesh.
        index_map: dolfinx index map of the scalar P1 space (owned + ghost nodes).
        compiled: the compiled network (rates and analytic Jacobian).
        params: parameter overrides (scalars or per-owned-node arrays).
        mass: scalar mass matrix (PETSc AIJ, dolfinx layout).
        stiffness: per species, the scalar ``A_a`` (same pattern as ``mass``) or None (immobile).
        load: per species, owned part of ``b_a`` or None.
        dirichlet: per species, ``(owned node indices, value)`` pairs.
        prefix: PETSc options prefix of the SNES (its KSP/PC inherit it), one of
            :data:`fe2.solvers.PREFIXES` (``fe2_rd_mono_``).
        options: SNES/KSP/PC defaults over :data:`DEFAULT_SNES_OPTIONS`, set under ``prefix`` only
            where the database holds no value (:func:`fe2.solvers.configure_from_defaults`).
    """

    def __init__(self, comm, index_map, compiled, params, mass: PETSc.Mat, stiffness: list,
                 load: list, dirichlet: list[list[tuple[np.ndarray, float]]], prefix: str,
                 options: dict | None = None):
        self.comm = comm
        self.cn = compiled
        self.params = params
        self.s = s = compiled.n_species
        self.im = index_map
        self.n = n = index_map.size_local
        N = index_map.size_global
        indptr, indices, mvals = mass.getValuesCSR()
        self._m = np.asarray(mvals, dtype=float)
        kdiag = np.zeros((self._m.size, s))
        for a, K in enumerate(stiffness):
            if K is None:
                continue
            ki, kj, kv = K.getValuesCSR()
            if not (np.array_equal(ki, indptr) and np.array_equal(kj, indices)):
                raise SolverError("monolithic: stiffness and mass matrices have different sparsity")
            kdiag[:, a] = kv
        self._kdiag = kdiag
        # the columns of owned rows include nodes that are neither owned nor ghosts here (rows
        # receive off-process cell contributions), so their reaction Jacobians come by a PETSc
        # scatter from the owners, set up once
        cols, self._col_pos = np.unique(np.asarray(indices, dtype=np.int64), return_inverse=True)
        ss = s * s
        self._jglob = PETSc.Vec().createMPI((n * ss, N * ss), comm=comm)
        self._jcols = PETSc.Vec().createSeq(cols.size * ss, comm=PETSc.COMM_SELF)
        is_from = PETSc.IS().createBlock(ss, cols.astype(PETSc.IntType), comm=PETSc.COMM_SELF)
        self._jscatter = PETSc.Scatter().create(self._jglob, is_from, self._jcols, None)
        is_from.destroy()
        self._bi, self._bj, self._gather = _block_pattern(np.asarray(indptr), np.asarray(indices), s)
        size = ((n * s, N * s), (n * s, N * s))
        eye = np.eye(s)
        self.Mb = self._aij(size, (self._m[:, None, None] * eye).ravel())
        Ablk = np.zeros((self._m.size, s, s))
        Ablk[:, np.arange(s), np.arange(s)] = kdiag
        self.Ab = self._aij(size, Ablk.ravel())
        self.J = self._aij(size, np.zeros(self._m.size * s * s))
        # loads and Dirichlet rows (local row = node * s + species)
        b = np.zeros((n, s))
        for a, ba in enumerate(load):
            if ba is not None:
                b[:, a] = ba
        rows, vals = [], []
        for a, pairs in enumerate(dirichlet):
            for nodes, g in pairs:
                rows.append(np.asarray(nodes, dtype=np.int64) * s + a)
                vals.append(np.full(len(nodes), float(g)))
        self._dir_rows = np.concatenate(rows) if rows else np.zeros(0, np.int64)
        self._dir_vals = np.concatenate(vals) if vals else np.zeros(0)
        b.ravel()[self._dir_rows] = 0.0
        # positions of the Dirichlet rows' entries and diagonals in the scalar CSR data
        r0 = index_map.local_range[0]
        row_of = np.repeat(np.arange(n * s), np.diff(self._bi))
        on_dir = np.isin(row_of, self._dir_rows)
        self._dir_entries = np.flatnonzero(on_dir)
        diag_col = (r0 * s + row_of)
        self._dir_diag = np.flatnonzero(on_dir & (self._bj == diag_col))
        self.b = self.Mb.createVecs()[0]
        self.b.array[:] = b.ravel()
        self._x, self._F = self.Mb.createVecs()
        self._y = self.Mb.createVecs()[0]
        # SNES
        self.snes = PETSc.SNES().create(comm)
        self.snes.setOptionsPrefix(prefix)
        self.snes.setFunction(self._residual, self._F)
        self.snes.setJacobian(self._jacobian, self.J)
        # ``options`` over DEFAULT_SNES_OPTIONS are defaults: what the database already holds under
        # the prefix (the user's command line / [petsc] table) wins and stays
        with configure_from_defaults(prefix, {**DEFAULT_SNES_OPTIONS, **(options or {})}):
            self.snes.setFromOptions()
        self._a0 = 1.0
        self._dt = 1.0
        self._hist = np.zeros(n * s)

    def _aij(self, size, block_values: np.ndarray) -> PETSc.Mat:
        A = PETSc.Mat().createAIJ(size, csr=(self._bi, self._bj, block_values[self._gather]),
                                  comm=self.comm)
        A.setOption(PETSc.Mat.Option.NEW_NONZERO_ALLOCATION_ERR, True)
        A.assemble()
        return A

    # -- SNES callbacks ---------------------------------------------------------------------
    def _residual(self, snes, x: PETSc.Vec, f: PETSc.Vec) -> None:
        c = x.array_r.reshape(self.n, self.s)
        R = self.cn.rhs(c, self.params) if self.n else np.zeros((0, self.s))
        self._y.array[:] = (self._a0 * c.ravel() + self._hist) / self._dt - R.ravel()
        self.Mb.mult(self._y, f)
        self.Ab.multAdd(x, f, f)
        f.axpy(-1.0, self.b)
        fa = f.array
        fa[self._dir_rows] = x.array_r[self._dir_rows] - self._dir_vals

    def _jacobian(self, snes, x: PETSc.Vec, J: PETSc.Mat, P: PETSc.Mat) -> None:
        s = self.s
        c = x.array_r.reshape(self.n, s)
        jn = self.cn.jacobian(c, self.params) if self.n else np.zeros((0, s, s))
        self._jglob.array[:] = jn.ravel()
        self._jscatter.scatter(self._jglob, self._jcols, PETSc.InsertMode.INSERT_VALUES,
                               PETSc.ScatterMode.FORWARD)
        jall = self._jcols.array_r.reshape(-1, s, s)[self._col_pos]
        blk = self._m[:, None, None] * (self._a0 / self._dt * np.eye(s) - jall)
        blk[:, np.arange(s), np.arange(s)] += self._kdiag
        data = blk.ravel()[self._gather]
        data[self._dir_entries] = 0.0
        data[self._dir_diag] = 1.0
        P.setValuesCSR(self._bi, self._bj, data)
        P.assemble()
        if J != P:
            J.assemble()

    # -- one step ---------------------------------------------------------------------------
    def step(self, c: np.ndarray, dt: float, c_prev: np.ndarray | None = None) -> tuple[np.ndarray, int]:
        """One backward-Euler step (or BDF2 when ``c_prev``, the state one step before ``c``, is
        given) from owned nodal values ``c`` of shape ``(n_owned, s)``; returns the new values and
        the number of Newton iterations. Raises :class:`ConvergenceError` if SNES fails.
        """
        cn = np.ascontiguousarray(c, dtype=float).ravel()
        if c_prev is None:
            self._a0, self._hist = 1.0, -cn
        else:
            self._a0, self._hist = 1.5, -2.0 * cn + 0.5 * np.ascontiguousarray(c_prev, float).ravel()
        self._dt = float(dt)
        self._x.array[:] = cn
        self._x.array[self._dir_rows] = self._dir_vals
        self.snes.solve(None, self._x)
        reason = self.snes.getConvergedReason()
        if reason <= 0:
            raise ConvergenceError(f"monolithic reaction–diffusion step dt = {dt:g}: Newton did not "
                                   f"converge (SNES reason {reason})")
        return self._x.array_r.reshape(self.n, self.s).copy(), int(self.snes.getIterationNumber())

    def destroy(self) -> None:
        for name in ("snes", "J", "Mb", "Ab", "b", "_x", "_F", "_y", "_jscatter", "_jglob", "_jcols"):
            obj = getattr(self, name, None)
            if obj is not None:
                obj.destroy()
                setattr(self, name, None)
