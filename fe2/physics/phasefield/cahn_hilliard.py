"""Cahn–Hilliard (conserved gradient flow) as a mixed c–μ problem on a blocked P_k 2-vector.

The schemes, energy law and step control are those of the package docstring
(:mod:`fe2.physics.phasefield`).
"""

from __future__ import annotations

from typing import Literal

import basix.ufl
import ufl
from dolfinx import fem

from fe2.errors import ConfigError
from fe2.physics.phasefield.energies import BulkEnergy
from fe2.physics.phasefield.gradient_flow import _GradientFlow
from fe2.physics.phasefield.mobility import ConstantMobility, Mobility, _mobility_expr
from fe2.physics.phasefield.periodic import make_periodic, periodic_prolongation
from fe2.physics.phasefield.sav import SAVSystem
from fe2.physics.phasefield.stepping import Scheme


class CahnHilliard(_GradientFlow):
    """Cahn–Hilliard, mixed c–μ (P_k × P_k), secant CN or convex-split Euler, no-flux or periodic.

    Args:
        mesh: a dolfinx mesh (its communicator is the solver's).
        energy: bulk energy f.
        kappa: gradient-energy coefficient κ > 0.
        mobility: M > 0, a ConstantMobility / QuadraticMobility, or a callable c ↦ M(c) (UFL),
            evaluated at cⁿ (split Euler) or the extrapolated midpoint (secant CN); it must be
            ≥ 0 there for the energy law (QuadraticMobility is floored > 0 for any c).
        boundary: 'noflux' or 'periodic' (the mesh must be a box whose opposite faces match
            node for node; solved as PᵀF(Pû) = 0 with the prolongation of fe2.micro.constraints).
        degree: Lagrange degree of c and μ.
        scheme: 'secant_cn' (second order, default), 'split_euler' (first order) or 'sav' (linear
            second-order BDF2 scalar-auxiliary-variable scheme with a backward-Euler start-up step: a
            double-well energy and a constant mobility; one cached factorization per step size, no
            Newton; :mod:`.sav`); see the module docstring. Under secant CN the μ component is
            μⁿ⁺¹ᐟ², under SAV μⁿ⁺¹.
        sav_stabilization: S ≥ 0 of the SAV scheme (None: ρ(cβ − cα)²).
        sav_relaxation: η ∈ [0, 1] of the relaxed SAV (r pulled towards √(E₁ + C₀) while Ẽ still falls by
            at least (1 − η) of the step's decrease); None: the plain SAV scheme.
    """

    prefix_base = "fe2_ch_"  # fe2.solvers.PREFIXES
    schemes = ("split_euler", "secant_cn", "sav")

    def __init__(
        self,
        mesh,
        energy: BulkEnergy,
        kappa: float,
        mobility: Mobility = 1.0,
        *,
        boundary: Literal["noflux", "periodic"] = "noflux",
        degree: int = 1,
        quadrature_degree: int | None = None,
        rtol: float = 1e-10,
        atol: float = 1e-12,
        max_it: int = 12,
        scheme: Scheme = "secant_cn",
        sav_stabilization: float | None = None,
        sav_relaxation: float | None = 0.9,
    ):
        self._setup_common(mesh, energy, kappa, quadrature_degree, scheme)
        self._periodic_map: tuple | None = None  # SAV with periodic boundaries: (P, held mask)
        # (c, μ) as a blocked 2-vector P_k field: one node carries both, so the periodic
        # prolongation acts node by node with block size 2.
        el = basix.ufl.element("Lagrange", mesh.basix_cell(), degree, shape=(2,))
        self.W = fem.functionspace(mesh, el)
        self.u = fem.Function(self.W, name="state")
        self.u0 = fem.Function(self.W, name="state_old")
        self.u_prev = fem.Function(self.W, name="state_prev")
        if scheme == "sav":
            self._build_sav(mobility, boundary, sav_stabilization, sav_relaxation)
            return
        c, mu = self.u[0], self.u[1]
        c0, cp = self.u0[0], self.u_prev[0]
        w = ufl.TestFunction(self.W)
        q, v = w[0], w[1]
        dx, dt, k = self.dx, self.dt_c, self.kappa
        if scheme == "split_euler":
            M = _mobility_expr(mesh, mobility, c0)
            mu_c = energy.df_convex(c) + energy.df_concave(c0)
            c_grad = c
        else:  # secant CN (μ is μⁿ⁺¹ᐟ²); its start-up step is split Euler (self.startup = 1)
            M = _mobility_expr(mesh, mobility, c0 + self.extrap_c * (c0 - cp))
            mu_c, c_grad = self._blend(energy.secant(c, c0), 0.5 * (c + c0),
                                       energy.df_convex(c) + energy.df_concave(c0), c)
        F = (
            (c - c0) * q * dx
            + dt * M * ufl.inner(ufl.grad(mu), ufl.grad(q)) * dx
            + mu * v * dx
            - mu_c * v * dx
            - k * ufl.inner(ufl.grad(c_grad), ufl.grad(v)) * dx
        )
        self._build_solver(F, self.u, boundary, rtol, atol, max_it)
        self.V_c, self._c_dofs = self.W.sub(0).collapse()
        self.c_out = fem.Function(self.V_c, name="c")
        self._build_monitors(self.u[0])

    def _build_sav(self, mobility: Mobility, boundary: str, stabilization: float | None,
                   relaxation: float | None) -> None:
        """The linear BDF2-SAV scheme: constant operators, cached factorizations (fe2.physics.phasefield.sav)."""
        if isinstance(mobility, ConstantMobility):
            mobility = mobility.value
        if not isinstance(mobility, int | float) or isinstance(mobility, bool) or not mobility > 0:
            raise ConfigError(f"scheme 'sav' needs a constant mobility > 0 (its operator is constant), "
                              f"got {mobility!r}")
        if boundary not in ("noflux", "periodic"):
            raise ConfigError(f"CahnHilliard: boundary must be 'noflux' or 'periodic', got {boundary!r}")
        self.boundary = boundary
        self.problem = None
        self.snes = None
        self._periodic = None
        self._periodic_map = periodic_prolongation(self.W) if boundary == "periodic" else None
        self._sav = SAVSystem(self.W, self.u, self.u0, self.u_prev, self.dx, self.kappa, float(mobility),
                              self.energy, stabilization,
                              None if self._periodic_map is None else self._periodic_map[0], self.prefix,
                              relaxation)
        self.V_c, self._c_dofs = self.W.sub(0).collapse()
        self.c_out = fem.Function(self.V_c, name="c")
        self._build_monitors(self.u[0])

    def _make_periodic(self, u: fem.Function) -> None:
        if self._periodic_map is None:
            super()._make_periodic(u)
            return
        P, held = self._periodic_map
        make_periodic(P, held, u)

    def set_initial_condition(self, c0) -> None:
        super().set_initial_condition(c0)
        if self._sav is not None:  # r⁰ = √(E₁[c⁰] + C₀): Ẽ⁰ = F[c⁰]
            self._sav.set_r(self._sav.r_of_state())

    def close(self):
        super().close()
        if getattr(self, "_periodic_map", None) is not None:
            self._periodic_map[0].destroy()
            self._periodic_map = None

    def _interpolate_c(self, func):
        self.c_out.interpolate(func)
        self.u.x.array[:] = 0.0
        self.u.x.array[self._c_dofs] = self.c_out.x.array
        self.u.x.scatter_forward()
        # μ is defined by c: one step of the algebra would compute it; we start from μ = 0,
        # which Newton corrects in the first step (μ enters the c-equation only through ∇μ).

    def concentration(self) -> fem.Function:
        """c of the current state as a P_k function (for output)."""
        self.c_out.x.array[:] = self.u.x.array[self._c_dofs]
        return self.c_out
