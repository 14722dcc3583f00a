"""What a command's config admits, read from its pydantic model: ``fe2 init`` and ``fe2 SUB --help``.

Nothing here is written by hand per key: the tables, keys, types, defaults and admissible ranges
come from the model classes of :mod:`fe2.config` (field annotations, ``Field(gt=..., min_length=...)``,
``Literal`` choices, class docstrings), so the template and the help cannot drift from what the
loader accepts. Only the values of the keys a config must set are examples (:data:`EXAMPLES`: one
small, valid config per command and kind; ``tests/apps/test_cli_init.py`` loads each template).
"""

from __future__ import annotations

import argparse
import importlib
import json
import math
import types
import typing
from dataclasses import dataclass
from typing import Any, Literal

import annotated_types as at
from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from fe2.errors import ConfigError

#: command -> (module, model class) of its top-level config
MODELS = {
    "homogenize": ("fe2.config.homogenize", "HomogenizeConfig"),
    "bounds": ("fe2.config.bounds", "BoundsConfig"),
    "run": ("fe2.config.run", "RunConfig"),
    "phasefield": ("fe2.config.phasefield", "PhaseFieldConfig"),
    "reactions": ("fe2.config.reactions", "ReactionsConfig"),
    "darcy": ("fe2.config.darcy", "DarcyConfig"),
    "identify": ("fe2.config.identify", "IdentifyConfig"),
    "uq": ("fe2.config.uq", "UQConfig"),
    "reduce": ("fe2.config.reduce", "ReduceConfig"),
}

