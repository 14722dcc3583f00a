"""Michaelis–Menten enzyme kinetics: the full mass-action model and its quasi-steady-state reductions.

Mechanism ``E + S <-> C -> E + P`` (rate constants ``k1``, ``km1``, ``k2``), totals ``E0`` (enzyme)
and ``S0`` (substrate), no complex or product at t = 0. Constants: ``K_M = (km1 + k2) / k1``
(Michaelis), ``K = k2 / k1`` (Van Slyke–Cullen), ``V_max = k2 E0``.

* **sQSSA** (standard; Briggs–Haldane): ``ds/dt = -V_max s / (K_M + s)``, ``s(0) = S0``, complex
  slaved ``c = E0 s / (K_M + s)``; closed form with the Lambert W function
  ``s(t) = K_M W((S0/K_M) exp((S0 - V_max t)/K_M))``. Valid when the Segel–Slemrod parameter
  ``eps_SS = E0 / (S0 + K_M)`` is small (Segel & Slemrod 1989).
* **tQSSA** (total; Borghans, de Boer & Segel 1996, Tzafriri 2003): for the total substrate
  ``Sbar = s + c``, ``dSbar/dt = -k2 c(Sbar)`` with ``c`` the small root of
  ``c^2 - (E0 + K_M + Sbar) c + E0 Sbar = 0``. Valid when Borghans et al.'s
  ``eps_BdBS = K E0 / (K_M + E0 + S0)^2`` is small (it never exceeds 1/4), which includes
  ``E0 ~ S0`` where sQSSA fails. Tzafriri (2003, Bull. Math. Biol. 65:1111) sharpened it to
  ``eps_Tz = K / (2 S0) * ((E0 + K_M + S0) / sqrt((E0 + K_M + S0)^2 - 4 E0 S0) - 1)``, the ratio
  ``t_C / t_S`` of the fast time ``t_C = 1 / (k1 sqrt((E0 + K_M + S0)^2 - 4 E0 S0))`` (linearized
  relaxation of the complex at its quasi-steady value ``c0``, the small root at ``Sbar = S0``) to
  the slow time ``t_S = S0 / (k2 c0)`` of the total substrate: with ``2 c0 = b - sqrt(b^2 - 4 E0 S0)``
  this is the expression above. It tends to ``eps_BdBS`` for ``E0 -> 0`` and never exceeds
  ``K / (4 K_M) <= 1/4`` (checked numerically over 2e5 random parameter sets). This form is our
  derivation of Tzafriri's criterion; we could not read the paper itself to confirm its printed
  form. Measured on ``E0 = S0``: tQSSA product error ~0.65 ``eps_Tz`` (see the tests).

Errors are measured on the product ``P(t)`` (predicted by both reductions:
``P = S0 - s`` for sQSSA, whose reduced model is ``dP/dt = V_max s/(K_M + s)``, ``P(0) = 0``;
``P = S0 - Sbar`` for tQSSA), as ``max |P_red - P_full| / S0`` over
the outer (slow) time ``t >= 5 t_C``, ``t_C = 1 / (k1 (E0 + S0 + K_M))`` the complex-formation time:
inside the initial layer no QSSA is meant to hold.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from fe2.errors import ConfigError, ConvergenceError
from fe2.physics.reactions.network import Network, Reaction, Species


@dataclass(frozen=True)
class EnzymeKinetics:
    """Parameters of ``E + S <-> C -> E + P``."""

    k1: float
    km1: float
    k2: float
    E0: float
    S0: float

    def __post_init__(self):
        for k, v in asdict(self).items():
            if not (np.isfinite(v) and v > 0) and not (k == "km1" and v == 0):
                raise ConfigError(f"{k}: must be > 0 (got {v})")

    @property
    def KM(self) -> float:
        return (self.km1 + self.k2) / self.k1

    @property
    def K(self) -> float:
        return self.k2 / self.k1

    @property
    def Vmax(self) -> float:
        return self.k2 * self.E0

    @property
    def t_S(self) -> float:
        """Segel's substrate depletion time scale ``(K_M + S0) / V_max``."""
        return (self.KM + self.S0) / self.Vmax

    def criteria(self) -> dict[str, float]:
        """Validity parameters: ``eps_SS`` (sQSSA, Segel–Slemrod), ``eps_BdBS`` (tQSSA, Borghans
        et al.) and ``eps_Tz`` (tQSSA, Tzafriri; see the module docstring).
        """
        b = self.E0 + self.KM + self.S0
        # b^2 - 4 E0 S0 = (E0 - S0)^2 + K_M (K_M + 2 (E0 + S0)) > 0, written without cancellation
        root = np.sqrt((self.E0 - self.S0) ** 2 + self.KM * (self.KM + 2.0 * (self.E0 + self.S0)))
        return {
            "eps_SS": self.E0 / (self.S0 + self.KM),
            "eps_BdBS": self.K * self.E0 / b**2,
            # K/(2 S0) (b/root - 1) written as K/(2 S0) (b - root)/root, with the cancellation-free
            # b - root = 4 E0 S0 / (b + root): K * 2 E0 / (root (b + root))
            "eps_Tz": float(2.0 * self.K * self.E0 / (root * (b + root))),
            "E0_over_S0": self.E0 / self.S0,
        }

    def network(self) -> Network:
        """The full model as a :class:`Network` (species E, S, C, P)."""
        return Network(
            [Species("E", self.E0), Species("S", self.S0), Species("C", 0.0), Species("P", 0.0)],
            [Reaction.parse("E + S <-> C", k="k1", k_reverse="km1", name="binding"),
             Reaction.parse("C -> E + P", k="k2", name="catalysis")],
            {"k1": self.k1, "km1": self.km1, "k2": self.k2},
        )


