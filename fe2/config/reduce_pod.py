"""TOML tables of ``fe2 reduce`` with ``[reduction] method = "pod"`` (POD–Galerkin of a nonlinear
reaction–diffusion system; docs/reduction.md).

``[reaction]`` the nodal rate r(c) (:mod:`fe2.reduction.nodal_reaction`), ``[time]`` the time span and
step, ``[training_input.NAME]`` / ``[test_input.NAME]`` one signal per input of ``[system]``
(:class:`InputSignal`). The checks across tables live in :class:`fe2.config.reduce.ReduceConfig`.
"""

from __future__ import annotations

import math
from typing import Literal

from pydantic import Field, PositiveFloat, model_validator

from fe2.config.base import _Strict

#: the most time steps of a POD run (the method of snapshots is dense in the number of snapshots)
MAX_POD_STEPS = 4000
#: the smallest POD energy tolerance (the method of snapshots resolves λ_k only to ~ε λ₁)
MIN_POD_TOL = 1e-12


class ReactionLaw(_Strict):
    """The nodal rate r(c) added to ∂c/∂t (kind: michaelis_menten, logistic or expression).

    ``michaelis_menten`` −vmax c/(km + c), ``logistic`` rate c (1 − c/capacity), ``expression`` a
    formula of c and ``parameters``; checked by the top-level validator.
    """

    kind: Literal["michaelis_menten", "logistic", "expression"]
    parameters: dict[str, float] = {}
    expression: str | None = None


class TimeSpan(_Strict):
    """t ∈ [0, t_end] in steps of ``dt`` (t_end/dt an integer ≤ :data:`MAX_POD_STEPS`), from c = 0."""

    t_end: PositiveFloat
    dt: PositiveFloat
    scheme: Literal["crank_nicolson", "backward_euler"] = "crank_nicolson"

    @model_validator(mode="after")
    def _steps(self):
        n = self.t_end / self.dt
        if not (1 <= round(n) <= MAX_POD_STEPS and math.isclose(round(n), n, rel_tol=1e-9)):
            raise ValueError(f"t_end / dt must be an integer in 1..{MAX_POD_STEPS}, got {n:.6g}")
        return self

    @property
    def steps(self) -> int:
        return int(round(self.t_end / self.dt))

    @property
    def theta(self) -> float:
        return 0.5 if self.scheme == "crank_nicolson" else 1.0


class Step(_Strict):
    """``amplitude`` added from t = ``time`` on."""

    time: float = Field(ge=0.0)
    amplitude: float


class Sine(_Strict):
    """amplitude · sin(2π frequency t + phase) (frequency in 1 / time unit)."""

    amplitude: float
    frequency: PositiveFloat
    phase: float = 0.0


class InputSignal(_Strict):
    """u(t) = offset + Σ steps + Σ sines (units of the input: flux density or source density)."""

    offset: float = 0.0
    steps: list[Step] = []
    sines: list[Sine] = []

    def __call__(self, t: float) -> float:
        v = self.offset + sum(s.amplitude for s in self.steps if t >= s.time)
        return v + sum(s.amplitude * math.sin(2.0 * math.pi * s.frequency * t + s.phase) for s in self.sines)


__all__ = ["MAX_POD_STEPS", "MIN_POD_TOL", "InputSignal", "ReactionLaw", "Sine", "Step", "TimeSpan"]