#: command -> kind -> the values of a small valid config (the first kind is the default of ``fe2 init``)
EXAMPLES: dict[str, dict[str, dict[str, Any]]] = {
    "homogenize": {
        "conductivity": {"physics": "conductivity", "boundary_conditions": ["kubc", "periodic", "tubc"],
                         "geometry": {"kind": "square_array", "volume_fraction": 0.3, "mesh_size": 0.1},
                         "materials": {"matrix": {"conductivity": 1.0}, "fibre": {"conductivity": 10.0}}},
        "elasticity": {"physics": "elasticity",
                       "geometry": {"kind": "square_array", "volume_fraction": 0.3, "mesh_size": 0.1},
                       "materials": {"matrix": {"young": 3.0, "poisson": 0.35},
                                     "fibre": {"young": 70.0, "poisson": 0.2}}},
    },
    "bounds": {
        "conductivity": {"physics": "conductivity", "dim": 2, "sizes": [2, 3], "realizations": 4,
                         "volume_fraction": 0.3, "radius": 0.5,
                         "materials": {"matrix": {"conductivity": 1.0}, "inclusion": {"conductivity": 10.0}}},
    },
    "run": {
        "j2": {"macro": {"domain": {"kind": "plate_with_hole", "width": 1.0, "height": 1.0, "radius": 0.2,
                                    "mesh_size": 0.2},
                         "dirichlet": [{"boundary": "left", "component": 0, "value": 0.0},
                                       {"boundary": "bottom", "component": 1, "value": 0.0},
                                       {"boundary": "right", "component": 0, "value": 0.02}]},
               "loading": {"load_factors": [0.5, 1.0], "monitor": {"boundary": "right", "component": 0}},
               "rve": {"geometry": {"kind": "square_array", "volume_fraction": 0.3, "mesh_size": 0.15},
                       "materials": {"matrix": {"model": "j2", "young": 3.0, "poisson": 0.35, "sigma_y0": 0.03},
                                     "fibre": {"model": "elastic", "young": 70.0, "poisson": 0.2}}}},
    },
    "phasefield": {
        "cahn_hilliard": {"model": "cahn_hilliard", "kappa": 2.0, "mobility": 5.0,
                          "domain": {"length": [100.0, 100.0], "cells": [50, 50]},
                          "energy": {"kind": "pfhub_bm1"},
                          "initial": {"kind": "pfhub_bm1", "c0": 0.5, "amplitude": 0.01},
                          "time": {"t_end": 10.0, "dt": 0.5}},
    },
    "reactions": {
        "well_mixed": {"mode": "well_mixed",
                       "network": {"species": {"A": 1.0, "B": 0.0}, "parameters": {"k": 1.0},
                                   "reactions": [{"equation": "A -> B", "k": "k"}]},
                       "well_mixed": {"t_end": 5.0}},
        "spatial": {"mode": "spatial",
                    "network": {"species": {"A": 0.5, "B": 0.5, "C": 0.0}, "parameters": {"k": 5.0, "kr": 1.0},
                                "reactions": [{"equation": "A + B <-> C", "k": "k", "k_reverse": "kr"}]},
                    "spatial": {"mesh": {"length": [1.0, 1.0], "cells": [16, 16]},
                                "diffusivity": {"A": 0.05, "B": 0.005, "C": 0.02}, "t_end": 0.1, "dt": 0.01}},
    },
    "darcy": {
        "tumour": {"formulation": "mixed",
                   "domain": {"kind": "tumour_in_host", "dim": 2, "tumour_radius": 1e-3, "mesh_size": 1e-4},
                   "tissue": {"tumour": {"preset": "baxter_jain_tumour"}},
                   "boundary": [{"name": "outer", "pressure": 0.0}]},
    },
    "identify": {
        "decay": {"network": {"species": {"A": 1.0}, "parameters": {"k": 0.5},
                              "reactions": [{"equation": "A -> ", "k": "k"}]},
                  "observables": ["A"],
                  "parameters": {"k": {"nominal": 0.5, "lower": 0.01, "upper": 10.0}},
                  "noise": {"sigma": 0.02}, "design": {"t_end": 5.0, "n_times": 20},
                  "synthetic": {"truth": {"k": 0.5}, "seed": 1}},
    },
    "reduce": {
        "j2": {"rve": {"geometry": {"kind": "square_array", "volume_fraction": 0.3, "mesh_size": 0.15},
                       "materials": {"matrix": {"model": "j2", "young": 3.0, "poisson": 0.35, "sigma_y0": 0.03},
                                     "fibre": {"model": "elastic", "young": 70.0, "poisson": 0.2}}}},
        "balanced_truncation": {"reduction": {"method": "balanced_truncation", "order": 6},
                                "system": {"domain": {"kind": "interval", "n": 120}, "diffusivity": [0.01],
                                           "jacobian": -0.5, "robin": {"right": 0.1},
                                           "inputs": [{"name": "influx", "kind": "flux", "boundary": "left"}],
                                           "outputs": [{"name": "mean", "kind": "average"},
                                                       {"name": "outlet", "kind": "sensor", "point": [1.0]}]}},
        "pod": {"reduction": {"method": "pod", "pod_tol": 1e-8},
                "system": {"domain": {"kind": "interval", "n": 120}, "diffusivity": [0.05], "jacobian": 0.0,
                           "robin": {"right": 0.1}, "inputs": [{"name": "influx", "kind": "flux", "boundary": "left"}],
                           "outputs": [{"name": "mean", "kind": "average"},
                                       {"name": "outlet", "kind": "sensor", "point": [1.0]}]},
                "reaction": {"kind": "michaelis_menten", "parameters": {"vmax": 1.0, "km": 0.5}},
                "time": {"t_end": 20.0, "dt": 0.1},
                "training_input": {"influx": {"offset": 1.0, "sines": [{"amplitude": 0.8, "frequency": 0.15}]}},
                "test_input": {"influx": {"offset": 0.5, "steps": [{"time": 4.0, "amplitude": 0.8}],
                                          "sines": [{"amplitude": 0.3, "frequency": 0.4, "phase": 1.0}]}}},
    },
    "uq": {
        "ishigami": {"base": "python:fe2.analytic.sensitivity:ishigami", "method": "sobol", "seed": 3,
                     "base_arguments": {"a": 7.0, "b": 0.1},
                     "inputs": [{"key": f"x{i}", "distribution": "uniform", "low": -3.141592653589793,
                                 "high": 3.141592653589793} for i in (1, 2, 3)],
                     "qoi": [{"name": "y", "path": "y"}], "sobol": {"n": 256}},
    },
}


#: (model class, field) typed loosely (``dict[str, Any]``, validated by a model validator) -> the
#: annotation its entries are validated with, so that their keys are listed too
VALIDATED_AS = {("HomogenizeConfig", "materials"): ("fe2.config.rve", "Material")}


def _annotation(model: type[BaseModel], name: str, f: FieldInfo):
    """The annotation of field ``name`` of ``model`` as the loader validates it (see :data:`VALIDATED_AS`)."""
    target = VALIDATED_AS.get((model.__name__, name))
    if target is None:
        return f.annotation
    return dict[str, getattr(importlib.import_module(target[0]), target[1])]  # type: ignore[misc]


