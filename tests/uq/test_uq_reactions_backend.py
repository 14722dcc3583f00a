"""``fe2 uq`` over a ``fe2 reactions`` base with Rodas4 (one run per sample on COMM_SELF): one backend.

The study agrees on the backend over its communicator before any sample (Base.agree_backend), so a C
compiler missing on one rank only does not leave that rank's samples on numpy and the others' on C
(their QoIs would differ at the integrator's tolerance, ~1e-11 here, with the rank a sample ran on).
Runs serially and under ``mpirun -n 2``:

* the compiler is missing on the last rank (each rank its own kernel cache): under ``auto`` every
  sample's QoI is bitwise that of the same study with ``backend = "numpy"`` (the same code path), and
  A(t_end) of A <-> B matches the closed form to 1e-6 relative (rtol 1e-8: a few rtol);
* under ``"c"`` the study stops before any sample with the same one-line ConfigError on every rank;
* a shared kernel cache: the compiler runs once in all, for every sample of every rank.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from mpi4py import MPI

from fe2.apps.uq.runner import run_uq
from fe2.config.uq import load_uq_config
from fe2.errors import ConfigError
from fe2.physics.reactions import ckernel
from tests.physics.reactions.sbml_builder import RODAS4_ONE_NODE

BASE = RODAS4_ONE_NODE

STUDY = """base = "reactions:{name}.toml"
method = "mc"
seed = 3
[[inputs]]
key = "network.parameters.k"
distribution = "uniform"
low = 1.0
high = 5.0
[[qoi]]
name = "A"
path = "final.A[0]"
[mc]
n = 4
"""


def _study(folder: Path, backend: str) -> Path:
    if MPI.COMM_WORLD.rank == 0:
        (folder / f"{backend}.toml").write_text(BASE.format(backend=backend))
        (folder / f"study_{backend}.toml").write_text(STUDY.format(name=backend))
    MPI.COMM_WORLD.Barrier()
    return folder / f"study_{backend}.toml"


def _qois(out: Path) -> dict[int, tuple[float, float]]:
    found = {}
    for f in (out / "samples").glob("rank*.jsonl"):
        for line in f.read_text().splitlines():
            rec = json.loads(line)
            found[rec["id"]] = (rec["x"][0], rec["qoi"]["A"])
    return found


def test_compiler_missing_on_one_rank_every_sample_runs_numpy(shared_tmp_path, tmp_path, monkeypatch):
    comm = MPI.COMM_WORLD
    (tmp_path / "kernels").mkdir()
    monkeypatch.setenv("FE2_KERNEL_CACHE", str(tmp_path / "kernels"))  # per rank
    if comm.rank == comm.size - 1:
        monkeypatch.setenv("CC", str(tmp_path / "no-such-cc"))
    study = _study(shared_tmp_path, "auto")
    run_uq(load_uq_config(study), study, comm, shared_tmp_path / "auto_out")
    ref = _study(shared_tmp_path, "numpy")
    run_uq(load_uq_config(ref), ref, comm, shared_tmp_path / "numpy_out")
    comm.Barrier()
    got, want = _qois(shared_tmp_path / "auto_out"), _qois(shared_tmp_path / "numpy_out")
    assert sorted(got) == sorted(want) == [0, 1, 2, 3]
    for i, (k, a) in got.items():
        assert a == want[i][1], i  # the numpy path on every rank, bitwise
        eq = 1.0 / (k + 1.0)
        assert a == pytest.approx(eq + (1.0 - eq) * np.exp(-(k + 1.0) * 0.5), rel=1e-6)
    c = _study(shared_tmp_path, "c")
    with pytest.raises(ConfigError, match=r"^backend: the C kernel is unavailable: .*no-such-cc") as err:
        run_uq(load_uq_config(c), c, comm, shared_tmp_path / "c_out")
    assert err.value.collective == (comm.size > 1) and len(set(comm.allgather(str(err.value)))) == 1
    comm.Barrier()
    assert not list((shared_tmp_path / "c_out" / "samples").glob("*.jsonl"))  # before any sample


def test_shared_cache_one_compile_for_the_whole_study(shared_tmp_path, monkeypatch):
    comm = MPI.COMM_WORLD
    if comm.rank == 0:
        (shared_tmp_path / "kernels").mkdir()
    comm.Barrier()
    monkeypatch.setenv("FE2_KERNEL_CACHE", str(shared_tmp_path / "kernels"))
    calls: list = []
    real = ckernel._compile

    def counted(source, so):
        calls.append(so)
        real(source, so)

    monkeypatch.setattr(ckernel, "_compile", counted)
    study = _study(shared_tmp_path, "auto")
    run_uq(load_uq_config(study), study, comm, shared_tmp_path / "out")
    assert comm.allreduce(len(calls), op=MPI.SUM) == 1
    assert len(_qois(shared_tmp_path / "out")) == 4