def full_model(p: EnzymeKinetics, t: np.ndarray, rtol: float = 1e-10,
               atol: float = 1e-13) -> dict[str, np.ndarray]:
    """Full mass-action model (scipy Radau, tight tolerances) at times ``t``: E, S, C, P."""
    from scipy.integrate import solve_ivp

    def f(_t, y):
        s, c = y
        e = p.E0 - c
        b = p.k1 * e * s - p.km1 * c
        return [-b, b - p.k2 * c]

    def jac(_t, y):
        s, c = y
        e = p.E0 - c
        return [[-p.k1 * e, p.k1 * s + p.km1], [p.k1 * e, -p.k1 * s - p.km1 - p.k2]]

    t = np.asarray(t, dtype=float)
    sol = solve_ivp(f, (0.0, t[-1]), [p.S0, 0.0], method="Radau", jac=jac, t_eval=t, rtol=rtol, atol=atol)
    if not sol.success:
        raise ConvergenceError(f"full Michaelis–Menten model: {sol.message}")
    s, c = sol.y
    return {"t": t, "E": p.E0 - c, "S": s, "C": c, "P": p.S0 - s - c}


def sqssa(p: EnzymeKinetics, t: np.ndarray) -> dict[str, np.ndarray]:
    """Standard QSSA, exact solution of the reduced ODE via Lambert W."""
    from scipy.special import lambertw

    t = np.asarray(t, dtype=float)
    # s/K_M = W(x) with x = (S0/K_M) exp((S0 - Vmax t)/K_M); log-space for large arguments
    logx = np.log(p.S0 / p.KM) + (p.S0 - p.Vmax * t) / p.KM
    w = np.where(logx < 600, np.real(lambertw(np.exp(np.minimum(logx, 600)))),
                 _lambertw_log(np.maximum(logx, 600.0)))
    s = p.KM * w
    c = p.E0 * s / (p.KM + s)
    # the reduced model turns substrate into product at rate V_max s/(K_M + s): P = S0 - s
    return {"t": t, "S": s, "C": c, "P": p.S0 - s}


def _lambertw_log(logx):
    """W(exp(L)) for large L by Newton on w + log w = L."""
    L = np.asarray(logx, dtype=float)
    w = np.maximum(L - np.log(np.maximum(L, 1.0)), 1.0)
    for _ in range(50):
        w = w - (w + np.log(w) - L) / (1.0 + 1.0 / w)
    return w


def tqssa_complex(p: EnzymeKinetics, sbar):
    """Quasi-steady complex for total substrate ``Sbar`` (small root, cancellation-free form)."""
    b = p.E0 + p.KM + sbar
    disc = np.sqrt(np.maximum(b * b - 4.0 * p.E0 * sbar, 0.0))
    return 2.0 * p.E0 * sbar / (b + disc)


def tqssa(p: EnzymeKinetics, t: np.ndarray, rtol: float = 1e-10,
          atol: float = 1e-13) -> dict[str, np.ndarray]:
    """Total QSSA: one ODE for ``Sbar = s + c`` (scipy, tight tolerances)."""
    from scipy.integrate import solve_ivp

    t = np.asarray(t, dtype=float)
    sol = solve_ivp(lambda _t, y: -p.k2 * tqssa_complex(p, y), (0.0, t[-1]), [p.S0], method="LSODA",
                    t_eval=t, rtol=rtol, atol=atol)
    if not sol.success:
        raise ConvergenceError(f"tQSSA: {sol.message}")
    sbar = sol.y[0]
    c = tqssa_complex(p, sbar)
    return {"t": t, "Sbar": sbar, "S": sbar - c, "C": c, "P": p.S0 - sbar}


@dataclass
class QSSAComparison:
    """Errors of the reductions against the full model, with the validity parameters."""

    params: dict
    criteria: dict
    t_end: float
    error_sqssa: float  # max over t >= 5 t_C of |P_sQSSA - P_full| / S0
    error_tqssa: float  # max over t >= 5 t_C of |P_tQSSA - P_full| / S0
    t_C: float = 0.0

    def to_dict(self) -> dict:
        return asdict(self)

    def summary(self) -> str:
        c = self.criteria
        return (f"E0/S0 = {c['E0_over_S0']:.3g}: eps_SS = {c['eps_SS']:.3g}, eps_BdBS = {c['eps_BdBS']:.3g}, "
                f"eps_Tz = {c['eps_Tz']:.3g}; "
                f"max|dP|/S0: sQSSA {self.error_sqssa:.3g}, tQSSA {self.error_tqssa:.3g}")


def compare_qssa(p: EnzymeKinetics, t_end: float | None = None, n_t: int = 400) -> QSSAComparison:
    """Full model vs sQSSA vs tQSSA on ``[0, t_end]`` (default ``5 t_S``), product error."""
    t_end = 5.0 * p.t_S if t_end is None else float(t_end)
    # dense near 0 to catch the initial transient (time scale 1/(k1 (E0 + S0 + K_M)))
    t = np.unique(np.concatenate([[0.0], np.geomspace(1e-6 * t_end, t_end, n_t)]))
    full = full_model(p, t)
    s = sqssa(p, t)
    q = tqssa(p, t)
    t_C = 1.0 / (p.k1 * (p.E0 + p.S0 + p.KM))
    outer = t >= 5.0 * t_C
    return QSSAComparison(
        params=asdict(p), criteria=p.criteria(), t_end=t_end, t_C=t_C,
        error_sqssa=float(np.max(np.abs(s["P"] - full["P"])[outer]) / p.S0),
        error_tqssa=float(np.max(np.abs(q["P"] - full["P"])[outer]) / p.S0),
    )