@dataclass(frozen=True)
class Key:
    """One key of a config table: dotted table, name, admissible values, default (``None``: required)."""

    table: str
    name: str
    admits: str
    default: str | None


def command_model(command: str) -> type[BaseModel]:
    """The top-level config model of ``command``."""
    if command not in MODELS:
        raise ConfigError(f"fe2 init: no config for {command!r} (commands with one: {', '.join(MODELS)})")
    module, name = MODELS[command]
    return getattr(importlib.import_module(module), name)


# ------------------------------------------------------------------------------ type -> text
def _constraints(metadata: list) -> list[str]:
    out = []
    for m in metadata:
        for attr, sym in (("gt", ">"), ("ge", ">="), ("lt", "<"), ("le", "<=")):
            v = getattr(m, attr, None)
            if v is not None and isinstance(m, (at.Gt, at.Ge, at.Lt, at.Le, at.Interval)):
                out.append(f"{sym} {v:g}" if isinstance(v, (int, float)) else f"{sym} {v}")
        if isinstance(m, at.MinLen) and m.min_length:
            out.append(f"at least {m.min_length} item(s)")
        if isinstance(m, at.MaxLen):
            out.append(f"at most {m.max_length} item(s)")
    return out


def _unwrap(tp) -> tuple[Any, list]:
    """``Annotated[T, m...]`` -> (T, [m...]) (nested Annotated flattened)."""
    meta: list = []
    while typing.get_origin(tp) is typing.Annotated:
        args = typing.get_args(tp)
        tp = args[0]
        for m in args[1:]:
            meta.extend(m.metadata if isinstance(m, FieldInfo) else [m])
    return tp, meta


def type_text(tp, metadata: list | None = None) -> str:
    """``float > 0``, ``one of "kubc", "periodic"``, ``list of (float > 0), 2..3 item(s)`` ..."""
    tp, meta = _unwrap(tp)
    meta = list(metadata or []) + meta
    cons = _constraints(meta)
    origin = typing.get_origin(tp)
    if origin is Literal:
        text = "one of " + ", ".join(json.dumps(a) for a in typing.get_args(tp))
    elif origin in (typing.Union, types.UnionType):
        parts = [type_text(a) for a in typing.get_args(tp) if a is not type(None)]
        text = " or ".join(dict.fromkeys(parts))
        if type(None) in typing.get_args(tp):
            text += " (optional)"
    elif origin is list:
        (item,) = typing.get_args(tp) or (Any,)
        text = f"list of {type_text(item)}"
    elif origin is dict:
        _, val = typing.get_args(tp) or (str, Any)
        text = f"table of name -> {type_text(val)}"
    elif isinstance(tp, type) and issubclass(tp, BaseModel):
        text = "table"
    elif tp is Any:
        text = "table or value"
    else:
        text = getattr(tp, "__name__", str(tp))
    return text + (f" ({', '.join(cons)})" if cons else "")


def _default_text(f: FieldInfo) -> str | None:
    if f.default is PydanticUndefined and f.default_factory is None:
        return None
    value = f.default_factory() if f.default_factory is not None else f.default  # type: ignore[call-arg]
    if isinstance(value, BaseModel):
        return "(table)"
    return toml_value(value)


def toml_value(v) -> str:
    """A TOML literal of ``v`` (inline tables and arrays; ``None`` as a comment-only ``none``)."""
    if v is None:
        return "none"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if not math.isfinite(v):
            return ("-" if v < 0 else "") + "inf" if not math.isnan(v) else "nan"
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{_key(k)} = {toml_value(x)}" for k, x in v.items()) + " }" if v else "{}"
    return json.dumps(str(v))


def _key(k: str) -> str:
    return k if k.replace("_", "").replace("-", "").isalnum() else json.dumps(k)


# ------------------------------------------------------------------------------ model walking
def _models_in(tp) -> list[type[BaseModel]]:
    tp, _ = _unwrap(tp)
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return [tp]
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        return [m for a in typing.get_args(tp) for m in _models_in(a)]
    return []


def _model_for(tp, value) -> type[BaseModel] | None:
    """The model of annotation ``tp`` that table ``value`` is written for (a union: the member it validates as)."""
    models = _models_in(tp)
    if len(models) <= 1:
        return models[0] if models else None
    for m in models:
        try:
            m.model_validate(value)
            return m
        except ValidationError:
            continue
    return None


def _dict_value_type(tp):
    tp, _ = _unwrap(tp)
    if typing.get_origin(tp) is dict:
        return typing.get_args(tp)[1]
    return None


