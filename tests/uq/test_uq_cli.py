"""``fe2 uq`` as a command over ``fe2 homogenize``: the demo, ranks, kill/resume, bad input.

* the demo (``demos/configs/uq/homogenize_moduli_pce.toml``: a random-fibre RVE, two uncertain
  Young's moduli, the microstructure seed at random): the PCE mean of C11 and C12 within the 95 %
  Student-t interval of the Monte Carlo mean of independent validation runs;
* ``-n 1`` and ``-n 2`` give identical result.json numbers (every sample runs on COMM_SELF, the
  analysis on rank 0: bitwise, no tolerance) for the homogenize demo (Python bases:
  ``test_uq_parallel.py``);
* a study killed (SIGKILL, ``FE2_FAULT=uq.sample#5``) after 5 finished samples keeps them, and
  ``--restart`` runs only the others and gives the uninterrupted run's numbers (bitwise); the same
  when rank 1 of two is killed and the study resumes on one rank;
* bad input — a key path not in the base config, a QoI path not in result.json, bad distribution
  parameters, a changed study under ``--restart`` — is one line naming the key, exit 2.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.serial  # subprocesses

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "demos" / "configs" / "uq"
MPIRUN = Path(sys.executable).parent / "mpirun"


def _cli(args: list[str], ranks: int = 1, fault: str | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "FE2_FAULT"}
    env.update({"OMP_NUM_THREADS": "1", "MPLBACKEND": "Agg"})
    env["PATH"] = f"{Path(sys.executable).parent}:{env.get('PATH', '')}"
    if fault:
        env["FE2_FAULT"] = fault
    cmd = [sys.executable, "-m", "fe2.cli", "uq", *args]
    if ranks > 1:
        launcher = str(MPIRUN) if MPIRUN.exists() else shutil.which("mpirun")
        if launcher is None:
            pytest.skip("no mpirun")
        cmd = [launcher, "-n", str(ranks), *cmd]
    return subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)


def _numbers(out: Path) -> dict:
    """The method's numbers in result.json (the timings and rank count differ by design)."""
    res = json.loads((out / "result.json").read_text())
    return res[res["method"]]


def _lines(out: Path) -> int:
    return sum(len(p.read_text().splitlines()) for p in (out / "samples").glob("rank*.jsonl"))


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    """The demo study, uninterrupted on one rank."""
    out = tmp_path_factory.mktemp("uq_demo") / "n1"
    proc = _cli([str(DEMO / "homogenize_moduli_pce.toml"), "--out", str(out)])
    assert proc.returncode == 0, proc.stderr
    return out


def test_demo_pce_mean_within_the_monte_carlo_interval(demo_run):
    res = json.loads((demo_run / "result.json").read_text())
    assert res["samples"]["count"] == 48
    for name in ("C11", "C12"):
        rec = res["pce"]["qoi"][name]
        mc = rec["validation"]["monte_carlo"]
        # 24 independent runs (moduli and seed at random): the 95 % t-interval of their mean
        assert abs(rec["mean"] - mc["mean"]) <= mc["mean_ci"], (name, rec["mean"], mc)
        # the seed's scatter (a 2x2 cell holds ~7 fibres) is no polynomial of the moduli: it stays as error
        assert 0.0 < rec["loo_relative_error"] and 0.0 < rec["validation"]["relative_mse"]
    # the matrix modulus dominates C11 of a 30 % stiff-fibre composite (the matrix carries the load)
    idx = res["pce"]["qoi"]["C11"]["indices"]
    assert idx["materials.matrix.young"]["ST"] > idx["materials.inclusion.young"]["ST"]
    assert (demo_run / "pce_C11.png").is_file()


def test_demo_two_ranks_equal_one_rank(demo_run, tmp_path):
    out = tmp_path / "n2"
    proc = _cli([str(DEMO / "homogenize_moduli_pce.toml"), "--out", str(out)], ranks=2)
    assert proc.returncode == 0, proc.stderr
    assert _numbers(out) == _numbers(demo_run)  # bitwise: the same COMM_SELF runs, analysed on rank 0
    assert sorted(p.name for p in (out / "samples").glob("*.jsonl")) == ["rank0.jsonl", "rank1.jsonl"]


