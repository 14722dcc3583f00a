"""Tests of the project's plumbing: package import, MPI helpers, bootstrap script, docs/CI wiring.

None of these compute mechanics; they make sure that the environment the
numerical tests run in is the one ``make test`` promises (pinned dolfinx with
a working JIT compiler, MPI, helpers that agree across ranks) and that the
bootstrap script fails with a clear message instead of half-building a venv.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_import_fe2():
    import fe2
    import fe2.errors
    import fe2.tensors

    assert Path(fe2.__file__).resolve().parent == ROOT / "fe2", "tests must run against this checkout"
    assert issubclass(fe2.errors.ConfigError, fe2.errors.Fe2Error)


def test_dolfinx_version_is_supported():
    import dolfinx

    assert dolfinx.__version__.startswith(("0.10", "0.11")), dolfinx.__version__


def test_dolfinx_jit_and_mpi_assemble_unit_area(comm):
    """Compiles a form (needs a C compiler: what the Docker image installs) and sums it over all ranks.

    The area of the unit square is exact up to round-off whatever the partition.
    """
    import dolfinx.fem
    import dolfinx.mesh
    import ufl
    from mpi4py import MPI

    msh = dolfinx.mesh.create_unit_square(comm, 4, 4)
    one = dolfinx.fem.Constant(msh, dolfinx.default_scalar_type(1.0))
    local = dolfinx.fem.assemble_scalar(dolfinx.fem.form(one * ufl.dx(domain=msh)))
    area = comm.allreduce(local, op=MPI.SUM)
    assert abs(area - 1.0) < 1e-12


def test_comm_fixture_is_world(comm):
    from mpi4py import MPI

    assert comm is MPI.COMM_WORLD
    assert comm.allreduce(1, op=MPI.SUM) == comm.size


def test_shared_tmp_path_is_the_same_directory_on_every_rank(comm, shared_tmp_path):
    paths = comm.allgather(str(shared_tmp_path))
    assert len(set(paths)) == 1
    assert shared_tmp_path.is_dir()
    if comm.rank == 0:
        (shared_tmp_path / "from_rank0.txt").write_text("hello")
    comm.Barrier()
    assert (shared_tmp_path / "from_rank0.txt").read_text() == "hello"


def _run_bootstrap_without_python(tmp_path: Path, bindir: Path) -> subprocess.CompletedProcess:
    """Run scripts/bootstrap_venv.sh with PATH = bindir only, FE2_PYTHON pointing nowhere, an empty HOME."""
    bash = shutil.which("bash") or "/bin/bash"
    home = tmp_path / "home"
    home.mkdir()
    env = {
        "PATH": str(bindir),
        "HOME": str(home),
        "FE2_PYTHON": "/nonexistent/python3",
        "LANG": "C",
    }
    venv = tmp_path / "venv"
    proc = subprocess.run(
        [bash, str(ROOT / "scripts" / "bootstrap_venv.sh"), str(venv), "test"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert not venv.exists(), "a failed bootstrap must not leave a half-made venv behind"
    return proc


@pytest.mark.serial
def test_bootstrap_rejects_missing_python(tmp_path):
    """No python anywhere (empty PATH dir, no pyenv in HOME, bad FE2_PYTHON): a clear error, exit 1."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    proc = _run_bootstrap_without_python(tmp_path, bindir)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "no Python >= 3.12 found" in proc.stderr
    assert "FE2_PYTHON" in proc.stderr


@pytest.mark.serial
def test_bootstrap_rejects_too_old_python(tmp_path):
    """A python3 on PATH that fails the >= 3.12 check is not used."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    fake = bindir / "python3"
    # Stands in for an old interpreter: answers every invocation with failure.
    fake.write_text("#!/bin/sh\nexit 1\n")
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    proc = _run_bootstrap_without_python(tmp_path, bindir)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "no Python >= 3.12 found" in proc.stderr


@pytest.mark.serial
def test_ci_runs_the_documented_test_command():
    ci = ROOT / ".ci" / "run"
    assert os.access(ci, os.X_OK), ".ci/run must be executable"
    lines = [ln.strip() for ln in ci.read_text().splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    assert "make test" in lines
    assert "The test command: `make test`" in (ROOT / "README.md").read_text()


@pytest.mark.serial
def test_mkdocs_nav_pages_exist():
    """Every page named in mkdocs.yml's nav exists (mkdocs --strict checks the rest in `make docs`)."""
    text = (ROOT / "mkdocs.yml").read_text()
    pages = re.findall(r"^\s*-\s*(?:[^:\n]+:\s*)?([\w./-]+\.md)\s*$", text, flags=re.M)
    assert pages, "mkdocs.yml has no nav"
    for page in pages:
        assert (ROOT / "docs" / page).is_file(), page


@pytest.mark.serial
def test_python_is_312_or_newer():
    assert sys.version_info >= (3, 12)
