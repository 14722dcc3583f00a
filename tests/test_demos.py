"""Demos double as tests: each runs in quick mode, serially and under mpirun -n 2, and must end cleanly.

Every demo ends with its own numeric assertions (see the demo's last cell), so a
zero exit code means those checks passed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DEMOS = sorted((ROOT / "demos").glob("*.py"))
MPIRUN = Path(sys.executable).parent / "mpirun"


def _run(cmd: list[str], tmp: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "CI": "1", "MPLBACKEND": "Agg", "PYVISTA_OFF_SCREEN": "true", "OMP_NUM_THREADS": "1"}
    env["PATH"] = f"{Path(sys.executable).parent}:{env.get('PATH', '')}"
    return subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)


@pytest.mark.serial
@pytest.mark.parametrize("demo", DEMOS, ids=[d.stem for d in DEMOS])
@pytest.mark.parametrize("ranks", [1, 2])
def test_demo_runs(demo: Path, ranks: int, tmp_path: Path):
    cmd = [sys.executable, str(demo), "--quick", "--out", str(tmp_path / "out")]
    if ranks > 1:
        if not MPIRUN.exists() and shutil.which("mpirun") is None:
            pytest.skip("no mpirun next to the interpreter")
        cmd = [str(MPIRUN if MPIRUN.exists() else shutil.which("mpirun")), "-n", str(ranks), *cmd]
    proc = _run(cmd, tmp_path)
    assert proc.returncode == 0, f"{demo.name} failed on {ranks} rank(s):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    assert "checks passed" in proc.stdout
    assert (tmp_path / "out").is_dir()
