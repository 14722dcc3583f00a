"""A nonlinear RVE as a material: one micro Newton per macro point, history per micro point.

For a macro driver E — Mandel strain, or the deformation gradient F̄ at finite
strain (:mod:`fe2.kinematics`; written below for small strain, with ε → ∇ and
σ → P at finite strain) — the fluctuation w (periodic or zero on ∂Y)
solves the micro equilibrium ``Pᵀ ∫ σ(E + ε(w)) · ε(v) dx = 0`` with the phase
laws (any small-strain material of :mod:`fe2.materials.contract`, e.g. J2
plasticity) evaluated at the micro quadrature points from their committed
history. Then

    σ̄ = (1/|Y|) Σ_p vol_p σ_p                                   (pores: zero stress)
    C̄ = ⟨C_alg⟩ − (1/|Y|) (PᵀG)ᵀ (PᵀKP)⁻¹ (PᵀG),  G_j = ∫ (C_alg e_j) · ε(v) dx

the consistent macro tangent by static condensation, reusing the factorization
of the converged micro tangent for the m extra solves. Every micro solve checks
Hill–Mandel: |⟨σ·ε⟩ − σ̄·E| / |σ̄·E|.

One object serves all macro points of a rank: forms are compiled, matrices,
the prolongation P (a :class:`fe2.solvers.ConstrainedSystem`) and the KSP
(options prefix ``fe2_rve_``) created once; only the state arrays are per
point. The micro Newton is :func:`fe2.solvers.newton_loop`.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping
from dataclasses import dataclass

import basix.ufl
import numpy as np
import ufl
from dolfinx import fem
from dolfinx.fem import petsc as fem_petsc
from petsc4py import PETSc

from fe2._compat import create_petsc_vector
from fe2.errors import ConfigError, ConvergenceError, MaterialError, SolverError
from fe2.geometry.base import RVEMesh
from fe2.kinematics import Kinematics
from fe2.materials.contract import MicroModel, MicroStatistics
from fe2.materials.energy import EnergyIncrement
from fe2.materials.state import BatchedState
from fe2.micro import constraints
from fe2.micro.linear_solver import LinearSolverOptions
from fe2.quadrature import QuadratureFields
from fe2.solvers import ConstrainedSystem, destroy_petsc_attributes, newton_loop, solve_checked


@dataclass(frozen=True)
class MicroNewtonOptions:
    """Micro Newton: converged when ‖Pᵀr‖ <= tol · f, f = max_p |σ_p| · |Y|^((d−1)/d).

    f is a force (the largest micro stress times a face area of the cell), so the
    criterion is fixed and independent of the starting point: a warm start (the
    fluctuation of the previous macro iteration) saves iterations without changing
    the accuracy of the answer. 1e-11 is ~100x above the round-off floor of the
    residual assembly on the RVEs used here and below the 1e-10·‖r₀‖ of a cold start.
    """

    tol: float = 1e-11
    max_it: int = 30


@dataclasses.dataclass
class RVEState(BatchedState):
    """History of every macro point's RVE: per phase a batched law state (macro-point-major: each macro
    point owns a contiguous block of micro points), plus the converged fluctuation dofs (warm start),
    shape (n_macro, n_w). The batch of this state is the macro points.
    """

    phase_states: dict[str, BatchedState]
    fluctuation: np.ndarray

    @property
    def n_points(self) -> int:
        return int(self.fluctuation.shape[0])

    def copy(self) -> RVEState:
        return RVEState({ph: st.copy() for ph, st in self.phase_states.items()}, np.array(self.fluctuation))

    def _rows(self, st: BatchedState, idx: np.ndarray) -> np.ndarray:
        """Law-state rows of macro points ``idx``: each macro point owns a contiguous block."""
        n_macro = self.fluctuation.shape[0]
        k = (st.n_points or 0) // max(n_macro, 1)
        return (np.asarray(idx)[:, None] * k + np.arange(k)[None, :]).ravel()

    @staticmethod
    def _indices(points: np.ndarray) -> np.ndarray:
        p = np.asarray(points)
        return np.flatnonzero(p) if p.dtype == bool else p

    def take(self, points: np.ndarray) -> RVEState:
        """The history of macro points ``points`` (indices or mask), as an RVEState of those points."""
        idx = self._indices(points)
        return RVEState({ph: st.take(self._rows(st, idx)) for ph, st in self.phase_states.items()},
                        np.array(self.fluctuation[idx]))

    def put(self, points: np.ndarray, other: RVEState) -> None:
        """Write ``other`` (an RVEState of len(points) macro points) into macro points ``points`` in place."""
        idx = self._indices(points)
        for ph, st in self.phase_states.items():
            st.put(self._rows(st, idx), other.phase_states[ph])
        self.fluctuation[idx] = other.fluctuation

    def to_arrays(self) -> dict[str, np.ndarray]:
        out = {"fluctuation": np.array(self.fluctuation)}
        for ph, st in self.phase_states.items():
            for k, v in st.to_arrays().items():
                out[f"{ph}.{k}"] = v
        return out

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray]) -> RVEState:
        raise MaterialError("an RVE state is restored from a template of its phases: use state.restored(arrays)")

    def restored(self, arrays: Mapping[str, np.ndarray]) -> RVEState:
        phases = {}
        for ph, st in self.phase_states.items():
            sub = {k.split(".", 1)[1]: v for k, v in arrays.items() if k.startswith(ph + ".")}
            phases[ph] = st.restored(sub) if sub else st.copy()
        return RVEState(phases, np.array(arrays["fluctuation"]))

    def allclose(self, other: BatchedState, rtol: float = 0.0, atol: float = 0.0) -> bool:
        if type(other) is not RVEState or set(other.phase_states) != set(self.phase_states):
            return False
        return np.allclose(self.fluctuation, other.fluctuation, rtol=rtol, atol=atol) and all(
            st.allclose(other.phase_states[ph], rtol, atol) for ph, st in self.phase_states.items())


class NonlinearRVEMaterial(MicroModel[RVEState]):
    """RVE with nonlinear phases behind the micro–macro contract (small or finite strain, from the laws' kind).

    Args:
        rve: the RVE mesh (typically on ``MPI.COMM_SELF``: each rank solves its own points).
        laws: phase name -> law, all small strain (driver Mandel ε, size 3/6) or all finite
            strain (driver F row-major, size 4/9).
        bc: 'periodic' or 'kubc' fluctuation condition.
        degree: Lagrange degree of the fluctuation (1 or 2).

    Attributes (statistics, reset by :meth:`reset_stats`; :meth:`statistics` returns them):
        micro_solves, micro_iterations, micro_time_s, hill_mandel_max, factorizations,
        factorizations_reused.
    """

    has_history = True
    #: :meth:`evaluate` takes ``guess=`` (the macro solver passes the trial state of its previous iteration)
    uses_guess = True
    writes_point_fields = True

    def __init__(
        self,
        rve: RVEMesh,
        laws: Mapping[str, MicroModel],
        *,
        bc: str = "periodic",
        degree: int = 1,
        newton: MicroNewtonOptions | None = None,
        solver: LinearSolverOptions | None = None,
    ) -> None:
        if bc not in ("periodic", "kubc"):
            raise ConfigError(f"nonlinear RVEs take 'periodic' or 'kubc' conditions, got {bc!r}")
        missing = sorted(set(rve.phases) - set(laws))
        if missing:
            raise ConfigError(f"no law given for RVE phase(s) {missing}")
        self.rve, self.laws, self.bc = rve, dict(laws), bc
        self.newton = newton or MicroNewtonOptions()
        msh = rve.mesh
        self.comm = msh.comm
        d = rve.dim
        not_models = sorted(name for name in rve.phases if not isinstance(self.laws[name], MicroModel))
        if not_models:
            raise ConfigError(f"the laws of RVE phase(s) {not_models} are not fe2.materials.MicroModel instances")
        kinds = {self.laws[name].kind for name in rve.phases}
        if len(kinds) != 1:
            raise ConfigError(f"RVE phases mix kinematics {sorted(kinds)}: all small strain or all finite strain")
        self.kind = kinds.pop()
        self.kinematics = Kinematics(self.kind, d)
        self.dim, self.m = d, self.kinematics.size
        for name in rve.phases:
            if self.laws[name].driver_size != self.m:
                raise ConfigError(f"law of phase {name!r} has driver size {self.laws[name].driver_size}, need {self.m}")
        self.volume = rve.volume
        self.V = fem.functionspace(msh, ("Lagrange", degree, (d,)))
        self.quad = QuadratureFields(msh, max(1, 2 * (degree - 1)), self.m)
        n_qp = self.quad.n_qp
        n_owned = self.quad.owned_cells.size
        self.phase_points: dict[str, np.ndarray] = {}
        for name, tag in rve.phases.items():
            cells = rve.cell_tags.find(tag)
            cells = cells[cells < n_owned]
            self.phase_points[name] = (cells[:, None] * n_qp + np.arange(n_qp)[None, :]).ravel()

        # integration weight of every owned point (quadrature weight x |det J|)
        Qs = fem.functionspace(
            msh, basix.ufl.quadrature_element(msh.topology.cell_name(), (), "default", self.quad.degree)
        )
        wvec = fem.assemble_vector(fem.form(ufl.TestFunction(Qs) * self.quad.dx))
        self.point_volume = wvec.array[Qs.dofmap.list[:n_owned].ravel()]

        self.w = fem.Function(self.V, name="fluctuation")
        self.E = fem.Constant(msh, np.zeros(self.m))
        self.selector = fem.Constant(msh, np.zeros(self.m))
        v, du = ufl.TestFunction(self.V), ufl.TrialFunction(self.V)
        dx = self.quad.dx
        C_q = self.quad.tangent
        kin = self.kinematics
        self.strain_expr = self.quad.expression(kin.variation(self.w) + self.E)
        self.r_form = fem.form(ufl.inner(self.quad.flux, kin.variation(v)) * dx)
        self.k_form = fem.form(ufl.inner(ufl.dot(C_q, kin.variation(du)), kin.variation(v)) * dx)
        self.g_form = fem.form(ufl.inner(ufl.dot(C_q, self.selector), kin.variation(v)) * dx)

        n_nodes = self.V.dofmap.index_map.size_local
        x = self.V.tabulate_dof_coordinates()[:n_nodes, :d]
        lo, hi = np.asarray(rve.box_min, float), np.asarray(rve.box_max, float)
        node_map = (constraints.periodic_node_map if bc == "periodic" else constraints.kubc_node_map)(
            self.comm, x, lo, hi
        )
        self.P = constraints.prolongation(self.comm, node_map, n_nodes, d)
        self.K = fem_petsc.assemble_matrix(self.k_form)
        self.K.assemble()
        self.system = ConstrainedSystem(self.K, self.P)
        self.A = self.system.reduced
        opts = (solver or LinearSolverOptions("direct")).resolved(d, self.A.getSize()[0])
        self.ksp = opts.create_ksp(self.A, "fe2_rve_")
        self.r = create_petsc_vector(self.V)
        self.dw = create_petsc_vector(self.V)
        self.xr, self.rr = self.system.reduced_vectors()
        self._pg = [self.A.createVecLeft() for _ in range(self.m)]  # Pᵀ G_j of the condensation
        self._y = self.A.createVecRight()
        self.n_w = self.w.x.array.size
        self._factored: np.ndarray | None = None  # micro tangent of the current factorization
        self.reset_stats()

    def destroy(self) -> None:
        """Release the KSP, operators and work vectors now (collective; see :mod:`fe2.solvers.lifetime`)."""
        destroy_petsc_attributes(self, self.comm)

    def reset_stats(self) -> None:
        self.micro_solves = 0
        self.micro_iterations = 0
        self.micro_time_s = 0.0
        self.hill_mandel_max = 0.0
        self.factorizations = 0
        self.factorizations_reused = 0

    def statistics(self) -> MicroStatistics:
        return MicroStatistics(solves=self.micro_solves, iterations=self.micro_iterations,
                               time_s=self.micro_time_s, hill_mandel_max=self.hill_mandel_max,
                               factorizations=self.factorizations, factorizations_reused=self.factorizations_reused)

    # ---------------------------------------------------------------- contract
    def initial_state(self, n_points: int, point_data: Mapping[str, np.ndarray] | None = None) -> RVEState:
        phases = {ph: self.laws[ph].initial_state(n_points * pts.size) for ph, pts in self.phase_points.items()}
        return RVEState(phases, np.zeros((n_points, self.n_w)))

    def evaluate(self, driver: np.ndarray, state: RVEState, guess: RVEState | None = None
                 ) -> tuple[np.ndarray, np.ndarray, RVEState]:
        """Stress (n, m), consistent tangent (n, m, m) and trial state for n macro drivers.

        ``state`` is the committed history every micro Newton starts its laws from. ``guess``
        (optional, e.g. the trial state of the previous macro iteration of the same step) only
        supplies the initial fluctuation: the converged answer is the same to the Newton
        tolerance, reached in fewer iterations when the macro driver changed little.
        """
        n = driver.shape[0]
        flux = np.empty((n, self.m))
        tangent = np.empty((n, self.m, self.m))
        trial_phases = {ph: st.copy() for ph, st in state.phase_states.items()}
        trial_w = np.array(state.fluctuation)
        for i in range(n):
            local = {ph: state.phase_states[ph].take(self._slice(ph, i)) for ph in self.phase_points}
            starts = [state.fluctuation[i]] if guess is None else [guess.fluctuation[i], state.fluctuation[i]]
            s, C, new_local, w = self.solve_point(driver[i], local, *starts)
            flux[i], tangent[i], trial_w[i] = s, C, w
            for ph, st in new_local.items():
                trial_phases[ph].put(self._slice(ph, i), st)
        return flux, tangent, RVEState(trial_phases, trial_w)

    def energy_increment(self, driver_n: np.ndarray, driver: np.ndarray, state_n: RVEState,
                         state: RVEState) -> EnergyIncrement | None:
        """RVE volume averages of the phase laws' increments (:func:`fe2.micro.rve_energy.rve_energy_increment`)."""
        from fe2.micro.rve_energy import rve_energy_increment

        return rve_energy_increment(self, driver_n, driver, state_n, state)

    def point_fields(self, state: RVEState) -> dict[str, np.ndarray]:
        """Per macro point, RVE volume averages of the phases' scalar fields (e.g. equivalent plastic
        strain, pores and phases without the field counting as zero), each (n_macro,).
        """
        out: dict[str, np.ndarray] = {}
        n_macro = state.fluctuation.shape[0]
        for ph, pts in self.phase_points.items():
            vol = self.point_volume[pts]
            for name, vals in self.laws[ph].point_fields(state.phase_states[ph]).items():
                per_point = vals.reshape(n_macro, pts.size) @ vol / self.volume
                out[name] = out.get(name, 0.0) + per_point
        return out

    def write_point_fields(self, path, driver: np.ndarray, state: RVEState, i: int, time_value: float,
                           append: bool, vtk_path=None) -> None:
        """Write macro point i's RVE to XDMF ``path`` and, when given, to the VTK collection ``vtk_path``
        (:func:`fe2.io.fields.write_vtk`; collective on the RVE communicator, usually COMM_SELF):
        the fluctuation w, the total field (u = E·(x − x_c) + w at small strain, the displacement
        (F̄ − I)·(x − x_c) + w at finite strain) and, where a phase has one, ε̄p per cell.
        """
        from dolfinx import io

        msh = self.rve.mesh
        d = self.dim
        xc = 0.5 * (np.asarray(self.rve.box_min, float) + np.asarray(self.rve.box_max, float))
        if self.kind == "small_strain":
            from fe2.tensors import mandel_to_sym

            grad = mandel_to_sym(driver)
        else:
            grad = driver.reshape(d, d) - np.eye(d)
        w = fem.Function(self.V, name="fluctuation")
        w.x.array[:] = state.fluctuation[i]
        u = fem.Function(self.V, name="u")
        u.interpolate(lambda x: grad @ (x[:d] - xc[:, None]))
        u.x.array[:] += w.x.array
        Q0 = fem.functionspace(msh, ("DG", 0))
        extra: list[fem.Function] = []
        n_qp = self.quad.n_qp
        for ph, pts in self.phase_points.items():
            law = self.laws[ph]
            for name, vals in law.point_fields(state.phase_states[ph].take(self._slice(ph, i))).items():
                f = next((g for g in extra if g.name == name), None)
                if f is None:
                    f = fem.Function(Q0, name=name)
                    extra.append(f)
                cells = pts[::n_qp] // n_qp
                f.x.array[Q0.dofmap.list[cells, 0]] = vals.reshape(-1, n_qp).mean(axis=1)
        with io.XDMFFile(msh.comm, path, "a" if append else "w") as xdmf:
            if not append:
                xdmf.write_mesh(msh)
            for f in (u, w, *extra):
                xdmf.write_function(f, time_value)
        if vtk_path is not None:
            from fe2.io.fields import phase_function, write_vtk

            write_vtk(vtk_path, [u, w, *extra, phase_function(msh, self.rve.cell_tags)], time_value)

    def _slice(self, phase: str, i: int) -> np.ndarray:
        """The rows of macro point ``i`` in the law state of ``phase`` (a contiguous block, as indices)."""
        k = self.phase_points[phase].size
        return np.arange(i * k, (i + 1) * k)

    # ---------------------------------------------------------------- one RVE
    def _evaluate_laws(self, local_states):
        strain = self.quad.evaluate(self.strain_expr)
        flux = np.zeros((strain.shape[0], self.m))
        tangent = np.zeros((strain.shape[0], self.m, self.m))
        trials = {}
        for ph, pts in self.phase_points.items():
            f, C, tr = self.laws[ph].evaluate(strain[pts], local_states[ph])
            flux[pts], tangent[pts] = f, C
            trials[ph] = tr
        self.quad.set(flux, tangent)
        return strain, flux, tangent, trials

    def _reduced_residual(self) -> float:
        with self.r.localForm() as loc:
            loc.set(0.0)
        fem_petsc.assemble_vector(self.r, self.r_form)
        self.r.ghostUpdate(addv=PETSc.InsertMode.ADD, mode=PETSc.ScatterMode.REVERSE)
        self.system.restrict(self.r, self.rr)
        return self.rr.norm()

    def _factorize_tangent(self, tangent: np.ndarray) -> None:
        """Assemble and factorize the micro tangent, unless it is bitwise the one already factorized
        (elastic iterations, elastic points): then the factorization is reused — exact, not approximate.
        """
        if self._factored is not None and np.array_equal(tangent, self._factored):
            self.factorizations_reused += 1
            return
        self._factored = tangent.copy()
        self.factorizations += 1
        self.K.zeroEntries()
        fem_petsc.assemble_matrix(self.K, self.k_form)
        self.K.assemble()
        self.system.update()
        self.ksp.setOperators(self.A)

    def _evaluate_start(self, local_states: dict, w: np.ndarray):
        """Load ``w`` and evaluate laws and residual there: (strain, flux, tangent, trials, ‖Pᵀr‖), or
        None where the laws cannot be evaluated (e.g. det F <= 0) or the residual is not finite.
        """
        self.w.x.array[:] = w
        try:
            evaluated = self._evaluate_laws(local_states)
        except MaterialError:
            return None
        rnorm = self._reduced_residual()
        return (*evaluated, rnorm) if np.isfinite(rnorm) else None

    def solve_point(self, macro_strain: np.ndarray, local_states: dict, *starts: np.ndarray):
        """Micro Newton for one macro strain. Returns (σ̄ (m,), C̄ (m, m), trial phase states, w).

        ``starts``: candidate initial fluctuations (n_w,), e.g. a warm-start guess and the committed
        one. With several, Newton starts from the one with the smallest residual (one law evaluation
        and residual assembly each, no factorization) and falls back to the others if it fails — a
        guess from a quite different macro driver can put Newton outside its convergence basin.
        """
        self.E.value[:] = macro_strain
        first = None  # the evaluation of starts[0] when it is the one currently loaded
        if len(starts) > 1:
            # evaluate in reverse so that starts[0] (the guess, usually the best) is evaluated last and
            # its laws, quadrature fields and residual stay loaded for Newton's first iteration
            evaluated = [self._evaluate_start(local_states, w) for w in starts[::-1]][::-1]
            res = [np.inf if e is None else e[-1] for e in evaluated]
            order = np.argsort(res, kind="stable")
            if order[0] == 0:
                first = evaluated[0]
            starts = tuple(starts[k] for k in order)
        for k, w0 in enumerate(starts):
            try:
                return self._newton(macro_strain, local_states, w0, first if k == 0 else None)
            except (ConvergenceError, SolverError, MaterialError):
                if k == len(starts) - 1:
                    raise
        raise AssertionError("unreachable")

    def _newton(self, macro_strain: np.ndarray, local_states: dict, w0: np.ndarray, first=None):
        """``first``: (strain, flux, tangent, trials, ‖Pᵀr‖) already evaluated at the loaded w0."""
        t0 = time.perf_counter()
        if first is None:
            self.w.x.array[:] = w0
        cur: dict = {}

        def residual(it: int) -> float:
            if it == 0 and first is not None:
                strain, flux, tangent, trials, rnorm = first
            else:
                strain, flux, tangent, trials = self._evaluate_laws(local_states)
                rnorm = self._reduced_residual()
            force_scale = np.max(np.abs(flux), initial=0.0) * self.volume ** ((self.dim - 1) / self.dim)
            cur.update(strain=strain, flux=flux, tangent=tangent, trials=trials, force_scale=force_scale)
            self._factorize_tangent(tangent)  # also at the converged iterate: the condensation reuses it
            return rnorm

        def increment(it: int) -> None:
            self.rr.scale(-1.0)
            solve_checked(self.ksp, self.rr, self.xr, "micro Newton step")
            self.system.expand(self.xr, self.dw)
            self.w.x.petsc_vec.axpy(1.0, self.dw)
            self.w.x.scatter_forward()

        tol = self.newton.tol
        report = newton_loop(residual, increment, lambda r, r0: r <= tol * cur["force_scale"], self.newton.max_it,
                             comm=self.comm)
        if not report.converged:
            raise ConvergenceError(
                f"micro Newton did not converge for macro strain {np.array2string(macro_strain, precision=4)}:"
                f" |r| {report.residuals[0]:.2e} -> {report.residuals[-1]:.2e}"
            )
        it = report.iterations
        strain, flux, tangent, trials = cur["strain"], cur["flux"], cur["tangent"], cur["trials"]
        vol = self.point_volume[:, None]
        sigma = (vol * flux).sum(axis=0) / self.volume
        c_avg = (vol[:, :, None] * tangent).sum(axis=0) / self.volume
        # condensation with the converged factorization: m extra solves
        for j, vec in enumerate(self._pg):
            self.selector.value[:] = np.eye(self.m)[j]
            with self.r.localForm() as loc:
                loc.set(0.0)
            fem_petsc.assemble_vector(self.r, self.g_form)
            self.r.ghostUpdate(addv=PETSc.InsertMode.ADD, mode=PETSc.ScatterMode.REVERSE)
            self.system.restrict(self.r, vec)
        c_bar = c_avg.copy()
        for j in range(self.m):
            solve_checked(self.ksp, self._pg[j], self._y, "RVE tangent condensation")
            for k in range(self.m):
                c_bar[k, j] -= self._pg[k].dot(self._y) / self.volume
        energy = float((vol[:, 0] * np.einsum("pi,pi->p", flux, strain)).sum()) / self.volume
        work = float(sigma @ macro_strain)
        if abs(work) > 0:
            self.hill_mandel_max = max(self.hill_mandel_max, abs(energy - work) / abs(work))
        self.micro_solves += 1
        self.micro_iterations += it
        self.micro_time_s += time.perf_counter() - t0
        return sigma, c_bar, trials, self.w.x.array.copy()
