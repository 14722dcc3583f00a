"""Phase-field gradient flows: Cahn–Hilliard (conserved) and Allen–Cahn (non-conserved).

Free energy
    F[c] = ∫ f(c) + κ/2 |∇c|² dx

with a user bulk energy ``f`` (:class:`DoubleWell` — the PFHub polynomial
ρ (c−cα)² (cβ−c)² — or :class:`FloryHuggins`).

* Cahn–Hilliard (mixed c–μ as a blocked P_k 2-vector):  ∂c/∂t = ∇·(M(c) ∇μ),  μ = f'(c) − κ Δc,
  no-flux (∇c·n = M∇μ·n = 0) or periodic boundaries.
* Allen–Cahn (P1):  ∂c/∂t = −L (f'(c) − κ Δc) + s(x, t),  natural boundary
  ∇c·n = g (zero unless a flux is given, e.g. by a manufactured solution), or periodic.

Periodic boundaries (box meshes whose opposite faces match node for node, e.g.
``dolfinx.mesh.create_rectangle/create_box``) use the prolongation P of
:mod:`fe2.micro.constraints` (u = P û, corner and edge chains closed) and an own Newton
loop on PᵀF(Pû) = 0 with PᵀJP (``Mat.PtAP``) factorized by MUMPS; no gauge is fixed.

Time integration — two schemes (``scheme=``), both energy-stable for any Δt:

* ``"secant_cn"`` (default, second order): secant Crank–Nicolson (Du–Nicolaides type),
  μⁿ⁺¹ᐟ² = S(cⁿ⁺¹, cⁿ) − κΔ(cⁿ⁺¹ + cⁿ)/2 with the difference quotient
  S(b, a) = (f(b) − f(a))/(b − a) (:meth:`BulkEnergy.secant`), mobility at the extrapolated
  midpoint M(cⁿ + Δt/(2Δt_prev)(cⁿ − cⁿ⁻¹)), sources at tⁿ⁺¹ᐟ². Since S(b, a)(b − a) = f(b) − f(a)
  and κ∇(b+a)/2·∇(b−a) = κ/2(|∇b|² − |∇a|²) *exactly*, testing with (μ, cⁿ⁺¹ − cⁿ) gives the
  identity F[cⁿ⁺¹] − F[cⁿ] = −Δt ∫ M |∇μⁿ⁺¹ᐟ²|² (CH), = −∫(cⁿ⁺¹ − cⁿ)²/(LΔt) (AC, s = 0). CN damps
  stiff modes (M κ k⁴ Δt ≫ 1) only weakly, so the first step (no history yet) is a split-Euler
  step, which damps them (local error O(Δt²): the order stays 2). The nonlinear system is not
  monotone for large Δt (the concave part is implicit); a failed Newton solve is a rejected step.
* ``"split_euler"`` (first order): convex–concave splitting (Eyre) with backward Euler,
  f = f_c + f_e, f_c convex implicit, f_e concave explicit, gradient energy implicit, mobility
  lagged, M(cⁿ) ≥ 0; uniquely solvable for every Δt. Then
  F[cⁿ⁺¹] − F[cⁿ] ≤ −Δt ∫ M(cⁿ) |∇μⁿ⁺¹|² (CH), ≤ −(1/(LΔt)) ‖cⁿ⁺¹ − cⁿ‖² (AC, s = 0), because
  f_c(b) − f_c(a) ≤ f_c'(b)(b − a), f_e(b) − f_e(a) ≤ f_e'(a)(b − a) and
  κ/2(|∇b|² − |∇a|²) ≤ κ∇b·∇(b − a) pointwise.

Both arguments hold at every quadrature point, so the fully discrete energy (assembled with the
*same* quadrature rule as the residual, which is what this module does) is non-increasing up to
the Newton tolerance. The observed temporal orders are 2 and 1 (tests/test_phasefield.py).

Mass (CH): testing the c-equation with q = 1 gives ∫cⁿ⁺¹ = ∫cⁿ; every Newton iterate satisfies
this to round-off, since the Jacobian rows summed against 1 see only the mass matrix (whatever
M(c) is). So the drift is set by the LU solve, not by the Newton tolerance.

Step control (:class:`TimeStepping`, :meth:`_GradientFlow.run`):

* local error (``error_tol``): err = max over nodes |cⁿ⁺¹ − c_pred|, c_pred = cⁿ + (Δt/Δt_prev)
  (cⁿ − cⁿ⁻¹) the linear extrapolation (also the Newton initial guess of secant CN). The
  difference of a second-order solution and a first-order prediction is
  ≈ ½Δt(Δt + Δt_prev)|c̈|, i.e. it estimates the error of a first-order step; err > tol rejects
  the step, and Δt_new = Δt·clip(safety·(tol/err)^{1/2}, ratio_min, ratio_max). For the
  second-order scheme this is conservative: Δt ∝ tol^{1/2}, so the global error ∝ Δt² ∝ tol
  (tolerance proportionality, measured in the tests). The first step, without cⁿ⁻¹, compares
  with cⁿ (an order-1 estimate, exponent 1);
* energy (``energy_increase_rtol``, default 1e-10): a step that raises F by more than that
  fraction is rejected (Δt·cut) — for dissipative problems only (no MMS source/flux);
* Newton failure or NaN (e.g. a Flory–Huggins iterate leaving (0, 1)): restore cⁿ, Δt·cut;
  below ``dt_min`` a :class:`~fe2.errors.ConvergenceError` is raised;
* without ``error_tol``, the older heuristics: grow by ``grow`` when Newton converges in ≤
  ``fast_its`` iterations, shrink by ``shrink`` above ``slow_its`` or, if ``energy_rtol`` is
  set, when a step changed F by more than that fraction.

``run(t_end, t_stops=[...])`` lands exactly on output times.

Mobility: a number (a ``fem.Constant``), :class:`ConstantMobility`, :class:`QuadraticMobility`
(degenerate m0·4(c−a)(b−c)/(b−a)², floored at m0·floor > 0) or any callable c ↦ M(c) (UFL).

Forms (residual, Jacobian, energy, mass) are compiled once when a solver is built; the time
loop only changes ``fem.Constant`` values (Δt, t, the extrapolation factor) and arrays. The
SNES (no-flux) and the KSP of the periodic Newton read their options under the stable prefixes
``fe2_ch_`` / ``fe2_ac_`` (:mod:`fe2.solvers.options`): fe2's settings are defaults, an option
the user set there (``-fe2_ch_ksp_gmres_restart 30``, a TOML ``[petsc]`` table) wins.

Accuracy caveat: energy-stable is not accurate. The split-Euler scheme's explicit concave part
slows the dynamics by a factor ≈ 1 + Δt L |f_e''| (AC; for CH the analogue per mode is
Δt M k² |f_e''|), and the Newton-iteration heuristics know nothing of accuracy: use
``error_tol`` (or bound ``dt_max`` by the physics) when time accuracy matters.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Literal

import basix.ufl
import numpy as np
import ufl
from dolfinx import fem
from dolfinx.fem import petsc as fem_petsc
from dolfinx.fem.petsc import NonlinearProblem
from mpi4py import MPI
from petsc4py import PETSc

from fe2._compat import create_petsc_vector
from fe2.errors import ConfigError, ConvergenceError
from fe2.micro import constraints
from fe2.solvers import ConstrainedSystem, configure_from_defaults, create_ksp, newton_loop

# --------------------------------------------------------------------------------------
# bulk energies
# --------------------------------------------------------------------------------------


class BulkEnergy:
    """A bulk free-energy density f(c) = f_c(c) + f_e(c), f_c convex, f_e concave.

    Subclasses give UFL expressions for f, f_c' (implicit) and f_e' (explicit),
    and the float f''(c) used by linear stability analysis.
    """

    def f(self, c):  # pragma: no cover - interface
        raise NotImplementedError

    def df_convex(self, c):  # pragma: no cover - interface
        raise NotImplementedError

    def df_concave(self, c):  # pragma: no cover - interface
        raise NotImplementedError

    def d2f(self, c0: float) -> float:  # pragma: no cover - interface
        raise NotImplementedError

    def secant(self, b, a):
        """Difference quotient S(b, a) = (f(b) − f(a)) / (b − a) (UFL), with S(a, a) = f'(a).

        Used by the secant (Crank–Nicolson-type) scheme: S(b, a)(b − a) = f(b) − f(a) holds
        exactly, which turns the discrete energy law into an identity. Generic version: the
        quotient for |b − a| > 1e-3, the midpoint Taylor series f'(m) + f⁽³⁾(m) d²/24 below
        (truncation ≲ d⁴ |f⁽⁵⁾|/1920 ≤ 1e-15 |f⁽⁵⁾|; cancellation in the quotient ≲ 1e-13 |f|).
        """
        d = b - a
        m = ufl.variable(0.5 * (a + b))
        d1 = ufl.diff(self.f(m), m)
        d3 = ufl.diff(ufl.diff(d1, m), m)
        big = ufl.gt(abs(d), 1e-3)
        safe_d = ufl.conditional(big, d, 1.0)
        return ufl.conditional(big, (self.f(b) - self.f(a)) / safe_d, d1 + d3 * d * d / 24.0)

    def to_dict(self) -> dict:
        return {"kind": type(self).__name__, **dict(vars(self).items())}


@dataclass
class DoubleWell(BulkEnergy):
    """f(c) = ρ (c − cα)² (cβ − c)²; with ρ = W, cα = 0, cβ = 1 the classic W c²(1−c)².

    With x = c − (cα+cβ)/2 and h = (cβ−cα)/2, f = ρ (x² − h²)² = ρx⁴ + ρh⁴ − 2ρh²x²:
    convex part ρx⁴ (+ const), concave part −2ρh²x².
    """

    rho: float = 1.0
    c_alpha: float = 0.0
    c_beta: float = 1.0

    def __post_init__(self):
        if not self.rho > 0 or not self.c_beta > self.c_alpha:
            raise ConfigError(f"double well needs rho > 0 and c_beta > c_alpha, got {self}")

    def _x(self, c):
        return c - 0.5 * (self.c_alpha + self.c_beta)

    @property
    def _h2(self) -> float:
        return (0.5 * (self.c_beta - self.c_alpha)) ** 2

    def f(self, c):
        return self.rho * (c - self.c_alpha) ** 2 * (self.c_beta - c) ** 2

    def df_convex(self, c):
        return 4.0 * self.rho * self._x(c) ** 3

    def df_concave(self, c):
        return -4.0 * self.rho * self._h2 * self._x(c)

    def d2f(self, c0: float) -> float:
        x = c0 - 0.5 * (self.c_alpha + self.c_beta)
        return self.rho * (12.0 * x * x - 4.0 * self._h2)

    def secant(self, b, a):
        """(f(b) − f(a))/(b − a) = ρ (x_b + x_a)(x_b² + x_a² − 2h²): exact, division-free."""
        xb, xa = self._x(b), self._x(a)
        return self.rho * (xb + xa) * (xb * xb + xa * xa - 2.0 * self._h2)


def pfhub_bm1_energy() -> DoubleWell:
    """PFHub benchmark 1 bulk energy: ρ = 5, cα = 0.3, cβ = 0.7."""
    return DoubleWell(rho=5.0, c_alpha=0.3, c_beta=0.7)


@dataclass
class FloryHuggins(BulkEnergy):
    """f(c) = s [c ln c / n_a + (1−c) ln(1−c) / n_b + χ c (1−c)], c ∈ (0, 1).

    Convex: the entropy terms; concave: χ c(1−c). Iterates leaving (0, 1) give a
    NaN residual, which the adaptive stepper treats as a failed step.
    """

    chi: float = 3.0
    n_a: float = 1.0
    n_b: float = 1.0
    scale: float = 1.0

    def __post_init__(self):
        if not (self.chi >= 0 and self.n_a > 0 and self.n_b > 0 and self.scale > 0):
            raise ConfigError(f"Flory–Huggins needs chi >= 0, n_a, n_b, scale > 0, got {self}")

    def f(self, c):
        return self.scale * (c * ufl.ln(c) / self.n_a + (1 - c) * ufl.ln(1 - c) / self.n_b
                             + self.chi * c * (1 - c))

    def df_convex(self, c):
        return self.scale * ((ufl.ln(c) + 1) / self.n_a - (ufl.ln(1 - c) + 1) / self.n_b)

    def df_concave(self, c):
        return self.scale * self.chi * (1 - 2 * c)

    def d2f(self, c0: float) -> float:
        return self.scale * (1 / (self.n_a * c0) + 1 / (self.n_b * (1 - c0)) - 2 * self.chi)


# --------------------------------------------------------------------------------------
# records and time-stepping settings
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StepRecord:
    """Monitors of one accepted step (step 0 is the initial state)."""

    step: int
    t: float
    dt: float
    energy: float
    mass: float
    newton_its: int
    rejected: int = 0  # attempts rejected before this one was accepted

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class TimeStepping:
    """Adaptive step control (see module docstring)."""

    dt: float = 1.0
    dt_min: float = 1e-8
    dt_max: float = math.inf
    adaptive: bool = True
    grow: float = 1.5
    shrink: float = 0.7
    cut: float = 0.5
    fast_its: int = 4
    slow_its: int = 7
    #: optional accuracy proxy: grow only while a step changes F by less than this fraction,
    #: shrink (× shrink) when it changes F by more (None: Newton iterations alone decide)
    energy_rtol: float | None = None
    #: local-error control (None: off). The estimate is max_nodes |cⁿ⁺¹ − c_pred|, c_pred the
    #: linear extrapolation from cⁿ⁻¹, cⁿ (units of c); accepted when ≤ error_tol, and the next
    #: step is dt · clip(safety (error_tol/err)^(1/2), ratio_min, ratio_max).
    error_tol: float | None = None
    safety: float = 0.9
    ratio_min: float = 0.2
    ratio_max: float = 2.0
    #: reject a step (and cut dt) whose free energy rose by more than this × |Fⁿ| (None: off;
    #: only for dissipative problems, i.e. no MMS source/flux). 1e-10: above the Newton
    #: tolerance (residual rtol 1e-10), far above round-off; a true instability is O(1).
    energy_increase_rtol: float | None = 1e-10

    def __post_init__(self):
        if not (0 < self.dt_min <= self.dt <= self.dt_max):
            raise ConfigError(f"need 0 < dt_min <= dt <= dt_max, got {self.dt_min}, {self.dt}, {self.dt_max}")
        if not (self.grow >= 1 and 0 < self.shrink <= 1 and 0 < self.cut < 1):
            raise ConfigError("need grow >= 1, 0 < shrink <= 1, 0 < cut < 1")
        if self.error_tol is not None and not self.error_tol > 0:
            raise ConfigError(f"error_tol must be > 0, got {self.error_tol}")
        if not (0 < self.safety <= 1 and 0 < self.ratio_min < 1 < self.ratio_max):
            raise ConfigError("need 0 < safety <= 1 and 0 < ratio_min < 1 < ratio_max")
        if self.energy_increase_rtol is not None and not self.energy_increase_rtol >= 0:
            raise ConfigError(f"energy_increase_rtol must be >= 0, got {self.energy_increase_rtol}")


def _snes_options(rtol: float, atol: float, max_it: int) -> dict:
    return {
        "snes_type": "newtonls",
        "snes_linesearch_type": "basic",
        "snes_rtol": rtol,
        "snes_atol": atol,
        "snes_stol": 0.0,
        "snes_max_it": max_it,
        "snes_error_if_not_converged": False,
        "ksp_type": "preonly",
        "pc_type": "lu",
        "pc_factor_mat_solver_type": "mumps",
        "ksp_error_if_not_converged": False,
    }


@dataclass(frozen=True)
class ConstantMobility:
    """M(c) = value (> 0)."""

    value: float

    def __post_init__(self):
        if not (math.isfinite(self.value) and self.value > 0):
            raise ConfigError(f"constant mobility must be finite and > 0, got {self.value}")

    def __call__(self, c):
        return self.value + 0.0 * c  # solvers use a fem.Constant instead (see _mobility_expr)

    def at(self, c: float) -> float:
        return self.value


@dataclass(frozen=True)
class QuadraticMobility:
    """Degenerate quadratic mobility, regularized:
    M(c) = m0 · max(4 (c − c_min)(c_max − c) / (c_max − c_min)², floor).

    M = m0 at the midpoint (c_min + c_max)/2 and → m0·floor at and beyond c_min, c_max, so
    M ≥ m0·floor > 0 for every c (an iterate that leaves [c_min, c_max] cannot stall the flow,
    and the energy law, which needs M ≥ 0 pointwise, holds for any c).
    """

    m0: float
    c_min: float = 0.0
    c_max: float = 1.0
    floor: float = 1e-3

    def __post_init__(self):
        if not (math.isfinite(self.m0) and self.m0 > 0):
            raise ConfigError(f"quadratic mobility: m0 must be finite and > 0, got {self.m0}")
        if not self.c_max > self.c_min:
            raise ConfigError(f"quadratic mobility: need c_max > c_min, got {self.c_min}, {self.c_max}")
        if not 0 < self.floor <= 1:
            raise ConfigError(f"quadratic mobility: need 0 < floor <= 1, got {self.floor}")

    def _shape(self, c):
        return 4.0 * (c - self.c_min) * (self.c_max - c) / (self.c_max - self.c_min) ** 2

    def __call__(self, c):
        return self.m0 * ufl.max_value(self._shape(c), self.floor)

    def at(self, c: float) -> float:
        return self.m0 * max(self._shape(c), self.floor)


Mobility = float | ConstantMobility | QuadraticMobility | Callable[[ufl.core.expr.Expr], ufl.core.expr.Expr]

#: time schemes: first-order convex split (default) and second-order secant / Crank–Nicolson
Scheme = Literal["split_euler", "secant_cn"]


def _mobility_expr(mesh, mobility: Mobility, c_lag):
    """UFL mobility: a fem.Constant for a number (the historical path, bit-identical), else
    mobility(c_lag).
    """
    if isinstance(mobility, ConstantMobility):
        mobility = mobility.value
    if callable(mobility):
        return mobility(c_lag)
    if not (math.isfinite(float(mobility)) and float(mobility) > 0):
        raise ConfigError(f"mobility must be finite and > 0, got {mobility}")
    return fem.Constant(mesh, PETSc.ScalarType(float(mobility)))


# --------------------------------------------------------------------------------------
# common driver
# --------------------------------------------------------------------------------------


class _GradientFlow:
    """Time loop, step control and monitors shared by both models."""

    #: the options prefix of the model's solvers (one of fe2.solvers.PREFIXES), set by the subclass
    prefix_base = ""

    def _setup_common(self, mesh, energy: BulkEnergy, kappa: float, quadrature_degree: int | None,
                      scheme: Scheme = "secant_cn"):
        if not kappa > 0:
            raise ConfigError(f"kappa must be > 0, got {kappa}")
        if scheme not in ("split_euler", "secant_cn"):
            raise ConfigError(f"{type(self).__name__}: scheme must be 'split_euler' or 'secant_cn', "
                              f"got {scheme!r}")
        self.scheme: Scheme = scheme
        if not isinstance(energy, BulkEnergy):
            raise ConfigError(f"energy must be a BulkEnergy, got {type(energy).__name__}")
        self.mesh = mesh
        self.comm: MPI.Comm = mesh.comm
        self.energy = energy
        self.kappa = float(kappa)
        qd = 4 if quadrature_degree is None else int(quadrature_degree)
        # One rule for residual *and* energy: the energy-stability argument is pointwise
        # at quadrature points, so both must see the same points.
        self.dx = ufl.Measure("dx", domain=mesh, metadata={"quadrature_degree": qd})
        self.dt_c = fem.Constant(mesh, PETSc.ScalarType(1.0))
        self.t_c = fem.Constant(mesh, PETSc.ScalarType(0.0))  # time of the new level tⁿ⁺¹
        # time at which sources/fluxes are evaluated: tⁿ⁺¹ (split Euler) or tⁿ⁺¹ᐟ² (secant CN)
        self.t_src = fem.Constant(mesh, PETSc.ScalarType(0.0))
        # mobility lag: M(cⁿ + e (cⁿ − cⁿ⁻¹)), e = Δt/(2Δt_prev) for secant CN (midpoint
        # extrapolation, second order), 0 for split Euler and for the first step
        self.extrap_c = fem.Constant(mesh, PETSc.ScalarType(0.0))
        self.dt_prev: float | None = None  # last accepted step (None: no history yet)
        self._dissipative = True  # False when an MMS source/flux feeds energy in
        # secant CN only: 1 → this step is a split-Euler step (start-up), 0 → secant CN
        self.startup = fem.Constant(mesh, PETSc.ScalarType(0.0))
        self.t = 0.0
        self.step_count = 0
        self.prefix = self.prefix_base

    def _blend(self, mu_cn, grad_cn, mu_be, grad_be):
        """(1 − s)·CN + s·split-Euler terms, s = self.startup ∈ {0, 1} (one compiled form)."""
        s = self.startup
        return (1 - s) * mu_cn + s * mu_be, (1 - s) * grad_cn + s * grad_be

    def _build_monitors(self, c):
        k = self.kappa
        self._energy_form = fem.form((self.energy.f(c) + 0.5 * k * ufl.inner(ufl.grad(c), ufl.grad(c))) * self.dx)
        self._mass_form = fem.form(c * self.dx)

    def _build_solver(self, F, u, boundary, rtol, atol, max_it):
        if boundary not in ("noflux", "periodic"):
            raise ConfigError(f"{type(self).__name__}: boundary must be 'noflux' or 'periodic', got {boundary!r}")
        self.boundary = boundary
        self._tol = (rtol, atol, max_it)
        if boundary == "noflux":
            # fe2's SNES settings are defaults around the setFromOptions that NonlinearProblem runs
            # (for any petsc_options dict, empty included). Not through dolfinx's petsc_options:
            # it writes them under a pushed prefix and its `del opts[k]` then misses them (petsc4py
            # deletes without the pushed prefix), so they would stay in the database under the
            # stable prefix and pass for user options in every later solver.
            with configure_from_defaults(self.prefix, _snes_options(rtol, atol, max_it)):
                self.problem = NonlinearProblem(F, u, petsc_options_prefix=self.prefix, petsc_options={})
            self.snes = self.problem.solver
            return
        # Periodic: u = P û on a mesh whose opposite faces match node for node (a box mesh
        # from dolfinx.mesh.create_rectangle/create_box does). Own Newton on PᵀF(P û) = 0.
        V = u.function_space
        gdim = self.mesh.geometry.dim
        n_nodes = V.dofmap.index_map.size_local
        bs = V.dofmap.index_map_bs
        x = V.tabulate_dof_coordinates()[:n_nodes, :gdim]
        lo = np.array(
            [self.comm.allreduce(float(x[:, a].min()) if n_nodes else np.inf, op=MPI.MIN) for a in range(gdim)]
        )
        hi = np.array(
            [self.comm.allreduce(float(x[:, a].max()) if n_nodes else -np.inf, op=MPI.MAX) for a in range(gdim)]
        )
        # no gauge: a concentration, unlike an RVE fluctuation, is not defined up to a constant
        nm = constraints.periodic_node_map(self.comm, x, lo, hi, gauge=False)
        self.P = constraints.prolongation(self.comm, nm, n_nodes, bs)
        self._F_form = fem.form(F)
        self._J_form = fem.form(ufl.derivative(F, u))
        self._J = fem_petsc.assemble_matrix(self._J_form)
        self._J.assemble()
        self._sys = ConstrainedSystem(self._J, self.P)  # PᵀJP, refilled in place by update()
        self._Jr = self._sys.reduced
        self._b = create_petsc_vector(V)
        self._dx_full = create_petsc_vector(V)
        self._xr, self._br = self._sys.reduced_vectors()
        # Newton–Krylov with a lagged factorization: GMRES on the current Jacobian, preconditioned by
        # the MUMPS LU of an older one (self._Jp), refreshed only when GMRES needs more than
        # LAG_MAX_KSP_ITS iterations. Consecutive Newton iterates and time steps change the Jacobian
        # little, so most iterations cost a few back-substitutions instead of a factorization; the
        # linear solves stay accurate (rtol 1e-12), so Newton keeps its quadratic convergence.
        self._Jp = self._Jr.duplicate(copy=True)
        defaults = {"ksp_type": "gmres", "ksp_rtol": 1e-12, "ksp_atol": 1e-300, "ksp_max_it": 60,
                    "ksp_gmres_restart": 60, "pc_type": "lu", "pc_factor_mat_solver_type": "mumps"}
        ksp = create_ksp(self.comm, self.prefix, defaults)
        ksp.setOperators(self._Jr, self._Jp)
        self._ksp = ksp
        self._refactor = True  # factorize at the first solve
        self.factorizations = 0
        self.problem = None
        self.snes = None

    def _reduced_residual(self) -> float:
        with self._b.localForm() as loc:
            loc.set(0.0)
        fem_petsc.assemble_vector(self._b, self._F_form)
        self._b.ghostUpdate(addv=PETSc.InsertMode.ADD, mode=PETSc.ScatterMode.REVERSE)
        self._sys.restrict(self._b, self._br)
        return self._br.norm()

    def _newton_step(self) -> bool:
        """Jacobian at the current iterate, PᵀJP, lagged-LU GMRES, u ← u − P x̂; False: the solve failed."""
        self._J.zeroEntries()
        fem_petsc.assemble_matrix(self._J, self._J_form)
        self._J.assemble()
        self._sys.update()
        if not self._solve_lagged():
            return False
        self._sys.expand(self._xr, self._dx_full, ghosts=False)  # axpy acts on owned entries only
        self.u.x.petsc_vec.axpy(-1.0, self._dx_full)
        self.u.x.scatter_forward()
        return True

    def _newton_periodic(self) -> tuple[bool, int]:
        """Newton on PᵀF(Pû) = 0 (fe2.solvers.newton_loop): stops when |PᵀF| <= max(atol, rtol |PᵀF⁰|)."""
        rtol, atol, max_it = self._tol
        report = newton_loop(lambda it: self._reduced_residual(), lambda it: self._newton_step(),
                             lambda r, r0: r <= max(atol, rtol * r0), max_it, comm=self.comm)
        return report.converged, report.iterations

    #: refresh the lagged factorization when GMRES needs more iterations than this
    LAG_MAX_KSP_ITS = 6

    def _solve_lagged(self) -> bool:
        """Solve Jr x = br with the lagged LU as preconditioner; a failed or slow solve schedules a
        refactorization (a failed one is retried at once with the fresh factorization).
        """
        pc = self._ksp.getPC()
        fresh = self._refactor
        if fresh:
            self._Jr.copy(self._Jp, structure=PETSc.Mat.Structure.SAME_NONZERO_PATTERN)
            self._ksp.setOperators(self._Jr, self._Jp)
            pc.setReusePreconditioner(False)
            self.factorizations += 1
            self._refactor = False
        else:
            pc.setReusePreconditioner(True)
        self._ksp.solve(self._br, self._xr)
        ok = self._ksp.getConvergedReason() > 0
        if not ok and not fresh:
            self._refactor = True
            return self._solve_lagged()
        if ok and self._ksp.getIterationNumber() > self.LAG_MAX_KSP_ITS:
            self._refactor = True  # good answer, weak preconditioner: refresh it for the next solve
        return ok

    # ---- monitors -------------------------------------------------------------------
    def free_energy(self) -> float:
        return self.comm.allreduce(fem.assemble_scalar(self._energy_form), op=MPI.SUM)

    def mass(self) -> float:
        return self.comm.allreduce(fem.assemble_scalar(self._mass_form), op=MPI.SUM)

    def record(self, dt: float = 0.0, its: int = 0, rejected: int = 0) -> StepRecord:
        return StepRecord(self.step_count, self.t, dt, self.free_energy(), self.mass(), its, rejected)

    # ---- stepping -------------------------------------------------------------------
    def _c_part(self, arr: np.ndarray) -> np.ndarray:
        """The c entries of a state array (all of it for Allen–Cahn)."""
        idx = getattr(self, "_c_dofs", None)
        return arr if idx is None else arr[idx]

    def predictor(self, dt: float) -> np.ndarray:
        """Linear extrapolation cⁿ + (Δt/Δt_prev)(cⁿ − cⁿ⁻¹) of the whole state (local array,
        ghosts included); cⁿ itself before the first accepted step.
        """
        u0 = self.u0.x.array
        if self.dt_prev is None:
            return u0.copy()
        return u0 + (dt / self.dt_prev) * (u0 - self.u_prev.x.array)

    def local_error(self, pred: np.ndarray) -> float:
        """max over nodes of |c − c_pred| for the current trial state (collective)."""
        d = self._c_part(self.u.x.array) - self._c_part(pred)
        return self.comm.allreduce(float(np.abs(d).max()) if d.size else 0.0, op=MPI.MAX)

    def _try_step(self, dt: float, guess: np.ndarray | None = None) -> tuple[bool, int]:
        """One attempt from the stored old state; True when Newton converged to finite values."""
        cn = self.scheme == "secant_cn"
        self.dt_c.value = dt
        self.t_c.value = self.t + dt
        # CN needs a history: its first step is a split-Euler step (L-stable start-up, which
        # damps the stiff modes CN would carry undamped; local error O(Δt²), so order 2 stays)
        first = self.dt_prev is None
        self.startup.value = 1.0 if (cn and first) else 0.0
        self.t_src.value = self.t + (0.5 * dt if (cn and not first) else dt)
        self.extrap_c.value = 0.5 * dt / self.dt_prev if (cn and not first) else 0.0
        self._before_solve()
        # initial Newton guess: the old state, or a given predictor
        self.u.x.array[:] = self.u0.x.array if guess is None else guess
        if self.boundary == "periodic":
            conv, its = self._newton_periodic()
        else:
            self.problem.solve()
            conv = self.snes.getConvergedReason() > 0
            its = self.snes.getIterationNumber()
        finite = bool(np.isfinite(self.u.x.array).all())
        ok = self.comm.allreduce(int(conv and finite), op=MPI.MIN) == 1
        return ok, its

    def _before_solve(self):
        """Hook: update time-dependent data (none by default)."""

    def _commit(self, dt: float) -> None:
        self.u_prev.x.array[:] = self.u0.x.array
        self.u0.x.array[:] = self.u.x.array
        self.t += dt
        self.dt_prev = dt
        self.step_count += 1

    def step(self, dt: float) -> tuple[bool, int]:
        """Attempt one step of size dt (no step control); on success the new state becomes current."""
        guess = self.predictor(dt) if self.scheme == "secant_cn" else None
        ok, its = self._try_step(dt, guess)
        if ok:
            self._commit(dt)
        else:
            self.u.x.array[:] = self.u0.x.array
        return ok, its

    def run(
        self,
        t_end: float,
        stepping: TimeStepping | None = None,
        *,
        max_steps: int = 100_000,
        callback: Callable[[_GradientFlow, StepRecord], None] | None = None,
        t_stops: list[float] | tuple[float, ...] = (),
    ) -> list[StepRecord]:
        """Integrate to ``t_end``, landing exactly on every time in ``t_stops`` (output times);
        return the monitor records, initial state first.

        Step control (``stepping.adaptive``): a failed Newton solve (or NaN) is retried with
        Δt·cut; with ``energy_increase_rtol`` a step that raised F beyond it is rejected the same
        way (dissipative problems only); with ``error_tol`` a step whose local-error estimate
        exceeds it is rejected and retried with the controller's smaller Δt, and accepted steps
        set the next Δt by the controller. Without ``error_tol`` the Newton-iteration (and
        ``energy_rtol``) heuristics of the module docstring decide.
        """
        ts = stepping or TimeStepping()
        dt = ts.dt
        history = [self.record()] if self.step_count == 0 else []
        if self.step_count == 0 and callback is not None:
            callback(self, history[0])
        E_old = history[0].energy if history else self.free_energy()
        tol = 1e-12 * max(1.0, abs(t_end))
        stops = sorted({float(s) for s in t_stops if s < t_end - tol} | {float(t_end)})
        cn = self.scheme == "secant_cn"
        n_new = 0
        while self.t < t_end - tol and n_new < max_steps:
            t_next = next(s for s in stops if s > self.t + tol)
            dt = min(dt, ts.dt_max)
            dt_try = min(dt, t_next - self.t)
            clipped = dt_try < dt * (1 - 1e-12)
            rejected = 0
            while True:
                p = 2 if self.dt_prev is not None else 1  # order of the estimate (see TimeStepping)
                pred = self.predictor(dt_try)
                ok, its = self._try_step(dt_try, pred if cn else None)
                why, err, E_new = None, None, None
                if not ok:
                    why = "Newton failed"
                else:
                    E_new = self.free_energy()
                    if ts.error_tol is not None:
                        err = self.local_error(pred)
                    rise = ts.energy_increase_rtol
                    rose = rise is not None and self._dissipative and E_new - E_old > rise * abs(E_old)
                    if ts.adaptive and rose:
                        why = f"free energy rose by {E_new - E_old:.3g}"
                    elif ts.adaptive and err is not None and err > ts.error_tol:
                        why = "error"
                if why is None:
                    break
                self.u.x.array[:] = self.u0.x.array
                rejected += 1
                if not ts.adaptive:
                    raise ConvergenceError(f"{type(self).__name__}: {why} at t = {self.t:g} "
                                           f"with fixed dt = {dt_try:g}")
                if why == "error":
                    dt_try *= max(ts.ratio_min, ts.safety * (ts.error_tol / err) ** (1.0 / p))
                else:
                    dt_try *= ts.cut
                if dt_try < ts.dt_min:
                    raise ConvergenceError(f"{type(self).__name__}: dt fell below dt_min = {ts.dt_min:g} "
                                           f"at t = {self.t:g} ({why})")
                dt, clipped = dt_try, False
            self._commit(dt_try)
            n_new += 1
            rec = StepRecord(self.step_count, self.t, dt_try, E_new, self.mass(), its, rejected)
            history.append(rec)
            if callback is not None:
                callback(self, rec)
            dE = abs(E_new - E_old) / max(abs(E_old), 1e-300)
            E_old = E_new
            if not ts.adaptive:
                continue
            if ts.error_tol is not None:
                fac = ts.safety * (ts.error_tol / err) ** (1.0 / p) if err > 0 else ts.ratio_max
                dt_new = dt_try * min(max(fac, ts.ratio_min), ts.ratio_max)
                dt = max(dt_new, dt) if clipped else dt_new
                dt = min(max(dt, ts.dt_min), ts.dt_max)
            elif ts.energy_rtol is not None and dE > ts.energy_rtol:
                dt = max(dt_try * ts.shrink, ts.dt_min)
            elif not clipped:
                if its <= ts.fast_its:
                    dt = min(dt_try * ts.grow, ts.dt_max)
                elif its > ts.slow_its:
                    dt = max(dt_try * ts.shrink, ts.dt_min)
                else:
                    dt = dt_try
        self.dt_next = dt
        return history

    # ---- state --------------------------------------------------------------------------
    def set_initial_condition(self, c0: Callable[[np.ndarray], np.ndarray] | float) -> None:
        """Interpolate c(x) (callable on a (gdim, n) array, or a constant) as the current state.

        Periodic boundaries: an initial field that is not periodic (e.g. the PFHub BM1 cosines
        on [0, 200]²) is made periodic first — every group of nodes identified by the periodic
        map gets the mean of its interpolated values (û = (PᵀP)⁻¹Pᵀu, u = Pû) — so the first
        step starts from a state of the periodic space, as a constrained FE code would.
        """
        func = c0 if callable(c0) else (lambda x, v=float(c0): np.full(x.shape[1], v))
        self._interpolate_c(func)
        if self.boundary == "periodic":
            self._make_periodic(self.u)
        self.u0.x.array[:] = self.u.x.array
        self.u_prev.x.array[:] = self.u.x.array
        self.dt_prev = None
        self.t = 0.0
        self.step_count = 0

    def _make_periodic(self, u: fem.Function) -> None:
        """u ← P (PᵀP)⁻¹ Pᵀ u: the mean over each group of periodically identified nodes."""
        ones = self._dx_full.duplicate()
        ones.set(1.0)
        counts, uh = self._xr.duplicate(), self._xr.duplicate()
        self._sys.restrict(ones, counts)
        self._sys.restrict(u.x.petsc_vec, uh)
        uh.pointwiseDivide(uh, counts)
        self._sys.expand(uh, u.x.petsc_vec, ghosts=False)
        u.x.scatter_forward()
        for v in (ones, counts, uh):
            v.destroy()

    def close(self):
        """Release the SNES / KSP and their matrices (collective)."""
        self.problem = None
        self.snes = None
        for name in ("_ksp", "_J", "_Jr", "_Jp", "P", "_b", "_dx_full", "_br", "_xr"):
            obj = getattr(self, name, None)
            if obj is not None:
                obj.destroy()
                setattr(self, name, None)
        self._sys = None  # its reduced operator was _Jr


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
        scheme: 'secant_cn' (second order, default) or 'split_euler' (first order); see the
            module docstring. Under secant CN the μ component is μⁿ⁺¹ᐟ².
    """

    prefix_base = "fe2_ch_"  # fe2.solvers.PREFIXES

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
    ):
        self._setup_common(mesh, energy, kappa, quadrature_degree, scheme)
        # (c, μ) as a blocked 2-vector P_k field: one node carries both, so the periodic
        # prolongation acts node by node with block size 2.
        el = basix.ufl.element("Lagrange", mesh.basix_cell(), degree, shape=(2,))
        self.W = fem.functionspace(mesh, el)
        self.u = fem.Function(self.W, name="state")
        self.u0 = fem.Function(self.W, name="state_old")
        self.u_prev = fem.Function(self.W, name="state_prev")
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
        self._build_solver(F, self.u, boundary, rtol, atol, max_it)
        self._build_monitors(self.u)

    def _interpolate_c(self, func):
        self.u.interpolate(func)

    def concentration(self) -> fem.Function:
        return self.u