def test_killed_study_resumes_without_losing_finished_samples(demo_run, tmp_path):
    out = tmp_path / "killed"
    cfg = str(DEMO / "homogenize_moduli_pce.toml")
    killed = _cli([cfg, "--out", str(out)], fault="uq.sample#5")
    assert killed.returncode == -9, (killed.returncode, killed.stderr)
    assert _lines(out) == 5 and not (out / "result.json").exists()
    resumed = _cli([cfg, "--out", str(out), "--restart"])
    assert resumed.returncode == 0, resumed.stderr
    assert "5 finished before, 43 to run" in resumed.stdout
    assert _lines(out) == 48  # every sample once
    assert _numbers(out) == _numbers(demo_run)  # bitwise: the same samples, the same analysis


def test_study_killed_on_two_ranks_resumes_on_one(demo_run, tmp_path):
    """Rank 1 killed after its 3rd sample (the job ends): each rank's finished lines survive, and a
    one-rank ``--restart`` reads both files and runs only the rest."""
    out = tmp_path / "killed2"
    cfg = str(DEMO / "homogenize_moduli_pce.toml")
    killed = _cli([cfg, "--out", str(out)], ranks=2, fault="uq.sample#3@1")
    assert killed.returncode != 0 and not (out / "result.json").exists()
    kept = _lines(out)
    assert kept >= 3  # rank 1's three, and whatever rank 0 had finished when the job was ended
    resumed = _cli([cfg, "--out", str(out), "--restart"])
    assert resumed.returncode == 0, resumed.stderr
    assert f"{kept} finished before, {48 - kept} to run" in resumed.stdout
    assert _numbers(out) == _numbers(demo_run)


def _bad(tmp_path: Path, capsys, study_edit: tuple[str, str]):
    """``fe2 uq`` in-process (``fe2.cli.main``) on the demo with one edit: (exit code, stderr lines)."""
    from fe2.cli import main

    (tmp_path / "random_fibres_rve.toml").write_text((DEMO / "random_fibres_rve.toml").read_text())
    text = (DEMO / "homogenize_moduli_pce.toml").read_text()
    assert study_edit[0] in text
    study = tmp_path / "study.toml"
    study.write_text(text.replace(*study_edit))
    capsys.readouterr()
    code = main(["uq", str(study), "--out", str(tmp_path / "out")])
    return code, capsys.readouterr().err.strip().splitlines()


@pytest.mark.parametrize("edit, expect", [
    (('key = "materials.matrix.young"', 'key = "materials.fibre.young"'),
     ["inputs.0.key", "'fibre'", "no such key under materials", "keys there: inclusion, matrix"]),
    (('path = "effective.periodic[0][0]"', 'path = "effective.periodc[0][0]"'),
     ["qoi.C11.path", "'periodc'", "result.json of fe2 homogenize", "keys there: periodic"]),
    (("sigma = 0.3", "sigma = -0.3"), ["inputs.1", "sigma: must be > 0"]),
    (("low = 0.8\nhigh = 1.2", "low = 1.2\nhigh = 0.8"), ["inputs.0", "high: must be > low"]),
    (('distribution = "uniform"\nlow = 0.8', 'distribution = "normal"\nlow = 0.8'),
     ["inputs.0", "low: not a parameter of normal (it takes mean, std)"]),
], ids=["key-not-in-base", "qoi-not-in-result", "negative-sigma", "high-below-low", "wrong-parameters"])
def test_bad_input_is_one_line_naming_the_key_exit_2(tmp_path, capsys, edit, expect):
    code, lines = _bad(tmp_path, capsys, edit)
    assert code == 2, lines
    assert len(lines) == 1 and lines[0].startswith("fe2: error:"), lines
    for part in expect:
        assert part in lines[0], (part, lines[0])


def test_restart_of_a_changed_study_is_refused(demo_run, tmp_path):
    out = tmp_path / "changed"
    shutil.copytree(demo_run, out)
    text = (DEMO / "homogenize_moduli_pce.toml").read_text().replace("seed = 11", "seed = 12")
    (tmp_path / "random_fibres_rve.toml").write_text((DEMO / "random_fibres_rve.toml").read_text())
    study = tmp_path / "study.toml"
    study.write_text(text)
    proc = _cli([str(study), "--out", str(out), "--restart"])
    assert proc.returncode == 2
    assert "different study" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
