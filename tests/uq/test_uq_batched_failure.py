"""A failing sample inside a batched block: the block is rerun one sample at a time, as documented.

The base is the explosive autocatalysis 2A -> 3A (mass action: dA/dt = k A², A(0) = 1), whose exact
solution A(t) = 1 / (1 - k t) blows up at t* = 1/k: with t_end = 1, a sample with k > 1 cannot be
integrated (ROS2 ends with "step size underflow"), one with k < 1 ends at A(1) = 1/(1 - k). Seed 11
draws k in [0.1, 1.3] so that sample 5 alone has k > 1 (k = 1.214, t* = 0.82; every other k <= 0.822,
A(1) <= 5.6). With ``batch.samples = 3`` the failing sample is the third of its rank's second block
on 1 rank (blocks 0-2, 3-5) and the third of its rank's first block on 2 ranks (rank 1: 1, 3, 5).

Checked on 1 and 2 ranks (in-process, COMM_WORLD) against the same study with ``[batch] enabled =
false``:

* both raise the same one-line ConvergenceError naming sample 5 and its k, on every rank;
* on the failing sample's rank, the same samples are finished in both studies: the blocks before
  its own (batched: ``"batch": 3``) and the samples of its block before it (rerun alone: no
  ``batch``); sample 5 is in no file;
* a sample rerun alone has bitwise the QoI of the unbatched run (the same code path); a sample of a
  batched block equals it to 1e-12 relative (per-node step control: a node's arithmetic does not
  depend on its batch; tests/uq/test_uq_batched.py measured bitwise there too, 1e-12 leaves room
  for a compiler's reassociation) — and every finished QoI is the exact 1/(1 - k) to 2e-3 relative:
  rtol = 1e-4 bounds the local error per step; the global error grows with the solution (the
  linearization 2kA amplifies it, A up to 5.6): measured 8.3e-4 at k = 0.822, 3e-5..6e-5 at k < 0.3.
  (rtol = 1e-4 keeps the failing integrations short: ~0.5 s each to the step-size underflow.)
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from mpi4py import MPI

from fe2.apps.uq.runner import run_uq
from fe2.config.uq import load_uq_config
from fe2.errors import ConvergenceError

BASE = """mode = "well_mixed"
[network.species]
A = 1.0
[network.parameters]
k = 0.5
[[network.reactions]]
equation = "2 A -> 3 A"
k = "k"
[well_mixed]
method = "ros2"
t_end = 1.0
n_out = 3
rtol = 1e-4
atol = 1e-8
"""

STUDY = """base = "reactions:blowup.toml"
method = "mc"
seed = 11
[[inputs]]
key = "network.parameters.k"
distribution = "uniform"
low = 0.1
high = 1.3
[[qoi]]
name = "A"
path = "final.A[0]"
[mc]
n = 8
"""


def _samples(out: Path) -> dict[int, dict]:
    found = {}
    for f in (out / "samples").glob("rank*.jsonl"):
        for line in f.read_text().splitlines():
            rec = json.loads(line)
            found[rec["id"]] = rec
    return found


def _failing(study: Path, out: Path) -> str:
    with pytest.raises(ConvergenceError) as err:
        run_uq(load_uq_config(study), study, MPI.COMM_WORLD, out)
    assert err.value.collective
    return str(err.value)


def test_failed_sample_in_a_batch_falls_back_to_one_run_per_sample(shared_tmp_path):
    comm = MPI.COMM_WORLD
    batched, single = shared_tmp_path / "batched.toml", shared_tmp_path / "single.toml"
    if comm.rank == 0:
        (shared_tmp_path / "blowup.toml").write_text(BASE)
        batched.write_text(STUDY + "[batch]\nsamples = 3\n")
        single.write_text(STUDY + "[batch]\nenabled = false\n")
    comm.Barrier()
    msg_b = _failing(batched, shared_tmp_path / "b")
    msg_s = _failing(single, shared_tmp_path / "s")
    assert msg_b == msg_s and "\n" not in msg_b
    assert msg_b.startswith("sample 5 (network.parameters.k = 1.21") and "step size underflow" in msg_b, msg_b
    assert len(set(comm.allgather(msg_b))) == 1
    comm.Barrier()
    b, s = _samples(shared_tmp_path / "b"), _samples(shared_tmp_path / "s")
    assert 5 not in b and 5 not in s
    # the failing rank's share up to sample 5, in its order (the other rank may stop anywhere: STOP file)
    share = list(range(5 % comm.size, 8, comm.size))
    before = share[:share.index(5)]
    block = share.index(5) // 3 * 3
    assert set(before) <= set(b) and set(before) <= set(s)
    for i in before:
        assert b[i].get("batch") == (3 if share.index(i) < block else None), (i, b[i])
    for i in sorted(set(b) & set(s)):
        k = s[i]["x"][0]
        assert b[i]["x"] == s[i]["x"] and k < 1.0
        if "batch" in b[i]:
            assert b[i]["qoi"]["A"] == pytest.approx(s[i]["qoi"]["A"], rel=1e-12, abs=0.0), i
        else:
            assert b[i]["qoi"]["A"] == s[i]["qoi"]["A"], i  # rerun alone: the unbatched path itself
        assert b[i]["qoi"]["A"] == pytest.approx(1.0 / (1.0 - k), rel=2e-3), (i, k)
