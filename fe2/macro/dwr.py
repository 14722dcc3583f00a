"""Goal-oriented (dual-weighted residual) error estimate of one quantity of interest of a linear macro problem.

The problem: find u ∈ u_D + V_0 with a(u, v) = L(v) for all v ∈ V_0 (``fe2 darcy``'s
primal pressure problem; ``fe2 run`` with linear micro models, i.e. linear elasticity
with the constant C_hom), discretized by P_p Lagrange elements, u_h ∈ V_h. The
weak residual is R(u_h; v) = L(v) − a(u_h, v); R(u_h; v_h) = 0 for v_h ∈ V_h,0.

Quantities of interest
----------------------
* **Boundary flux / reaction** through a Dirichlet boundary Γ, in the variational
  (weak-form) definition J(u) = s·R(u; w) with a lifting w: w = 1 (or the unit vector
  e_i) on Γ, 0 on the other Dirichlet boundaries (s = +1: Darcy outflow ∮_Γ u·n,
  s = −1: reaction force ∫_Γ (σn)_i). For the exact u any lifting gives the same J;
  for u_h every discrete lifting gives the same J(u_h) (Galerkin orthogonality),
  the "consistent" nodal flux/reaction, which converges at twice the rate of the
  pointwise flux −K∇p_h·n. The dual solution is the a-harmonic lifting ζ:
  ζ = w on the Dirichlet boundary, a(v, ζ) = 0 for all v ∈ V_0. Then, with e = u − u_h,

      J(u) − J(u_h) = s·R(u_h; ζ − I_h ζ)          (exact for every interpolant I_h ζ ∈ V_h)

  and J(u) = s·R(u_h; ζ): the corrected value needs no extra functional.
* **A volume functional** J(u) = j_0 + j(u) (Darcy: the Starling inflow): the dual z ∈ V_0
  solves a(v, z) = j(v), and J(u) − J(u_h) = R(u_h; z − I_h z).

The estimator
-------------
The dual is solved in P_{p+1} on the same mesh (ζ_{p+1}), the defect ζ_{p+1} − I_h ζ_{p+1}
uses the nodal interpolant into V_h, and

    η = s·R(u_h; ζ_{p+1} − I_h ζ_{p+1}),   corrected J(u_h) + η = s·R(u_h; ζ_{p+1}).

Why P_{p+1} on the same mesh and not a patch recovery of a P_p dual: with a P_p dual
the defect is identically 0 (z_h − I_h z_h = 0: Galerkin orthogonality), so the dual
must be richer than V_h; the p+1 solve is the same assembly as the primal on the
same mesh and dofmaps (no patches, works in parallel unchanged, one extra sparse
direct solve per QoI), it resolves the dual's boundary layer at Γ and its corner
singularities one order better, and it is exact where a recovery smooths across
material interfaces (discontinuous K or C, where the dual's gradient jumps). It is
the same choice as :mod:`fe2.micro.error_estimate` (p → p+1).

Cell indicators η_K (for marking) are the residual integrated by parts on each cell, the flux on
the cell's facets replaced by its continuous L2 projection g ∈ P_p (so each cell carries its part
of the flux jump, as the classical ½[[q_h·n]] split does, with cell and boundary integrals only:
no interior-facet integrals, hence no shared-facet ghost layer needed; the same on every partition):

    η_K = s·[∫_K (f_h + ∇·g)·φ − (q_h − g) : ∇φ dx + ∫_{∂K∩∂Ω} (h − g n)·φ ds],   φ = ζ_{p+1} − I_h ζ_{p+1},

(f_h the source, A − C p_h for Darcy, 0 for elasticity; q_h the discrete flux K∇p_h or σ_h; h the
Neumann load, 0 off Γ_N; φ vanishes on the Dirichlet boundary). Σ_K η_K = η (checked,
``indicator_sum``); |η_K| drives Dörfler marking. Σ_K |η_K| ≥ |η| is reported too: it is
the (non-guaranteed) bound without cancellation between cells.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import ufl
from dolfinx import fem
from dolfinx.fem import petsc as fem_petsc
from mpi4py import MPI
from petsc4py import PETSc

from fe2._compat import create_petsc_vector
from fe2.solvers import create_ksp, solve_checked

#: Default of the dual solve (prefix ``fe2_dual_``): sparse direct (MUMPS LU).
DUAL_OPTIONS: dict[str, str] = {"ksp_type": "preonly", "pc_type": "lu", "pc_factor_mat_solver_type": "mumps"}


@dataclass
class GoalErrorEstimate:
    """The DWR estimate of one quantity of interest J.

    Attributes:
        qoi: what J is (e.g. "outflow through 'outer'").
        units: the unit of J, η and the corrected value.
        value: J(u_h) (a boundary flux in its consistent, variational definition).
        estimate: η ≈ J(u) − J(u_h).
        sum_abs_indicators: Σ_K |η_K|.
        indicator_sum: Σ_K η_K (= η up to round-off for piecewise-constant coefficients).
        degree, dual_degree: p of u_h, p + 1 of the dual.
        dofs, dual_dofs: global dofs of the primal and dual spaces.
        cell_indicators: η_K of the owned cells (local cell order).
    """

    qoi: str
    units: str
    value: float
    estimate: float
    sum_abs_indicators: float
    indicator_sum: float
    degree: int
    dual_degree: int
    dofs: int
    dual_dofs: int
    cell_indicators: np.ndarray = field(repr=False)
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def corrected(self) -> float:
        """J(u_h) + η: the dual-corrected value (= s·R(u_h; ζ_{p+1}))."""
        return self.value + self.estimate

    @property
    def relative_estimate(self) -> float:
        """|η| / |J(u_h) + η| (the estimated relative error of J)."""
        return abs(self.estimate) / max(abs(self.corrected), np.finfo(float).tiny)

    def to_dict(self) -> dict:
        return {
            "qoi": self.qoi, "units": self.units,
            "method": (f"dual-weighted residual: dual in P{self.dual_degree} on the same mesh, "
                       f"eta = R(u_h; z - I_h z), primal P{self.degree}"),
            "sign": "estimate = eta ~ J(u) - J(u_h); corrected = J(u_h) + eta",
            "value": self.value, "estimate": self.estimate, "corrected": self.corrected,
            "relative_estimate": self.relative_estimate,
            "sum_abs_indicators": self.sum_abs_indicators, "indicator_sum": self.indicator_sum,
            "degree": self.degree, "dual_degree": self.dual_degree,
            "dofs": self.dofs, "dual_dofs": self.dual_dofs, "timings_s": dict(self.timings),
        }


def _global_dofs(V: fem.FunctionSpace) -> int:
    return int(V.dofmap.index_map.size_global * V.dofmap.index_map_bs)


def solve_dual(V2: fem.FunctionSpace, bilinear: Callable, rhs: Callable | None, bcs: Sequence) -> fem.Function:
    """ζ ∈ V2 with a(ζ, v) = rhs(v) for v vanishing on the Dirichlet dofs, ζ = the values of ``bcs`` there.

    ``bilinear(trial, test)`` and ``rhs(test)`` return UFL forms (rhs None: 0). Collective.
    """
    z, v = ufl.TrialFunction(V2), ufl.TestFunction(V2)
    a = fem.form(bilinear(z, v))
    L = fem.form(rhs(v) if rhs is not None else ufl.inner(fem.Constant(V2.mesh, np.zeros(v.ufl_shape)), v) * ufl.dx)
    return _solve(V2, a, L, bcs, "dual problem of the error estimate", "dual")


def interpolant(zeta: fem.Function, Vh: fem.FunctionSpace) -> fem.Function:
    """I_h ζ: the nodal interpolant of ζ into V_h, returned as a function of ζ's space."""
    low = fem.Function(Vh)
    low.interpolate(zeta)
    back = fem.Function(zeta.function_space)
    back.interpolate(low)
    return back


