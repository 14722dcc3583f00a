"""Kill and resume: a run killed at any point and restarted gives the numbers of an uninterrupted run.

Each case runs a command in a subprocess with ``FE2_FAULT`` (see :mod:`fe2.faults`) so that it
kills itself (SIGKILL, or SIGTERM for the Ctrl-C/scheduler case) at a named point — between
steps, inside a frame of the XDMF series, after the rank files of a checkpoint but before its
manifest, inside the commit of the manifest, before the rename of a series index, before the
rename of result.json — then runs it again with ``--restart`` and compares with the run that was
never killed:

* ``fe2 run`` (FE², J2 RVEs): step records (reactions, every Newton residual) equal, the final
  checkpoint arrays (u and every committed RVE state) bitwise equal, every step once in
  ``displacement.xdmf``, micro statistics over the whole run equal (solves, iterations);
* ``fe2 phasefield`` (Cahn–Hilliard, local-error step control, no-flux and periodic): the same
  times and energies, the final c bitwise equal, every output frame once in ``concentration.xdmf``;
* a new run in a folder with an older run's checkpoint discards it (a later ``--restart`` after
  a kill before the first commit starts anew instead of resuming the older run).

Tolerance: none (bitwise) — the same rank count and the same deterministic operations.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.serial

ROOT = Path(__file__).resolve().parents[1]


def _cli(args: list[str], fault: str | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "FE2_FAULT"}
    if fault:
        env["FE2_FAULT"] = fault
    return subprocess.run([sys.executable, "-m", "fe2.cli", *args], capture_output=True, text=True, timeout=600,
                          env=env)


def _checkpoint_arrays(out: Path) -> dict[str, np.ndarray]:
    manifest = json.loads((out / "checkpoint" / "manifest.json").read_text())
    with np.load(out / "checkpoint" / f"rank0_of_1.{manifest['serial']:06d}.npz") as data:
        return {k: np.array(data[k]) for k in data.files}


def _frames(index: Path) -> list[str]:
    text = index.read_text()
    return [line.strip() for line in text.splitlines() if "<Time " in line]


@pytest.fixture(scope="module")
def run_case(tmp_path_factory):
    """An FE² config small enough for a few seconds per run, and its uninterrupted result."""
    tmp = tmp_path_factory.mktemp("kill_run")
    cfg = (ROOT / "demos" / "configs" / "run" / "fe2_plate_j2.toml").read_text()
    cfg = cfg.replace("mesh_size = 0.2 }", "mesh_size = 0.4 }").replace("mesh_size = 0.15 }", "mesh_size = 0.35 }")
    path = tmp / "run.toml"
    path.write_text(cfg)
    proc = _cli(["run", str(path), "--out", str(tmp / "full")])
    assert proc.returncode == 0, proc.stderr
    return tmp, path, json.loads((tmp / "full" / "result.json").read_text())


# hit counts: per step the series write 1 (u) + 2 (stress, eq_plastic_strain) + 3 (micro point: u, w, ε̄p)
# functions, checkpoint.* fire once per step, series.index three times, result.write for the csv then json
RUN_KILLS = ["macro.step#2", "macro.step#4", "series.frame#3", "series.frame#9", "checkpoint.arrays#1",
             "checkpoint.arrays#3", "checkpoint.manifest#2", "series.index#5", "result.write#1", "result.write#2"]


@pytest.mark.parametrize("fault", RUN_KILLS)
def test_fe2_run_killed_and_resumed_equals_uninterrupted(run_case, fault):
    tmp, cfg, full = run_case
    out = tmp / fault.replace("#", "_")
    killed = _cli(["run", str(cfg), "--out", str(out)], fault=fault)
    assert killed.returncode == -9, (killed.returncode, killed.stderr)
    assert not (out / "result.json").exists() or fault == "result.write#2"
    resumed = _cli(["run", str(cfg), "--out", str(out), "--restart"])
    assert resumed.returncode == 0, resumed.stderr
    res = json.loads((out / "result.json").read_text())
    assert [s["reaction"] for s in res["steps"]] == [s["reaction"] for s in full["steps"]]
    assert [s["residuals"] for s in res["steps"]] == [s["residuals"] for s in full["steps"]]
    a, b = _checkpoint_arrays(tmp / "full"), _checkpoint_arrays(out)
    assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)
    assert _frames(out / "displacement.xdmf") == _frames(tmp / "full" / "displacement.xdmf")
    assert _frames(out / "micro_point0.xdmf") == _frames(tmp / "full" / "micro_point0.xdmf")
    assert len(_frames(out / "micro_point0.xdmf")) == 4 * 3  # 4 steps x (u, fluctuation, eq_plastic_strain)
    # statistics over the whole run: the killed segment's work after its last checkpoint is not counted
    assert res["micro"]["solves"] == full["micro"]["solves"]
    assert res["micro"]["iterations"] == full["micro"]["iterations"]
    first_commit_lost = fault in ("series.frame#3", "checkpoint.arrays#1")  # then --restart starts anew
    assert res["segments"] == (1 if first_commit_lost else 2)
    # no frame of the killed run is left behind twice
    assert len(list((out / "series").glob("displacement.*.xdmf"))) == 4


def test_fe2_run_restart_of_finished_run_is_a_no_op(run_case):
    tmp, cfg, _ = run_case
    before = (tmp / "full" / "result.json").read_bytes()
    proc = _cli(["run", str(cfg), "--out", str(tmp / "full"), "--restart"])
    assert proc.returncode == 0, proc.stderr
    assert "is finished" in proc.stdout and "left" in proc.stdout
    assert (tmp / "full" / "result.json").read_bytes() == before


def test_fe2_run_restart_with_another_material_is_refused(run_case):
    tmp, cfg, _ = run_case
    other = tmp / "other.toml"
    other.write_text(cfg.read_text().replace("young = 70.0", "young = 71.0"))
    proc = _cli(["run", str(other), "--out", str(tmp / "full"), "--restart"])
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1 and "--restart: the config is not the one" in lines[0]


_PF = """
model = "cahn_hilliard"
kappa = 2.0
mobility = 5.0
[domain]
length = [40.0, 40.0]
cells = [12, 12]
[energy]
kind = "pfhub_bm1"
[initial]
kind = "pfhub_bm1"
[time]
t_end = 12.0
dt = 0.5
error_tol = 1e-3
[output]
every = 2
checkpoint_every = 3
"""


@pytest.fixture(scope="module", params=["noflux", "periodic"])
def pf_case(request, tmp_path_factory):
    """The CH case with no-flux and with periodic boundaries (periodic: a lagged LU in the Newton, whose
    matrix the checkpoint carries)."""
    tmp = tmp_path_factory.mktemp(f"kill_pf_{request.param}")
    path = tmp / "pf.toml"
    path.write_text(_PF.replace('mobility = 5.0', f'mobility = 5.0\nboundary = "{request.param}"'))
    proc = _cli(["phasefield", str(path), "--out", str(tmp / "full")])
    assert proc.returncode == 0, proc.stderr
    return tmp, path, json.loads((tmp / "full" / "result.json").read_text())


@pytest.mark.parametrize("fault", ["phasefield.step#5", "checkpoint.arrays#2", "checkpoint.manifest#2",
                                   "series.index#4", "result.write#3", "phasefield.step#4:term"])
def test_phasefield_killed_and_resumed_equals_uninterrupted(pf_case, fault):
    tmp, cfg, full = pf_case
    out = tmp / fault.replace("#", "_").replace(":", "_")
    killed = _cli(["phasefield", str(cfg), "--out", str(out)], fault=fault)
    if fault.endswith(":term"):  # SIGTERM (a scheduler's limit; Ctrl-C alike): one line saying how to resume
        lines = killed.stderr.strip().splitlines()
        assert killed.returncode == 128 + 15 and len(lines) == 1, killed.stderr
        assert "interrupted by SIGTERM" in lines[0] and "--restart" in lines[0]
    else:
        assert killed.returncode == -9, (killed.returncode, killed.stderr)
    resumed = _cli(["phasefield", str(cfg), "--out", str(out), "--restart"])
    assert resumed.returncode == 0, resumed.stderr
    res = json.loads((out / "result.json").read_text())
    assert [r["t"] for r in res["history"]] == [r["t"] for r in full["history"]]
    assert [r["energy"] for r in res["history"]] == [r["energy"] for r in full["history"]]
    assert np.array_equal(_checkpoint_arrays(out)["u"], _checkpoint_arrays(tmp / "full")["u"])
    assert _frames(out / "concentration.xdmf") == _frames(tmp / "full" / "concentration.xdmf")


def test_new_run_discards_an_older_checkpoint(pf_case):
    """Kill a new run before its first checkpoint in a folder that holds a finished run: --restart then
    starts at t = 0 (it must not resume the older run's checkpoint) and ends equal to the straight run."""
    tmp, cfg, full = pf_case
    out = tmp / "reused"
    assert _cli(["phasefield", str(cfg), "--out", str(out)]).returncode == 0
    killed = _cli(["phasefield", str(cfg), "--out", str(out)], fault="phasefield.step#2")
    assert killed.returncode == -9
    assert not (out / "checkpoint" / "manifest.json").exists()
    resumed = _cli(["phasefield", str(cfg), "--out", str(out), "--restart"])
    assert resumed.returncode == 0 and "starting at t = 0" in resumed.stdout, resumed.stdout
    res = json.loads((out / "result.json").read_text())
    assert [r["energy"] for r in res["history"]] == [r["energy"] for r in full["history"]]
