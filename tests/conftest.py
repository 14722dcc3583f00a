"""MPI-aware pytest helpers shared by the whole suite.

The suite runs twice (``make test``):

* serially: ``python -m pytest tests``
* on two ranks: ``mpirun -n 2 python -m mpi4py -m pytest tests -m "not serial" -p no:cacheprovider``
  (``-m mpi4py`` aborts every rank when one raises outside pytest's control).

What this file provides:

* tests marked ``@pytest.mark.serial`` are skipped when ``COMM_WORLD.size > 1``: tests of
  pure numpy/scipy code (analytic formulas, material laws, reaction integrators, SSA, SBML
  import) that every rank would repeat identically, and tests that run subprocesses;
* tests marked ``@pytest.mark.parallel`` are skipped when ``COMM_WORLD.size == 1``: tests that
  compare a solve distributed over ``COMM_WORLD`` with the same solve on ``COMM_SELF`` (the
  "-n 1 vs -n 2 equality" checks); in a serial run both sides are the same computation, so the
  test would check nothing. They run in ``make test-mpi`` (``mpirun -n 2``);
* tests marked ``@pytest.mark.slow`` are skipped unless ``--run-slow`` (or
  ``FE2_RUN_SLOW=1``) is given: ``make test`` stays short, ``make test-slow`` runs them;
* every test is followed by ``gc.collect()`` and a ``COMM_WORLD`` barrier, so
  that PETSc objects are destroyed collectively and ranks leave a test together;
* fixture ``comm``: ``MPI.COMM_WORLD``;
* fixture ``shared_tmp_path``: one temporary directory, created on rank 0 and
  broadcast, identical on every rank (``tmp_path`` differs per rank).
"""

from __future__ import annotations

import os

# Headless plotting whatever the caller's environment says.
os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("PYVISTA_OFF_SCREEN", "true")

# The dolfinx-solver wheel must be imported before dolfinx/petsc4py: it loads
# mpi4py's MPI first and puts the wheel's libraries in place. A system dolfinx
# (conda, Docker images) has no such package and needs nothing.
try:
    import dolfinx_solver  # noqa: F401
except ImportError:
    pass

import gc
import re
from pathlib import Path

import pytest
from mpi4py import MPI


def pytest_report_header(config):
    library = MPI.Get_library_version().splitlines()[0].strip()
    return f"MPI: COMM_WORLD.size = {MPI.COMM_WORLD.size} ({library})"


def pytest_addoption(parser):
    parser.addoption(
        "--run-slow", action="store_true", default=False,
        help="also run tests marked 'slow' (or set FE2_RUN_SLOW=1); the default suite skips them",
    )


def pytest_collection_modifyitems(config, items):
    """Skip ``slow`` tests unless asked for (``--run-slow`` / ``FE2_RUN_SLOW=1``), ``serial``
    tests under ``mpirun -n >1`` and ``parallel`` tests on one rank (every rank skips the same ones)."""
    if not (config.getoption("--run-slow") or os.environ.get("FE2_RUN_SLOW") == "1"):
        skip_slow = pytest.mark.skip(reason="slow test: run with --run-slow or FE2_RUN_SLOW=1")
        for item in items:
            if item.get_closest_marker("slow"):
                item.add_marker(skip_slow)
    both = [i.nodeid for i in items if i.get_closest_marker("serial") and i.get_closest_marker("parallel")]
    if both:
        raise pytest.UsageError(f"tests marked both 'serial' and 'parallel' never run: {both}")
    size = MPI.COMM_WORLD.size
    if size == 1:
        marker, skip = "parallel", pytest.mark.skip(
            reason="parallel-only test (COMM_WORLD vs COMM_SELF): run under mpirun -n 2"
        )
    else:
        marker, skip = "serial", pytest.mark.skip(reason=f"serial-only test, COMM_WORLD.size = {size}")
    for item in items:
        if item.get_closest_marker(marker):
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _mpi_teardown():
    """After each test: collect garbage (collective PETSc destroys), then wait for all ranks."""
    yield
    gc.collect()
    MPI.COMM_WORLD.Barrier()


@pytest.fixture
def comm():
    """The communicator a test distributes over: ``MPI.COMM_WORLD``."""
    return MPI.COMM_WORLD


@pytest.fixture
def shared_tmp_path(request, tmp_path_factory):
    """A temporary directory that every rank sees under the same path.

    Created on rank 0 (under pytest's per-session base temp) and broadcast;
    use it for files written collectively (XDMF/VTX) or by one rank and read
    by all.
    """
    comm = MPI.COMM_WORLD
    path = None
    if comm.rank == 0:
        name = re.sub(r"[^\w.-]", "_", request.node.name)[:40] or "shared"
        path = str(tmp_path_factory.mktemp(name, numbered=True))
    path = comm.bcast(path, root=0)
    comm.Barrier()
    return Path(path)
