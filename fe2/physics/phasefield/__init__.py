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
the Newton tolerance. The observed temporal orders are 2 and 1 (tests/physics/phasefield/test_phasefield.py).

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

from fe2.physics.phasefield.allen_cahn import AllenCahn
from fe2.physics.phasefield.cahn_hilliard import CahnHilliard
from fe2.physics.phasefield.energies import (
    BulkEnergy,
    DoubleWell,
    FloryHuggins,
    ch_fastest_wavenumber,
    ch_growth_rate,
    pfhub_bm1_energy,
)
from fe2.physics.phasefield.initial import pfhub_bm1_initial_condition, smooth_noise
from fe2.physics.phasefield.mobility import ConstantMobility, Mobility, QuadraticMobility
from fe2.physics.phasefield.periodic import PeriodicNewton
from fe2.physics.phasefield.stepping import Scheme, StepRecord, TimeStepping

__all__ = [
    "AllenCahn",
    "BulkEnergy",
    "CahnHilliard",
    "ConstantMobility",
    "DoubleWell",
    "FloryHuggins",
    "Mobility",
    "PeriodicNewton",
    "QuadraticMobility",
    "Scheme",
    "StepRecord",
    "TimeStepping",
    "ch_fastest_wavenumber",
    "ch_growth_rate",
    "pfhub_bm1_energy",
    "pfhub_bm1_initial_condition",
    "smooth_noise",
]
