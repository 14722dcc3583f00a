"""Allen–Cahn (non-conserved gradient flow) on P_k.

With optional source and boundary flux for manufactured solutions; schemes and step control as in
:mod:`fe2.physics.phasefield`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import ufl
from dolfinx import fem

from fe2.physics.phasefield.energies import BulkEnergy
from fe2.physics.phasefield.gradient_flow import _GradientFlow
from fe2.physics.phasefield.mobility import Mobility, _mobility_expr
from fe2.physics.phasefield.stepping import Scheme


class AllenCahn(_GradientFlow):
    """Allen–Cahn, secant CN (default): (cⁿ⁺¹−cⁿ)/Δt = −L(S(cⁿ⁺¹, cⁿ) − κΔ(cⁿ⁺¹+cⁿ)/2) + s(tⁿ⁺¹ᐟ²),
    or convex-split Euler: (cⁿ⁺¹−cⁿ)/Δt = −L(f_c'(cⁿ⁺¹) + f_e'(cⁿ) − κΔcⁿ⁺¹) + s(tⁿ⁺¹).

    Args:
        mobility: L > 0 (constant), a mobility object or a callable c ↦ L(c) (lagged as for CH).
        scheme: 'secant_cn' (default) or 'split_euler'.
        source: optional callable (x, t) ↦ UFL source s evaluated at tⁿ⁺¹ᐟ² / tⁿ⁺¹
            (x = ufl.SpatialCoordinate, t = a fem.Constant), for manufactured solutions.
        flux: optional callable (x, t) ↦ UFL vector g with ∇c·n = g·n on the boundary
            (default: zero flux).
        periodic_axes: with ``boundary='periodic'``, the periodic directions (default: all).
        held: with ``boundary='periodic'``, a callable x (gdim, n) ↦ bool (n,) marking nodes held
            at their initial values (constant Dirichlet data, e.g. PFHub BM7's c = 1 / c = 0 faces).
    """

    prefix_base = "fe2_ac_"  # fe2.solvers.PREFIXES

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
        source: Callable | None = None,
        flux: Callable | None = None,
        rtol: float = 1e-10,
        atol: float = 1e-12,
        max_it: int = 12,
        scheme: Scheme = "secant_cn",
        periodic_axes: tuple[int, ...] | None = None,
        held: Callable | None = None,
    ):
        self._setup_common(mesh, energy, kappa, quadrature_degree, scheme)
        self.V = fem.functionspace(mesh, ("Lagrange", degree))
        self.u = fem.Function(self.V, name="c")
        self.u0 = fem.Function(self.V, name="c_old")
        self.u_prev = fem.Function(self.V, name="c_prev")
        c, c0, v = self.u, self.u0, ufl.TestFunction(self.V)
        if scheme == "split_euler":
            L = _mobility_expr(mesh, mobility, c0)
            df, c_grad = energy.df_convex(c) + energy.df_concave(c0), c
        else:  # secant CN; sources and fluxes at tⁿ⁺¹ᐟ² (self.t_src); split-Euler start-up step
            L = _mobility_expr(mesh, mobility, c0 + self.extrap_c * (c0 - self.u_prev))
            df, c_grad = self._blend(energy.secant(c, c0), 0.5 * (c + c0),
                                     energy.df_convex(c) + energy.df_concave(c0), c)
        dx, dt, k = self.dx, self.dt_c, self.kappa
        x = ufl.SpatialCoordinate(mesh)
        F = (c - c0) * v * dx + dt * L * (df * v * dx + k * ufl.inner(ufl.grad(c_grad), ufl.grad(v)) * dx)
        if source is not None:
            F -= dt * source(x, self.t_src) * v * dx
        if flux is not None:
            n = ufl.FacetNormal(mesh)
            F -= dt * L * k * ufl.inner(flux(x, self.t_src), n) * v * ufl.ds(domain=mesh)
        self._dissipative = source is None and flux is None
        self._build_solver(F, self.u, boundary, rtol, atol, max_it, periodic_axes, held)
        self._build_monitors(self.u)

    def _interpolate_c(self, func):
        self.u.interpolate(func)

    def concentration(self) -> fem.Function:
        return self.u