def _list_item_type(tp):
    tp, _ = _unwrap(tp)
    if typing.get_origin(tp) in (typing.Union, types.UnionType):  # list[...] | None
        inner = [a for a in typing.get_args(tp) if a is not type(None)]
        tp = _unwrap(inner[0])[0] if len(inner) == 1 else tp
    if typing.get_origin(tp) is list:
        return typing.get_args(tp)[0]
    return None


def _doc(model: type[BaseModel] | None) -> str:
    doc = (model.__doc__ or "").strip().splitlines() if model is not None else []
    return doc[0] if doc and not doc[0].startswith("!!!") else ""


def keys(model: type[BaseModel]) -> list[Key]:
    """Every key of ``model`` and of the tables nested in it; a key that the members of a union
    (e.g. the geometry kinds) share is listed once, with what each member admits.
    """
    found: dict[tuple[str, str], Key] = {}

    def walk(m: type[BaseModel], table: str, seen: frozenset) -> None:
        if m in seen:
            return
        for name, f in m.model_fields.items():
            key = f.alias or name
            ann = _annotation(m, name, f)
            k = Key(table, key, type_text(ann, f.metadata), _default_text(f))
            old = found.get((table, key))
            if old is None:
                found[(table, key)] = k
            elif k.admits not in old.admits.split(" | "):
                both = (f"{old.admits}, {k.admits.removeprefix('one of ')}"
                        if old.admits.startswith("one of ") and k.admits.startswith("one of ") and "(" not in
                        old.admits + k.admits else f"{old.admits} | {k.admits}")
                found[(table, key)] = Key(table, key, both, old.default or k.default)
            sub = f"{table}.{key}" if table else key
            for inner in _models_in(ann):
                walk(inner, sub, seen | {m})
            val = _dict_value_type(ann)
            for inner in _models_in(val) if val is not None else []:
                walk(inner, f"{sub}.<name>", seen | {m})
            item = _list_item_type(ann)
            for inner in _models_in(item) if item is not None else []:
                walk(inner, f"{sub}[]", seen | {m})

    walk(model, "", frozenset())
    return sorted(found.values(), key=lambda k: (k.table != "", k.table))


def help_text(command: str, width: int = 100) -> str:
    """The config tables and keys of ``command`` with their admissible values, for ``--help``."""
    model = command_model(command)
    lines = [f"config keys of fe2 {command} (from the schema; 'fe2 init {command}' writes a commented template):"]
    last = None
    for k in keys(model):
        if k.table != last:
            lines.append(f"  [{k.table}]" if k.table else "  (top level)")
            last = k.table
        default = " (required)" if k.default is None else f" = {k.default}"
        line = f"    {k.name}{default}: {k.admits}"
        lines.append(line if len(line) <= width else line[: width - 3] + "...")
    return "\n".join(lines)


# ------------------------------------------------------------------------------ fe2 init
def template(command: str, kind: str | None = None) -> str:
    """A commented TOML config for ``command`` (``kind``: one of :data:`EXAMPLES` [command]) that
    loads as written: the example's values set, every other key of the schema commented out with
    its default and admissible values.
    """
    model = command_model(command)
    kinds = EXAMPLES[command]
    if kind is None:
        kind = next(iter(kinds))
    if kind not in kinds:
        raise ConfigError(f"fe2 init {command}: unknown kind {kind!r} (kinds: {', '.join(kinds)})")
    head = [f"# fe2 {command} config ({kind}), written by 'fe2 init {command} {kind}' from the schema.",
            f"# Check it with: fe2 {command} THIS.toml --check    (keys and ranges: fe2 {command} --help)",
            "# Commented lines are the other keys, with their defaults; fe2 converts no units.", ""]
    return "\n".join(head + _render(model, kinds[kind], "")) + "\n"


def _line(key: str, value, f: FieldInfo) -> str:
    return f"{_key(key)} = {toml_value(value)}  # {type_text(f.annotation, f.metadata)}"


def _commented(key: str, f: FieldInfo) -> str:
    d = _default_text(f)
    shown = "..." if d in (None, "none", "(table)") else d
    return f"# {_key(key)} = {shown}  # {type_text(f.annotation, f.metadata)}"


