"""Goal-oriented (DWR) error estimate of a reaction force of ``fe2 run`` with linear micro models.

With linear micro models (every RVE phase elastic) the micro model is evaluated once into the constant
tangent C_hom (Mandel), and the macro problem is linear elasticity, σ = C_hom ε (plane strain in 2D):
a(u, v) = ∫ C ε(u) · ε(v) dx, L(v) = λ Σ ∫_{Γ_t} t̄·v ds (λ the load factor). The QoI is the reaction
of component i on a Dirichlet boundary Γ (the ``[loading] monitor``),

    J(u) = ∫_Γ (σn)_i ds = a(u, w) − L(w),   w = e_i on Γ's dofs, 0 on the other constrained dofs,

the variational (consistent) reaction: for u_h it is the sum of the internal nodal forces of
component i on Γ, the monitor's ``reaction`` (equal to it whenever no traction boundary shares a node
with Γ). Dual: ζ = w on the Dirichlet dofs (Γ's constrained component i = 1 — Γ's condition applied
last, so its corner dofs count to Γ as in the nodal sum — every other constrained component 0),
a(v, ζ) = 0; J = −R(u; ζ) (sign s = −1 in :mod:`fe2.macro.dwr`), η = −R(u_h; ζ − I_h ζ) with ζ in
P_{p+1} on the same mesh; cell indicators from the strong residual div σ_h, each cell's share of the
traction jumps and the traction residual on Γ_t (:mod:`fe2.macro.dwr`). Units: the config's force unit
(per unit thickness in 2D). :func:`adapt_reaction` refines by Dörfler marking of |η_K| until a target
relative error is met (``fe2 run`` with ``[solver] target_error``: refine, then run the load steps on
the refined mesh; with ``error_estimate`` alone the estimate on its own mesh).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import cast

import numpy as np
import ufl
from dolfinx import fem
from dolfinx import mesh as dmesh

from fe2.errors import ConfigError, SolverError
from fe2.geometry.refine import refine_tissue
from fe2.macro.dwr import GoalErrorEstimate, dual_weighted_residual, solve_dual
from fe2.macro.small_strain import Dirichlet, QuasiStaticMacroProblem, Traction
from fe2.micro.adaptivity import dorfler_marking
from fe2.tensors import SQRT2

UNITS = "force, in the config's units (per unit thickness in 2D)"


def _stress_tensor(s, dim: int):
    """σ as a UFL tensor from its Mandel vector (11 22 12 / 11 22 33 23 13 12, shears × √2)."""
    r = 1.0 / SQRT2
    if dim == 2:
        return ufl.as_matrix([[s[0], r * s[2]], [r * s[2], s[1]]])
    return ufl.as_matrix([[s[0], r * s[5], r * s[4]], [r * s[5], s[1], r * s[3]], [r * s[4], r * s[3], s[2]]])


def reaction_goal_error(solver: QuasiStaticMacroProblem, tag: int, component: int,
                        name: str | None = None) -> GoalErrorEstimate:
    """DWR estimate of the reaction of ``component`` on Dirichlet boundary ``tag`` for the current solution
    of a linear (constant-tangent, small-strain) macro problem. Collective.
    """
    if not solver.uniform_linear:
        raise ConfigError("solver.error_estimate needs linear micro models (every RVE phase elastic): the DWR "
                          "reaction estimate is for the linear macro problem with the constant C_hom")
    d = solver.dim
    if not 0 <= component < d:
        raise ConfigError(f"reaction component must be in 0 ... {d - 1}, got {component}")
    constrains = [bc for bc in solver.dirichlet if bc.tag == tag and bc.component in (None, component)]
    if not constrains:
        raise ConfigError(f"loading.monitor: boundary tag {tag} has no Dirichlet condition on component "
                          f"{component}: its reaction is not defined")
    t0 = time.perf_counter()
    msh = solver.mesh
    fdim = d - 1
    p = solver.V.ufl_element().embedded_superdegree
    V2 = fem.functionspace(msh, ("Lagrange", p + 1, (d,)))
    ft = solver.facet_tags
    C = fem.Constant(msh, np.asarray(solver.material.constant_tangent(), dtype=float))
    kin = solver.kinematics
    dx = ufl.Measure("dx", domain=msh)
    ds = ufl.Measure("ds", domain=msh, subdomain_data=ft)

    def bc_of(bc, value_on_gamma: bool):
        facets = ft.find(bc.tag)
        if bc.component is None:
            vals = np.zeros(d)
            if value_on_gamma:
                vals[component] = 1.0
            return fem.dirichletbc(vals, fem.locate_dofs_topological(V2, fdim, facets), V2)
        dofs = fem.locate_dofs_topological(V2.sub(bc.component), fdim, facets)
        one = value_on_gamma and bc.component == component
        return fem.dirichletbc(1.0 if one else 0.0, dofs, V2.sub(bc.component))

    bcs = ([bc_of(bc, False) for bc in solver.dirichlet if bc.tag != tag]
           + [bc_of(bc, True) for bc in solver.dirichlet if bc.tag == tag])
    zeta = solve_dual(V2, lambda z, v: ufl.inner(ufl.dot(C, kin.variation(z)), kin.variation(v)) * dx, None, bcs)
    t_dual = time.perf_counter() - t0
    uh = solver.u
    sigma = _stress_tensor(ufl.dot(C, kin.variation(uh)), d)
    lam = solver.load_factor
    tractions = [(t.tag, fem.Constant(msh, np.asarray(t.value, dtype=float))) for t in solver.tractions]

    label = f"reaction force, component {component}, on {name or tag!s} (variational reaction)"
    loads = [(tg, lam * tv) for tg, tv in tractions]
    return dual_weighted_residual(uh=uh, zeta=zeta, source=ufl.as_vector([0.0] * d), flux=sigma, loads=loads, ds=ds,
                                  sign=-1.0, value=None, qoi=label, units=UNITS, t_dual=t_dual)


@dataclass
class ReactionAdaptiveStep:
    """One solve of an adaptive or uniform sequence: sizes and the estimate."""

    dofs: int
    cells: int
    estimate: GoalErrorEstimate = field(repr=False)

    @property
    def error(self) -> float:
        return self.estimate.relative_estimate


@dataclass
class ReactionAdaptivity:
    """An adaptive (or uniform) sequence: every solve, and the last mesh (the one that met the target)."""

    steps: list[ReactionAdaptiveStep]
    mesh: dmesh.Mesh
    facet_tags: dmesh.MeshTags


def adapt_reaction(
    msh: dmesh.Mesh, facet_tags: dmesh.MeshTags, material, *, dirichlet: Sequence[Dirichlet],
    tractions: Sequence[Traction] = (), tag: int, component: int, target_error: float, degree: int = 1,
    load_factor: float = 1.0, theta: float = 0.5, uniform: bool = False, max_steps: int = 12,
    progress: Callable[[str], None] | None = None,
) -> ReactionAdaptivity:
    """Refine until the estimated relative error |η|/|J_h + η| of the reaction is <= ``target_error``.

    Each step solves the linear macro problem at ``load_factor`` (one Newton step: the problem is linear),
    estimates the reaction of ``component`` on ``tag`` (:func:`reaction_goal_error`), marks |η_K| by
    Dörfler's bulk criterion over all ranks and refines the marked cells with the boundary tags carried
    over (:func:`fe2.geometry.refine.refine_tissue`). Collective; SolverError if ``max_steps`` solves do
    not reach the target.
    """
    if not target_error > 0.0:
        raise ConfigError(f"target_error must be positive, got {target_error}")
    steps: list[ReactionAdaptiveStep] = []
    ft = facet_tags
    for _ in range(max_steps):
        solver = QuasiStaticMacroProblem(msh, ft, material, degree=degree, dirichlet=dirichlet, tractions=tractions)
        if not solver.solve_step(load_factor).converged:
            raise SolverError("adapt_reaction: the linear macro solve did not converge")
        est = reaction_goal_error(solver, tag, component)
        steps.append(ReactionAdaptiveStep(est.dofs, msh.topology.index_map(msh.topology.dim).size_global, est))
        if progress is not None:
            progress(f"reaction {'uniform' if uniform else 'adaptive'}: {est.dofs} dofs, J_h {est.value:.6e}, "
                     f"est. rel. error {est.relative_estimate:.3e}")
        solver.destroy()  # its PETSc objects now: petsc4py defers parallel destroys (MPI context ids)
        if est.relative_estimate <= target_error:
            return ReactionAdaptivity(steps, msh, ft)
        marked = None if uniform else dorfler_marking(np.abs(est.cell_indicators), msh.comm, theta)
        msh, _, ft = refine_tissue(msh, None, ft, marked)
        ft = cast(dmesh.MeshTags, ft)  # given tags come back
    raise SolverError(f"target_error {target_error:g} not met in {max_steps} solves "
                      f"(last estimate {steps[-1].error:.3e})")
