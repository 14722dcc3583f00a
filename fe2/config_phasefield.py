"""``fe2 phasefield`` configuration: TOML → validated model (see docs/phasefield.md).

Example::

    model = "cahn_hilliard"          # or "allen_cahn"
    kappa = 2.0
    mobility = 5.0
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

    [output]
    every = 10                       # XDMF frame every N accepted steps
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Literal, Union

from pydantic import Field, PositiveFloat, PositiveInt, model_validator

from fe2.config import _Strict, load_toml, parse_config
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
    chi: float = Field(3.0, ge=0)
    n_a: PositiveFloat = 1.0
    n_b: PositiveFloat = 1.0
    scale: PositiveFloat = 1.0


EnergySpec = Annotated[Union[DoubleWellSpec, PfhubSpec, FloryHugginsSpec], Field(discriminator="kind")]


class InitialSpec(_Strict):
    kind: Literal["pfhub_bm1", "noise", "constant"] = "pfhub_bm1"
    c0: float = 0.5
    amplitude: float = Field(0.01, ge=0)
    seed: int = 0


class TimeSpec(_Strict):
    t_end: PositiveFloat
    dt: PositiveFloat = 1.0
    dt_min: PositiveFloat = 1e-8
    dt_max: PositiveFloat = math.inf
    adaptive: bool = True
    energy_rtol: PositiveFloat | None = None


class OutputSpec(_Strict):
    every: PositiveInt = 10
    checkpoint_every: PositiveInt = 10


class PhaseFieldConfig(_Strict):
    model: Literal["cahn_hilliard", "allen_cahn"] = "cahn_hilliard"
    kappa: PositiveFloat
    mobility: PositiveFloat = 1.0
    boundary: Literal["noflux", "periodic"] = "noflux"
    degree: Literal[1, 2] = 1
    domain: DomainSpec
    energy: EnergySpec
    initial: InitialSpec = InitialSpec()
    time: TimeSpec
    output: OutputSpec = OutputSpec()


def load_phasefield_config(path: str | Path) -> PhaseFieldConfig:
    """Load and validate an ``fe2 phasefield`` TOML file (one-line ConfigError on failure)."""
    p = Path(path)
    cfg = parse_config(load_toml(p), PhaseFieldConfig, str(p))
    t = cfg.time
    if not (t.dt_min <= t.dt <= t.dt_max):
        raise ConfigError(f"{p}: time: need dt_min <= dt <= dt_max, got {t.dt_min}, {t.dt}, {t.dt_max}")
    return cfg