# --------------------------------------------------------------------------------------
# linear stability (spinodal) helpers
# --------------------------------------------------------------------------------------


def ch_growth_rate(k, energy: BulkEnergy, c0: float, kappa: float, mobility: float):
    """Linearized CH growth rate σ(k) = −M k² (f''(c0) + κ k²) of a mode cos(k·x)."""
    k = np.asarray(k, dtype=float)
    return -mobility * k**2 * (energy.d2f(c0) + kappa * k**2)


def ch_fastest_wavenumber(energy: BulkEnergy, c0: float, kappa: float) -> float:
    """k_max = √(−f''(c0) / (2κ)); NaN when c0 is outside the spinodal (f''(c0) ≥ 0)."""
    d2 = energy.d2f(c0)
    return math.sqrt(-d2 / (2 * kappa)) if d2 < 0 else math.nan


def pfhub_bm1_initial_condition(c0: float = 0.5, eps: float = 0.01):
    """PFHub benchmark 1 initial condition c0 + ε[cos(0.105x)cos(0.11y) + (cos(0.13x)cos(0.087y))²
    + cos(0.025x − 0.15y) cos(0.07x − 0.02y)] as a callable on (gdim, n) coordinates.
    """

    def ic(x):
        X, Y = x[0], x[1]
        return c0 + eps * (
            np.cos(0.105 * X) * np.cos(0.11 * Y)
            + (np.cos(0.13 * X) * np.cos(0.087 * Y)) ** 2
            + np.cos(0.025 * X - 0.15 * Y) * np.cos(0.07 * X - 0.02 * Y)
        )

    return ic


def smooth_noise(c0: float, amplitude: float, length: float, n_modes: int = 12, seed: int = 0):
    """A partition-independent 'random' field: c0 + amplitude × sum of random-phase cosines
    (wavelengths down to ~length/8), normalized to max |noise| ≤ amplitude. Being a function of
    x only, it is identical on any number of ranks.
    """
    rng = np.random.default_rng(seed)
    kv = rng.uniform(-8, 8, size=(n_modes, 3)) * 2 * np.pi / length
    ph = rng.uniform(0, 2 * np.pi, size=n_modes)

    def ic(x):
        s = np.zeros(x.shape[1])
        for kk, p in zip(kv, ph, strict=False):
            s += np.cos(kk[0] * x[0] + kk[1] * x[1] + kk[2] * x[2] + p)
        return c0 + amplitude * s / n_modes

    return ic
