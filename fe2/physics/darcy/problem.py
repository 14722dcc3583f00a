"""User-facing Darcy perfusion problem: tissue regions + boundary conditions → pressure, velocity, audit.

Example::

    from fe2.geometry.tissue import tumour_in_host
    from fe2.physics.darcy import DarcyProblem, PressureBC, TissueProperties

    tm = tumour_in_host(comm, dim=2, tumour_radius=5e-3, host_radius=1.5e-2, mesh_size=1e-3)
    tissue = {tm.region("tumour"): TissueProperties.baxter_jain("tumour"),
              tm.region("host"): TissueProperties.baxter_jain("normal")}
    res = DarcyProblem(tm.mesh, tm.cell_tags, tm.facet_tags, tissue,
                       bcs=[PressureBC(tm.tag("outer"), 0.0)], formulation="mixed").solve()
    res.audit.relative_residual, res.p, res.u

Units are SI throughout (Pa, m, s; see :mod:`fe2.physics.darcy.units`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from dolfinx import fem
from dolfinx import mesh as dmesh

from fe2.errors import ConfigError
from fe2.physics.darcy.audit import ConservationAudit
from fe2.physics.darcy.bcs import BoundaryCondition, check_bcs
from fe2.physics.darcy.coefficients import (
    QuadratureConductivity,
    RegionCoefficients,
    build_region_coefficients,
)
from fe2.physics.darcy.mixed import MixedDarcy
from fe2.physics.darcy.primal import PrimalDarcy
from fe2.physics.darcy.properties import TissueProperties


@dataclass
class DarcyResult:
    """One Darcy solve.

    Attributes:
        p: interstitial pressure [Pa] (P_k for 'primal', DG_{k−1} for 'mixed').
        u: Darcy velocity [m/s] (DG_{k−1} vector for 'primal', RT_k for 'mixed').
        audit: the fluid balance (:class:`~fe2.physics.darcy.audit.ConservationAudit`).
        timings: seconds per phase ('assemble', 'solve', 'audit') and 'ksp_iterations'.
        coefficients: the DG0 tissue fields used (exchange, p_e, ...), e.g. for solute transport.
    """

    formulation: str
    degree: int
    n_dofs: int
    p: fem.Function
    u: fem.Function
    audit: ConservationAudit
    timings: dict
    coefficients: RegionCoefficients = field(repr=False)

    def to_dict(self) -> dict:
        """JSON-ready summary (no fields)."""
        return {"formulation": self.formulation, "degree": self.degree, "n_dofs": self.n_dofs,
                "audit": self.audit.to_dict(), "timings": dict(self.timings)}


class DarcyProblem:
    """Interstitial flow S ∂p/∂t − ∇·(K∇p) = L_p S/V (p_e − p) − L_pL S_L/V (p − p_L), region-wise data:
    :meth:`solve` for the steady state, :meth:`set_pressure` + :meth:`step` for transients (S = the
    regions' ``storage``).

    Args:
        mesh: the tissue mesh (its communicator is the solver's).
        cell_tags: region tags of the cells (None: one uniform region).
        facet_tags: boundary tags referred to by ``bcs``.
        tissue: region tag -> :class:`TissueProperties` (SI).
        bcs: :class:`PressureBC` / :class:`FluxBC` list; untagged boundary is impermeable.
        formulation: 'mixed' (RT_k × DG_{k−1}, locally conservative) or 'primal' (P_k).
        degree: k.
        K_field: heterogeneous K at quadrature points (replaces the tissue K values).
        petsc_options: KSP/PC options (default MUMPS LU), defaults under the stable prefix ``fe2_darcy_``.
        comm: optional; must be the mesh's communicator (checked).
        verbose: print the audit line on rank 0 after each solve.
    """

    def __init__(self, mesh: dmesh.Mesh, cell_tags: dmesh.MeshTags | None, facet_tags: dmesh.MeshTags | None,
                 tissue: dict[int, TissueProperties], *, bcs: Sequence[BoundaryCondition] = (),
                 formulation: Literal["mixed", "primal"] = "mixed", degree: int = 1,
                 K_field: QuadratureConductivity | None = None, petsc_options: dict | None = None,
                 comm=None, verbose: bool = False) -> None:
        if comm is not None and comm is not mesh.comm:
            from mpi4py import MPI

            if MPI.Comm.Compare(comm, mesh.comm) not in (MPI.IDENT, MPI.CONGRUENT):
                raise ConfigError("comm differs from the mesh's communicator")
        if formulation not in ("mixed", "primal"):
            raise ConfigError(f"formulation must be 'mixed' or 'primal', got {formulation!r}")
        self.comm = mesh.comm
        self.formulation = formulation
        self.degree = int(degree)
        self.verbose = verbose
        check_bcs(list(bcs), facet_tags, self.comm)
        self.mesh, self.facet_tags, self.bcs, self.K_field = mesh, facet_tags, list(bcs), K_field
        self.coefficients = build_region_coefficients(mesh, cell_tags, tissue)
        self.prefix = "fe2_darcy_"
        cls = MixedDarcy if formulation == "mixed" else PrimalDarcy
        self.solver = cls(mesh, self.coefficients, facet_tags, list(bcs), self.degree, K_field, self.prefix,
                          petsc_options)

    def destroy(self) -> None:
        """Release the solver's PETSc objects now (collective; see :mod:`fe2.solvers.lifetime`)."""
        self.solver.destroy()

    def update_operator(self) -> None:
        """Re-assemble after changing K_field values or coefficient arrays in place."""
        self.solver.assemble_operator()

    def solve(self) -> DarcyResult:
        """The steady problem: assemble (once), solve, recover the velocity and audit (collective)."""
        self.solver.set_time_step(None)
        return self._solve()

    def set_pressure(self, p0: float | Callable[[np.ndarray], np.ndarray]) -> None:
        """Initial pressure [Pa] of a transient run: a constant or a callable x (3, n) -> (n,)."""
        p = self.solver.p
        if callable(p0):
            p.interpolate(p0)
        else:
            p.x.array[:] = float(p0)
        p.x.scatter_forward()

    def step(self, dt: float) -> DarcyResult:
        """One backward-Euler step Δt [s] of S ∂p/∂t + ∇·u = s(p) from the current pressure (collective);
        the audit then includes the storage rate ∫ S (p − p_prev)/Δt dx.
        """
        if not dt > 0:
            raise ConfigError(f"time step must be positive, got {dt}")
        self.solver.p_prev.x.array[:] = self.solver.p.x.array
        self.solver.set_time_step(dt)
        return self._solve()

    def _solve(self) -> DarcyResult:
        p, u, audit, timings = self.solver.solve()
        if self.verbose and self.comm.rank == 0:
            print(f"darcy: {audit.summary()}", flush=True)
        return DarcyResult(self.formulation, self.degree, self.solver.n_dofs, p, u, audit, timings,
                           self.coefficients)
