"""The base of a study: the thing one sample runs — an fe2 command in-process, or a Python function.

An fe2 command runs on ``MPI.COMM_SELF`` of the rank that owns the sample, through that
command's own loader (the base TOML with the sample's values put at the inputs' key paths, then
validated exactly as ``fe2 <command>`` validates it, relative paths against the base config's
folder) and runner. ``fe2 homogenize`` bases share one cache of compiled forms per rank (as
``fe2 bounds`` does), so the JIT runs once per kind of mesh, not once per sample.

Each sample's files: with ``keep_sample_outputs`` in ``OUT/samples/<id>/``; otherwise in
``OUT/scratch/rank<r>/``, emptied before the next sample (a homogenize base writes none at all).
CSV QoIs are read from that folder before it is emptied.
"""

from __future__ import annotations

import csv
import importlib
import importlib.util
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mpi4py import MPI

from fe2.apps.uq.paths import check_path, number_at, parse_path, with_values
from fe2.config.base import load_toml
from fe2.config.uq import UQConfig
from fe2.errors import ConfigError, Fe2Error
from fe2.io.results import _default

#: base command -> (module of the loader, loader, result file the runner also returns)
_LOADERS = {
    "homogenize": ("fe2.config.homogenize", "load_homogenize_config", "result.json"),
    "bounds": ("fe2.config.bounds", "load_bounds_config", "summary.json"),
    "run": ("fe2.config.run", "load_run_config", "result.json"),
    "darcy": ("fe2.config.darcy", "load_darcy_config", "result.json"),
    "phasefield": ("fe2.config.phasefield", "load_phasefield_config", "result.json"),
    "reactions": ("fe2.config.reactions", "load_reactions", "result.json"),
}


def _run_command(command: str, loaded: Any, comm: MPI.Comm, out: Path | None, forms_cache: dict) -> dict:
    """Run a validated base config on ``comm``; the runner's result dict."""
    if command == "homogenize":
        from fe2.apps.homogenize.runner import run_homogenization

        return run_homogenization(loaded, comm, out, forms_cache=forms_cache)
    assert out is not None
    if command == "bounds":
        from fe2.apps.bounds import run_bounds_study

        return run_bounds_study(loaded, comm, out, fresh=True)
    if command == "run":
        from fe2.apps.run.runner import run_fe2

        return run_fe2(loaded, comm, out)
    if command == "darcy":
        from fe2.apps.darcy.runner import run_darcy

        return run_darcy(loaded, comm, out)
    if command == "phasefield":
        from fe2.apps.phasefield.runner import run_phasefield

        return run_phasefield(loaded, comm, out)
    from fe2.apps.reactions.runner import run_reactions

    cfg, network = loaded
    return run_reactions(cfg, network, comm, out)


def _csv_value(folder: Path, name: str, column: str, row: int, where: str) -> float:
    path = folder / name
    if not path.is_file():
        raise ConfigError(f"{where}.csv: the base command wrote no {name} (in its output folder)")
    with path.open(newline="") as fh:
        rows = [r for r in csv.reader(fh) if r and not r[0].startswith("#")]
    return csv_cell(name, rows[0], rows[1:], column, row, where)


def csv_cell(name: str, header: list[str], body: list[list], column: str, row: int, where: str) -> float:
    """The number in ``column`` (a header name), ``row`` (0-based, negative from the end) of a CSV's rows."""
    if column not in header:
        raise ConfigError(f"{where}.column: {column!r} is not a column of {name} (columns: {', '.join(header)})")
    if not -len(body) <= row < len(body):
        raise ConfigError(f"{where}.row: {row} out of range, {name} has {len(body)} rows")
    try:
        return float(body[row][header.index(column)])
    except ValueError:
        raise ConfigError(f"{where}: {name} column {column!r} row {row} is not a number") from None


