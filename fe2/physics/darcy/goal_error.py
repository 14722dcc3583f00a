"""Goal-oriented (DWR) error estimate of one fluid-balance quantity of a primal Darcy solve.

Quantities of interest (SI; m³/s in 3D, m²/s per unit depth in 2D):

* ``outflow``: the outflow through one pressure (Dirichlet) boundary Γ, J(p) = ∮_Γ u·n ds,
  u = −K∇p, in the variational definition J(p) = R(p; w) = ∫ s(p) w − K∇p·∇w dx − ∫_{Γ_N} g w ds
  with w = 1 on Γ and 0 on the other pressure boundaries (the audit's consistent flux
  ``boundary_outflow_consistent`` when Γ is the only pressure boundary). Dual: the
  a-harmonic lifting ζ (ζ = 1 on Γ, 0 on the other pressure boundaries,
  ∫ K∇ζ·∇v + C ζ v dx = 0), sign s = +1.
* ``starling_inflow``: J(p) = ∫ L_p S/V (p_e − p) dx. Dual: z = 0 on the pressure
  boundaries, ∫ K∇z·∇v + C z v dx = −∫ L_p S/V v dx.

η = R(p_h; z − I_h z) with the dual in P_{p+1} on the same mesh (:mod:`fe2.macro.dwr`).
Requirements (ConfigError otherwise): ``formulation = 'primal'``, region-wise K (no
quadrature K field: the indicators need ∇·(K∇p_h) cell by cell), a steady solve.
"""

from __future__ import annotations

import time

import numpy as np
import ufl
from dolfinx import fem
from mpi4py import MPI
from petsc4py import PETSc

from fe2.errors import ConfigError
from fe2.macro.dwr import GoalErrorEstimate, dual_weighted_residual, solve_dual
from fe2.physics.darcy.bcs import FluxBC, PressureBC, facets_of
from fe2.physics.darcy.problem import DarcyProblem

QOIS = ("outflow", "starling_inflow")
UNITS = "m^3/s (3D), m^2/s per unit depth (2D)"


def _check(problem: DarcyProblem) -> None:
    if problem.formulation != "primal":
        raise ConfigError("solver.error_estimate needs formulation = 'primal' (the DWR estimate is of the "
                          "pressure formulation)")
    if problem.K_field is not None:
        raise ConfigError("solver.error_estimate needs region-wise K (no [permeability] K field)")
    if float(problem.solver.inv_dt.value) != 0.0:
        raise ConfigError("solver.error_estimate is for the steady problem (no [transient])")


def darcy_goal_error(problem: DarcyProblem, qoi: str = "outflow", boundary_tag: int | None = None,
                     name: str | None = None) -> GoalErrorEstimate:
    """DWR estimate of ``qoi`` for the current (steady, primal) solution of ``problem`` (collective).

    Args:
        qoi: 'outflow' (through the pressure boundary ``boundary_tag``) or 'starling_inflow'.
        name: the boundary's name, for the record.
    """
    _check(problem)
    if qoi not in QOIS:
        raise ConfigError(f"solver.qoi must be one of {QOIS}, got {qoi!r}")
    pressure_tags = [bc.tag for bc in problem.bcs if isinstance(bc, PressureBC)]
    if qoi == "outflow" and boundary_tag not in pressure_tags:
        raise ConfigError(f"solver.qoi_boundary: the outflow QoI needs a pressure boundary, got tag {boundary_tag} "
                          f"(pressure boundaries: {pressure_tags})")
    t0 = time.perf_counter()
    msh, ft, c = problem.mesh, problem.facet_tags, problem.coefficients
    ph = problem.solver.p
    p = ph.function_space.ufl_element().embedded_superdegree
    V2 = fem.functionspace(msh, ("Lagrange", p + 1))
    fdim = msh.topology.dim - 1
    dx = ufl.Measure("dx", domain=msh)
    ds = ufl.Measure("ds", domain=msh, subdomain_data=ft)
    K = c.K
    flux_bcs = [(bc.tag, bc.value) for bc in problem.bcs if isinstance(bc, FluxBC) and bc.value != 0.0]

    def dofs_of(tag: int) -> np.ndarray:
        return fem.locate_dofs_topological(V2, fdim, facets_of(ft, [tag]))

    def dual_bc(dofs: np.ndarray, value: float):
        return fem.dirichletbc(PETSc.ScalarType(value), dofs.astype(np.int32), V2)

    def bilinear(z, v):
        return ufl.inner(K * ufl.grad(z), ufl.grad(v)) * dx + c.C * z * v * dx

    others = [t for t in pressure_tags if t != boundary_tag]
    if qoi == "outflow":
        # dofs Γ shares with another pressure boundary count to Γ (as in the nodal flux sum)
        gamma = dofs_of(int(boundary_tag))  # type: ignore[arg-type]  # checked above: a pressure tag
        bcs = [dual_bc(np.setdiff1d(dofs_of(t), gamma), 0.0) for t in others] + [dual_bc(gamma, 1.0)]
        rhs = None
        label = f"outflow through {name or boundary_tag!s} (variational flux)"
    else:
        bcs = [dual_bc(dofs_of(t), 0.0) for t in pressure_tags]
        rhs = lambda v: -c.vascular * v * dx  # noqa: E731
        label = "Starling inflow (vascular filtration), integral over the domain"
    zeta = solve_dual(V2, bilinear, rhs, bcs)
    t_dual = time.perf_counter() - t0

    comm = msh.comm
    value = None  # outflow: J(p_h) = R(p_h; I_h ζ), the variational flux
    if qoi == "starling_inflow":
        inflow = fem.form(c.vascular_inflow(ph) * dx)

        def value(Iz):
            return comm.allreduce(fem.assemble_scalar(inflow), op=MPI.SUM)

    loads = [(tag, fem.Constant(msh, PETSc.ScalarType(-g))) for tag, g in flux_bcs]
    return dual_weighted_residual(uh=ph, zeta=zeta, source=c.source(ph), flux=K * ufl.grad(ph), loads=loads, ds=ds,
                                  sign=1.0, value=value, qoi=label, units=UNITS, t_dual=t_dual)
