"""Monitor records and step-control settings of the phase-field time loop.

The loop itself is :meth:`fe2.physics.phasefield.gradient_flow._GradientFlow.run`; the control is
described in the package docstring (:mod:`fe2.physics.phasefield`).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Literal

from fe2.errors import ConfigError


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


#: time schemes: first-order convex split, second-order secant Crank–Nicolson (default) and, for
#: Cahn–Hilliard with a double well and constant mobility, the linear second-order CN-SAV scheme
Scheme = Literal["split_euler", "secant_cn", "sav"]
