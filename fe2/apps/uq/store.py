"""Finished samples, append-only: ``OUT/samples/rank<r>.jsonl``, one JSON line per finished sample.

Each rank appends to its own file (no two processes ever write one file); every line is
flushed to the kernel before the next sample starts, so a killed process loses at most the
sample that was running (lines are fsync'ed within a second, against a crash of the machine).
A line cut by a kill (no final newline) is dropped when the file is read and cut off before
the next append. ``OUT/study.json`` (written atomically when a study starts) holds
the fingerprint of the study — its config and the base config's content — and a
``--restart`` with a different study is refused instead of mixing samples of two studies.

A line: ``{"id": 12, "x": [input values in the order of [[inputs]]], "scan": 0 | null,
"qoi": {"name": value}, "wall_s": seconds}``.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path
from typing import IO, Any

from mpi4py import MPI

from fe2.errors import ConfigError
from fe2.io.results import write_json_atomic


def _lines(path: Path) -> list[dict]:
    out = []
    with path.open("rb") as fh:
        for raw in fh.read().split(b"\n"):
            if not raw.strip():
                continue
            try:
                out.append(json.loads(raw))
            except json.JSONDecodeError:
                continue  # the line a kill cut short (only ever the last one)
    return out


def _cut_partial_line(path: Path) -> None:
    """Remove a last line without its newline (written when the process was killed)."""
    if not path.is_file():
        return
    data = path.read_bytes()
    if data and not data.endswith(b"\n"):
        with path.open("r+b") as fh:
            fh.truncate(data.rfind(b"\n") + 1)


#: longest time (s) a finished sample's line may wait for its fsync (it is flushed at once)
SYNC_S = 1.0


class SampleStore:
    """The samples of one study in ``out`` (collective constructor; see the module docstring)."""

    def __init__(self, out: Path, fingerprint: dict, comm: MPI.Comm, restart: bool) -> None:
        self.folder = out / "samples"
        self.comm = comm
        problem = None
        if comm.rank == 0:
            problem = self._open(out, fingerprint, restart)
        problem = comm.bcast(problem, root=0)
        if problem is not None:
            err = ConfigError(problem)
            err.collective = True
            raise err
        self.path = self.folder / f"rank{comm.rank}.jsonl"
        _cut_partial_line(self.path)
        self._fh: IO[str] | None = None
        self._synced = time.monotonic()

    def _open(self, out: Path, fingerprint: dict, restart: bool) -> str | None:
        marker = out / "study.json"
        stamp = json.loads(json.dumps(fingerprint))
        if restart and marker.is_file():
            if json.loads(marker.read_text()) != stamp:
                return (f"--restart: {marker} was written by a different study (its config or the base config "
                        "changed); run without --restart to start over")
        else:
            if self.folder.exists():
                shutil.rmtree(self.folder)
            write_json_atomic(marker, stamp)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.stop_file.unlink(missing_ok=True)  # left by a failed run: this one starts afresh
        return None

    @property
    def stop_file(self) -> Path:
        """Written by a rank whose sample failed, so the other ranks stop at their next sample."""
        return self.folder / "STOP"

    def signal_stop(self) -> None:
        """Tell the other ranks (through the file system, no collective) that this rank failed."""
        self.stop_file.touch()

    def stop_requested(self) -> bool:
        """Whether some rank has failed (one stat call)."""
        return self.stop_file.exists()

    def finished(self) -> dict[int, dict]:
        """Every finished sample of every rank's file, by id (collective: rank 0 reads, all receive)."""
        found: dict[int, dict] | None = None
        if self.comm.rank == 0:
            found = {}
            for path in sorted(self.folder.glob("rank*.jsonl")):
                for line in _lines(path):
                    found.setdefault(int(line["id"]), line)
        return self.comm.bcast(found, root=0)

    def append(self, record: dict[str, Any]) -> None:
        """Append one finished sample to this rank's file.

        The line is written and flushed to the kernel before this returns, so it survives a kill of
        the process; it is fsync'ed (survives a crash of the machine) at most :data:`SYNC_S` seconds
        later, and at :meth:`close` — one fsync per sample would dominate a cheap Python base.
        """
        if self._fh is None:
            self._fh = self.path.open("a")
        self._fh.write(json.dumps(record, separators=(",", ":")) + "\n")
        self._fh.flush()
        now = time.monotonic()
        if now - self._synced >= SYNC_S:
            os.fsync(self._fh.fileno())
            self._synced = now

    def append_block(self, records: list[dict[str, Any]]) -> None:
        """Append the lines of a batch of samples (the batched path) with one write, flushed and fsync'ed."""
        if self._fh is None:
            self._fh = self.path.open("a")
        self._fh.write("".join(json.dumps(r, separators=(",", ":")) + "\n" for r in records))
        self._fh.flush()
        os.fsync(self._fh.fileno())
        self._synced = time.monotonic()

    def close(self) -> None:
        """fsync and close this rank's file."""
        if self._fh is not None:
            self._fh.flush()
            os.fsync(self._fh.fileno())
            self._fh.close()
            self._fh = None


__all__ = ["SampleStore"]
