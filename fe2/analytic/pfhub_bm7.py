"""PFHub benchmark 7: the manufactured Allen–Cahn solution (Jokisaari et al., PFHub BM7).

Governing equation (mobility 1, bulk energy f = η²(1 − η)², so f'(η) = 4η(η − 1)(η − ½))::

    ∂η/∂t = −(f'(η) − κ Δη) + S(x, y, t)

on [0, 1] × [0, 0.5], periodic in x, η = 1 on y = 0 and η = 0 on y = 0.5, to t = 8, with the
manufactured solution

    η_sol = ½ [1 − tanh((y − α(x, t)) / √(2κ))],
    α(x, t) = ¼ + A₁ t sin(B₁ x) + A₂ sin(B₂ x + C₂ t).

The source is S = ∂η_sol/∂t + f'(η_sol) − κ Δη_sol; since the tanh profile is the equilibrium
profile in y, f'(η_sol) = κ ∂²η_sol/∂y² exactly and S reduces to (with s = (y − α)/√(2κ))

    S = sech²(s)/(4√κ) [ −2√κ tanh(s) (∂α/∂x)² + √2 (∂α/∂t − κ ∂²α/∂x²) ]

(the expression of the benchmark's page; tests/physics/phasefield/test_pfhub_bm7.py checks it
against sympy's residual of η_sol). Parameters: :data:`BM7A` (part a); part b has
κ = 1.5625e-6, part c in addition C₂ = 0.5. Dimensionless units. Error norm of the benchmark: the
L² norm of η_h − η_sol at t = 8 (:func:`l2_error`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

#: the benchmark's domain [0, 1] × [0, 0.5] and end time
DOMAIN = ((0.0, 0.0), (1.0, 0.5))
T_END = 8.0


@dataclass(frozen=True)
class BM7Parameters:
    """κ and the interface-shape constants of α(x, t)."""

    kappa: float = 0.0004
    A1: float = 0.0075
    B1: float = 8.0 * math.pi
    A2: float = 0.03
    B2: float = 22.0 * math.pi
    C2: float = 0.0625 * math.pi


BM7A = BM7Parameters()
BM7B = replace(BM7A, kappa=1.5625e-6)
BM7C = replace(BM7B, C2=0.5)


def exact(x: np.ndarray, t: float, p: BM7Parameters = BM7A) -> np.ndarray:
    """η_sol at points ``x`` (shape (≥2, n)) and time ``t`` (numpy)."""
    alpha = 0.25 + p.A1 * t * np.sin(p.B1 * x[0]) + p.A2 * np.sin(p.B2 * x[0] + p.C2 * t)
    return 0.5 * (1.0 - np.tanh((x[1] - alpha) / math.sqrt(2.0 * p.kappa)))


def _alpha_ufl(x, t, p: BM7Parameters):
    import ufl

    alpha = 0.25 + p.A1 * t * ufl.sin(p.B1 * x[0]) + p.A2 * ufl.sin(p.B2 * x[0] + p.C2 * t)
    a_x = p.A1 * p.B1 * t * ufl.cos(p.B1 * x[0]) + p.A2 * p.B2 * ufl.cos(p.B2 * x[0] + p.C2 * t)
    a_xx = -p.A1 * p.B1**2 * t * ufl.sin(p.B1 * x[0]) - p.A2 * p.B2**2 * ufl.sin(p.B2 * x[0] + p.C2 * t)
    a_t = p.A1 * ufl.sin(p.B1 * x[0]) + p.A2 * p.C2 * ufl.cos(p.B2 * x[0] + p.C2 * t)
    return alpha, a_x, a_xx, a_t


def exact_ufl(x, t, p: BM7Parameters = BM7A):
    """η_sol as a UFL expression of ``x = ufl.SpatialCoordinate`` and ``t`` (a fem.Constant or float)."""
    import ufl

    alpha = _alpha_ufl(x, t, p)[0]
    return 0.5 * (1.0 - ufl.tanh((x[1] - alpha) / math.sqrt(2.0 * p.kappa)))


def source_ufl(x, t, p: BM7Parameters = BM7A):
    """The manufactured source S(x, y, t) as a UFL expression (see the module docstring)."""
    import ufl

    alpha, a_x, a_xx, a_t = _alpha_ufl(x, t, p)
    k = p.kappa
    s = (x[1] - alpha) / math.sqrt(2.0 * k)
    sech2 = 1.0 / ufl.cosh(s) ** 2
    return sech2 / (4.0 * math.sqrt(k)) * (-2.0 * math.sqrt(k) * ufl.tanh(s) * a_x**2
                                           + math.sqrt(2.0) * (a_t - k * a_xx))


def l2_error(c, t: float, p: BM7Parameters = BM7A, quadrature_degree: int = 8) -> float:
    """‖c − η_sol(·, t)‖_L² over the domain of ``c``'s mesh (collective): the benchmark's error norm
    (its discrete sum Σ(η − η_sol)² Δx Δy is this integral by the nodal rule).
    """
    import ufl
    from dolfinx import fem
    from mpi4py import MPI

    mesh = c.function_space.mesh
    x = ufl.SpatialCoordinate(mesh)
    dx = ufl.Measure("dx", domain=mesh, metadata={"quadrature_degree": quadrature_degree})
    local = fem.assemble_scalar(fem.form((c - exact_ufl(x, float(t), p)) ** 2 * dx))
    return math.sqrt(mesh.comm.allreduce(local, op=MPI.SUM))
