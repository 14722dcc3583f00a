"""Scale-separation analysis: should micro and macro be coupled sequentially or concurrently?

Inputs: micro length ``ell`` (RVE / particle / fibre size), macro length ``L`` (component, the
length over which the macro fields vary), and optionally the micro relaxation time ``tau``
(diffusion through a particle ``r^2/D``, a reaction time, a viscous time) and the macro time
``T`` (loading / charge time). Two dimensionless numbers decide:

* ``eps_x = ell / L`` — spatial separation. Homogenization (an RVE answering for a material
  point) needs ``eps_x << 1``; above ``space_max`` (default 0.05) the microstructure must be
  resolved in the macro model (direct numerical simulation), no two-scale method applies.
* ``eps_t = tau / T`` — temporal separation. If ``eps_t <= time_max`` (default 0.1) the micro
  problem relaxes much faster than the macro loading changes: it is quasi-static at every macro
  instant and, if it is also history-free (``nonlinear=False``), its response is a fixed effective
  law computed once beforehand: **sequential** (offline) coupling. If ``eps_t`` is not small,
  the micro state lags the macro loading (it has memory on the macro time scale) and must be
  evolved together with the macro problem: **concurrent** (FE², one micro problem per macro
  point per step) — even when ``eps_x`` is small. A nonlinear / history-dependent micro
  response (plasticity, damage) also needs concurrent coupling (or a trained surrogate).

Examples (tested): a fibre composite panel, ``ell/L = 1e-3``, static → sequential; a battery
electrode, ``ell/L = 1e-2`` but particle diffusion time / charge time ``= 0.2`` → concurrent.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

from fe2.errors import ConfigError


@dataclass
class ScaleDecision:
    coupling: str  # "sequential" | "concurrent" | "direct"
    eps_x: float
    eps_t: float | None
    space_max: float
    time_max: float
    nonlinear: bool
    reasons: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)

    def report(self) -> str:
        lines = [f"coupling: {self.coupling}"] + [f"  - {r}" for r in self.reasons]
        return "\n".join(lines)


def decide_coupling(
    ell: float,
    L: float,
    tau: float | None = None,
    T: float | None = None,
    *,
    nonlinear: bool = False,
    space_max: float = 0.05,
    time_max: float = 0.1,
) -> ScaleDecision:
    """Sequential vs concurrent (vs direct) coupling from the length and time scale ratios."""
    for name, v in (("ell", ell), ("L", L)):
        if not (v is not None and math.isfinite(v) and v > 0):
            raise ConfigError(f"{name} (--{name}): must be a finite number > 0 (got {v})")
    if (tau is None) != (T is None):
        raise ConfigError("give both tau and T (micro relaxation time and macro time), or neither")
    if tau is not None and T is not None and not (  # (both or neither: checked above)
            math.isfinite(tau) and math.isfinite(T) and tau >= 0 and T > 0):
        raise ConfigError(f"tau, T (--tau, --T): need finite tau >= 0 and T > 0 (got tau = {tau}, T = {T})")
    if not (0 < space_max < 1 and 0 < time_max < 1):
        raise ConfigError("space_max and time_max must lie in (0, 1)")
    eps_x = ell / L
    eps_t = None if tau is None or T is None else tau / T
    reasons = []
    if eps_x > space_max:
        reasons.append(f"ell/L = {eps_x:.3g} > {space_max:g}: no spatial scale separation; "
                       "an RVE cannot stand for "
                       "a material point, resolve the microstructure in the macro model")
        coupling = "direct"
    else:
        reasons.append(f"ell/L = {eps_x:.3g} <= {space_max:g}: spatial scales separate, "
                       "homogenization applies "
                       f"(RVE-size effects of order ell/L)")
        if eps_t is None:
            reasons.append("no time scales given: the problem is treated as static / quasi-static")
            slow_micro = False
        elif eps_t <= time_max:
            reasons.append(f"tau/T = {eps_t:.3g} <= {time_max:g}: the micro problem relaxes "
                           "much faster than the "
                           "macro loading changes, so it is in equilibrium with the current macro state")
            slow_micro = False
        else:
            reasons.append(f"tau/T = {eps_t:.3g} > {time_max:g}: the micro state lags the macro "
                           "loading (memory on the "
                           "macro time scale), so it must be evolved together with the macro problem")
            slow_micro = True
        if slow_micro:
            coupling = "concurrent"
            reasons.append("=> concurrent coupling (FE²): a micro problem per macro point, "
                           "advanced every macro step"
                           + (", even though ell/L is small" if eps_x <= space_max else ""))
        elif nonlinear:
            coupling = "concurrent"
            reasons.append("the micro response is nonlinear / history dependent: its effective law cannot be "
                           "tabulated once => concurrent coupling (FE²) or a trained surrogate")
        else:
            coupling = "sequential"
            reasons.append("linear, quasi-static micro response => sequential coupling: "
                           "homogenize once (effective "
                           "tensor), then solve the macro problem with it")
    return ScaleDecision(coupling, eps_x, eps_t, space_max, time_max, nonlinear, reasons)
