"""``fe2 uq`` distributed over COMM_WORLD in-process equals the same study on COMM_SELF (bitwise).

Under ``mpirun -n 2`` the samples are dealt over both ranks, each appends to its own JSON-lines
file, rank 0 analyses: the Sobol' indices of Ishigami and the variance split of the Gaussian model
must be those of a one-rank run exactly (every sample runs the same arithmetic on one rank, and
the analysis reads the samples by id).
"""

from __future__ import annotations

import math

import pytest
from mpi4py import MPI

from fe2.apps.uq.runner import run_uq
from fe2.config.uq import load_uq_config

pytestmark = pytest.mark.parallel

_U = 'distribution = "uniform"\nlow = {lo!r}\nhigh = {hi!r}\n'
STUDIES = {
    "sobol": ('base = "python:fe2.analytic.sensitivity:ishigami"\nmethod = "sobol"\nseed = 1\n'
              + "".join(f'[[inputs]]\nkey = "x{i}"\n' + _U.format(lo=-math.pi, hi=math.pi) for i in (1, 2, 3))
              + '[[qoi]]\nname = "y"\npath = "y"\n[sobol]\nn = 64\nresamples = 100\n'),
    "split": ('base = "python:fe2.analytic.sensitivity:hierarchical_gaussian"\nmethod = "split"\nseed = 2\n'
              '[[inputs]]\nkey = "theta"\ndistribution = "normal"\nmean = 0.0\nstd = 1.0\n'
              '[[inputs]]\nkey = "eps"\ndistribution = "normal"\nmean = 0.0\nstd = 0.5\nkind = "aleatory"\n'
              '[[qoi]]\nname = "y"\npath = "y"\n[split]\nouter = 20\ninner = 5\nresamples = 50\n'),
}


@pytest.mark.parametrize("method", sorted(STUDIES))
def test_world_equals_self(shared_tmp_path, method):
    comm = MPI.COMM_WORLD
    study = shared_tmp_path / f"{method}.toml"
    if comm.rank == 0:
        study.write_text(STUDIES[method])
    comm.barrier()
    cfg = load_uq_config(study)
    world = run_uq(cfg, study, comm, shared_tmp_path / f"{method}_world")
    alone = run_uq(cfg, study, MPI.COMM_SELF, shared_tmp_path / f"{method}_self_rank{comm.rank}")
    assert world[method] == alone[method]
    assert world["samples"]["ran_on_ranks"] == comm.size
    files = sorted(p.name for p in (shared_tmp_path / f"{method}_world" / "samples").glob("*.jsonl"))
    assert files == [f"rank{r}.jsonl" for r in range(comm.size)]


def test_a_failure_on_one_rank_is_raised_on_every_rank(shared_tmp_path):
    """A sample failing on one rank stops the others at their next sample (the STOP file) and every
    rank raises that one error (no rank waits, no rank runs its whole share in vain)."""
    from fe2.errors import SolverError

    comm = MPI.COMM_WORLD
    study = shared_tmp_path / "failing.toml"
    if comm.rank == 0:
        (shared_tmp_path / "failing.py").write_text(
            "from fe2.errors import SolverError\n"
            "def f(x):\n"
            "    if x['k'] > 0.9:\n"
            "        raise SolverError('diverged')\n"
            "    return {'y': x['k']}\n")
        study.write_text('base = "python:failing.py:f"\nmethod = "mc"\nseed = 4\n'
                         '[[inputs]]\nkey = "k"\n' + _U.format(lo=0.0, hi=1.0)
                         + '[[qoi]]\nname = "y"\npath = "y"\n[mc]\nn = 200\n')
    comm.barrier()
    cfg = load_uq_config(study)
    with pytest.raises(SolverError, match=r"sample \d+ \(k = 0\.9\d*\): diverged"):
        run_uq(cfg, study, comm, shared_tmp_path / "failing_out")
    comm.barrier()
    lines = sum(len(p.read_text().splitlines()) for p in (shared_tmp_path / "failing_out" / "samples").glob("*.jsonl"))
    assert lines < 200  # the study stopped early (about 10 % of uniform draws fail; the first comes soon)


def test_batched_reaction_ensemble_world_equals_self(shared_tmp_path):
    """A reaction-network study on the batched path: each rank integrates its share of the samples as
    the nodes of one batch; the numbers equal the one-rank study's exactly (per-node step control: a
    node's arithmetic does not depend on the other nodes of its batch)."""
    from test_uq_batched import ENZYME, STUDY  # the same network and study (tests/uq is on the path)

    comm = MPI.COMM_WORLD
    study = shared_tmp_path / "batched.toml"
    if comm.rank == 0:
        (shared_tmp_path / "enzyme.toml").write_text(ENZYME)
        study.write_text(STUDY.replace("n = 6", "n = 9"))
    comm.barrier()
    cfg = load_uq_config(study)
    world = run_uq(cfg, study, comm, shared_tmp_path / "batched_world")
    alone = run_uq(cfg, study, MPI.COMM_SELF, shared_tmp_path / f"batched_self_rank{comm.rank}")
    assert world["samples"]["path"].startswith("batched")
    assert world["mc"] == alone["mc"]
