"""Time-course CSV files of ``fe2 identify``: ``time [unit],<observable> [unit],...``.

The header names the columns, each optionally followed by its unit in brackets (the files this
command writes always carry them: ``time [h],X1 [mg/L]``). A file must have a ``time`` column
and one column per observable (extra columns are an error: a misspelt observable would be
silently ignored otherwise); units given in the header must match the config's ``[units]``;
every value must be a finite number, times sorted and >= 0.
"""

from __future__ import annotations

import csv
import math
import re
from pathlib import Path

import numpy as np

from fe2.errors import ConfigError
from fe2.io.results import write_csv_atomic
from fe2.physics.reactions.profile_likelihood import TimeCourse

_COLUMN = re.compile(r"^\s*([^\[\]]+?)\s*(?:\[([^\]]*)\])?\s*$")


def column_header(name: str, unit: str) -> str:
    return f"{name} [{unit}]"


def write_time_course(path: Path, data: TimeCourse, time_unit: str, amount_unit: str) -> None:
    """Atomic CSV with units in the header."""
    header = [column_header("time", time_unit), *(column_header(n, amount_unit) for n in data.names)]
    rows = [[float(t), *map(float, row)] for t, row in zip(data.times, data.values, strict=True)]
    write_csv_atomic(path, header, rows)


def read_time_course(path: str | Path, cfg, where: str) -> TimeCourse:
    """The observables of ``cfg`` from a CSV file; one-line ConfigError naming ``where`` otherwise."""
    p = Path(path)
    try:
        with p.open(newline="") as fh:
            rows = list(csv.reader(fh))
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(f"{where}: cannot read {p} ({type(err).__name__})") from None
    rows = [r for r in rows if any(c.strip() for c in r)]
    if len(rows) < 2:
        raise ConfigError(f"{where}: {p} needs a header row and at least one data row")
    names, units = [], []
    for col in rows[0]:
        m = _COLUMN.match(col)
        if not m:
            raise ConfigError(f"{where}: cannot read the column name {col!r} (expected 'name' or 'name [unit]')")
        names.append(m.group(1))
        units.append(m.group(2))
    obs = cfg.observable_names
    if "time" not in names:
        raise ConfigError(f"{where}: no 'time' column in {p} (columns: {', '.join(names)})")
    missing = [o for o in obs if o not in names]
    if missing:
        raise ConfigError(f"{where}: no column for observable {missing[0]!r} in {p} (columns: {', '.join(names)})")
    extra = [n for n in names if n != "time" and n not in obs]
    if extra:
        raise ConfigError(f"{where}: column {extra[0]!r} is not an observable (observables: {', '.join(obs)})")
    if len(set(names)) != len(names):
        raise ConfigError(f"{where}: duplicate column names in {p}")
    for n, u in zip(names, units, strict=True):
        want = cfg.units.time if n == "time" else cfg.units.amount
        if u is not None and u.strip() != want:
            raise ConfigError(f"{where}: column {n!r} is in [{u}] but units.{'time' if n == 'time' else 'amount'} "
                              f"= {want!r}")
    idx = [names.index("time"), *(names.index(o) for o in obs)]
    values = np.empty((len(rows) - 1, len(idx)))
    for i, r in enumerate(rows[1:], start=2):
        if len(r) != len(names):
            raise ConfigError(f"{where}: line {i} of {p} has {len(r)} fields, the header {len(names)}")
        for k, c in enumerate(idx):
            try:
                v = float(r[c])
            except ValueError:
                raise ConfigError(f"{where}: line {i} of {p}: {names[c]} = {r[c]!r} is not a number") from None
            if not math.isfinite(v):
                raise ConfigError(f"{where}: line {i} of {p}: {names[c]} = {r[c]!r} is not finite")
            values[i - 2, k] = v
    t = values[:, 0]
    if t[0] < 0 or np.any(np.diff(t) <= 0):
        raise ConfigError(f"{where}: times in {p} must be >= 0 and strictly increasing")
    return TimeCourse(t, values[:, 1:], list(obs))
