"""Permeability of a periodic porous cell from Stokes cell problems (Taylor–Hood P2–P1).

The cell problem (two-scale homogenization of slow viscous flow). In the pore
space Ω_f of a periodic cell Y, for each unit direction e_j (j = 1..d):

    −μ Δv + ∇p̃ = e_j      in Ω_f        (body force = minus the mean pressure gradient G = −e_j)
          ∇·v = 0         in Ω_f
            v = 0         on obstacle surfaces (no slip)
       v, p̃ periodic     on ∂Y

Convention (stated once, used everywhere in fe2): Darcy's law ``q = −(K/μ) ∇p``
with q the superficial velocity (the volume average of v over the *whole* cell,
solid included as zero). With the mean pressure gradient G = −e_j, q = K e_j / μ, so

    K_ij = (μ / |Y|) ∫_Ω_f v^(j)_i dx        [length², in mesh units squared]

K is symmetric positive (semi-)definite: discretely K_ij = (μ/|Y|) b_i · A⁻¹ b_j
with b_i the load vector of e_i, so the asymmetry ‖K − Kᵀ‖/‖K‖ is a solver
round-off check. A second identity, the energy balance (the Stokes analogue of
Hill–Mandel), μ ∫ ∇v^(i) : ∇v^(j) dx = ∫ e_i · v^(j) dx = |Y| K_ij / μ, holds
because the discrete velocity is weakly divergence-free; its residual is reported.

Tortuosity, direction j: T_j = ∫ |v^(j)| dx / |∫ v^(j) dx| ≥ 1 (the ratio of the
mean speed to the speed of the mean flow, Duda et al. 2011 use the same ratio
with the component along the flow; for symmetric cells the two agree). T = 1
exactly for flow along straight channels; NaN where the mean flow is zero.

Discretization and constraints. Velocity: vector P2, pressure: P1, assembled as
one block matrix A = [[A_vv, Bᵀ], [B, 0]]. Periodicity and no slip are imposed
with a 0/1 prolongation P (full → reduced), as for the elastic RVEs of
:mod:`fe2.micro.constraints` (built in :mod:`fe2.micro.stokes_geometry`, which also
holds the cell geometries :class:`FibreCell`): a velocity node on a max face takes the column of
its image on the min faces (corners and edges straight to one master), wall
nodes have empty rows (v = 0). The pressure is periodic with one gauge node
fixed (p̃ = 0 there): the continuity row of that node is the sum of the other
rows up to ∫ ∇·v dx = 0, which every periodic no-slip discrete velocity
satisfies exactly, so dropping it loses no equation; the fluctuation is shifted
to zero mean afterwards. The reduced system PᵀAP x̂ = Pᵀb is factored once with
MUMPS (LDLᵀ for the symmetric indefinite matrix, or LU) under the options prefix
``fe2_stokes_`` (:func:`fe2.solvers.create_ksp`: an option the user set there wins,
e.g. ``-fe2_stokes_pc_type lu``) and solved for the d right-hand sides; the
constrained system is a :class:`fe2.solvers.ConstrainedSystem`.

Sealed fluid pockets (pores enclosed by obstacles) carry no flow (v = 0 there) and
a pressure defined only up to a constant: MUMPS null-pivot detection fixes that
constant and the count is reported (``mesh["null_pivots"]``, one per pocket);
K is unaffected.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Literal

import numpy as np
import ufl
from dolfinx import fem
from dolfinx.fem import petsc as fem_petsc
from mpi4py import MPI
from petsc4py import PETSc

from fe2._compat import create_petsc_vector
from fe2.errors import ConfigError, GeometryError, MeshError, SolverError
from fe2.geometry.base import RVEMesh
from fe2.geometry.voids import remove_phases
from fe2.micro.stokes_geometry import FibreCell, square_fibre_cell, stokes_prolongation
from fe2.solvers import ConstrainedSystem, create_ksp, solve_checked

__all__ = [
    "FibreCell",
    "PermeabilityResult",
    "StokesCell",
    "permeability",
    "square_fibre_cell",
]

Factorization = Literal["cholesky", "lu"]


# ----------------------------------------------------------------------------- results
@dataclass
class PermeabilityResult:
    """Effective permeability of a periodic cell.

    Attributes:
        K: (d, d) permeability tensor, Darcy ``q = −(K/μ)∇p``, in (mesh length unit)²;
            column j is the superficial velocity ⟨v⟩ times μ for the mean pressure gradient −e_j.
        mu: the viscosity used (K does not depend on it; kept for provenance).
        porosity: fluid volume / |Y| measured on the mesh (straight-sided cells
            under-resolve curved obstacles by O(h²)).
        porosity_exact: the same from the geometry description, when known.
        tortuosity: (d,) T_j = ∫|v^(j)| / |∫v^(j)| (NaN where the mean flow vanishes).
        asymmetry: ‖K − Kᵀ‖_F / ‖K‖_F (round-off of the direct solver).
        energy_residual: max_ij |μ∫∇v_i:∇v_j − |Y|K_ij/μ| / max_ij |Y||K_ij|/μ.
        eigenvalues: (d,) eigenvalues of sym(K), ascending.
        mesh: cells, dofs, ranks, h.
        timings: seconds for setup, operator (PtAP), factorization, solves.
        description: provenance of the cell geometry.
    """

    K: np.ndarray
    mu: float
    porosity: float
    porosity_exact: float | None
    tortuosity: np.ndarray
    asymmetry: float
    energy_residual: float
    eigenvalues: np.ndarray
    mesh: dict = field(default_factory=dict)
    timings: dict = field(default_factory=dict)
    description: dict = field(default_factory=dict)

    @property
    def dim(self) -> int:
        return int(self.K.shape[0])

    def normalized(self, length: float) -> np.ndarray:
        """K / length² (dimensionless), e.g. K/a² with a the fibre radius."""
        if not length > 0.0:
            raise ConfigError(f"normalizing length must be > 0, got {length}")
        return self.K / length**2

    def scaled(self, unit: float) -> np.ndarray:
        """K in physical units when one mesh length unit is ``unit`` (e.g. metres): K · unit²."""
        if not unit > 0.0:
            raise ConfigError(f"length unit must be > 0, got {unit}")
        return self.K * unit**2

    def hydraulic_conductivity(self, mu: float, unit: float = 1.0) -> np.ndarray:
        """K · unit² / μ: the conductivity of Darcy's law ``u = −(K/μ)∇p`` for viscosity μ."""
        if not mu > 0.0:
            raise ConfigError(f"viscosity must be > 0, got {mu}")
        return self.scaled(unit) / mu

    def to_dict(self) -> dict:
        """JSON-serialisable record (lists instead of arrays)."""
        return {
            "quantity": "permeability",
            "convention": "Darcy q = -(K/mu) grad p; q = superficial velocity (mean over the whole cell)",
            "units": "K in (mesh length unit)^2",
            "K": self.K.tolist(),
            "mu": self.mu,
            "porosity": self.porosity,
            "porosity_exact": self.porosity_exact,
            "tortuosity": [None if not np.isfinite(t) else float(t) for t in self.tortuosity],
            "tortuosity_definition": "T_j = int|v_j| dx / |int v_j dx|",
            "asymmetry": self.asymmetry,
            "energy_residual": self.energy_residual,
            "eigenvalues": self.eigenvalues.tolist(),
            "mesh": dict(self.mesh),
            "timings": dict(self.timings),
            "description": dict(self.description),
        }


