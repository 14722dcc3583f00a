"""``fe2 reactions`` configuration: TOML -> validated model + :class:`Network` (docs/config.md).

One of three modes, each with its own table::

    mode = "well_mixed"              # or "stochastic", "spatial"
    network = "enzyme.toml"          # a network TOML file, or an inline [network] table,
                                     # or sbml = "model.xml"; paths relative to this file

    [units]                          # labels only, written next to the CSV columns
    time = "s"
    amount = "mM"

    [well_mixed]
    method = "ros2"                  # "be", "ros2", "rodas4" (fe2 integrators), "bdf", "radau" (scipy per node)
    t_end = 10.0
    n_out = 101
    rtol = 1e-6
    atol = 1e-10
    sweep = { parameter = "k1", values = [1.0, 2.0, 5.0] }   # optional: one node per value

    [stochastic]
    method = "ssa"                   # "tau_leap" (needs tau), "hybrid" (threshold / discrete)
    t_end = 20.0
    n_trajectories = 2000
    seed = 1
    histogram = ["A"]                # histogram PNG at t_end
    cme = true                       # exact reference by the chemical master equation

    [spatial]
    mesh = { length = [1.0, 1.0], cells = [32, 32] }
    diffusivity = { A = 0.01, B = 0.001 }
    initial = { A = "1 + 0.5*cos(pi*x)" }     # number or formula in x, y (else the network's value)
    t_end = 1.0
    dt = 0.01
    scheme = "strang"

Every problem (unknown key, unknown species, negative rate constant, missing file) is a one-line
:class:`~fe2.errors.ConfigError` naming the file and the key.
"""

from __future__ import annotations

import dataclasses
import functools
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import Field, NonNegativeFloat, PositiveFloat, PositiveInt, model_validator

from fe2.config.base import CommandConfig, _Strict, load_toml, parse_config, resolve_file
from fe2.errors import ConfigError
from fe2.physics.reactions.network import Network, _value
from fe2.physics.reactions.network_file import load_network, network_from_dict

MODES = ("well_mixed", "stochastic", "spatial")
_RATE_KEYS = ("k", "k_reverse", "vmax", "km")  # constants of the built-in laws that must be >= 0


class UnitsSpec(_Strict):
    time: str = "1"
    amount: str = "1"


class SweepSpec(_Strict):
    parameter: str
    values: list[float] = Field(min_length=1)


class WellMixedSpec(_Strict):
    method: Literal["ros2", "be", "rodas4", "bdf", "radau"] = "ros2"
    t_end: PositiveFloat
    n_out: int = Field(default=101, ge=2)
    rtol: PositiveFloat = 1e-6
    atol: PositiveFloat = 1e-10
    dt: PositiveFloat | None = None
    nodes: PositiveInt = 1
    sweep: SweepSpec | None = None
    backend: Literal["auto", "numpy", "c"] = "auto"  # rodas4: compiled C loop or batched numpy

    @model_validator(mode="after")
    def _consistent(self):
        if self.dt is not None and self.method not in ("ros2", "be", "rodas4"):
            raise ValueError("dt (fixed steps) is for method = 'ros2', 'be' or 'rodas4'")
        if self.backend != "auto" and self.method != "rodas4":
            raise ValueError("backend is for method = 'rodas4'")
        if self.sweep is not None and self.nodes != 1:
            raise ValueError("give either nodes (identical copies) or sweep (one node per value)")
        return self


class StochasticSpec(_Strict):
    method: Literal["ssa", "tau_leap", "hybrid"] = "ssa"
    t_end: PositiveFloat
    n_out: int = Field(default=51, ge=2)
    n_trajectories: PositiveInt = 1000
    seed: int = Field(default=0, ge=0)
    omega: PositiveFloat | None = None
    tau: PositiveFloat | None = None
    threshold: PositiveFloat = 100.0
    discrete: list[str] | None = None
    rtol: PositiveFloat = 1e-4
    atol: PositiveFloat = 1e-6
    histogram: list[str] = []
    cme: bool = False
    cme_max_count: PositiveInt = 100
    block_size: PositiveInt = 500
    plot_trajectories: int = Field(default=5, ge=0)

    @model_validator(mode="after")
    def _consistent(self):
        if self.method == "tau_leap" and self.tau is None:
            raise ValueError("method = 'tau_leap' needs tau (the leap)")
        if self.method != "tau_leap" and self.tau is not None:
            raise ValueError("tau is for method = 'tau_leap'")
        if self.method != "hybrid" and self.discrete is not None:
            raise ValueError("discrete is for method = 'hybrid'")
        if self.cme and not self.histogram:
            raise ValueError("cme = true compares histograms: name the species in histogram")
        return self


