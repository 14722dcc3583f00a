"""Quasi-static macro mechanics driven by a micro model at its quadrature points (small or finite strain).

The material is any :class:`~fe2.materials.contract.MicroModel` of kind
``"small_strain"`` or ``"finite_strain"``: drivers of shape (n, m) are Mandel ε
(small strain) or F = I + ∇u row-major (finite strain; flux P, tangent ∂P/∂F;
see :mod:`fe2.kinematics`). An analytic law and an RVE answer the same call, so
this problem cannot tell them apart — which is how FE² is tested against
single-scale solves.

Newton on each load step (:func:`fe2.solvers.newton_loop`): the Dirichlet
values of the step are imposed on u first, then increments with homogeneous
conditions solve
``J du = -R``,  R = ∫ σ_q · δd(v) dx − ∫_Γ t̄ · v ds,  J = ∫ (C_q δd(du)) · δd(v) dx,
with δd = δε (small strain) or ∇ (finite strain; t̄ is then a nominal traction),
with σ_q, C_q the model's flux and tangent at the quadrature points
(:func:`fe2.quadrature.evaluate_into`). The per-point states live in a
:class:`~fe2.materials.state.StateStore`: every iteration evaluates from the
committed state, the trial state is committed only when the step converges and
rolled back when it is cut.

A linear model with one tangent for every point (``is_linear`` and a
``constant_tangent()``: a linear RVE's C_hom, an elastic law) takes the fast
path the design promises: σ = C ε enters the forms as a constant, the Jacobian
is assembled and factorized once for all load steps, and the model is
evaluated only after convergence (for the stress output) — the same discrete
equations as the general path, without per-point work.

The Newton systems are solved by a KSP under the options prefix ``fe2_macro_``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import basix
import numpy as np
import ufl
from dolfinx import fem
from dolfinx import mesh as dmesh
from dolfinx.fem import petsc as fem_petsc
from petsc4py import PETSc

from fe2._compat import create_petsc_vector
from fe2.errors import ConfigError, ConvergenceError
from fe2.kinematics import kinematics_of
from fe2.materials.contract import MicroModel
from fe2.materials.state import BatchedState, StateStore
from fe2.micro.linear_solver import LinearSolverOptions
from fe2.quadrature import QuadratureFields, evaluate_into
from fe2.solvers import destroy_petsc_attributes, newton_loop, solve_checked


@dataclass(frozen=True)
class Dirichlet:
    """Prescribed displacement on the facets tagged ``tag``: all components (``value`` of length d)
    or one ``component`` (``value`` a float). Scaled by the load factor.
    """

    tag: int
    value: Sequence[float] | float
    component: int | None = None


@dataclass(frozen=True)
class Traction:
    """Surface traction t̄ (length d, force per area) on the facets tagged ``tag``; scaled by the load factor."""

    tag: int
    value: Sequence[float]


@dataclass(frozen=True)
class NewtonOptions:
    """Newton settings: converged when ‖R‖ <= max(rtol ‖R_0‖, atol) (free dofs, l2)."""

    rtol: float = 1e-10
    atol: float = 1e-12
    max_it: int = 25


@dataclass
class StepReport:
    """One converged (or failed) load step."""

    load_factor: float
    iterations: int
    residuals: list[float] = field(default_factory=list)
    converged: bool = False
    time_s: float = 0.0


class QuasiStaticMacroProblem:
    """Quasi-static macro mechanics, small or finite strain (the material's kind), 2D plane strain or 3D.

    Args:
        msh: the macro mesh (distributed over its communicator).
        facet_tags: boundary facet tags referred to by ``dirichlet`` and ``tractions``.
        material: the micro model at the quadrature points (an analytic law or an RVE).
        degree: Lagrange degree of the displacement.
        quadrature_degree: quadrature rule of the constitutive points (default 2·(degree−1), at least 1).
        linear_solver: solver of the Newton systems (own PETSc prefix).
    """

    def __init__(
        self,
        msh: dmesh.Mesh,
        facet_tags: dmesh.MeshTags,
        material,
        *,
        degree: int = 1,
        quadrature_degree: int | None = None,
        dirichlet: Sequence[Dirichlet] = (),
        tractions: Sequence[Traction] = (),
        newton: NewtonOptions | None = None,
        linear_solver: LinearSolverOptions | None = None,
    ) -> None:
        self.mesh = msh
        self.comm = msh.comm
        d = msh.geometry.dim
        self.dim = d
        if not isinstance(material, MicroModel):
            raise ConfigError(f"the material must be a fe2.materials.MicroModel, got {type(material).__name__}")
        self.kinematics = kinematics_of(material, d)
        self.m = self.kinematics.size
        if material.driver_size != self.m:
            raise ConfigError(
                f"material expects drivers of size {material.driver_size}, the {d}D"
                f" {self.kinematics.kind} macro gives {self.m}"
            )
        self.material = material
        self.dirichlet, self.tractions, self.facet_tags = list(dirichlet), list(tractions), facet_tags
        self.newton = newton or NewtonOptions()
        q = quadrature_degree if quadrature_degree is not None else max(1, 2 * (degree - 1))
        self.V = fem.functionspace(msh, ("Lagrange", degree, (d,)))
        self.u = fem.Function(self.V, name="displacement")
        self._q_degree = q
        self._quad: QuadratureFields | None = None  # built on first use (the uniform linear path may never need it)
        self._strain_expr: fem.Expression | None = None
        cell_type = getattr(basix.CellType, msh.topology.cell_name())
        n_points = msh.topology.index_map(msh.topology.dim).size_local * basix.make_quadrature(cell_type, q)[0].shape[0]
        self.n_points = n_points  #: owned quadrature points
        self.store = StateStore(material, n_points)  #: committed / trial micro states of the owned points
        self._guess_ready = False  # the store's trial state is this step's previous iterate (a warm start)

        v, du = ufl.TestFunction(self.V), ufl.TrialFunction(self.V)
        dx = ufl.Measure("dx", domain=msh, metadata={"quadrature_degree": q, "quadrature_scheme": "default"})
        ds = ufl.Measure("ds", domain=msh, subdomain_data=facet_tags)
        self.load_factor = fem.Constant(msh, 0.0)
        traction_terms = [
            ufl.inner(self.load_factor * fem.Constant(msh, np.asarray(t.value, dtype=float)), v) * ds(t.tag)
            for t in tractions
        ]
        kin = self.kinematics
        c_uniform = material.constant_tangent() if material.is_linear else None
        self.uniform_linear = c_uniform is not None and self.kinematics.kind == "small_strain"
        self._jacobian_assembled = False
        if self.uniform_linear:
            C = fem.Constant(msh, np.asarray(c_uniform, dtype=float))
            flux_q = ufl.dot(C, kin.driver(self.u))
            tangent_q = C
        else:
            flux_q, tangent_q = self.quad.flux, self.quad.tangent
        internal = ufl.inner(flux_q, kin.variation(v)) * dx
        self.residual_form = fem.form(
            internal - sum(traction_terms[1:], traction_terms[0]) if traction_terms else internal
        )
        self._internal = internal
        self._internal_force_form = None  # compiled on the first reaction() call
        self.jacobian_form = fem.form(ufl.inner(ufl.dot(tangent_q, kin.variation(du)), kin.variation(v)) * dx)

        msh.topology.create_connectivity(d - 1, d)
        self._bc_targets: list[tuple[np.ndarray, np.ndarray]] = []  # (local dof indices, value per dof at factor 1)
        zero_bcs = []
        for bc in dirichlet:
            facets = facet_tags.find(bc.tag)
            if bc.component is None:
                dofs = fem.locate_dofs_topological(self.V, d - 1, facets)
                vals = np.asarray(bc.value, dtype=float)
                if vals.shape != (d,):
                    raise ConfigError(f"Dirichlet on tag {bc.tag}: value needs {d} components, got {vals.shape}")
                unrolled = (dofs[:, None] * d + np.arange(d)[None, :]).ravel()
                self._bc_targets.append((unrolled, np.tile(vals, dofs.size)))
                zero_bcs.append(fem.dirichletbc(np.zeros(d), dofs, self.V))
            else:
                # dofs of one component, as unrolled indices of V (no collapsed space needed)
                unrolled = fem.locate_dofs_topological(self.V.sub(bc.component), d - 1, facets)
                if isinstance(bc.value, Sequence):  # the TypeError float() of a sequence would raise
                    raise TypeError(f"Dirichlet on tag {bc.tag}: one component takes one value, got {bc.value!r}")
                self._bc_targets.append((unrolled, np.full(unrolled.size, float(bc.value))))
                zero_bcs.append(fem.dirichletbc(0.0, unrolled, self.V.sub(bc.component)))
        self.bcs = zero_bcs
        self._bc_dofs_by_tag: dict[int, np.ndarray] = {}
        for bc, (dofs, _) in zip(dirichlet, self._bc_targets, strict=False):
            prev = self._bc_dofs_by_tag.get(bc.tag, np.zeros(0, dtype=np.int64))
            self._bc_dofs_by_tag[bc.tag] = np.union1d(prev, dofs)

        self.J = fem_petsc.create_matrix(self.jacobian_form)  # sparsity only: assembled in Newton
        self.R = create_petsc_vector(self.V)
        self.du = fem.Function(self.V)
        ksp_options = (linear_solver or LinearSolverOptions("direct")).resolved(d, self.J.getSize()[0])
        self.ksp = ksp_options.create_ksp(self.J, "fe2_macro_")
        self.history: list[StepReport] = []

    def destroy(self) -> None:
        """Release the KSP, the Jacobian and the residual vector now (collective). petsc4py defers the
        destruction of objects on a communicator of size > 1 that are merely dropped, and each keeps MPI
        context ids (MPICH has 2048): a process that builds many parallel problems should destroy them.
        """
        destroy_petsc_attributes(self, self.comm)

    # ------------------------------------------------------- quadrature points
    @property
    def quad(self) -> QuadratureFields:
        """Flux and tangent at the owned quadrature points (built on first access, collectively; on
        the uniform linear path they are then kept current at every converged step, for output).
        """
        if self._quad is None:
            self._quad = QuadratureFields(self.mesh, self._q_degree, self.m)
            if self.uniform_linear:
                self._update_material()
        return self._quad

    @property
    def strain_expr(self) -> fem.Expression:
        """The compiled macro driver (Mandel ε or F) at the quadrature points."""
        if self._strain_expr is None:
            self._strain_expr = self.quad.expression(self.kinematics.driver(self.u))
        return self._strain_expr

    @property
    def state(self) -> BatchedState:
        """The committed micro state of the owned points (``store.committed``)."""
        return self.store.committed

    # ----------------------------------------------------------------- pieces
    def _update_material(self) -> None:
        """Evaluate the material at every owned point; a failure anywhere stops every rank together."""
        driver = self.quad.evaluate(self.strain_expr)
        # warm start from the previous iteration of this step (none at its first iteration)
        guess = self.store.trial if self.material.uses_guess and self._guess_ready else None
        evaluate_into(self.quad, self.store, driver, guess=guess)
        self._guess_ready = True

    def _assemble_residual(self) -> float:
        with self.R.localForm() as loc:
            loc.set(0.0)
        fem_petsc.assemble_vector(self.R, self.residual_form)
        self.R.ghostUpdate(addv=PETSc.InsertMode.ADD, mode=PETSc.ScatterMode.REVERSE)
        fem_petsc.set_bc(self.R, self.bcs)
        return self.R.norm()

    def _assemble_jacobian(self) -> None:
        if self.uniform_linear and self._jacobian_assembled:
            return  # constant operator: the KSP keeps its factorization
        self._jacobian_assembled = True
        self.J.zeroEntries()
        fem_petsc.assemble_matrix(self.J, self.jacobian_form, bcs=self.bcs)
        self.J.assemble()

    def _impose_dirichlet(self, factor: float) -> None:
        arr = self.u.x.array
        for dofs, vals in self._bc_targets:
            arr[dofs] = factor * vals
        self.u.x.scatter_forward()

    # ------------------------------------------------------------------ solve
    def solve_step(self, factor: float, log: Callable[[str], None] | None = None) -> StepReport:
        """Newton for one load factor. On success the trial state is committed.

        Raises:
            ConvergenceError: Newton did not converge in ``max_it`` iterations (state not committed;
                the displacement is left at the last iterate — call :meth:`rollback` to restore).
        """
        t0 = time.perf_counter()
        self._u_committed = self.u.x.array.copy()
        self.load_factor.value = factor
        self._impose_dirichlet(factor)
        self._guess_ready = False  # no warm start across steps or from a failed attempt

        def residual(it: int) -> float:
            if not self.uniform_linear:
                self._update_material()
            return self._assemble_residual()

        def increment(it: int) -> None:
            self._assemble_jacobian()
            self.R.scale(-1.0)
            solve_checked(self.ksp, self.R, self.du.x.petsc_vec, "macro Newton step")
            self.du.x.scatter_forward()
            self.u.x.array[:] += self.du.x.array

        rtol, atol = self.newton.rtol, self.newton.atol
        say = None if not log else (lambda it, r: log(f"  load {factor:.4g}  Newton {it:2d}  |R| = {r:.3e}"))
        newton = newton_loop(residual, increment, lambda r, r0: r <= max(rtol * r0, atol), self.newton.max_it,
                             comm=self.comm, log=say)
        report = StepReport(factor, newton.iterations, newton.residuals, newton.converged,
                            time.perf_counter() - t0)
        if not report.converged:
            raise ConvergenceError(
                f"macro Newton did not converge at load factor {factor:.4g}: |R| went"
                f" {report.residuals[0]:.2e} -> {report.residuals[-1]:.2e} in {self.newton.max_it} iterations"
            )
        if self.uniform_linear and self._quad is not None:
            self._update_material()  # σ at the points, for whoever reads them (output)
        self.store.commit()
        self.material.commit()
        self.history.append(report)
        return report

    def rollback(self) -> None:
        """Restore the displacement and the micro states of the last converged step."""
        self.u.x.array[:] = self._u_committed
        self.u.x.scatter_forward()
        self.store.rollback()
        self.material.rollback()

    def dirichlet_dofs_for(self, tag: int) -> np.ndarray:
        """Unrolled local dof indices constrained on boundary ``tag`` (for reactions)."""
        if tag not in self._bc_dofs_by_tag:
            raise ConfigError(f"no Dirichlet condition on boundary tag {tag}: cannot measure its reaction")
        return self._bc_dofs_by_tag[tag]

    def reaction(self, tag_dofs: np.ndarray, component: int) -> float:
        """Sum of internal nodal forces on the given owned dof indices (unrolled) for one component."""
        f = create_petsc_vector(self.V)
        with f.localForm() as loc:
            loc.set(0.0)
        if self._internal_force_form is None:
            self._internal_force_form = fem.form(self._internal)
        fem_petsc.assemble_vector(f, self._internal_force_form)
        f.ghostUpdate(addv=PETSc.InsertMode.ADD, mode=PETSc.ScatterMode.REVERSE)
        n_owned = self.V.dofmap.index_map.size_local * self.dim
        arr = f.getArray(readonly=True)
        sel = tag_dofs[(tag_dofs < n_owned) & (tag_dofs % self.dim == component)]
        local = float(arr[sel].sum())
        f.destroy()
        return self.comm.allreduce(local)

    def boundary_displacement(self, tag_dofs: np.ndarray, component: int) -> float:
        """Mean of displacement ``component`` over the owned dofs ``tag_dofs`` (unrolled), collective:
        on a boundary with a prescribed component, the load factor times its value.
        """
        n_owned = self.V.dofmap.index_map.size_local * self.dim
        sel = tag_dofs[(tag_dofs < n_owned) & (tag_dofs % self.dim == component)]
        total = self.comm.allreduce(float(self.u.x.array[sel].sum()))
        count = self.comm.allreduce(int(sel.size))
        return total / max(count, 1)

