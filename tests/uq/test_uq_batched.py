"""``fe2 uq`` over ``fe2 reactions`` on the batched path: the samples as the nodes of one integration.

* the batched path gives every sample's QoIs as one ``fe2 reactions`` run per sample does
  (``[batch] enabled = false``). The integrator's step control is per node, so a node's arithmetic does
  not depend on the other nodes of its batch: the step counts must be equal exactly, and the numbers
  are asserted to 1e-12 relative (measured: bitwise equal); the loosest acceptable bound would be the
  integrator tolerance itself (rtol = 1e-4 here);
* the result.json view a sample's QoIs are read from is the ``fe2 reactions`` result.json of that
  sample's own run, key for key (``wall_time`` aside), numbers to 1e-12 relative;
* the block size does not change the numbers, and a study killed after its second block
  (``FE2_FAULT=uq.batch#2:raise``) keeps the two finished blocks and resumes to the same numbers
  (bitwise: the same arithmetic per node);
* a study the batched path cannot take (SSA, scipy integrators, an input that is not a parameter or an
  initial value, a QoI on wall_time) runs one sample per run and says why; a bad ``batch.samples`` is
  one line naming the key.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from mpi4py import MPI

from fe2 import faults
from fe2.apps.uq.bases import Base
from fe2.apps.uq.batched import BatchedReactions, batched_path_reason
from fe2.apps.uq.runner import run_uq
from fe2.config.uq import load_uq_config
from fe2.errors import ConfigError

pytestmark = pytest.mark.serial  # in-process COMM_SELF runs: every rank would repeat them

ENZYME = """
mode = "well_mixed"
[network.species]
E = 1.0
S = 10.0
C = 0.0
P = 0.0
[network.parameters]
k1 = 1.0
km1 = 0.5
k2 = 0.3
[[network.reactions]]
equation = "E + S <-> C"
k = "k1"
k_reverse = "km1"
[[network.reactions]]
equation = "C -> E + P"
k = "k2"
[well_mixed]
method = "ros2"
t_end = 2.0
n_out = 5
rtol = 1e-4
atol = 1e-8
"""

STUDY = """
base = "reactions:enzyme.toml"
method = "mc"
seed = 5
[[inputs]]
key = "network.parameters.k1"
distribution = "lognormal"
mu = 0.0
sigma = 0.3
[[inputs]]
key = "network.parameters.k2"
distribution = "uniform"
low = 0.2
high = 0.4
[[inputs]]
key = "network.species.S"
distribution = "uniform"
low = 8.0
high = 12.0
[[qoi]]
name = "P"
path = "final.P[0]"
[[qoi]]
name = "steps"
path = "node_steps"
[[qoi]]
name = "stiffness"
path = "time_scales.final.stiffness_ratio"
[[qoi]]
name = "S_mid"
csv = "timeseries.csv"
column = "S"
row = 2
[mc]
n = 6
"""


def _study(tmp_path: Path, extra: str = "", name: str = "study.toml", base: str = ENZYME) -> Path:
    (tmp_path / "enzyme.toml").write_text(base)
    p = tmp_path / name
    p.write_text(STUDY + extra)
    return p


def _samples(out: Path) -> dict[int, dict]:
    found = {}
    for f in (out / "samples").glob("rank*.jsonl"):
        for line in f.read_text().splitlines():
            rec = json.loads(line)
            found[rec["id"]] = rec
    return found


def test_batched_equals_one_run_per_sample(tmp_path):
    batched = _study(tmp_path, name="batched.toml")
    single = _study(tmp_path, "[batch]\nenabled = false\n", name="single.toml")
    rb = run_uq(load_uq_config(batched), batched, MPI.COMM_SELF, tmp_path / "b")
    rs = run_uq(load_uq_config(single), single, MPI.COMM_SELF, tmp_path / "s")
    assert rb["samples"]["path"].startswith("batched")
    assert rs["samples"]["path"] == "one run per sample (batch.enabled = false)"
    b, s = _samples(tmp_path / "b"), _samples(tmp_path / "s")
    assert sorted(b) == sorted(s) == list(range(6))
    for i in s:
        assert b[i]["batch"] == 6 and "batch" not in s[i]
        assert b[i]["qoi"]["steps"] == s[i]["qoi"]["steps"] > 10  # the same step sequence per node
        for q in ("P", "stiffness", "S_mid"):
            assert b[i]["qoi"][q] == pytest.approx(s[i]["qoi"][q], rel=1e-12, abs=0.0), (i, q)
    assert rb["mc"]["qoi"]["P"]["mean"] == pytest.approx(rs["mc"]["qoi"]["P"]["mean"], rel=1e-12)


def test_result_view_is_the_reactions_result_json(tmp_path):
    from fe2.apps.reactions.runner import run_reactions

    study = _study(tmp_path)
    cfg = load_uq_config(study)
    base = Base(cfg, study, tmp_path / "out", MPI.COMM_SELF)
    values = [{"network.parameters.k1": 1.7, "network.parameters.k2": 0.25, "network.species.S": 9.0},
              {"network.parameters.k1": 0.6, "network.parameters.k2": 0.35, "network.species.S": 11.5}]
    views = BatchedReactions(cfg, base).results(values, [None, None])
    for k, v in enumerate(values):
        (rcfg, network), _ = base.load_sample(v)
        run_reactions(rcfg, network, MPI.COMM_SELF, tmp_path / f"run{k}")
        own = json.loads((tmp_path / f"run{k}" / "result.json").read_text())
        own.pop("wall_time")
        _assert_same(views[k][0], own, f"sample {k}")


def _assert_same(a, b, where: str) -> None:
    """The same JSON structure; numbers to 1e-12 relative, everything else equal."""
    if isinstance(b, dict):
        assert isinstance(a, dict) and sorted(a) == sorted(b), (where, sorted(a), sorted(b))
        for key in b:
            _assert_same(a[key], b[key], f"{where}.{key}")
    elif isinstance(b, list):
        assert isinstance(a, list) and len(a) == len(b), where
        for j, (x, y) in enumerate(zip(a, b, strict=True)):
            _assert_same(x, y, f"{where}[{j}]")
    elif isinstance(b, float) and not isinstance(b, bool):
        assert a == pytest.approx(b, rel=1e-12, abs=1e-300), where
    else:
        assert a == b, where


def test_block_size_and_a_kill_after_the_second_block(tmp_path, monkeypatch):
    whole = _study(tmp_path, name="whole.toml")
    blocks = _study(tmp_path, "[batch]\nsamples = 2\n", name="blocks.toml")
    ref = run_uq(load_uq_config(whole), whole, MPI.COMM_SELF, tmp_path / "whole")
    cfg = load_uq_config(blocks)
    monkeypatch.setenv("FE2_FAULT", "uq.batch#2:raise")
    monkeypatch.setattr(faults, "_hits", {})
    with pytest.raises(RuntimeError, match=r"injected fault at uq\.batch"):
        run_uq(cfg, blocks, MPI.COMM_SELF, tmp_path / "killed")
    kept = _samples(tmp_path / "killed")
    assert sorted(kept) == [0, 1, 2, 3] and all(r["batch"] == 2 for r in kept.values())  # two whole blocks
    monkeypatch.delenv("FE2_FAULT")
    said: list[str] = []
    resumed = run_uq(cfg, blocks, MPI.COMM_SELF, tmp_path / "killed", restart=True, progress=said.append)
    assert "6 samples, 4 finished before, 2 to run on 1 rank(s)" in said
    assert resumed["samples"]["ran_now"] == 2
    assert resumed["mc"] == ref["mc"]  # bitwise: the block size does not enter a node's arithmetic


@pytest.mark.parametrize("edit, reason", [
    (("", ""), None),
    (('method = "ros2"', 'method = "bdf"'), "well_mixed.method = 'bdf'"),
    (("t_end = 2.0", "t_end = 2.0\nnodes = 2"), "several nodes"),
])
def test_which_base_takes_the_batched_path(tmp_path, edit, reason):
    study = _study(tmp_path, base=ENZYME.replace(*edit))
    cfg = load_uq_config(study)
    found = batched_path_reason(cfg, Base(cfg, study, tmp_path / "o", MPI.COMM_SELF))
    if reason is None:
        assert found is None
    else:
        assert found is not None and reason in found, found


@pytest.mark.parametrize("edit, reason", [
    (('key = "network.species.S"', 'key = "well_mixed.t_end"'), "not a network parameter or initial value"),
    (('path = "node_steps"', 'path = "wall_time"'), "reads wall_time"),
    (("", ""), "keep_sample_outputs = true"),
])
def test_studies_off_the_batched_path_say_why(tmp_path, edit, reason):
    text = STUDY.replace(*edit) if edit[0] else "keep_sample_outputs = true\n" + STUDY  # a top-level key
    (tmp_path / "enzyme.toml").write_text(ENZYME)
    study = tmp_path / "study.toml"
    study.write_text(text)
    cfg = load_uq_config(study)
    found = batched_path_reason(cfg, Base(cfg, study, tmp_path / "o", MPI.COMM_SELF))
    assert found is not None and reason in found, found


def test_bad_batch_size_is_one_line_naming_the_key(tmp_path):
    study = _study(tmp_path, "[batch]\nsamples = 0\n")
    with pytest.raises(ConfigError, match=r"batch\.samples") as err:
        load_uq_config(study)
    assert len(str(err.value).splitlines()) == 1
