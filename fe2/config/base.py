"""The strict base of every config, TOML loading, one-line errors and path resolution.

Every problem (unknown key, wrong type, value out of range, missing file) is a
:class:`~fe2.errors.ConfigError` whose message has one line per problem, each naming the file and
the offending key, e.g. ``rve.toml: geometry.mesh_size: Input should be greater than 0``
(several problems of one file: one such line each, none hidden). The full schema is documented
in ``docs/config.md``.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, PositiveFloat, ValidationError, model_validator

from fe2.errors import ConfigError


class _Strict(BaseModel):
    # no inf / nan anywhere in a config: TOML accepts them, no fe2 key means anything by them
    # (a default such as phasefield's dt_max = inf stands for "no limit" and is not written by users)
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class GoalErrorOptions(_Strict):
    """The ``[solver]`` keys of a command with an error estimate and adaptive refinement (``fe2 run``,
    ``fe2 homogenize``, ``fe2 darcy``): ``error_estimate`` adds the estimate to the result,
    ``target_error`` (relative; implies the estimate) refines the mesh until the estimate meets it, at most
    ``max_refinements`` times (a non-default value needs ``target_error``). What is estimated and how the
    cells are marked is the command's (its ``[solver]`` docstring).
    """

    error_estimate: bool = False
    target_error: PositiveFloat | None = None
    max_refinements: int = Field(default=12, ge=0, le=50)

    @property
    def estimates(self) -> bool:
        """True when the result carries the error estimate (``error_estimate`` or ``target_error``)."""
        return self.error_estimate or self.target_error is not None

    @model_validator(mode="after")
    def _refinements_need_a_target(self):
        # a non-default value without a target (the default is written by model_dump: a dumped config reloads)
        if self.max_refinements != type(self).model_fields["max_refinements"].default and self.target_error is None:
            raise ValueError("solver.max_refinements needs solver.target_error (the adaptive loop it bounds)")
        return self


PetscValue = bool | int | float | str


class LimitsConfig(_Strict):
    """``[limits]``: the largest meshes a run may build (estimates and defaults: :mod:`fe2.config.limits`)."""

    max_cells: float = Field(default=2.0e6, gt=0)
    max_micro_cells: float = Field(default=5.0e7, gt=0)


class CommandConfig(_Strict):
    """Base of every command's top-level config: the keys all commands share.

    ``[petsc]``: PETSc options for fe2's solvers, keys with one of the stable
    prefixes of :data:`fe2.solvers.options.PREFIXES` (``fe2_rve_ksp_type = "cg"``);
    options given on the command line (``-fe2_rve_ksp_type cg``) win over these.
    ``[limits]``: resource guards (:mod:`fe2.config.limits`).
    """

    petsc: dict[str, PetscValue] = {}
    limits: LimitsConfig = LimitsConfig()

    def size_estimates(self) -> list[tuple[str, float | None]]:
        """``(key, estimated cells)`` of every mesh the config asks for (see :mod:`fe2.config.limits`)."""
        return []

    @model_validator(mode="after")
    def _petsc_prefixes(self):
        from fe2.solvers.options import PREFIXES

        for key in self.petsc:
            name = key.lstrip("-")
            if not any(name.startswith(p) and len(name) > len(p) for p in PREFIXES):
                raise ValueError(f"petsc.{key}: PETSc options must start with one of fe2's prefixes "
                                 f"({', '.join(sorted(PREFIXES))}), e.g. fe2_rve_ksp_type")
        return self


def _user_loc(loc: tuple, data, missing: bool) -> str:
    """Dotted key path as the user wrote it: union-member labels (the ``kind`` value,
    ``elastic``/``conductor``) that pydantic inserts into ``loc`` are dropped; the last
    part of a ``missing`` error (a key absent from the input) is kept.
    """
    parts: list[str] = []
    cur = data
    for i, p in enumerate(loc):
        if isinstance(cur, dict) and p in cur:
            cur = cur[p]
        elif isinstance(cur, list) and isinstance(p, int) and 0 <= p < len(cur):
            cur = cur[p]
        elif not (missing and i == len(loc) - 1):
            continue  # not a key of the input: a union label
        parts.append(str(p))
    return ".".join(parts)


def _key_names(model: Any) -> set[str]:
    """Every key name of ``model`` and of the models nested in it (fields, unions, lists, dicts)."""
    import typing

    names: set[str] = set()
    seen: set[type] = set()

    def walk(tp) -> None:
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            if tp in seen:
                return
            seen.add(tp)
            for name, f in tp.model_fields.items():
                names.add(f.alias or name)
                walk(f.annotation)
        for arg in typing.get_args(tp):
            walk(arg)

    walk(model)
    return names


def _leaves(tp) -> list:
    """The member types of ``tp`` with unions, Optional and Annotated flattened (models and containers)."""
    import typing

    origin = typing.get_origin(tp)
    if origin is typing.Annotated:
        return _leaves(typing.get_args(tp)[0])
    if origin is typing.Union or type(tp).__name__ == "UnionType":
        return [leaf for arg in typing.get_args(tp) for leaf in _leaves(arg)]
    return [tp]


def _models_at(model: Any, loc: tuple) -> list[type[BaseModel]]:
    """The models whose keys sit at pydantic location ``loc`` under ``model`` (union labels skipped)."""
    import typing

    current = _leaves(model)
    for p in loc:
        nxt = []
        for tp in current:
            origin = typing.get_origin(tp)
            if isinstance(tp, type) and issubclass(tp, BaseModel) and isinstance(p, str):
                for name, f in tp.model_fields.items():
                    if p in (name, f.alias):
                        nxt += _leaves(f.annotation)
            elif origin in (list, tuple) and isinstance(p, int):
                nxt += [leaf for arg in typing.get_args(tp) if arg is not Ellipsis for leaf in _leaves(arg)]
            elif origin is dict and isinstance(p, str):
                nxt += _leaves(typing.get_args(tp)[1])
        if nxt:  # else p is a union label (a tag or validator name): stay
            current = nxt
    return [tp for tp in current if isinstance(tp, type) and issubclass(tp, BaseModel)]


def _suggestion(key: str, model: Any, parent: tuple = ()) -> str:
    """`` (did you mean 'mesh_size'?)`` for a misspelt key close to a key of the table it was written in
    (the models at ``parent`` under ``model``; all keys of ``model`` when that table cannot be resolved;
    difflib, ratio ≥ 0.75).
    """
    import difflib

    if model is None:
        return ""
    here = _models_at(model, parent)
    names = ({f.alias or n for m in here for n, f in m.model_fields.items()} if here else _key_names(model))
    close = difflib.get_close_matches(key, sorted(names), n=1, cutoff=0.75)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _union_site(loc: tuple, data, missing: bool = False) -> tuple[tuple, object] | None:
    """``(site, branch)`` where ``loc`` first passes a union-member label that pydantic inserted
    (a part that is not a key or index of the input), or None.
    """
    cur = data
    for i, p in enumerate(loc):
        if isinstance(cur, dict) and p in cur:
            cur = cur[p]
        elif isinstance(cur, list) and isinstance(p, int) and 0 <= p < len(cur):
            cur = cur[p]
        elif not (missing and i == len(loc) - 1):  # the last part of a 'missing' error: a key absent
            return tuple(loc[:i]), p
        else:
            return None
    return None


def _relevant(errors: list, data) -> list:
    """The errors to report, in pydantic's order.

    For a union (``int | list[int]``, ``float | table``) pydantic reports every branch: only the
    branch with the deepest error (the one the input was written for) is kept. A required key
    reported missing where an unknown key of the same table is a close misspelling of it is the
    typo's doing: only the typo is reported.
    """
    best: dict[tuple, tuple[int, object]] = {}
    for e in errors:
        site = _union_site(e["loc"], data, e["type"] == "missing")
        if site is not None:
            depth = len(e["loc"])
            if site[0] not in best or depth > best[site[0]][0]:
                best[site[0]] = (depth, site[1])
    kept = []
    for e in errors:
        site = _union_site(e["loc"], data, e["type"] == "missing")
        if site is None or best[site[0]][1] == site[1]:
            kept.append(e)
    return kept


def _describe_all(err: ValidationError, data=None, model: Any = None) -> list[tuple[str, str]]:
    """``(dotted key, message)`` of every problem of ``err`` (see :func:`_relevant`), unknown keys first."""
    errors = _relevant(err.errors(), data)
    errors.sort(key=lambda e: e["type"] != "extra_forbidden")  # stable: the typos first
    out: list[tuple[str, str]] = []
    suggested: set[tuple[str, str]] = set()  # (parent key, suggested name) of the typos
    for e in errors:
        loc = _user_loc(e["loc"], data, e["type"] == "missing")
        msg = e["msg"]
        if e["type"] == "extra_forbidden":
            hint = _suggestion(str(e["loc"][-1]), model, tuple(e["loc"][:-1])) if e["loc"] else ""
            msg = "unknown key" + hint
            if hint:
                suggested.add((loc.rpartition(".")[0], hint.split("'")[1]))
        elif e["type"] == "missing" and tuple(loc.rpartition(".")[::2]) in suggested:
            continue  # the required key the typo above stands for
        elif e["type"] == "value_error":
            msg = msg.removeprefix("Value error, ")
        if (loc, msg) not in out:
            out.append((loc, msg))
    return out or [("", str(err).splitlines()[0])]


def _format_validation_error(err: ValidationError, source: str, data=None, model: Any = None) -> str:
    return "\n".join(f"{source}: {loc + ': ' if loc else ''}{msg}" for loc, msg in _describe_all(err, data, model))


def nested_error(err: ValidationError, prefix: str, data=None, model: Any = None) -> str:
    """The message of a table validated on its own (e.g. ``materials.fibre``): one line
    ``prefix.key: message`` per problem; ``model`` (a model class or a union of them): where a
    misspelt key's suggestion is looked up.
    """
    return "\n".join(f"{prefix}.{loc}: {msg}" if loc else f"{prefix}: {msg}"
                     for loc, msg in _describe_all(err, data, model))


def parse_config[M: BaseModel](data: dict, model: type[M], source: str = "config") -> M:
    """Validate a dict against ``model``; raise a one-line ConfigError on failure."""
    try:
        return model.model_validate(data)
    except ValidationError as err:
        raise ConfigError(_format_validation_error(err, source, data, model)) from None


def load_toml(path: str | Path) -> dict:
    """Read a TOML file; missing file or bad syntax -> ConfigError."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"config file not found: {p}")
    try:
        with p.open("rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{p}: invalid TOML: {str(err).splitlines()[0]}") from None
    except UnicodeDecodeError as err:
        raise ConfigError(f"{p}: not a text (UTF-8) TOML file: byte {err.start} cannot be decoded") from None
    except OSError as err:
        raise ConfigError(f"{p}: cannot read the config file ({err.strerror or err})") from None


def resolve_file(config_path: str | Path, value: str | Path, key: str, what: str = "file") -> Path:
    """``value`` (a file named in a config) as an absolute path: relative paths resolve against the
    config file's folder; a missing file is a one-line ConfigError naming ``key``
    (``<config>: <key>: <what> not found: <path>``).
    """
    p = Path(value)
    if not p.is_absolute():
        p = (Path(config_path).resolve().parent / p).resolve()
    if not p.is_file():
        raise ConfigError(f"{config_path}: {key}: {what} not found: {p}")
    return p