def project_flux(flux, msh, degree: int) -> fem.Function:
    """The L2 projection of a discrete flux (vector or tensor UFL expression) onto continuous P_degree."""
    W = fem.functionspace(msh, ("Lagrange", degree, flux.ufl_shape))
    g, w = ufl.TrialFunction(W), ufl.TestFunction(W)
    return _solve(W, fem.form(ufl.inner(g, w) * ufl.dx), fem.form(ufl.inner(flux, w) * ufl.dx), [],
                  "flux projection of the error indicators", "recovered_flux")


def _solve(V, a, L, bcs, what: str, name: str) -> fem.Function:
    A = fem_petsc.assemble_matrix(a, bcs=list(bcs))
    A.assemble()
    b = create_petsc_vector(V)
    b.zeroEntries()
    fem_petsc.assemble_vector(b, L)
    fem_petsc.apply_lifting(b, [a], bcs=[list(bcs)])
    b.ghostUpdate(addv=PETSc.InsertMode.ADD, mode=PETSc.ScatterMode.REVERSE)
    fem_petsc.set_bc(b, list(bcs))
    ksp = create_ksp(V.mesh.comm, "fe2_dual_", DUAL_OPTIONS, operators=(A,))
    x = fem.Function(V, name=name)
    try:
        solve_checked(ksp, b, x.x.petsc_vec, what)
    finally:
        ksp.destroy()
        A.destroy()
        b.destroy()
    x.x.scatter_forward()
    return x


