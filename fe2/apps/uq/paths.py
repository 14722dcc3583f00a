"""Key paths into TOML tables and JSON results: ``materials.fibre.young``, ``effective.periodic[0][0]``.

Syntax (the same for the inputs' ``key`` and the QoIs' ``path``):

* a path is a sequence of steps; ``.name`` is a table key, ``[i]`` a list index (0-based,
  negative from the end), ``["any key"]`` a key with dots, brackets or spaces in it;
* the first step is a plain name: ``effective.periodic[0][0]`` is the (0, 0) entry of the
  periodic effective tensor, ``geometry.lengths[1]`` the second RVE length,
  ``details["my.phase"].volume`` a key with a dot.

A step that does not exist is a :class:`~fe2.errors.ConfigError` naming the path, the step and
what is there instead.
"""

from __future__ import annotations

import copy
import re
from typing import Any

from fe2.errors import ConfigError

_STEP = re.compile(r"""\.?([A-Za-z_][A-Za-z0-9_\-]*)|\[(-?\d+)\]|\["([^"]*)"\]""")

Step = str | int


def parse_path(path: str, where: str) -> tuple[Step, ...]:
    """The steps of ``path``; a malformed path is a ConfigError naming ``where``."""
    steps: list[Step] = []
    pos = 0
    while pos < len(path):
        m = _STEP.match(path, pos)
        dotted = path.startswith(".", pos)
        if m is None or (pos == 0 and dotted) or (pos > 0 and m.group(1) is not None and not dotted):
            raise ConfigError(f"{where}: malformed path {path!r} at character {pos + 1} "
                              "(expected name.name[0][\"quoted key\"])")
        name, index, quoted = m.groups()
        steps.append(int(index) if index is not None else (name if name is not None else quoted))
        pos = m.end()
    if not steps:
        raise ConfigError(f"{where}: empty path")
    return tuple(steps)


def _show(steps: tuple[Step, ...]) -> str:
    out = ""
    for s in steps:
        out += f"[{s}]" if isinstance(s, int) else (f".{s}" if out else s)
    return out or "(top level)"


def _child(node: Any, step: Step, steps: tuple[Step, ...], k: int, what: str) -> Any:
    """``node[step]`` or a ConfigError saying what is at ``steps[:k]`` instead."""
    here = _show(steps[:k])
    if isinstance(step, int):
        if not isinstance(node, list):
            raise ConfigError(f"[{step}] after {here}: not a list there in {what}")
        if not -len(node) <= step < len(node):
            raise ConfigError(f"[{step}]: index out of range, {here} has {len(node)} entries in {what}")
        return node[step]
    if not isinstance(node, dict):
        raise ConfigError(f"{step!r} after {here}: not a table there in {what}")
    if step not in node:
        keys = ", ".join(sorted(map(str, node))[:12])
        raise ConfigError(f"{step!r}: no such key under {here} in {what} (keys there: {keys})")
    return node[step]


def get_path(data: Any, steps: tuple[Step, ...], what: str, where: str) -> Any:
    """The value at ``steps`` in ``data`` (``what``: e.g. ``"result.json"``; ``where``: the study key)."""
    node = data
    for k, step in enumerate(steps):
        try:
            node = _child(node, step, steps, k, what)
        except ConfigError as err:
            raise ConfigError(f"{where}: {_show(steps)}: {err}") from None
    return node


def check_path(data: Any, steps: tuple[Step, ...], what: str, where: str) -> None:
    """Raise a ConfigError unless ``steps`` names a value that exists in ``data``."""
    get_path(data, steps, what, where)


def with_values(data: dict, values: dict[tuple[Step, ...], Any]) -> dict:
    """A deep copy of ``data`` with the value at each path replaced (each path must exist: see check_path)."""
    out = copy.deepcopy(data)
    for steps, value in values.items():
        node: Any = out
        for step in steps[:-1]:
            node = node[step]
        node[steps[-1]] = value
    return out


def number_at(data: Any, steps: tuple[Step, ...], what: str, where: str) -> float:
    """The number at ``steps`` (bool and non-numbers are a ConfigError naming ``where``)."""
    value = get_path(data, steps, what, where)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        kind = type(value).__name__
        raise ConfigError(f"{where}: {_show(steps)}: is a {kind} in {what}, not a number "
                          "(index into it, e.g. [0][0])")
    return float(value)


__all__ = ["check_path", "get_path", "number_at", "parse_path", "with_values"]