class Base:
    """One sample: ``evaluate(sample_id, {key: value})`` -> ``{qoi name: number}``."""

    def __init__(self, cfg: UQConfig, study_path: Path, out: Path | None, comm: MPI.Comm) -> None:
        self.cfg = cfg
        self.out = out
        self.rank = comm.rank
        self.qoi_paths = {q.name: parse_path(q.path, f"qoi.{q.name}.path") for q in cfg.qoi if q.path}
        self.key_paths = {i.key: parse_path(i.key, f"inputs.{k}.key") for k, i in enumerate(cfg.inputs)}
        self.command = cfg.base_command
        self.forms_cache: dict = {}
        self.base_data: dict = {}
        self.forced_backend: str | None = None  # see agree_backend
        if self.command == "python":
            self._function = _python_function(cfg.base.partition(":")[2], study_path)
            _check_arguments(self._function, cfg.base_arguments, study_path)
            self.base_path = None
            self.what = cfg.base
            return
        self.base_path = _resolve(study_path, cfg.base.partition(":")[2])
        self.base_data = load_toml(self.base_path)
        self.what = f"the base config {self.base_path.name}"
        for k, inp in enumerate(cfg.inputs):
            check_path(self.base_data, self.key_paths[inp.key], self.what, f"{study_path}: inputs.{k}.key")
        if cfg.method == "split" and cfg.split.scan is not None:
            self.scan_path = parse_path(cfg.split.scan.key, "split.scan.key")
            check_path(self.base_data, self.scan_path, self.what, f"{study_path}: split.scan.key")
        module, loader, self.result_file = _LOADERS[self.command]
        self._loader = getattr(importlib.import_module(module), loader)
        # the base config as given must be valid (its errors name its own file and key)
        self._loader(self.base_path, data=self.base_data)

    def agree_backend(self, comm: MPI.Comm) -> str | None:
        """A ``fe2 reactions`` base with Rodas4's C backend (``auto`` / ``c``): compile its kernel once per
        kernel cache and agree on the backend over the study's ``comm`` (collective), so that every
        rank's samples run the same backend: under ``auto`` a kernel unavailable on any rank makes
        every sample run numpy (``forced_backend``); under ``c`` it is one ConfigError on every rank
        before any sample runs. Returns the fallback reason, or None.
        """
        if self.command != "reactions":
            return None
        assert self.base_path is not None
        cfg, network = self._loader(self.base_path, data=self.base_data)
        wm = cfg.well_mixed
        if cfg.mode != "well_mixed" or wm.method != "rodas4" or wm.backend == "numpy":
            return None
        from fe2.config.reactions import sbml_model
        from fe2.physics.reactions.ckernel import resolve_backend

        model = sbml_model(cfg.sbml) if cfg.sbml is not None else None
        if model is not None and (model.events or model.delays):
            return None  # run by the event-aware BDF, as fe2 reactions does

        backend, why = resolve_backend(network.compile(), wm.backend, comm)
        if backend == "numpy":
            self.forced_backend = "numpy"
        return why

    def fingerprint(self) -> dict:
        """What the samples depend on beyond the study: the base config's content."""
        return {"base": self.cfg.base, "base_config": self.base_data}

    def load_sample(self, values: dict[str, Any], scan_value: Any = None) -> tuple[Any, Any]:
        """(what the loader returns, the config model) for one sample: the base config with the sample's
        values at the key paths, validated by the command's own loader (errors naming the base file) and
        checked against the base's ``[limits]``.
        """
        assert self.base_path is not None
        changes = {self.key_paths[k]: v for k, v in values.items()}
        if scan_value is not None:
            changes[self.scan_path] = scan_value
        if self.forced_backend is not None:
            changes[("well_mixed", "backend")] = self.forced_backend
        loaded = self._loader(self.base_path, data=with_values(self.base_data, changes))
        cfg = loaded[0] if isinstance(loaded, tuple) else loaded
        from fe2.config.limits import check_limits

        check_limits(cfg.size_estimates(), cfg.limits, str(self.base_path), None)  # the base's [limits]
        return loaded, cfg

    def evaluate(self, sample_id: int, values: dict[str, Any], scan_value: Any = None) -> dict[str, float]:
        """Run one sample and return its QoIs (ConfigError naming the QoI when a path is not in the result)."""
        if self.command == "python":
            args = dict(values)
            if scan_value is not None:
                assert self.cfg.split.scan is not None
                args[self.cfg.split.scan.key] = scan_value  # a Python base gets the scanned value by name
            try:
                result = self._function(args, **self.cfg.base_arguments)
            except Exception as err:  # the user's function on the user's inputs: one line, not a traceback
                if isinstance(err, Fe2Error):
                    raise
                raise ConfigError(f"base: {self.cfg.base} raised {type(err).__name__} ({err}) at sample "
                                  f"{sample_id}; check base_arguments and the inputs' ranges") from None
            if not isinstance(result, dict):
                raise ConfigError(f"base: {self.cfg.base} returned a {type(result).__name__}, not a dict of QoIs")
            return {n: number_at(result, p, f"the result of {self.cfg.base}", f"qoi.{n}.path")
                    for n, p in self.qoi_paths.items()}
        assert self.base_path is not None and self.out is not None
        folder = (self.out / "samples" / f"{sample_id:06d}" if self.cfg.keep_sample_outputs
                  else self.out / "scratch" / f"rank{self.rank}")
        if folder.exists():
            shutil.rmtree(folder)
        needs_folder = self.command != "homogenize" or self.cfg.keep_sample_outputs or any(q.csv for q in self.cfg.qoi)
        if needs_folder:
            folder.mkdir(parents=True)
        loaded, cfg = self.load_sample(values, scan_value)
        from fe2.solvers.options import user_options

        with user_options(cfg.petsc, f"{self.base_path}: petsc."):
            raw = _run_command(self.command, loaded, MPI.COMM_SELF, folder if needs_folder else None,
                               self.forms_cache)
        result = json.loads(json.dumps(raw, default=_default))  # what result.json holds
        what = f"{self.result_file} of fe2 {self.command}"
        qoi = {n: number_at(result, p, what, f"qoi.{n}.path") for n, p in self.qoi_paths.items()}
        for q in self.cfg.qoi:
            if q.csv is not None:
                assert q.column is not None
                qoi[q.name] = _csv_value(folder, q.csv, q.column, q.row, f"qoi.{q.name}")
        if needs_folder and not self.cfg.keep_sample_outputs:
            shutil.rmtree(folder, ignore_errors=True)
        return qoi