# ----------------------------------------------------------------------------- problem
class StokesCell:
    """Taylor–Hood Stokes cell problems on the pore space of a periodic RVE.

    Args:
        rve: periodic RVE mesh; its cells are the fluid unless ``obstacle_phases``
            names phases to cut out first (pores of the RVE = obstacles here are
            holes already, e.g. ``square_array(void=True)``).
        mu: dynamic viscosity (> 0); K does not depend on it.
        obstacle_phases: meshed phases that are solid obstacles (removed with
            :func:`fe2.geometry.remove_phases`).
        factorization: 'cholesky' (MUMPS LDLᵀ, symmetric indefinite; default) or 'lu'.
        petsc_prefix: the options prefix, one of :data:`fe2.solvers.PREFIXES`; the defaults
            (MUMPS, null-pivot detection) yield to what the user set under it.

    The communicator is the mesh's. Spaces, forms, the block matrix, P, PᵀAP and
    its factorization are built once here; :meth:`solve` only does back-substitutions.
    """

    def __init__(
        self,
        rve: RVEMesh,
        *,
        mu: float = 1.0,
        obstacle_phases: Sequence[str] = (),
        factorization: Factorization = "cholesky",
        petsc_prefix: str = "fe2_stokes_",
    ) -> None:
        t0 = time.perf_counter()
        if not (isinstance(mu, (int, float)) and math.isfinite(mu) and mu > 0.0):
            raise ConfigError(f"viscosity mu must be a finite number > 0, got {mu!r}")
        if factorization not in ("cholesky", "lu"):
            raise ConfigError(f"factorization must be 'cholesky' or 'lu', got {factorization!r}")
        if not rve.periodic:
            raise MeshError(
                "Stokes permeability needs a periodic RVE mesh (opposite faces matching node for node)"
            )
        if obstacle_phases:
            rve = remove_phases(rve, obstacle_phases)
        self.rve = rve
        self.mu = float(mu)
        self.comm: MPI.Comm = rve.mesh.comm
        msh = rve.mesh
        d = rve.dim
        self.dim = d
        self.box_min = np.asarray(rve.box_min, dtype=float)
        self.box_max = np.asarray(rve.box_max, dtype=float)
        self.volume = rve.volume

        self.V = fem.functionspace(msh, ("Lagrange", 2, (d,)))
        self.Q = fem.functionspace(msh, ("Lagrange", 1))
        self.bs = self.V.dofmap.index_map_bs
        self.n_v = self.V.dofmap.index_map.size_local
        self.n_q = self.Q.dofmap.index_map.size_local

        v, w = ufl.TrialFunction(self.V), ufl.TestFunction(self.V)
        p, q = ufl.TrialFunction(self.Q), ufl.TestFunction(self.Q)
        dx = ufl.dx(domain=msh)
        mu_c = fem.Constant(msh, PETSc.ScalarType(self.mu))
        self._a = fem.form(
            [
                [mu_c * ufl.inner(ufl.grad(v), ufl.grad(w)) * dx, -p * ufl.div(w) * dx],
                [-q * ufl.div(v) * dx, None],
            ]
        )
        self._direction = fem.Constant(msh, np.zeros(d, dtype=PETSc.ScalarType))
        self._load = fem.form(ufl.inner(self._direction, w) * dx)
        self.velocity = fem.Function(self.V, name="velocity")
        dx_speed = ufl.dx(domain=msh, metadata={"quadrature_degree": 6})  # |v| is not a polynomial
        self._speed = fem.form(ufl.sqrt(ufl.inner(self.velocity, self.velocity)) * dx_speed)
        self._pressure = fem.Function(self.Q, name="pressure")
        self._pressure_integral = fem.form(self._pressure * dx)
        one = fem.Constant(msh, PETSc.ScalarType(1.0))
        self.fluid_volume = self.comm.allreduce(fem.assemble_scalar(fem.form(one * dx)))
        if not self.fluid_volume > 0.0:
            raise GeometryError("the Stokes cell has no fluid cells")
        t1 = time.perf_counter()

        self.A = fem_petsc.assemble_matrix(self._a, kind="mpi")
        self.A.assemble()
        self.P = self._prolongation()
        self.system = ConstrainedSystem(self.A, self.P)
        self.A_red = self.system.reduced
        t2 = time.perf_counter()
        self.prefix = petsc_prefix
        self.ksp = self._factor(factorization)
        t3 = time.perf_counter()
        self.timings = {"setup_s": t1 - t0, "operator_s": t2 - t1, "factorization_s": t3 - t2}

    def _prolongation(self) -> PETSc.Mat:
        P, self.n_reduced = stokes_prolongation(self.V, self.Q, self.box_min, self.box_max)
        return P

    def _factor(self, factorization: Factorization) -> PETSc.KSP:
        defaults = {
            "ksp_type": "preonly",
            "pc_type": factorization,
            "pc_factor_mat_solver_type": "mumps",
            # Null-pivot detection: the pressure of a sealed fluid pocket is defined only up to a
            # constant (its velocity is zero); MUMPS fixes it and reports the count (INFOG(28)).
            "mat_mumps_icntl_24": 1,
        }
        try:
            # setUp with the defaults in place: MUMPS reads its mat_mumps_* options at factorization
            ksp = create_ksp(self.comm, self.prefix, defaults, (self.A_red,), setup=True)
        except SolverError as exc:
            raise SolverError(f"Stokes cell: {exc}") from exc
        F = ksp.getPC().getFactorMatrix()
        self.null_pivots = int(F.getMumpsInfog(28))
        return ksp

    # ------------------------------------------------------------------ solve
    def _load_vector(self, j: int) -> PETSc.Vec:
        """Monolithic [∫ e_j·w dx ; 0] in the block layout of A."""
        self._direction.value[:] = 0.0
        self._direction.value[j] = 1.0
        bv = create_petsc_vector(self.V)
        bv.zeroEntries()
        fem_petsc.assemble_vector(bv, self._load)
        bv.ghostUpdate(addv=PETSc.InsertMode.ADD, mode=PETSc.ScatterMode.REVERSE)
        b = self.A.createVecLeft()
        b.zeroEntries()
        n = self.n_v * self.bs
        b.getArray()[:n] = bv.getArray(readonly=True)[:n]
        bv.destroy()
        return b

    def solve(self, keep_fields: bool = False):
        """Solve the d cell problems; returns a PermeabilityResult (and the velocity/pressure
        Functions per direction when ``keep_fields``; pressure fluctuation shifted to zero mean).
        """
        t0 = time.perf_counter()
        d = self.dim
        n = self.n_v * self.bs
        loads = [self._load_vector(j) for j in range(d)]
        xr, br = self.system.reduced_vectors()
        sols = []
        for j in range(d):
            self.system.restrict(loads[j], br)
            solve_checked(self.ksp, br, xr, f"Stokes cell, pressure gradient along x{j + 1}")
            x = self.A.createVecLeft()
            self.system.expand(xr, x, ghosts=False)  # x is the block layout of A, not a ghosted vector
            sols.append(x)
        t1 = time.perf_counter()

        flux = np.array([[loads[i].dot(sols[j]) for j in range(d)] for i in range(d)])  # ∫ v^(j)_i dx
        K = self.mu * flux / self.volume
        # Energy balance: μ ∫∇v_i:∇v_j = ∫ e_i·v_j, with the viscous block alone (pressures zeroed).
        vel_only = []
        for x in sols:
            y = x.copy()
            y.getArray()[n:] = 0.0
            vel_only.append(y)
        Ay = [self.A.createVecLeft() for _ in range(d)]
        for y, ay in zip(vel_only, Ay, strict=False):
            self.A.mult(y, ay)
        dissipation = np.array([[vel_only[i].dot(Ay[j]) for j in range(d)] for i in range(d)])
        scale = max(float(np.max(np.abs(flux))), 1e-300)
        energy_residual = float(np.max(np.abs(dissipation - flux)) / scale)

        fields = []
        tort = np.full(d, np.nan)
        largest = max(float(np.max(np.linalg.norm(flux, axis=0))), 1e-300)
        for j, x in enumerate(sols):
            self.velocity.x.petsc_vec.getArray()[:n] = x.getArray(readonly=True)[:n]
            self.velocity.x.scatter_forward()
            speed = self.comm.allreduce(fem.assemble_scalar(self._speed))
            mean = float(np.linalg.norm(flux[:, j]))
            if mean > 1e-10 * largest:  # no mean flow along x_j (e.g. across plates): T undefined
                tort[j] = speed / mean
            if keep_fields:
                fields.append(self._fields(x, j))
        t2 = time.perf_counter()
        for vec in loads + sols + vel_only + Ay + [xr, br]:
            vec.destroy()

        norm = np.linalg.norm(K)
        asym = float(np.linalg.norm(K - K.T) / norm) if norm > 0 else 0.0
        desc = self.rve.description
        exact = desc.get("exact_volume_fractions", {})
        phi_exact = None
        if self.rve.void_volume_fractions and exact:
            phi_exact = float(1.0 - sum(self.rve.void_volume_fractions.values()))
        timings = dict(self.timings)
        timings.update({"solves_s": t1 - t0, "post_s": t2 - t1})
        result = PermeabilityResult(
            K=K,
            mu=self.mu,
            porosity=self.fluid_volume / self.volume,
            porosity_exact=phi_exact,
            tortuosity=tort,
            asymmetry=asym,
            energy_residual=energy_residual,
            eigenvalues=np.linalg.eigvalsh(0.5 * (K + K.T)),
            mesh=self.mesh_info(),
            timings=timings,
            description=dict(desc),
        )
        return (result, fields) if keep_fields else result

    def _fields(self, x: PETSc.Vec, j: int) -> tuple[fem.Function, fem.Function]:
        n = self.n_v * self.bs
        u = fem.Function(self.V, name=f"velocity_{j + 1}")
        u.x.petsc_vec.getArray()[:n] = x.getArray(readonly=True)[:n]
        u.x.scatter_forward()
        p = self._pressure
        p.x.petsc_vec.getArray()[: self.n_q] = x.getArray(readonly=True)[n : n + self.n_q]
        p.x.scatter_forward()
        mean = self.comm.allreduce(fem.assemble_scalar(self._pressure_integral)) / self.fluid_volume
        p = p.copy()
        p.name = f"pressure_{j + 1}"
        p.x.array[:] -= mean
        return u, p

    def mesh_info(self) -> dict:
        msh = self.rve.mesh
        tdim = msh.topology.dim
        n_local = msh.topology.index_map(tdim).size_local
        h = msh.h(tdim, np.arange(n_local, dtype=np.int32)) if n_local else np.zeros(0)
        return {
            "cells": msh.topology.index_map(tdim).size_global,
            "velocity_dofs": self.V.dofmap.index_map.size_global * self.bs,
            "pressure_dofs": self.Q.dofmap.index_map.size_global,
            "reduced_dofs": int(sum(self.n_reduced)),
            "h_max": self.comm.allreduce(float(h.max()) if h.size else 0.0, op=MPI.MAX),
            "h_min": self.comm.allreduce(float(h.min()) if h.size else np.inf, op=MPI.MIN),
            "ranks": self.comm.size,
            "elements": "Taylor-Hood P2-P1",
            "null_pivots": self.null_pivots,
        }

    def destroy(self) -> None:
        """Free the PETSc objects (collective)."""
        self.ksp.destroy()
        self.system.destroy()  # the reduced operator PᵀAP
        for obj in (self.P, self.A):
            obj.destroy()