class MeshSpec(_Strict):
    length: list[PositiveFloat] = Field(default=[1.0, 1.0], min_length=2, max_length=2)
    cells: list[PositiveInt] = Field(min_length=2, max_length=2)


class SpatialSpec(_Strict):
    mesh: MeshSpec
    diffusivity: dict[str, NonNegativeFloat]
    initial: dict[str, float | str] = {}
    t_end: PositiveFloat
    dt: PositiveFloat
    scheme: str = "strang"
    theta: Literal[0.5, 1.0] = 0.5  # type: ignore[valid-type]  # float Literal: not PEP 586, pydantic validates it
    reaction_substeps: PositiveInt = 4
    output_every: PositiveInt = 1
    format: Literal["xdmf", "vtx"] = "xdmf"

    @model_validator(mode="after")
    def _steps(self):
        n = round(self.t_end / self.dt)
        if n < 1 or abs(n * self.dt - self.t_end) > 1e-9 * self.t_end:
            raise ValueError(f"dt = {self.dt:g} does not divide t_end = {self.t_end:g}")
        return self


class ReactionsConfig(CommandConfig):
    mode: Literal["well_mixed", "stochastic", "spatial"]
    network: dict[str, Any] | str | None = None
    sbml: str | None = None
    units: UnitsSpec = UnitsSpec()
    well_mixed: WellMixedSpec | None = None
    stochastic: StochasticSpec | None = None
    spatial: SpatialSpec | None = None

    @model_validator(mode="after")
    def _one_source_one_mode(self):
        if (self.network is None) == (self.sbml is None):
            raise ValueError("give exactly one of network (file or inline table) and sbml")
        if getattr(self, self.mode) is None:
            raise ValueError(f"mode = '{self.mode}' needs a [{self.mode}] table")
        other = [m for m in MODES if m != self.mode and getattr(self, m) is not None]
        if other:
            raise ValueError(f"[{other[0]}] given but mode = '{self.mode}'")
        return self

    @property
    def section(self):
        """The table of the chosen mode."""
        return getattr(self, self.mode)

    def size_estimates(self) -> list[tuple[str, float | None]]:
        from fe2.config.limits import grid_cells

        if self.mode != "spatial" or self.spatial is None:
            return []
        return [("spatial.mesh.cells", grid_cells(self.spatial.mesh.cells))]


def build_network(cfg: ReactionsConfig, source: str) -> Network:
    """The network of ``cfg`` (file paths already absolute, see :func:`load_reactions`)."""
    if isinstance(cfg.network, dict):
        return network_from_dict(cfg.network, f"{source}: network")
    if cfg.network is not None:
        p = Path(cfg.network)
        if not p.is_file():
            raise ConfigError(f"{source}: network: file not found: {p}")
        return load_network(p)
    assert cfg.sbml is not None  # the validator requires one of network and sbml
    p = Path(cfg.sbml)
    if not p.is_file():
        raise ConfigError(f"{source}: sbml: file not found: {p}")
    try:
        model = sbml_model(str(p))
    except ImportError as err:
        raise ConfigError(f"{source}: sbml: SBML import is not available ({err})") from None
    if model.events or model.delays:  # the stop-and-restart BDF of sbml_events.py, well mixed
        what = "events" if model.events else "delay"
        if cfg.mode != "well_mixed":
            raise ConfigError(f"{source}: mode: an SBML model with {what} runs in mode = "
                              f"'well_mixed' only (got {cfg.mode!r})")
        wm = cfg.well_mixed
        assert wm is not None  # the validator requires the table of the mode
        if wm.method != "bdf" or wm.sweep is not None:
            key = "sweep" if wm.sweep is not None else "method"
            raise ConfigError(f"{source}: well_mixed.{key}: an SBML model with {what} runs with "
                              f"method = 'bdf' and no sweep (got {key} = "
                              f"{wm.method if key == 'method' else 'a sweep'!r})")
    return model.network


