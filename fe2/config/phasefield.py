"""``fe2 phasefield`` configuration: TOML → validated model (see docs/phasefield.md).

Example::

    model = "cahn_hilliard"          # or "allen_cahn"
    kappa = 2.0
    mobility = 5.0                   # or {kind = "constant", value = 5.0},
                                     # or {kind = "quadratic", m0 = 5.0, floor = 1e-3}
    boundary = "noflux"

    [domain]
    length = [200.0, 200.0]          # 2 or 3 entries: a box [0, Lx] × [0, Ly] (× [0, Lz])
    cells = [100, 100]

    [energy]
    kind = "pfhub_bm1"               # "double_well" (rho, c_alpha, c_beta) or "flory_huggins" (chi, n_a, n_b, scale)

    [initial]
    kind = "pfhub_bm1"               # "noise" (c0, amplitude, seed) or "constant" (c0)
    c0 = 0.5
    amplitude = 0.01

    [time]
    t_end = 1000.0
    dt = 0.5
    dt_max = 50.0
    scheme = "secant_cn"             # (default), "split_euler" or "sav" (linear BDF2-SAV, fixed dt)
    error_tol = 2e-3                 # local-error control (optional)

    [output]
    every = 10                       # XDMF frame every N accepted steps
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, PositiveFloat, PositiveInt, model_validator

from fe2.config.base import CommandConfig, _Strict, load_toml, parse_config
from fe2.config.phasefield_rve import PhaseFieldHomogenizeSpec
from fe2.errors import ConfigError


class DomainSpec(_Strict):
    length: list[PositiveFloat]
    cells: list[PositiveInt]

    @model_validator(mode="after")
    def _dims(self):
        if len(self.length) not in (2, 3) or len(self.cells) != len(self.length):
            raise ValueError("length and cells need the same number (2 or 3) of entries")
        return self


class DoubleWellSpec(_Strict):
    kind: Literal["double_well"]
    rho: PositiveFloat = 1.0
    c_alpha: float = 0.0
    c_beta: float = 1.0


class PfhubSpec(_Strict):
    kind: Literal["pfhub_bm1"]


class FloryHugginsSpec(_Strict):
    kind: Literal["flory_huggins"]
    chi: float = Field(default=3.0, ge=0)
    n_a: PositiveFloat = 1.0
    n_b: PositiveFloat = 1.0
    scale: PositiveFloat = 1.0


EnergySpec = Annotated[DoubleWellSpec | PfhubSpec | FloryHugginsSpec, Field(discriminator="kind")]


class InitialSpec(_Strict):
    kind: Literal["pfhub_bm1", "noise", "constant"] = "pfhub_bm1"
    c0: float = 0.5
    amplitude: float = Field(default=0.01, ge=0)
    seed: int = 0


class ConstantMobilitySpec(_Strict):
    kind: Literal["constant"]
    value: PositiveFloat


class QuadraticMobilitySpec(_Strict):
    """M(c) = m0 · max(4 (c − c_min)(c_max − c)/(c_max − c_min)², floor)."""

    kind: Literal["quadratic"]
    m0: PositiveFloat
    c_min: float = 0.0
    c_max: float = 1.0
    floor: float = Field(default=1e-3, gt=0, le=1)

    @model_validator(mode="after")
    def _range(self):
        if not self.c_max > self.c_min:
            raise ValueError(f"need c_max > c_min, got {self.c_min}, {self.c_max}")
        return self


MobilitySpec = Annotated[ConstantMobilitySpec | QuadraticMobilitySpec, Field(discriminator="kind")]


class TimeSpec(_Strict):
    t_end: PositiveFloat
    dt: PositiveFloat = 1.0
    dt_min: PositiveFloat = 1e-8
    dt_max: PositiveFloat = math.inf
    adaptive: bool = True
    energy_rtol: PositiveFloat | None = None
    #: "secant_cn" (second order, secant Crank–Nicolson; default), "split_euler" (first order, convex split)
    #: or "sav" (linear BDF2 scalar auxiliary variable, Cahn–Hilliard only)
    scheme: Literal["split_euler", "secant_cn", "sav"] = "secant_cn"
    #: scheme "sav" (Cahn–Hilliard, double well, constant mobility): S >= 0 (None: rho (c_beta − c_alpha)²)
    sav_stabilization: float | None = Field(default=None, ge=0)
    #: scheme "sav": relaxation eta in [0, 1] of r towards √(E1 + C0) (None: plain SAV)
    sav_relaxation: float | None = Field(default=0.9, ge=0, le=1)
    #: local-error tolerance (max nodal |c − c_pred|); None: Newton-iteration heuristics
    error_tol: PositiveFloat | None = None
    safety: float = Field(default=0.9, gt=0, le=1)
    ratio_min: float = Field(default=0.2, gt=0, lt=1)
    ratio_max: float = Field(default=2.0, gt=1)
    #: reject a step that raises F by more than this × |F| (None: off)
    energy_increase_rtol: float | None = Field(default=1e-10, ge=0)


class OutputSpec(_Strict):
    every: PositiveInt = 10
    checkpoint_every: PositiveInt = 10
    #: extra XDMF frames exactly at these times (the stepper lands on them)
    times: list[PositiveFloat] = []


class PhaseFieldConfig(CommandConfig):
    model: Literal["cahn_hilliard", "allen_cahn"] = "cahn_hilliard"
    kappa: PositiveFloat
    mobility: PositiveFloat | MobilitySpec = 1.0
    boundary: Literal["noflux", "periodic"] = "noflux"
    degree: Literal[1, 2] = 1
    domain: DomainSpec
    energy: EnergySpec
    initial: InitialSpec = InitialSpec()
    time: TimeSpec
    output: OutputSpec = OutputSpec()
    homogenize: PhaseFieldHomogenizeSpec | None = None  # effective properties of c(t): fe2.apps.phasefield.rve_link

    @model_validator(mode="after")
    def _output_times_in_run(self):
        late = [t for t in self.output.times if t > self.time.t_end]
        if late:
            raise ValueError(f"output.times {late} lie after time.t_end = {self.time.t_end}")
        return self

    def size_estimates(self) -> list[tuple[str, float | None]]:
        from fe2.config.limits import grid_cells

        return [("domain.cells", grid_cells(self.domain.cells))]


def load_phasefield_config(path: str | Path, data: dict | None = None) -> PhaseFieldConfig:
    """Load and validate an ``fe2 phasefield`` TOML file (one-line ConfigError on failure).

    ``data``: the TOML as already read (default: read ``path``); ``path`` still names the file in
    errors and anchors relative paths (``fe2 uq`` passes modified copies of a base config).
    """
    p = Path(path)
    cfg = parse_config(load_toml(p) if data is None else data, PhaseFieldConfig, str(p))
    t = cfg.time
    if not (t.dt_min <= t.dt <= t.dt_max):
        raise ConfigError(f"{p}: time: need dt_min <= dt <= dt_max, got {t.dt_min}, {t.dt}, {t.dt_max}")
    return cfg