def _resolve(study_path: Path, value: str) -> Path:
    p = Path(value)
    if not p.is_absolute():
        p = (study_path.resolve().parent / p).resolve()
    if not p.is_file():
        raise ConfigError(f"{study_path}: base: config file not found: {p}")
    return p


def _check_arguments(function: Callable[..., Any], arguments: dict, study_path: Path) -> None:
    """``base_arguments`` against the function's signature: known names (unless it takes ``**kwargs``),
    finite numbers, and a number wherever the parameter's default is one.
    """
    import inspect
    import math

    sig = inspect.signature(function)
    params = list(sig.parameters.values())[1:]  # the first takes the inputs
    named = {p.name: p for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
    open_kwargs = any(p.kind == p.VAR_KEYWORD for p in params)
    for key, value in arguments.items():
        where = f"{study_path}: base_arguments.{key}"
        if key not in named and not open_kwargs:
            raise ConfigError(f"{where}: not a parameter of {function.__name__}{sig} (known: "
                              f"{', '.join(named) or 'none'})")
        if isinstance(value, float) and not math.isfinite(value):
            raise ConfigError(f"{where}: must be a finite number, got {value}")
        default = named[key].default if key in named else inspect.Parameter.empty
        numeric = isinstance(default, int | float) and not isinstance(default, bool)
        if numeric and (isinstance(value, bool) or not isinstance(value, int | float)):
            raise ConfigError(f"{where}: must be a number (the default is {default!r}), got {value!r}")


def _python_function(spec: str, study_path: Path) -> Callable[..., Any]:
    """``module:function`` (an importable module, or a ``.py`` file relative to the study)."""
    module_name, _, func = spec.rpartition(":")
    try:
        if module_name.endswith(".py"):
            file = _resolve(study_path, module_name)
            sp = importlib.util.spec_from_file_location(f"fe2_uq_base_{file.stem}", file)
            assert sp is not None and sp.loader is not None
            module = importlib.util.module_from_spec(sp)
            sp.loader.exec_module(module)
        else:
            module = importlib.import_module(module_name)
    except ImportError as err:
        raise ConfigError(f"{study_path}: base: cannot import {module_name!r} ({err})") from None
    f = getattr(module, func, None)
    if not callable(f):
        raise ConfigError(f"{study_path}: base: {module_name!r} has no function {func!r}")
    return f


__all__ = ["Base"]
