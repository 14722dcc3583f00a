"""The strict base of every config, TOML loading, one-line errors and path resolution.

Every problem (unknown key, wrong type, value out of range, missing file) is a
:class:`~fe2.errors.ConfigError` whose message is one line naming the file and
the offending key, e.g. ``rve.toml: geometry.mesh_size: Input should be greater than 0``.
The full schema is documented in ``docs/config.md``.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from fe2.errors import ConfigError


class _Strict(BaseModel):
    # no inf / nan anywhere in a config: TOML accepts them, no fe2 key means anything by them
    # (a default such as phasefield's dt_max = inf stands for "no limit" and is not written by users)
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


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


def _suggestion(key: str, model: Any) -> str:
    """`` (did you mean 'mesh_size'?)`` for a misspelt key close to a key of ``model`` (difflib, ratio ≥ 0.75)."""
    import difflib

    if model is None:
        return ""
    close = difflib.get_close_matches(key, sorted(_key_names(model)), n=1, cutoff=0.75)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _describe(err: ValidationError, data=None, model: Any = None) -> tuple[str, str]:
    """``(dotted key, message)`` of the error to report (see :func:`_format_validation_error`)."""
    errors = err.errors()
    # An unknown key (typo) usually also makes a required key "missing": report the typo. Otherwise
    # the most specific error: for a union (``int | list[int]``, ``float | table``) pydantic reports
    # every branch, and the deepest location is the one of the branch the input was written for.
    first = next((e for e in errors if e["type"] == "extra_forbidden"), None)
    if first is None:
        first = max(errors, key=lambda e: len(e["loc"]))
    loc = _user_loc(first["loc"], data, first["type"] == "missing")
    msg = first["msg"]
    if first["type"] == "extra_forbidden":
        msg = "unknown key" + (_suggestion(str(first["loc"][-1]), model) if first["loc"] else "")
    elif first["type"] == "value_error":
        msg = msg.removeprefix("Value error, ")
    more = f" (+{len(errors) - 1} more)" if len(errors) > 1 else ""
    return loc, msg + more


def _format_validation_error(err: ValidationError, source: str, data=None, model: Any = None) -> str:
    loc, msg = _describe(err, data, model)
    return f"{source}: {loc + ': ' if loc else ''}{msg}"


def nested_error(err: ValidationError, prefix: str, data=None, model: Any = None) -> str:
    """One-line message of a table validated on its own (e.g. ``materials.fibre``): ``prefix.key: message``;
    ``model`` (a model class or a union of them): where a misspelt key's suggestion is looked up.
    """
    loc, msg = _describe(err, data, model)
    return f"{prefix}.{loc}: {msg}" if loc else f"{prefix}: {msg}"


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
