"""Crash-consistent per-rank checkpoints: every restartable command writes them through this module.

A checkpoint is a folder::

    checkpoint/
        manifest.json                 # written last, by rank 0: the commit of the checkpoint
        rank0_of_2.000007.npz         # the arrays of each rank, serial 7
        rank1_of_2.000007.npz

:meth:`RankCheckpoint.save` writes each rank's arrays under a new serial
(temporary name, fsync, rename), then rank 0 writes ``manifest.json``
atomically with the serial, the rank count, the caller's metadata (step, time,
proposed Δt, statistics … — everything the next step depends on) and a SHA-256
of every rank file; only then are the files of older serials removed. A run
killed at any moment leaves a manifest that names a complete set of files:
the previous checkpoint or the new one, never a mixture. :meth:`load` checks
the rank count and the checksums.

Restart needs the rank count of the run that wrote the checkpoint (the arrays
are the ranks' local dof arrays).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from fe2.errors import ConfigError
from fe2.faults import fault_point

MANIFEST = "manifest.json"


def _fsync_replace(tmp: Path, final: Path) -> None:
    with tmp.open("rb+") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, final)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


class RankCheckpoint:
    """One checkpoint folder written and read collectively over ``comm``.

    Args:
        folder: the checkpoint folder (created on first save).
        comm: the communicator of the run; every method is collective.
    """

    def __init__(self, folder: str | Path, comm) -> None:
        self.folder = Path(folder)
        self.comm = comm

    def _rank_file(self, serial: int, rank: int | None = None) -> Path:
        r = self.comm.rank if rank is None else rank
        return self.folder / f"rank{r}_of_{self.comm.size}.{serial:06d}.npz"

    def manifest(self) -> dict[str, Any] | None:
        """The committed manifest, or ``None`` when there is no checkpoint (read on every rank)."""
        path = self.folder / MANIFEST
        if not path.is_file():
            return None
        return json.loads(path.read_text())

    def exists(self) -> bool:
        """Whether a committed checkpoint is there (same answer on every rank)."""
        found = (self.folder / MANIFEST).is_file() if self.comm.rank == 0 else None
        return bool(self.comm.bcast(found, root=0))

    def finished_result(self, result: Path, is_done) -> dict | None:
        """The JSON ``result`` of a finished run, or None: read when the committed manifest's metadata
        satisfies ``is_done(meta)`` and the file is there (rank 0 reads, every rank gets it). Collective.
        """
        found = None
        if self.comm.rank == 0:
            manifest = self.manifest()
            if manifest is not None and result.is_file() and is_done(manifest["meta"]):
                found = json.loads(result.read_text())
        return self.comm.bcast(found, root=0)

    def discard(self) -> None:
        """Remove the checkpoint (manifest first, so a kill in between leaves none). Collective."""
        if self.comm.rank == 0 and self.folder.is_dir():
            (self.folder / MANIFEST).unlink(missing_ok=True)
            for p in self.folder.glob("rank*_of_*.npz*"):
                p.unlink(missing_ok=True)
        self.comm.Barrier()

    def save(self, arrays: Mapping[str, np.ndarray], meta: Mapping[str, Any]) -> None:
        """Write this rank's ``arrays`` and commit them with ``meta`` (JSON-serializable) as one checkpoint."""
        comm = self.comm
        if comm.rank == 0:
            self.folder.mkdir(parents=True, exist_ok=True)
        comm.Barrier()
        old = self.manifest() if comm.rank == 0 else None
        serial = comm.bcast(0 if old is None else int(old["serial"]) + 1, root=0)
        final = self._rank_file(serial)
        tmp = final.with_name(final.name + ".tmp")
        with tmp.open("wb") as fh:
            named = {k: np.asarray(v) for k, v in arrays.items()}
            np.savez(fh, **named)  # type: ignore[arg-type]  # numpy's stub: **kwds also checked against allow_pickle
        _fsync_replace(tmp, final)
        fault_point("checkpoint.arrays")  # rank files written, not committed
        digests = comm.gather(_sha256(final), root=0)
        comm.Barrier()
        if comm.rank == 0:
            manifest = {"serial": serial, "ranks": comm.size, "sha256": digests, "meta": dict(meta)}
            mtmp = self.folder / (MANIFEST + ".tmp")
            mtmp.write_text(json.dumps(manifest, indent=1))
            fault_point("checkpoint.manifest")  # inside the commit: manifest written, not yet renamed
            _fsync_replace(mtmp, self.folder / MANIFEST)
        comm.Barrier()
        # the new checkpoint is committed: files of other serials (and stray temporaries) can go
        mine = f"rank{comm.rank}_of_"
        for p in self.folder.glob(f"{mine}*"):
            if p != final:
                p.unlink(missing_ok=True)

    def load(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """``(this rank's arrays, meta)`` of the committed checkpoint.

        Raises:
            ConfigError: no checkpoint, another rank count, or a rank file that
                does not match its checksum (on every rank together).
        """
        comm = self.comm
        manifest = self.manifest()
        problem = ""
        if manifest is None:
            problem = f"--restart: no checkpoint in {self.folder}"
        elif int(manifest["ranks"]) != comm.size:
            problem = (f"--restart: the checkpoint in {self.folder} was written on {manifest['ranks']} rank(s), "
                       f"this run has {comm.size} (restart needs the rank count of the run)")
        else:
            path = self._rank_file(int(manifest["serial"]))
            if not path.is_file() or _sha256(path) != manifest["sha256"][comm.rank]:
                problem = f"--restart: checkpoint file {path} is missing or damaged"
        problems = [p for p in comm.allgather(problem) if p]
        if problems:
            raise ConfigError(problems[0])
        assert manifest is not None
        with np.load(self._rank_file(int(manifest["serial"]))) as data:
            arrays = {k: np.array(data[k]) for k in data.files}
        return arrays, manifest["meta"]
