"""Mixed formulation: (u, p) ∈ RT_k × DG_{k−1}, locally conservative.

Weak form (for all v ∈ RT_k with v·n = 0 on flux-BC/untagged facets, q ∈ DG_{k−1}):

    ∫ K⁻¹u·v dx − ∫ p ∇·v dx = −∫_{Γ_D} p_D v·n ds
   −∫ ∇·u q dx − ∫ C p q dx  = −∫ A q dx

(the second line is ∇·u = s(p) = A − C p, negated so the system is symmetric).
Pressure conditions are natural; u·n = 0 is essential (on every boundary facet
without a PressureBC). Because the cell indicator lies in DG_{k−1} and ∇·RT_k ⊂
DG_{k−1}, ∫_K ∇·u_h = ∫_K s(p_h) on every cell K to solver round-off. Solved as one
monolithic symmetric-indefinite system with MUMPS LU (options prefix ``fe2_darcy_``).
"""

from __future__ import annotations

from collections.abc import Sequence

import basix.ufl
import numpy as np
import ufl
from dolfinx import fem
from dolfinx import mesh as dmesh
from mpi4py import MPI

from fe2.errors import ConfigError
from fe2.physics.darcy import linalg
from fe2.physics.darcy.audit import ConservationAudit
from fe2.physics.darcy.bcs import BoundaryCondition, FluxBC, PressureBC, facets_of
from fe2.physics.darcy.coefficients import QuadratureConductivity, RegionCoefficients
from fe2.physics.darcy.conductivity import conductivity_terms
from fe2.physics.darcy.solver_base import DarcySolverBase


