"""JSON / CSV results, written atomically on rank 0.

A result file appears complete or not at all: data go to ``NAME.tmp`` and are
renamed into place, so an interrupted run never leaves a half-written file
that looks finished (the data are fsync'ed before the rename, so a crash of the
machine does not leave an empty file under the final name either).
"""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from fe2.faults import fault_point


def _commit(tmp: Path, path: Path) -> None:
    fault_point("result.write")  # the new file complete under its temporary name
    os.replace(tmp, path)


def _default(obj: Any):
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, (np.floating, np.integer)):
        return obj.item()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"cannot serialise {type(obj).__name__}")


def write_json_atomic(path: str | Path, data: dict, comm=None) -> None:
    """Write ``data`` as pretty JSON on rank 0 of ``comm`` (all ranks if comm is None)."""
    if comm is not None and comm.rank != 0:
        return
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    with tmp.open("w") as fh:
        json.dump(data, fh, indent=2, default=_default)
        fh.write("\n")
        fh.flush()
        os.fsync(fh.fileno())
    _commit(tmp, path)


def write_csv_atomic(path: str | Path, header: list[str], rows: list[list[Any]], comm=None) -> None:
    """Write a CSV with a header row on rank 0 of ``comm``."""
    if comm is not None and comm.rank != 0:
        return
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    with tmp.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)
        fh.flush()
        os.fsync(fh.fileno())
    _commit(tmp, path)
