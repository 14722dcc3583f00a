"""The compiled Rodas4 kernel under MPI: compiled once per shared kernel cache, one backend on every rank.

Runs serially and under ``mpirun -n 2`` (not marked serial: the point is what the ranks agree on).

* a shared cache (``FE2_KERNEL_CACHE`` the same folder on every rank): the compiler runs once in all
  (counted over the ranks), every rank runs the C backend, and the solution of the linear exchange
  A <-> B matches its closed form to 1e-6 relative (rtol = 1e-8: the global error is a few rtol);
* the compiler fails on the last rank only (its own cache folder, ``CC`` pointing nowhere): under
  ``backend = "auto"`` every rank runs numpy (bitwise the numpy backend's numbers: the same code
  path), under ``"c"`` every rank raises the same one-line ConfigError naming the failed rank;
* the compile of the lowest rank of a shared cache fails: the other ranks do not try again (0
  compiles) and agree on numpy / raise with ``"c"``;
* ``fe2 reactions`` with one Rodas4 node (the second rank has no node and never integrates): no rank
  waits, and a compile failure on the last rank only is exit 2 on every rank under ``"c"``.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from mpi4py import MPI

from fe2.cli import main
from fe2.errors import ConfigError
from fe2.physics.reactions import Network, Reaction, Species, ckernel, integrate
from fe2.physics.reactions.ckernel import KernelUnavailable
from tests.physics.reactions.sbml_builder import RODAS4_ONE_NODE


def _exchange(k: float = 3.0) -> Network:
    """A <-> B (k, k_reverse = 1), A0 = 1: A(t) = A_eq + (1 - A_eq) e^{-(k + 1) t}, A_eq = 1/(k + 1).
    A fresh Network each call: its compiled kernel is not cached in memory yet."""
    return Network([Species("A", 1.0), Species("B", 0.0)], [Reaction.parse("A <-> B", k="k", k_reverse="kr")],
                   {"k": k, "kr": 1.0})


def _exact_a(t: float, k: float = 3.0) -> float:
    eq = 1.0 / (k + 1.0)
    return eq + (1.0 - eq) * np.exp(-(k + 1.0) * t)


def _count_compiles(monkeypatch, fail: bool = False) -> list:
    """Wrap the compiler call of this rank; the list grows by one per compile (``fail``: it raises)."""
    calls: list = []
    real = ckernel._compile

    def counted(source, so):
        calls.append(so)
        if fail:
            raise KernelUnavailable("C compiler 'cc' failed: simulated failure")
        real(source, so)

    monkeypatch.setattr(ckernel, "_compile", counted)
    return calls


def _kernel_cache(monkeypatch, path) -> None:
    path.mkdir(parents=True, exist_ok=True)
    monkeypatch.setenv("FE2_KERNEL_CACHE", str(path))


def test_shared_cache_one_compile_for_all_ranks(shared_tmp_path, monkeypatch):
    comm = MPI.COMM_WORLD
    _kernel_cache(monkeypatch, shared_tmp_path / "kernels")
    comm.Barrier()
    calls = _count_compiles(monkeypatch)
    r = integrate(_exchange(), [1.0, 0.0], (0.0, 0.5), method="rodas4", rtol=1e-8, atol=1e-12, comm=comm)
    assert comm.allreduce(len(calls), op=MPI.SUM) == 1 and (len(calls) == 1) == (comm.rank == 0)
    assert comm.allgather(r.extra["backend"]) == ["c"] * comm.size
    assert r.c[0] == pytest.approx(_exact_a(0.5), rel=1e-6)
    # a second model integration of the same model in a fresh Network: the cache holds it, no compile
    integrate(_exchange(), [1.0, 0.0], (0.0, 0.5), method="rodas4", comm=comm)
    assert comm.allreduce(len(calls), op=MPI.SUM) == 1


def test_compiler_fails_on_the_last_rank_only(tmp_path, monkeypatch):
    """tmp_path differs per rank: each rank is the only one of its cache and compiles for itself."""
    comm = MPI.COMM_WORLD
    _kernel_cache(monkeypatch, tmp_path / "kernels")
    last = comm.rank == comm.size - 1
    if last:
        monkeypatch.setenv("CC", str(tmp_path / "no-such-cc"))
    args = (_exchange(), [1.0, 0.0], (0.0, 0.5))
    r = integrate(*args, method="rodas4", rtol=1e-8, atol=1e-12, comm=comm)
    assert comm.allgather(r.extra["backend"]) == ["numpy"] * comm.size
    why = r.extra["backend_fallback"]
    assert "no-such-cc" in why and (comm.size == 1 or f"(rank {comm.size - 1} of {comm.size})" in why)
    assert len(set(comm.allgather(why))) == 1  # the same reason on every rank
    ref = integrate(*args, method="rodas4", rtol=1e-8, atol=1e-12, backend="numpy")
    np.testing.assert_array_equal(r.c, ref.c)  # the numpy path itself, not a C result
    assert r.c[0] == pytest.approx(_exact_a(0.5), rel=1e-6)
    with pytest.raises(ConfigError, match=r"^backend: the C kernel is unavailable: .*no-such-cc") as err:
        integrate(_exchange(), [1.0, 0.0], (0.0, 0.5), method="rodas4", backend="c", comm=comm)
    assert "\n" not in str(err.value) and err.value.collective == (comm.size > 1)
    assert len(set(comm.allgather(str(err.value)))) == 1


def test_failed_compile_on_the_cache_leader_is_not_retried(shared_tmp_path, monkeypatch):
    comm = MPI.COMM_WORLD
    _kernel_cache(monkeypatch, shared_tmp_path / "kernels")
    comm.Barrier()
    calls = _count_compiles(monkeypatch, fail=comm.rank == 0)
    r = integrate(_exchange(), [1.0, 0.0], (0.0, 0.5), method="rodas4", comm=comm)
    assert len(calls) == (1 if comm.rank == 0 else 0)
    assert comm.allgather(r.extra["backend"]) == ["numpy"] * comm.size
    assert "simulated failure" in r.extra["backend_fallback"]
    with pytest.raises(ConfigError, match="simulated failure"):
        integrate(_exchange(), [1.0, 0.0], (0.0, 0.5), method="rodas4", backend="c", comm=comm)




@pytest.mark.parametrize("backend", ["auto", "c"])
def test_reactions_command_one_node_compiler_fails_on_last_rank(shared_tmp_path, tmp_path, monkeypatch, backend):
    comm = MPI.COMM_WORLD
    _kernel_cache(monkeypatch, tmp_path / "kernels")  # per rank
    if comm.rank == comm.size - 1:
        monkeypatch.setenv("CC", str(tmp_path / "no-such-cc"))
    cfg = shared_tmp_path / "case.toml"
    if comm.rank == 0:
        cfg.write_text(RODAS4_ONE_NODE.format(backend=backend))
    comm.Barrier()
    out = shared_tmp_path / "out"
    code = main(["reactions", str(cfg), "--out", str(out), "--quiet"])
    assert comm.allgather(code) == [0 if backend == "auto" else 2] * comm.size
    if backend == "auto":
        res = json.loads((out / "result.json").read_text())
        assert res["backend"] == "numpy" and "no-such-cc" in res["backend_fallback"]
        assert res["final"]["A"][0] == pytest.approx(_exact_a(0.5), rel=1e-6)