def sbml_model(path: str):
    """The SBML file at ``path`` imported with its events and delays (cached per file version:
    the runner reads the events of the network :func:`build_network` returned).
    """
    p = Path(path)
    return _sbml_model(str(p.resolve()), p.stat().st_mtime_ns if p.is_file() else 0)


@functools.lru_cache(maxsize=8)
def _sbml_model(path: str, _mtime_ns: int):
    from fe2.physics.reactions.sbml_events import load_sbml_model

    return load_sbml_model(path)


def check_rate_constants(network: Network, source: str) -> None:
    """Rate constants of the built-in laws (``k``, ``k_reverse``, ``vmax``, ``km``) and initial
    values must be >= 0; a negative one is a one-line ConfigError naming the reaction.
    """
    _ssym, psym = network.symbols
    vals = {psym[n]: v for n, v in network.parameters.items()}
    for rx in network.reactions:
        if rx.law == "expression":
            continue
        for key in _RATE_KEYS:
            if key not in rx.params:
                continue
            v = float(_value(rx.params[key], psym, f"reaction {rx.name!r}", key).subs(vals))
            if not v >= 0:
                raise ConfigError(f"{source}: network: reaction {rx.name!r}: {key} = {v:g} is negative "
                                  "(rate constants must be >= 0)")
    for s in network.species:
        if not s.initial >= 0:
            raise ConfigError(f"{source}: species {s.name!r}: initial value {s.initial:g} is negative")


def _check_names(cfg: ReactionsConfig, network: Network, source: str) -> None:
    names = set(network.species_names)

    def need(where: str, given) -> None:
        unknown = sorted(set(given) - names)
        if unknown:
            raise ConfigError(f"{source}: {where}: unknown species {unknown[0]!r}")

    sec = cfg.section
    if cfg.mode == "well_mixed" and sec.sweep is not None:
        if sec.sweep.parameter not in network.parameters:
            raise ConfigError(f"{source}: well_mixed.sweep.parameter: unknown parameter {sec.sweep.parameter!r}")
        for v in sec.sweep.values:  # every swept value must give admissible rate constants, not only the base
            swept = dataclasses.replace(network, parameters={**network.parameters, sec.sweep.parameter: v})
            check_rate_constants(swept, f"{source}: well_mixed.sweep ({sec.sweep.parameter} = {v:g})")
    if cfg.mode == "stochastic":
        need("stochastic.histogram", sec.histogram)
        need("stochastic.discrete", sec.discrete or [])
        if sec.omega is None:
            x0 = network.initial
            if not np.allclose(x0, np.round(x0)):
                raise ConfigError(f"{source}: stochastic: initial values must be integer counts "
                                  "(or set omega, the system size, to convert concentrations)")
    if cfg.mode == "spatial":
        from fe2.physics.reactions.diffusion import SCHEMES  # dolfinx: only for this mode

        if sec.scheme not in SCHEMES:
            raise ConfigError(f"{source}: spatial.scheme: unknown scheme {sec.scheme!r} "
                              f"(one of {', '.join(SCHEMES)})")
        need("spatial.diffusivity", sec.diffusivity)
        need("spatial.initial", sec.initial)
        for name, val in sec.initial.items():
            if isinstance(val, str):
                f = initial_function(val, f"{source}: spatial.initial.{name}")
                _check_initial_values(f, val, sec.mesh.length, sec.mesh.cells, f"{source}: spatial.initial.{name}")
            elif not val >= 0:
                raise ConfigError(f"{source}: spatial.initial.{name}: initial value {val:g} is negative")