def dual_weighted_residual(
    *, uh: fem.Function, zeta: fem.Function, source, flux, loads: Sequence[tuple[int, object]], ds: ufl.Measure,
    sign: float, value: Callable[[fem.Function], float] | None, qoi: str, units: str, t_dual: float = 0.0,
) -> GoalErrorEstimate:
    """η = s·R(u_h; ζ − I_h ζ), its cell indicators, and J(u_h).

    The residual is

        R(u_h; φ) = ∫ source·φ − flux : ∇φ dx + Σ_(tag, h) ∫_tag h·φ ds.

    Args:
        uh: the primal solution (P_p).
        zeta: the dual solution (P_{p+1}, same mesh).
        source, flux: UFL expressions of u_h (Darcy: A − C p_h and K∇p_h; elasticity: 0 and σ_h).
        loads: (facet tag, UFL h) of the Neumann terms (Darcy: −g_N; elasticity: λ t̄).
        ds: the facet-tagged boundary measure.
        sign: s (+1 flux-type QoI J = R(u; w); −1 reaction J = −R(u; w)).
        value: I_h ζ -> J(u_h); None: J(u_h) = s·R(u_h; I_h ζ) (the variational boundary flux/reaction).

    The cell indicators are the residual integrated by parts on each cell against the projected flux
    g ∈ P_p (continuous, :func:`project_flux`):

        η_K = s·[∫_K (source + ∇·g)·φ − (flux − g) : ∇φ dx + ∫_{∂K∩∂Ω} (h − g n)·φ ds],

    which sum to η exactly (Σ_K ∫_K ∇·(g φ) = ∮ g n·φ for continuous g) and need only cell and
    boundary-facet integrals: the same on any partition and ghost mode. On each interior facet the cell
    sees (g − flux_K)·n, its share of the flux jump (½[[flux·n]] when g is the facet average).
    """
    t0 = time.perf_counter()
    msh = uh.function_space.mesh
    comm = msh.comm
    Vh, V2 = uh.function_space, zeta.function_space
    p = int(Vh.ufl_element().embedded_superdegree)
    n = ufl.FacetNormal(msh)

    def residual(phi):
        r = (ufl.inner(source, phi) - ufl.inner(flux, ufl.grad(phi))) * ufl.dx
        for tag, h in loads:
            r += ufl.inner(h, phi) * ds(tag)
        return r

    Iz = interpolant(zeta, Vh)
    defect = fem.Function(V2, name="dual_defect")
    defect.x.array[:] = zeta.x.array - Iz.x.array
    eta = sign * comm.allreduce(fem.assemble_scalar(fem.form(residual(defect))), op=MPI.SUM)
    g = project_flux(flux, msh, p)
    Q = fem.functionspace(msh, ("DG", 0))
    q = ufl.TestFunction(Q)
    form = ((ufl.inner(source + ufl.div(g), defect) - ufl.inner(flux - g, ufl.grad(defect))) * q * ufl.dx
            - ufl.inner(ufl.dot(g, n), defect) * q * ufl.ds)
    for tag, h in loads:
        form += ufl.inner(h, defect) * q * ds(tag)
    vec = fem.assemble_vector(fem.form(form))
    vec.scatter_reverse(la_insert_add())
    cells = np.arange(Q.dofmap.index_map.size_local, dtype=np.int32)
    eta_K = sign * vec.array[Q.dofmap.list[cells, 0]]
    total = comm.allreduce(float(np.sum(eta_K)), op=MPI.SUM)
    abs_total = comm.allreduce(float(np.sum(np.abs(eta_K))), op=MPI.SUM)
    if value is None:
        J = sign * comm.allreduce(fem.assemble_scalar(fem.form(residual(Iz))), op=MPI.SUM)
    else:
        J = float(value(Iz))
    t1 = time.perf_counter()
    return GoalErrorEstimate(
        qoi=qoi, units=units, value=float(J), estimate=float(eta), sum_abs_indicators=abs_total, indicator_sum=total,
        degree=p, dual_degree=int(V2.ufl_element().embedded_superdegree),
        dofs=_global_dofs(Vh), dual_dofs=_global_dofs(V2), cell_indicators=eta_K,
        timings={"dual_solve_s": t_dual, "estimate_s": t1 - t0},
    )


def la_insert_add():
    from dolfinx import la

    return la.InsertMode.add
