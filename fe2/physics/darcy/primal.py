"""Primal (pressure) formulation: P_k pressure, velocity recovered as −K∇p_h in DG_{k−1}.

Weak form (find p ∈ P_k, p = p_D on Γ_D, for all q ∈ P_k vanishing on Γ_D):

    ∫ K∇p·∇q dx + ∫ C p q dx = ∫ A q dx − ∫_{Γ_N} g q ds,

with the Starling/lymphatic source s(p) = A − C p and g the outward flux u·n on
flux-BC facets (0 on untagged boundary). The operator is SPD; MUMPS by default.
See :mod:`~fe2.physics.darcy.audit` for the conservation properties.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import ufl
from dolfinx import fem
from dolfinx import mesh as dmesh
from dolfinx.fem import petsc as fem_petsc
from mpi4py import MPI
from petsc4py import PETSc

from fe2.errors import ConfigError
from fe2.physics.darcy import linalg
from fe2.physics.darcy.audit import ConservationAudit
from fe2.physics.darcy.bcs import BoundaryCondition, FluxBC, PressureBC, facets_of
from fe2.physics.darcy.coefficients import QuadratureConductivity, RegionCoefficients
from fe2.physics.darcy.conductivity import conductivity_terms
from fe2.physics.darcy.solver_base import DarcySolverBase

#: Projection of the recovered velocity: DG mass matrix is block diagonal, so block-Jacobi/ILU(0) is exact.
PROJECTION_OPTIONS = {"ksp_type": "preonly", "pc_type": "bjacobi", "sub_pc_type": "ilu"}


class PrimalDarcy(DarcySolverBase):
    """P_k pressure solver; ``solve()`` → (p, u, audit, iterations). Forms are compiled once here."""

    def __init__(self, msh: dmesh.Mesh, coeffs: RegionCoefficients, facet_tags: dmesh.MeshTags | None,
                 bcs: Sequence[BoundaryCondition], degree: int, K_field: QuadratureConductivity | None,
                 prefix: str, petsc_options: dict | None) -> None:
        if degree < 1:
            raise ConfigError(f"primal Darcy needs degree >= 1, got {degree}")
        self.mesh = msh
        self.comm = msh.comm
        gdim = msh.geometry.dim
        fdim = msh.topology.dim - 1
        msh.topology.create_connectivity(fdim, msh.topology.dim)
        self.V = fem.functionspace(msh, ("Lagrange", degree))
        self.W = fem.functionspace(msh, ("DG", degree - 1, (gdim,)))
        self.p = fem.Function(self.V, name="pressure")
        self.u = fem.Function(self.W, name="velocity")
        K, _, dxK = conductivity_terms(msh, coeffs, K_field)
        dx = ufl.Measure("dx", domain=msh)
        ds = ufl.Measure("ds", domain=msh, subdomain_data=facet_tags)
        n = ufl.FacetNormal(msh)
        p, q = ufl.TrialFunction(self.V), ufl.TestFunction(self.V)

        self.bcs = []
        dir_dofs = []
        for bc in bcs:
            if isinstance(bc, PressureBC):
                dofs = fem.locate_dofs_topological(self.V, fdim, facets_of(facet_tags, [bc.tag]))
                self.bcs.append(fem.dirichletbc(PETSc.ScalarType(bc.value), dofs, self.V))
                dir_dofs.append(dofs)
        self._dir_dofs = np.unique(np.concatenate(dir_dofs)) if dir_dofs else np.zeros(0, np.int32)
        flux_terms = [fem.Constant(msh, PETSc.ScalarType(bc.value)) * q * ds(bc.tag)
                      for bc in bcs if isinstance(bc, FluxBC) and bc.value != 0.0]
        zero = fem.Constant(msh, PETSc.ScalarType(0.0))
        neumann = sum(flux_terms[1:], flux_terms[0]) if flux_terms else zero * q * dx

        # transient storage S (p − p_prev)/Δt, backward Euler; inv_dt = 0: the steady problem
        self.inv_dt = fem.Constant(msh, PETSc.ScalarType(0.0))
        self.p_prev = fem.Function(self.V, name="pressure_previous")
        self.a = fem.form(ufl.inner(K * ufl.grad(p), ufl.grad(q)) * dxK + coeffs.C * p * q * dx
                          + self.inv_dt * coeffs.S * p * q * dx)
        self.L = fem.form(coeffs.A * q * dx - neumann + self.inv_dt * coeffs.S * self.p_prev * q * dx)
        # velocity recovery u = −K∇p_h (L2 projection onto DG_{k−1}; exact for DG0 K and k = 1)
        w, z = ufl.TrialFunction(self.W), ufl.TestFunction(self.W)
        self.a_proj = fem.form(ufl.inner(w, z) * dx)
        self.L_proj = fem.form(ufl.inner(-K * ufl.grad(self.p), z) * dxK)
        # audit forms
        ph = self.p
        self.f_inflow = fem.form(coeffs.vascular_inflow(ph) * dx)
        self.f_drain = fem.form(coeffs.lymphatic_drainage(ph) * dx)
        self.f_outflow = fem.form(ufl.dot(self.u, n) * ds)
        self.f_storage = fem.form(self.inv_dt * coeffs.S * (ph - self.p_prev) * dx)
        self.f_residual = fem.form(
            (coeffs.source(ph) - self.inv_dt * coeffs.S * (ph - self.p_prev)) * q * dx
            - ufl.inner(K * ufl.grad(ph), ufl.grad(q)) * dxK)
        self.f_neumann = fem.form(neumann)
        self.prefix = prefix
        self.ksp = linalg.make_ksp(self.comm, prefix, petsc_options)
        self.ksp_proj = linalg.make_ksp(self.comm, prefix + "proj_", PROJECTION_OPTIONS)
        self._A, self._operator_current = None, False
        # the DG mass matrix of the velocity recovery depends on nothing that changes: once
        self._M = fem_petsc.assemble_matrix(self.a_proj)
        self._M.assemble()
        self.ksp_proj.setOperators(self._M)
        self.n_dofs = self.V.dofmap.index_map.size_global

    def assemble_operator(self) -> None:
        """(Re)assemble and factorize the operator; call after K or the tissue fields change."""
        self._assemble_operator_matrix(self.bcs)

    def _assemble_rhs(self):
        return linalg.assemble_rhs(self.L, self.a, self.bcs, self.V)

    def _solve_and_recover(self, b) -> int:
        its = linalg.solve_into(self.ksp, b, self.p, "primal Darcy solve")
        bu = linalg.assemble_vector(self.L_proj, self.W)
        linalg.solve_into(self.ksp_proj, bu, self.u, "Darcy velocity recovery")
        bu.destroy()
        return its

    def audit(self) -> ConservationAudit:
        comm = self.comm
        total = lambda f: comm.allreduce(fem.assemble_scalar(f), op=MPI.SUM)  # noqa: E731
        inflow, drain, outflow = total(self.f_inflow), total(self.f_drain), total(self.f_outflow)
        R = linalg.assemble_vector(self.f_residual, self.V)
        N = linalg.assemble_vector(self.f_neumann, self.V)
        n_owned = self.V.dofmap.index_map.size_local
        mask = np.zeros(n_owned, dtype=bool)
        d = self._dir_dofs
        mask[d[d < n_owned]] = True
        local = float(np.sum(R.array[:n_owned][mask]) + np.sum(N.array[:n_owned][~mask]))
        consistent = comm.allreduce(local, op=MPI.SUM)
        R.destroy()
        N.destroy()
        return ConservationAudit.build("primal", inflow, drain, outflow, outflow_consistent=consistent,
                                       storage_rate=total(self.f_storage))