def _one_line(err: Exception) -> str:
    """The cause of a sympy parse error in one line (sympy wraps the tokenizer's error in a long message)."""
    base = getattr(err, "base_exc", None) or err
    text = str(base).splitlines()[0] if str(base) else ""
    return f"{type(base).__name__}: {text}" if text else type(base).__name__


def initial_function(text: str, where: str):
    """A formula in ``x``, ``y`` (and ``pi``) -> ``f(x)`` for dolfinx ``interpolate`` (x: (3, n))."""
    import sympy as sp

    x, y = sp.symbols("x y", real=True)
    try:
        expr = sp.sympify(text, locals={"x": x, "y": y, "pi": sp.pi})
    except Exception as err:  # noqa: BLE001 -- sympy raises SympifyError, TokenError, TypeError ... on bad text
        raise ConfigError(f"{where}: cannot parse {text!r}: {_one_line(err)}") from None
    if not isinstance(expr, sp.Expr):
        raise ConfigError(f"{where}: {text!r} is not a formula giving a number (use x, y, pi)")
    unknown = {str(s) for s in expr.free_symbols} - {"x", "y"}
    if unknown:
        raise ConfigError(f"{where}: unknown name(s) {', '.join(sorted(unknown))} in {text!r} (use x, y, pi)")
    f = sp.lambdify([x, y], expr, modules="numpy")
    return lambda X: np.broadcast_to(np.asarray(f(X[0], X[1]), dtype=float), X.shape[1:]).copy()


def _check_initial_values(f, text: str, length, cells, where: str) -> None:
    """The formula ``f`` at the nodes of the spatial mesh (a rectangle of ``cells``) must be finite and >= 0."""
    gx = np.linspace(0.0, float(length[0]), int(cells[0]) + 1)
    gy = np.linspace(0.0, float(length[1]), int(cells[1]) + 1)
    X, Y = np.meshgrid(gx, gy, indexing="ij")
    pts = np.stack([X.ravel(), Y.ravel(), np.zeros(X.size)])
    with np.errstate(all="ignore"):
        try:
            vals = f(pts)
        except Exception as err:  # noqa: BLE001 -- numpy/sympy evaluation of user text
            raise ConfigError(f"{where}: cannot evaluate {text!r} on the mesh ({type(err).__name__})") from None
    bad = ~np.isfinite(vals)
    if bad.any():
        k = int(np.argmax(bad))
        raise ConfigError(f"{where}: {text!r} is not a finite number at (x, y) = ({pts[0, k]:g}, {pts[1, k]:g}) "
                          "(concentrations must be finite and >= 0 on the whole mesh)")
    if vals.min() < 0:
        k = int(np.argmin(vals))
        raise ConfigError(f"{where}: {text!r} gives the negative concentration {vals[k]:.6g} at (x, y) = "
                          f"({pts[0, k]:g}, {pts[1, k]:g}) (must be >= 0 on the whole mesh)")


def network_file_updates(path: Path, network: Any, sbml: str | None) -> dict[str, str]:
    """The ``network`` file (when a path) and ``sbml`` file resolved against the config's folder, as a
    ``model_copy`` update (shared by the reactions and identify configs).
    """
    updates = {}
    if isinstance(network, str):
        updates["network"] = str(resolve_file(path, network, "network"))
    if sbml is not None:
        updates["sbml"] = str(resolve_file(path, sbml, "sbml"))
    return updates


def load_reactions(path: str | Path, data: dict | None = None) -> tuple[ReactionsConfig, Network]:
    """Load and validate an ``fe2 reactions`` TOML file and build its network (one-line errors).

    ``data``: the TOML as already read (default: read ``path``); ``path`` still names the file in
    errors and anchors relative paths (``fe2 uq`` passes modified copies of a base config).
    """
    p = Path(path)
    source = str(p)
    cfg = parse_config(load_toml(p) if data is None else data, ReactionsConfig, source)
    cfg = cfg.model_copy(update=network_file_updates(p, cfg.network, cfg.sbml))
    network = build_network(cfg, source)
    check_rate_constants(network, source)
    _check_names(cfg, network, source)
    return cfg, network