class MixedDarcy(DarcySolverBase):
    """RT_k × DG_{k−1} solver; ``solve()`` → (p, u, audit, timings). Forms are compiled once here."""

    def __init__(self, msh: dmesh.Mesh, coeffs: RegionCoefficients, facet_tags: dmesh.MeshTags | None,
                 bcs: Sequence[BoundaryCondition], degree: int, K_field: QuadratureConductivity | None,
                 prefix: str, petsc_options: dict | None) -> None:
        if degree < 1:
            raise ConfigError(f"mixed Darcy needs RT degree >= 1, got {degree}")
        for bc in bcs:
            if isinstance(bc, FluxBC) and bc.value != 0.0:
                raise ConfigError(
                    f"the mixed formulation supports only impermeable flux BCs (u·n = 0); tag {bc.tag} asks "
                    f"u·n = {bc.value}; use formulation='primal'"
                )
        self.mesh = msh
        self.comm = msh.comm
        tdim = msh.topology.dim
        fdim = tdim - 1
        msh.topology.create_connectivity(fdim, tdim)
        cell = msh.basix_cell()
        rt = basix.ufl.element("RT", cell, degree)
        dg = basix.ufl.element("DG", cell, degree - 1)
        self.Wm = fem.functionspace(msh, basix.ufl.mixed_element([rt, dg]))
        self.Vu, self._u_map = self.Wm.sub(0).collapse()
        self.Vp, self._p_map = self.Wm.sub(1).collapse()
        self.w = fem.Function(self.Wm)
        self.u = fem.Function(self.Vu, name="velocity")
        self.p = fem.Function(self.Vp, name="pressure")

        _K, K_inv, dxK = conductivity_terms(msh, coeffs, K_field)
        dx = ufl.Measure("dx", domain=msh)
        ds = ufl.Measure("ds", domain=msh, subdomain_data=facet_tags)
        n = ufl.FacetNormal(msh)
        u, p = ufl.TrialFunctions(self.Wm)
        v, q = ufl.TestFunctions(self.Wm)
        # transient storage S (p − p_prev)/Δt, backward Euler; inv_dt = 0: the steady problem
        self.inv_dt = fem.Constant(msh, 0.0)
        self.p_prev = fem.Function(self.Vp, name="pressure_previous")
        a = (ufl.inner(K_inv * u, v) * dxK - p * ufl.div(v) * dx - ufl.div(u) * q * dx
             - coeffs.C * p * q * dx - self.inv_dt * coeffs.S * p * q * dx)
        L = -coeffs.A * q * dx - self.inv_dt * coeffs.S * self.p_prev * q * dx
        pressure_tags = []
        for bc in bcs:
            if isinstance(bc, PressureBC):
                L = L - fem.Constant(msh, float(bc.value)) * ufl.dot(v, n) * ds(bc.tag)
                pressure_tags.append(bc.tag)
        self.a, self.L = fem.form(a), fem.form(L)

        exterior = dmesh.exterior_facet_indices(msh.topology)
        no_facets = np.zeros(0, np.int32)
        pressure_facets = facets_of(facet_tags, pressure_tags) if facet_tags is not None else no_facets
        noflow = np.setdiff1d(exterior, pressure_facets).astype(np.int32)
        zero_u = fem.Function(self.Vu)
        dofs = fem.locate_dofs_topological((self.Wm.sub(0), self.Vu), fdim, noflow)
        self.bcs = [fem.dirichletbc(zero_u, dofs, self.Wm.sub(0))]

        # audit forms on the monolithic solution
        uh, ph = ufl.split(self.w)
        self.f_inflow = fem.form(coeffs.vascular_inflow(ph) * dx)
        self.f_drain = fem.form(coeffs.lymphatic_drainage(ph) * dx)
        self.f_outflow = fem.form(ufl.dot(uh, n) * ds)
        V0 = fem.functionspace(msh, ("DG", 0))
        self._V0 = V0
        q0 = ufl.TestFunction(V0)
        storage = self.inv_dt * coeffs.S * (ph - self.p_prev)
        self.f_storage = fem.form(storage * dx)
        self.f_cell = fem.form((ufl.div(uh) + storage - coeffs.source(ph)) * q0 * dx)
        self.f_cell_scale = fem.form(
            (abs(coeffs.vascular_inflow(ph)) + abs(coeffs.lymphatic_drainage(ph))) * q0 * dx)
        self.prefix = prefix
        self.ksp = linalg.make_ksp(self.comm, prefix, petsc_options)
        self._A, self._operator_current = None, False
        self.n_dofs = self.Wm.dofmap.index_map.size_global * self.Wm.dofmap.index_map_bs

    def assemble_operator(self) -> None:
        """(Re)assemble and factorize the operator; call after K or the tissue fields change."""
        self._assemble_operator_matrix(self.bcs)

    def _assemble_rhs(self):
        return linalg.assemble_rhs(self.L, self.a, self.bcs, self.Wm)

    def _solve_and_recover(self, b) -> int:
        its = linalg.solve_into(self.ksp, b, self.w, "mixed Darcy solve")
        self.u.x.array[:] = self.w.x.array[self._u_map]
        self.p.x.array[:] = self.w.x.array[self._p_map]
        return its

    def audit(self) -> ConservationAudit:
        comm = self.comm
        total = lambda f: comm.allreduce(fem.assemble_scalar(f), op=MPI.SUM)  # noqa: E731
        inflow, drain, outflow = total(self.f_inflow), total(self.f_drain), total(self.f_outflow)
        r = linalg.assemble_vector(self.f_cell, self._V0)
        s = linalg.assemble_vector(self.f_cell_scale, self._V0)
        n_owned = self._V0.dofmap.index_map.size_local
        rmax = comm.allreduce(float(np.max(np.abs(r.array[:n_owned]), initial=0.0)), op=MPI.MAX)
        smax = comm.allreduce(float(np.max(s.array[:n_owned], initial=0.0)), op=MPI.MAX)
        r.destroy()
        s.destroy()
        cell = rmax / max(smax, np.finfo(float).tiny)
        return ConservationAudit.build("mixed", inflow, drain, outflow, cell_residual_max=cell,
                                       storage_rate=total(self.f_storage))
