"""The ``--out`` folder of a command: checked once, collectively, before any work starts.

:func:`prepare_out_dir` runs on every rank of ``comm``; rank 0 does the file-system work and
broadcasts the outcome, so every rank raises the same one-line :class:`~fe2.errors.OutputError`
or none does (a rank never waits in a collective after a peer failed on its own).

It refuses an ``--out`` that exists and is not a folder, or that cannot be created or written,
and it moves a finished run's result file aside (``result.json`` -> ``result.json.previous``)
when a new, non-resuming run starts: a run that then fails during validation or solving leaves
no result file that looks current.
"""

from __future__ import annotations

import os
from pathlib import Path

from fe2.errors import OutputError

#: the files a finished run leaves; their presence says "this folder holds a complete result"
RESULT_FILES = ("result.json", "summary.json", "scales.json")


def _check(out: Path, keep_results: bool) -> str | None:
    """Rank 0's part: make ``out`` and test it; a one-line problem, or None."""
    if out.exists() and not out.is_dir():
        return f"--out {out}: exists and is not a folder (give a folder name)"
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        return f"--out {out}: cannot create the folder ({err.strerror or err})"
    probe = out / f".fe2_write_test_{os.getpid()}"
    try:
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as err:
        return f"--out {out}: the folder is not writable ({err.strerror or err})"
    if not keep_results:
        for name in RESULT_FILES:
            old = out / name
            if old.is_file():
                try:
                    os.replace(old, out / (name + ".previous"))
                except OSError as err:
                    return f"--out {out}: cannot move the previous {name} aside ({err.strerror or err})"
    return None


def prepare_out_dir(out: str | Path, comm, *, keep_results: bool = False) -> Path:
    """Create and check ``out`` collectively; returns it as a Path.

    ``keep_results``: leave a previous result file in place (``--restart``, or a command that
    resumes by itself such as ``fe2 bounds``, whose summary is rewritten at the end).
    """
    path = Path(out)
    problem = _check(path, keep_results) if comm.rank == 0 else None
    problem = comm.bcast(problem, root=0)
    if problem is not None:
        raise OutputError(problem)
    return path
