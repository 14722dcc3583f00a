"""Solute transport on a Darcy velocity: SUPG P1, θ-scheme (backward Euler θ=1, Crank–Nicolson θ=½).

    ∂c/∂t + ∇·(u c) − ∇·(D ∇c) = −k c + P S/V (c_v − c) + (1 − σ_f) J_v c_v − J_L c + f

c [mol/m³], u [m/s] (any vector field: the RT or DG velocity of a Darcy solve, or a UFL
expression), D [m²/s], uptake k [1/s], vessel permeability–surface product P S/V [1/s],
plasma concentration c_v, fluid exchange J_v = L_p S/V (p_e − p) and lymphatic
drainage J_L = L_pL S_L/V (p − p_L) [1/s] (Starling–Kedem–Katchalsky with the
convective term (1 − σ_f) J_v c_v; σ_f is the solvent-drag reflection coefficient),
f an optional extra source (manufactured solutions).

Weak form, c^θ = θ c^{n+1} + (1 − θ) c^n, for all w (w = 0 on Dirichlet facets):

    ∫ (c^{n+1} − c^n)/Δt w − c^θ u·∇w + D∇c^θ·∇w + (k + P S/V + J_L) c^θ w − S^θ w dx + ∮ c^θ (u·n) w ds
    + Σ_K ∫_K τ (u·∇w) r(c) dx = 0,

with the strong residual r (−∇·D∇c vanishes on P1 cells) and the Shakib–Hughes
τ = [(2/Δt)² + (2|u|/h)² + 9 (4D/h²)²]^{−1/2}. Non-Dirichlet boundaries carry zero
diffusive flux (D∇c·n = 0); solute leaves (or enters) with the fluid, c u·n.

Conservation: w = 1 kills the SUPG and diffusion terms, so with no Dirichlet facets

    (M^{n+1} − M^n)/Δt = vessel_source + external − uptake − lymphatic − advective_outflow

holds to solver round-off (:class:`TransportAudit`). On Dirichlet facets the
diffusive outflow is the consistent reaction −Σ_{i∈D} R_i of the residual vector.
The operator is constant for fixed Δt: assembled and factorized once (MUMPS, prefix
``fe2_solute_``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np
import ufl
from dolfinx import fem
from dolfinx import mesh as dmesh
from dolfinx.fem import petsc as fem_petsc
from mpi4py import MPI
from petsc4py import PETSc

from fe2.errors import ConfigError, MaterialError
from fe2.physics.darcy import linalg
from fe2.physics.darcy.bcs import facets_of


@dataclass(frozen=True)
class SoluteProperties:
    """Solute parameters of one region, SI.

    Attributes:
        D: interstitial diffusivity [m²/s] (> 0).
        uptake: first-order uptake/consumption rate k [1/s].
        PS_V: vessel wall permeability times S/V [1/s].
        sigma_f: solvent-drag reflection coefficient in [0, 1] (1: no convective extravasation).
    """

    D: float
    uptake: float = 0.0
    PS_V: float = 0.0
    sigma_f: float = 1.0

    def __post_init__(self) -> None:
        if not (np.isfinite(self.D) and self.D > 0):
            raise MaterialError(f"solute diffusivity D must be positive, got {self.D}")
        if not (self.uptake >= 0 and self.PS_V >= 0):
            raise MaterialError(f"uptake and PS_V must be non-negative, got {self.uptake}, {self.PS_V}")
        if not (0.0 <= self.sigma_f <= 1.0):
            raise MaterialError(f"sigma_f must lie in [0, 1], got {self.sigma_f}")


@dataclass
class TransportAudit:
    """Solute balance of one step [mol/s in 3D]; relative_residual = |residual| / largest term."""

    time: float
    mass: float
    mass_rate: float
    vessel_source: float
    external_source: float
    uptake: float
    lymphatic_loss: float
    advective_outflow: float
    diffusive_outflow_dirichlet: float
    residual: float
    relative_residual: float

    def to_dict(self) -> dict:
        return asdict(self)


def _dg0(msh, cell_tags, per_region: dict[int, float], name: str) -> fem.Function:
    V0 = fem.functionspace(msh, ("DG", 0))
    f = fem.Function(V0, name=name)
    if cell_tags is None:
        f.x.array[:] = next(iter(per_region.values()))
    else:
        for tag, val in per_region.items():
            cells = cell_tags.find(tag)
            f.x.array[V0.dofmap.list[cells, 0]] = val
    f.x.scatter_forward()
    return f


class SoluteTransport:
    """θ-scheme SUPG P1 transport of one solute; ``step()`` advances Δt and returns the audit.

    Args:
        mesh: the tissue mesh.
        velocity: Darcy velocity (fem.Function or UFL vector expression) [m/s].
        cell_tags: region tags (None: ``solute`` must have one entry).
        solute: region tag -> :class:`SoluteProperties`.
        dt: time step [s]; theta: 1 (backward Euler) or 0.5 (Crank–Nicolson).
        c_vessel: plasma concentration c_v (a float; change ``self.c_vessel.value`` between steps).
        fluid_exchange: J_v (UFL, [1/s]) — vascular fluid inflow per volume; None = 0.
        lymphatic: J_L (UFL, [1/s]) — lymphatic drainage per volume; None = 0.
        facet_tags, dirichlet: c = value on the facets of each tag.
        source: ``f(x, t)`` -> UFL extra source, x the SpatialCoordinate, t the θ-time Constant.
        c0: initial concentration (float or callable x -> values).
        supg: switch the stabilization off only to demonstrate oscillations.
    """

    def __init__(self, mesh: dmesh.Mesh, velocity, cell_tags: dmesh.MeshTags | None,
                 solute: dict[int, SoluteProperties], *, dt: float, theta: float = 1.0, c_vessel: float = 0.0,
                 fluid_exchange=None, lymphatic=None, facet_tags: dmesh.MeshTags | None = None,
                 dirichlet: dict[int, float] | None = None,
                 source: Callable | None = None, c0: float | Callable = 0.0, supg: bool = True,
                 petsc_options: dict | None = None) -> None:
        if not dt > 0:
            raise ConfigError(f"time step must be positive, got {dt}")
        if not (0.5 <= theta <= 1.0):
            raise ConfigError(f"theta must lie in [0.5, 1] (unconditionally stable), got {theta}")
        if not solute or (cell_tags is None and len(solute) != 1):
            raise ConfigError("solute needs one SoluteProperties per region (one if there are no cell tags)")
        dirichlet = dict(dirichlet or {})
        if dirichlet and facet_tags is None:
            raise ConfigError("Dirichlet concentrations given but no facet tags")
        self.mesh, self.comm = mesh, mesh.comm
        fdim = mesh.topology.dim - 1
        mesh.topology.create_connectivity(fdim, mesh.topology.dim)
        self.V = fem.functionspace(mesh, ("Lagrange", 1))
        self.c = fem.Function(self.V, name="concentration")
        self.c_n = fem.Function(self.V)
        if callable(c0):
            self.c.interpolate(c0)
        else:
            self.c.x.array[:] = float(c0)
        self.c_n.x.array[:] = self.c.x.array
        self.dt_value, self.theta_value = float(dt), float(theta)
        self.t = 0.0
        self.time_theta = fem.Constant(mesh, PETSc.ScalarType(0.0))
        self.c_vessel = fem.Constant(mesh, PETSc.ScalarType(c_vessel))
        dtc = fem.Constant(mesh, PETSc.ScalarType(dt))
        th = fem.Constant(mesh, PETSc.ScalarType(theta))

        D = _dg0(mesh, cell_tags, {t: s.D for t, s in solute.items()}, "D")
        k = _dg0(mesh, cell_tags, {t: s.uptake for t, s in solute.items()}, "uptake")
        PS = _dg0(mesh, cell_tags, {t: s.PS_V for t, s in solute.items()}, "PS_V")
        one_m_sig = _dg0(mesh, cell_tags, {t: 1.0 - s.sigma_f for t, s in solute.items()}, "1-sigma_f")
        zero = fem.Constant(mesh, PETSc.ScalarType(0.0))
        Jv = zero if fluid_exchange is None else fluid_exchange
        JL = zero if lymphatic is None else lymphatic
        x = ufl.SpatialCoordinate(mesh)
        f = zero if source is None else source(x, self.time_theta)
        u = velocity
        n = ufl.FacetNormal(mesh)
        dx = ufl.Measure("dx", domain=mesh)
        ds = ufl.Measure("ds", domain=mesh)

        c, w = ufl.TrialFunction(self.V), ufl.TestFunction(self.V)
        sink = k + PS + JL                                    # linear loss rate [1/s]
        src = PS * self.c_vessel + one_m_sig * Jv * self.c_vessel + f   # source [mol/(m³ s)]

        def F_of(cc):
            ct = th * cc + (1 - th) * self.c_n
            F = ((cc - self.c_n) / dtc * w - ct * ufl.dot(u, ufl.grad(w))
                 + D * ufl.inner(ufl.grad(ct), ufl.grad(w))
                 + sink * ct * w - src * w) * dx + ct * ufl.dot(u, n) * w * ds
            if supg:
                h = ufl.CellDiameter(mesh)
                unorm = ufl.sqrt(ufl.dot(u, u) + fem.Constant(mesh, PETSc.ScalarType(1e-300)))
                tau = 1.0 / ufl.sqrt((2.0 / dtc) ** 2 + (2.0 * unorm / h) ** 2 + 9.0 * (4.0 * D / h**2) ** 2)
                r = (cc - self.c_n) / dtc + ufl.div(u * ct) + sink * ct - src
                F += tau * ufl.dot(u, ufl.grad(w)) * r * dx
            return F, ct

        F, _ = F_of(c)
        self.a, self.L = fem.form(ufl.lhs(F)), fem.form(ufl.rhs(F))
        F_res, ct = F_of(self.c)
        self.f_residual = fem.form(F_res)
        self.bcs = []
        dir_dofs = []
        for tag, val in dirichlet.items():
            dofs = fem.locate_dofs_topological(self.V, fdim, facets_of(facet_tags, [tag]))
            self.bcs.append(fem.dirichletbc(PETSc.ScalarType(val), dofs, self.V))
            dir_dofs.append(dofs)
        self._dir = np.unique(np.concatenate(dir_dofs)) if dir_dofs else np.zeros(0, np.int32)
        self.f_mass = fem.form(self.c * dx)
        self.f_vessel = fem.form((PS * (self.c_vessel - ct) + one_m_sig * Jv * self.c_vessel) * dx)
        self.f_external = fem.form(f * dx)
        self.f_uptake = fem.form(k * ct * dx)
        self.f_lymph = fem.form(JL * ct * dx)
        self.f_adv = fem.form(ct * ufl.dot(u, n) * ds)
        self.prefix = "fe2_solute_"
        self.ksp = linalg.make_ksp(self.comm, self.prefix, petsc_options)
        self._A = fem_petsc.assemble_matrix(self.a, bcs=self.bcs)
        self._A.assemble()
        self.ksp.setOperators(self._A)
        self._mass = self._total(self.f_mass)

    def _total(self, form) -> float:
        return self.comm.allreduce(fem.assemble_scalar(form), op=MPI.SUM)

    def step(self) -> TransportAudit:
        """Advance one Δt (collective); returns the solute balance of the step."""
        self.c_n.x.array[:] = self.c.x.array
        self.time_theta.value = self.t + self.theta_value * self.dt_value
        b = linalg.assemble_rhs(self.L, self.a, self.bcs, self.V)
        linalg.solve_into(self.ksp, b, self.c, "solute transport step")
        b.destroy()
        self.t += self.dt_value
        return self.audit()

    def audit(self) -> TransportAudit:
        """Balance of the last step (after :meth:`step`)."""
        mass_old, mass = self._mass, self._total(self.f_mass)
        self._mass = mass
        rate = (mass - mass_old) / self.dt_value
        vessel, ext = self._total(self.f_vessel), self._total(self.f_external)
        upt, lym, adv = self._total(self.f_uptake), self._total(self.f_lymph), self._total(self.f_adv)
        R = linalg.assemble_vector(self.f_residual, self.V)
        n_owned = self.V.dofmap.index_map.size_local
        d = self._dir[self._dir < n_owned]
        diff = -self.comm.allreduce(float(np.sum(R.array[d])), op=MPI.SUM)
        R.destroy()
        res = rate - (vessel + ext - upt - lym - adv - diff)
        scale = max(abs(rate), abs(vessel), abs(ext), abs(upt), abs(lym), abs(adv), abs(diff),
                    np.finfo(float).tiny)
        return TransportAudit(self.t, mass, rate, vessel, ext, upt, lym, adv, diff, res, abs(res) / scale)

    @classmethod
    def from_darcy(cls, result, cell_tags, solute: dict[int, SoluteProperties],
                   **kwargs) -> SoluteTransport:
        """Transport on a :class:`~fe2.physics.darcy.problem.DarcyResult`: its velocity, J_v and J_L."""
        co = result.coefficients
        return cls(result.u.function_space.mesh, result.u, cell_tags, solute,
                   fluid_exchange=co.vascular_inflow(result.p), lymphatic=co.lymphatic_drainage(result.p),
                   **kwargs)