def _render(model: type[BaseModel] | None, data: dict, table: str) -> list[str]:
    """Lines of table ``table`` (its keys, then its sub-tables) of ``data`` validated by ``model``."""
    lines: list[str] = []
    subs: list[tuple[str, type[BaseModel] | None, dict]] = []
    commented_tables: list[tuple[str, type[BaseModel]]] = []
    fields = model.model_fields if model is not None else {}
    by_key = {(f.alias or n): f for n, f in fields.items()}
    names = {(f.alias or n): n for n, f in fields.items()}
    for key, value in data.items():
        f = by_key.get(key)
        ann = _annotation(model, names[key], f) if model is not None and f is not None else None
        if isinstance(value, dict) and f is not None and (sub := _model_for(f.annotation, value)) is not None:
            subs.append((key, sub, value))
        elif isinstance(value, dict) and f is not None and _dict_value_type(ann) is not None \
                and all(isinstance(v, dict) for v in value.values()) and value:
            inner = _dict_value_type(ann)
            for name, v in value.items():
                subs.append((f"{key}.{_key(name)}", _model_for(inner, v), v))
        elif isinstance(value, dict) and f is None and all(isinstance(v, dict) for v in value.values()):
            subs.append((key, None, value))
        elif f is not None:
            lines.append(_line(key, value, f))
        else:
            lines.append(f"{_key(key)} = {toml_value(value)}")
    for key, f in by_key.items():
        if key in data:
            continue
        inner_models = _models_in(f.annotation)
        if (len(inner_models) == 1 and f.default is not None and f.default is not PydanticUndefined) \
                or (len(inner_models) == 1 and f.default_factory is not None):
            commented_tables.append((key, inner_models[0]))
        else:
            lines.append(_commented(key, f))
    out = lines
    for key, sub, value in subs:
        path = f"{table}.{key}" if table else key
        doc = _doc(sub)
        out += ["", *([f"# {doc}"] if doc else []), f"[{path}]", *_render(sub, value, path)]
    for key, sub in commented_tables:
        path = f"{table}.{key}" if table else key
        doc = _doc(sub)
        out += ["", f"# [{path}]" + (f"  {doc}" if doc else "")]
        out += [_commented(k, g) for k, g in ((g.alias or n, g) for n, g in sub.model_fields.items())]
    return out


def run_init(args, comm) -> int:
    """``fe2 init COMMAND [KIND] [--out FILE]``: the template on stdout, or written to FILE (atomically,
    rank 0; an existing FILE is an error, not overwritten).
    """
    import os
    from pathlib import Path

    from fe2.errors import OutputError

    text = template(args.target, args.kind)
    if not args.out:
        if comm.rank == 0:
            print(text, end="")
        return 0
    path = Path(args.out)
    problem = ""
    if comm.rank == 0:
        if path.exists():
            problem = f"fe2 init: {path} exists; not overwritten (choose another --out)"
        else:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                tmp = path.with_name(path.name + ".tmp")
                tmp.write_text(text)
                os.replace(tmp, path)
                print(f"wrote {path}; check it with: fe2 {args.target} {path} --check")
            except OSError as err:
                problem = f"fe2 init: cannot write {path} ({err.strerror or err})"
    problem = comm.bcast(problem, root=0)
    if problem:
        failure = OutputError(problem)
        failure.collective = True
        raise failure
    return 0


def init_arguments(p) -> None:
    """The arguments of ``fe2 init``."""
    p.add_argument("target", metavar="COMMAND", choices=list(MODELS), help="the command: " + ", ".join(MODELS))
    p.add_argument("kind", nargs="?", help="which example: " + "; ".join(
        f"{c}: {', '.join(k)}" for c, k in EXAMPLES.items()) + " (default: the first)")


class ConfigHelp(argparse.Action):
    """``fe2 SUB --help``: the usage, then the config's tables and keys with their admissible values
    (:func:`help_text`, built only when asked: importing every schema takes about a second), then
    ``epilog``.
    """

    def __init__(self, option_strings, dest=argparse.SUPPRESS, default=argparse.SUPPRESS, help=None,
                 epilog: str = ""):
        super().__init__(option_strings, dest=dest, default=default, nargs=0, help=help)
        self.epilog = epilog

    def __call__(self, parser, namespace, values, option_string=None):
        import textwrap

        from mpi4py import MPI

        parser.formatter_class = argparse.RawDescriptionHelpFormatter
        parser.epilog = help_text(parser.prog.split()[-1]) + "\n\n" + textwrap.fill(self.epilog, 100)
        if MPI.COMM_WORLD.rank == 0:
            parser.print_help()
        parser.exit(0)
