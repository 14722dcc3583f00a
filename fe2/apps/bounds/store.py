"""The record store of a bound-convergence study: one JSON-lines file per rank.

``realizations.rank<r>.jsonl`` holds one JSON line per finished record
(:meth:`~fe2.apps.bounds.record.BoundsRecord.to_json`, keys sorted), appended by
the rank that solved it and flushed and fsync'ed at once. A rerun reads every
such file, skips finished keys, and appends; a killed run loses only the
records in flight. A half-written last line (killed mid-write) is ignored.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from fe2.apps.bounds.record import BoundsRecord

__all__ = ["RECORD_GLOB", "RecordWriter", "read_records"]

RECORD_GLOB = "realizations.rank*.jsonl"


class RecordWriter:
    """Appends records to one JSON-lines file, durably (flush + fsync per line)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._checked = False

    def append(self, record: BoundsRecord) -> None:
        line = json.dumps(record.to_json(), sort_keys=True, default=_json_default) + "\n"
        with self.path.open("a+b") as fh:
            if not self._checked:
                # a run killed mid-write leaves a partial last line: end it so it stays one bad line
                fh.seek(0, os.SEEK_END)
                if fh.tell() > 0:
                    fh.seek(-1, os.SEEK_END)
                    if fh.read(1) != b"\n":
                        fh.write(b"\n")
                self._checked = True
            fh.write(line.encode())
            fh.flush()
            os.fsync(fh.fileno())


def _json_default(obj):
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, (np.floating, np.integer)):
        return obj.item()
    raise TypeError(f"cannot serialise {type(obj).__name__}")


def read_records(out_dir: str | Path) -> dict[str, BoundsRecord]:
    """Every finished record in ``out_dir`` (all rank files), by key; the first line of a key wins.

    Unreadable lines are skipped: a line cut short by a kill, and a JSON object that is not a
    whole record (missing fields).
    """
    records: dict[str, BoundsRecord] = {}
    for path in sorted(Path(out_dir).glob(RECORD_GLOB)):
        with path.open("rb") as fh:
            for raw in fh:
                try:
                    data = json.loads(raw)
                except (json.JSONDecodeError, UnicodeDecodeError):
                    continue  # a line cut short by a kill
                if not (isinstance(data, dict) and "key" in data and "effective" in data):
                    continue
                if data["key"] in records:
                    continue
                try:
                    records[data["key"]] = BoundsRecord.from_json(data)
                except (KeyError, TypeError, ValueError, AttributeError):
                    continue  # not a whole record
    return records