def permeability(
    cell: RVEMesh | FibreCell,
    comm: MPI.Comm,
    mu: float = 1.0,
    *,
    obstacle_phases: Sequence[str] = (),
    factorization: Factorization = "cholesky",
) -> PermeabilityResult:
    """Permeability tensor of a periodic cell (collective on ``comm``).

    Args:
        cell: a periodic RVEMesh of the pore space (obstacles as holes, or meshed
            phases listed in ``obstacle_phases``), or :class:`FibreCell` parameters,
            meshed here on ``comm``.
        comm: communicator; must be the RVEMesh's own when a mesh is given.
        mu: viscosity (K does not depend on it).

    Returns:
        PermeabilityResult, K in (mesh length unit)², Darcy ``q = −(K/μ)∇p``.
    """
    if isinstance(cell, FibreCell):
        rve = cell.build(comm)
    elif isinstance(cell, RVEMesh):
        if MPI.Comm.Compare(cell.mesh.comm, comm) not in (MPI.IDENT, MPI.CONGRUENT):
            raise ConfigError("permeability: the RVE mesh lives on a different communicator than `comm`")
        rve = cell
    else:
        raise ConfigError(f"permeability: expected an RVEMesh or FibreCell, got {type(cell).__name__}")
    problem = StokesCell(rve, mu=mu, obstacle_phases=obstacle_phases, factorization=factorization)
    try:
        result = problem.solve()
    finally:
        problem.destroy()
    if isinstance(cell, FibreCell):
        result.description["fibre_cell"] = asdict(cell)
        result.description["radius"] = cell.radius
    return result
