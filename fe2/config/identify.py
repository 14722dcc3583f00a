"""``fe2 identify`` configuration: TOML -> validated model + network (docs/identifiability.md).

::

    network = "networks/two_compartment.toml"   # as in fe2 reactions: a file, an inline [network]
                                                # table, or sbml = "model.xml" (paths relative to this file)
    observables = ["X1"]                        # species, or { name = "formula in species/parameters" }

    [units]                                     # labels of the CSV columns and plot axes
    time = "h"
    amount = "mg/L"

    [parameters.k01]                            # studied parameters: nominal value and bounds (> 0);
    nominal = 0.3                               # the others keep their network values
    lower = 0.01
    upper = 10.0
    unit = "1/h"                                # optional label (plots, result.json)

    [initial.X2]                                # optional: unknown initial concentrations, estimated too
    nominal = 0.5
    lower = 0.01
    upper = 5.0

    [noise]
    sigma = 0.02                                # known Gaussian std of every observable, or { X1 = 0.02 }

    [design]                                    # sampling times (local rank test, synthetic data);
    t_end = 10.0                                # default: the calibration file's times
    n_times = 21                                # uniform in [0, t_end]

    [data]                                      # CSV time courses: time + one column per observable
    calibration = "data/calibration.csv"
    validation = "data/validation.csv"

    [synthetic]                                 # instead of [data]: simulate at truth, add noise (seeded),
    truth = { k01 = 0.35 }                      # write calibration.csv and validation.csv to --out
    seed = 1

    [structural]
    points = 3                                  # random points (log-uniform within the bounds)
    seed = 0
    rel_tol = 1e-6                              # relative singular-value threshold of the rank
    symbolic = true                             # observability rank test (rational models)
    symbolic_initial = "generic"                # or "configured": Taylor series at the known initial
                                                # values (species not under [initial])
    max_order = 12                              # optional cap on Lie-derivative orders (default dim z)

    [fit]
    starts = 3                                  # nominal + (starts - 1) random log-uniform starts
    seed = 0

    [profile]
    level = 0.95                                # threshold chi2_1(level) on 2 Delta NLL
    max_points = 40                             # per side
    increment = 0.25                            # aimed rise of 2 Delta NLL per step / threshold

    [integrator]
    method = "LSODA"                            # or "BDF", "Radau" (scipy solve_ivp)
    rtol = 1e-10
    atol = 1e-12

Every problem (unknown key, unknown parameter or species, observable naming no species, bounds
not ordered, data file with wrong columns) is a one-line :class:`~fe2.errors.ConfigError`
naming the file and the key.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, PositiveFloat, PositiveInt, model_validator

from fe2.config.base import CommandConfig, _Strict, load_toml, parse_config, resolve_file
from fe2.config.reactions import UnitsSpec, build_network, check_rate_constants, network_file_updates
from fe2.errors import ConfigError
from fe2.physics.reactions.network import Network, Species
from fe2.physics.reactions.sensitivity import observable_expressions


class ParameterSpec(_Strict):
    nominal: PositiveFloat
    lower: PositiveFloat
    upper: PositiveFloat
    unit: str | None = None  #: label for plots and result.json (initial values: units.amount)

    @model_validator(mode="after")
    def _ordered(self):
        if not self.lower <= self.nominal <= self.upper:
            raise ValueError(f"need lower <= nominal <= upper, got {self.lower:g}, {self.nominal:g}, {self.upper:g}")
        if self.lower == self.upper:
            raise ValueError("lower == upper: a fixed value is not studied (set it in the network)")
        return self


class NoiseSpec(_Strict):
    sigma: PositiveFloat | dict[str, PositiveFloat]


class DesignSpec(_Strict):
    t_end: PositiveFloat
    n_times: int = Field(default=21, ge=2)


class DataSpec(_Strict):
    calibration: str
    validation: str | None = None


class SyntheticSpec(_Strict):
    truth: dict[str, PositiveFloat] = {}
    seed: int = Field(default=0, ge=0)


class StructuralSpec(_Strict):
    points: PositiveInt = 3
    seed: int = Field(default=0, ge=0)
    rel_tol: float = Field(default=1e-6, gt=0, lt=1)
    symbolic: bool = True
    symbolic_initial: Literal["generic", "configured"] = "generic"
    max_order: PositiveInt | None = None


class FitSpec(_Strict):
    starts: PositiveInt = 3
    seed: int = Field(default=0, ge=0)


class ProfileSpec(_Strict):
    level: float = Field(default=0.95, gt=0, lt=1)
    max_points: int = Field(default=40, ge=2)
    increment: float = Field(default=0.25, gt=0, le=1)


class IntegratorSpec(_Strict):
    method: Literal["LSODA", "BDF", "Radau"] = "LSODA"
    rtol: float = Field(default=1e-10, gt=0, lt=1)
    atol: PositiveFloat = 1e-12


class IdentifyConfig(CommandConfig):
    network: dict[str, Any] | str | None = None
    sbml: str | None = None
    observables: list[str] | dict[str, str] = Field(min_length=1)
    units: UnitsSpec = UnitsSpec()
    parameters: dict[str, ParameterSpec] = Field(min_length=1)
    initial: dict[str, ParameterSpec] = {}
    noise: NoiseSpec | None = None
    design: DesignSpec | None = None
    data: DataSpec | None = None
    synthetic: SyntheticSpec | None = None
    structural: StructuralSpec = StructuralSpec()
    fit: FitSpec = FitSpec()
    profile: ProfileSpec = ProfileSpec()
    integrator: IntegratorSpec = IntegratorSpec()

    @model_validator(mode="after")
    def _consistent(self):
        if (self.network is None) == (self.sbml is None):
            raise ValueError("give exactly one of network (file or inline table) and sbml")
        if self.data is not None and self.synthetic is not None:
            raise ValueError("give either [data] (files) or [synthetic] (simulated data), not both")
        if self.data is None and self.design is None:
            raise ValueError("[design] (t_end, n_times) is needed without a [data] calibration file")
        if (self.data is not None or self.synthetic is not None) and self.noise is None:
            raise ValueError("[noise] sigma is needed to fit data")
        return self

    @property
    def observable_names(self) -> list[str]:
        return list(self.observables)  # a list's items or a table's keys

    def sigma(self) -> list[float]:
        """The noise std of every observable, in order (1 where no [noise] is given)."""
        if self.noise is None:
            return [1.0] * len(self.observable_names)
        s = self.noise.sigma
        return [float(s[o]) if isinstance(s, dict) else float(s) for o in self.observable_names]


def _check(cfg: IdentifyConfig, network: Network, source: str) -> None:
    for name in cfg.parameters:
        if name not in network.parameters:
            raise ConfigError(f"{source}: parameters.{name}: unknown parameter (network parameters: "
                              f"{', '.join(network.parameters) or 'none'})")
    for name in cfg.initial:
        if name not in network.species_names:
            raise ConfigError(f"{source}: initial.{name}: unknown species (species: "
                              f"{', '.join(network.species_names)})")
    try:
        observable_expressions(network, cfg.observables)
    except ConfigError as err:
        raise ConfigError(f"{source}: {err}") from None
    if cfg.noise is not None and isinstance(cfg.noise.sigma, dict):
        obs = cfg.observable_names
        for k in cfg.noise.sigma:
            if k not in obs:
                raise ConfigError(f"{source}: noise.sigma.{k}: not an observable (observables: {', '.join(obs)})")
        missing = [o for o in obs if o not in cfg.noise.sigma]
        if missing:
            raise ConfigError(f"{source}: noise.sigma: no sigma for observable {missing[0]!r}")
    if cfg.synthetic is not None:
        known = set(cfg.parameters) | set(cfg.initial)
        for k in cfg.synthetic.truth:
            if k not in known:
                raise ConfigError(f"{source}: synthetic.truth.{k}: not a studied parameter or unknown initial "
                                  f"value (studied: {', '.join(sorted(known))})")


def nominal_network(cfg: IdentifyConfig, network: Network) -> Network:
    """``network`` with the studied parameters and unknown initial values at their nominal values."""
    params = {**network.parameters, **{k: v.nominal for k, v in cfg.parameters.items()}}
    species = [Species(s.name, cfg.initial[s.name].nominal if s.name in cfg.initial else s.initial)
               for s in network.species]
    return dataclasses.replace(network, parameters=params, species=species)


def load_identify(path: str | Path) -> tuple[IdentifyConfig, Network]:
    """Load and validate an ``fe2 identify`` TOML file; the network comes at the nominal values."""
    p = Path(path)
    source = str(p)
    cfg = parse_config(load_toml(p), IdentifyConfig, source)
    cfg = cfg.model_copy(update=network_file_updates(p, cfg.network, cfg.sbml))
    if cfg.data is not None:
        files = {"calibration": str(resolve_file(p, cfg.data.calibration, "data.calibration", "data file"))}
        if cfg.data.validation is not None:
            files["validation"] = str(resolve_file(p, cfg.data.validation, "data.validation", "data file"))
        cfg = cfg.model_copy(update={"data": cfg.data.model_copy(update=files)})
    network = build_network(cfg, source)  # type: ignore[arg-type]  # same network/sbml keys as ReactionsConfig
    _check(cfg, network, source)
    network = nominal_network(cfg, network)
    check_rate_constants(network, source)
    if cfg.data is not None:  # the columns now, before any work
        from fe2.apps.identify.data import read_time_course

        read_time_course(cfg.data.calibration, cfg, f"{source}: data.calibration")
        if cfg.data.validation is not None:
            read_time_course(cfg.data.validation, cfg, f"{source}: data.validation")
    return cfg, network
