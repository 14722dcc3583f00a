"""``fe2 reduce`` writes on rank 0 only: a write error there is raised on every rank (no rank goes on, none waits).

The folder passes the ``--out`` check (it exists and is writable), but the model file cannot be put in
place: a non-empty directory stands where ``reduced_model.npz`` / ``reduced_rve.npz`` goes, so the
rename onto it fails (``IsADirectoryError``; a permission bit would not stop root, who runs the CI).
Expected, on 1 rank and under ``mpirun -n 2``: every rank raises the same one-line OutputError (the
command: exit 3 on every rank, one line from rank 0, no ``MPI_Abort``). ``faulthandler`` ends a
test that hangs (120 s) instead of the whole suite waiting; the subprocess test has its own timeout.
"""

from __future__ import annotations

import faulthandler
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from mpi4py import MPI

from fe2.cli import main
from fe2.errors import OutputError

CONFIGS = Path(__file__).resolve().parents[2] / "demos" / "configs" / "reduce"
BT = CONFIGS / "reaction_diffusion_bt.toml"
POD = CONFIGS / "reaction_diffusion_pod.toml"
MPIRUN = shutil.which("mpirun", path=str(Path(sys.executable).parent)) or shutil.which("mpirun")
HANG_S = 120


def _blocked(out: Path, name: str) -> None:
    """On rank 0 (the writer): ``out/name`` is a non-empty folder, so nothing can be renamed onto it."""
    if MPI.COMM_WORLD.rank == 0:
        (out / name).mkdir(parents=True)
        (out / name / "keep").write_text("")
    MPI.COMM_WORLD.Barrier()


@pytest.fixture
def no_hang():
    faulthandler.dump_traceback_later(HANG_S, exit=True, file=sys.__stderr__)  # a rank left waiting ends it
    yield
    faulthandler.cancel_dump_traceback_later()


@pytest.mark.parametrize("config", [BT, POD], ids=["balanced_truncation", "pod"])
def test_reduced_model_write_error_on_rank0_is_raised_on_every_rank(config, shared_tmp_path, capsys, no_hang):
    """Balanced truncation and POD-Galerkin: model, provenance and figure go through the rank-0 writer."""
    comm = MPI.COMM_WORLD
    out = shared_tmp_path / config.stem
    _blocked(out, "reduced_model.npz")
    code = main(["reduce", str(config), "--out", str(out)])
    assert comm.allgather(code) == [3] * comm.size
    err = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
    if comm.rank == 0:
        assert len(err) == 1, err
        assert err[0].startswith(f"fe2: error: writing the reduced model to {out}: ") and "reduced_model.npz" in err[0]
    else:
        assert err == []  # a collective error: rank 0 alone prints it
    assert not (out / "result.json").exists()


def test_reduced_rve_write_error_on_rank0_is_raised_on_every_rank(shared_tmp_path, no_hang):
    """The POD + ECM path (a coarse RVE, 2 training paths of 2 steps: ~seconds) through its runner."""
    from fe2.apps.reduce.runner import run_reduce
    from fe2.config.reduce import load_reduce_config

    comm = MPI.COMM_WORLD
    text = (CONFIGS / "fibre_j2_rve.toml").read_text().replace("mesh_size = 0.15", "mesh_size = 0.3").replace(
        "n_directions = 16", "n_directions = 2").replace("n_steps = 6", "n_steps = 2")
    cfg = shared_tmp_path / "rom.toml"
    if comm.rank == 0:
        cfg.write_text(text)
    comm.Barrier()
    out = shared_tmp_path / "rom"
    _blocked(out, "reduced_rve.npz")
    with pytest.raises(OutputError, match=rf"^writing the reduced RVE to {out}: .*reduced_rve\.npz") as err:
        run_reduce(load_reduce_config(cfg), comm, out)
    assert err.value.collective and "\n" not in str(err.value)
    assert len(set(comm.allgather(str(err.value)))) == 1


@pytest.mark.serial  # starts its own mpirun
@pytest.mark.skipif(MPIRUN is None, reason="no mpirun")
def test_cli_two_ranks_unwritable_model_file_one_line_no_hang(tmp_path):
    out = tmp_path / "out"
    (out / "reduced_model.npz").mkdir(parents=True)
    (out / "reduced_model.npz" / "keep").write_text("")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "FE2_ERROR_WAIT_S": "1"}
    proc = subprocess.run([MPIRUN, "-n", "2", sys.executable, "-m", "fe2.cli", "reduce", str(BT), "--out", str(out)],
                          capture_output=True, text=True, timeout=HANG_S, env=env)
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert proc.returncode == 3, proc.stderr[-2000:]
    assert len(lines) == 1 and lines[0].startswith("fe2: error: writing the reduced model to "), proc.stderr
    assert "(rank" not in lines[0]  # raised on every rank together, not one rank's abort

