"""``fe2 reduce``: the demo-shaped config on a coarse RVE trains, validates and stores a reduced RVE;
bad input is one line naming the key (exit 2). Runs on 1 or 2 ranks (the paths are shared out)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from mpi4py import MPI

from fe2.cli import main
from fe2.micro.reduced import ReducedRVEData

DEMOS = Path(__file__).resolve().parents[2] / "demos" / "configs"
DEMO = DEMOS / "reduce" / "fibre_j2_rve.toml"


def test_fe2_reduce_writes_a_validated_reduced_rve(shared_tmp_path, capsys):
    """Coarse RVE (mesh 0.2), 8 directions x 8 steps: the validation path's stress error is below 1 %
    (measured 1.42e-3 on 1 and 2 ranks, 14 modes, 36 of 76 points), the files load, the provenance
    says what was trained. Then ``fe2 run`` with ``[rve] reduced`` on the demo plate (macro mesh 0.4):
    converges, and result.json splits the solves (measured on 1 rank: 460 reduced, 8 full, all 8 beyond
    the trained amplitude)."""
    comm = MPI.COMM_WORLD
    text = DEMO.read_text().replace("mesh_size = 0.15", "mesh_size = 0.2").replace(
        "n_directions = 16", "n_directions = 8").replace("n_steps = 6", "n_steps = 4")
    cfg, bad = shared_tmp_path / "rom.toml", shared_tmp_path / "bad.toml"
    if comm.rank == 0:
        cfg.write_text(text)
        bad.write_text(text.replace("pod_tol = 1e-5", "pod_tol = 1.5"))
    comm.Barrier()
    out = shared_tmp_path / "rom"
    assert main(["reduce", str(cfg), "--out", str(out)]) == 0
    comm.Barrier()
    res = json.loads((out / "result.json").read_text())
    assert res["n_snapshots"] == 8 * 8
    assert res["validation_max_relative_stress_error"] < 1e-2
    data = ReducedRVEData.load(out)
    assert data.meta["training"]["max_amplitude"] == 0.05 and data.meta["laws"]["matrix"]["class"] == "J2Plasticity"
    assert data.n_modes == res["n_modes"] and data.weights.size == res["ecm"]["n_points"]
    assert data.weights.size < res["n_quadrature_points"]
    assert abs(np.sum(data.weights) - data.meta["volume"]) <= 1e-12 * data.meta["volume"]
    capsys.readouterr()
    assert main(["reduce", str(bad), "--out", str(shared_tmp_path / "bad")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    if comm.rank == 0:
        assert len(err) == 1 and "reduction.pod_tol" in err[0], err

    # fe2 run with [rve] reduced = the folder: the reduced RVE answers, the split is in result.json
    run_text = (DEMOS / "run" / "fe2_plate_j2.toml").read_text()
    for old, new in (("mesh_size = 0.2 }", "mesh_size = 0.4 }"), ("mesh_size = 0.15 }", "mesh_size = 0.2 }"),
                     ("load_factors = [0.25, 0.5, 0.75, 1.0]", "load_factors = [0.5, 1.0]")):
        run_text = run_text.replace(old, new)  # macro 0.4, the RVE the reduced one was trained on, 2 steps
    run_text = run_text.replace('bc = "periodic"', f'bc = "periodic"\nreduced = "{out}"\nreduced_indicator = 0.5')
    run_cfg = shared_tmp_path / "run.toml"
    if comm.rank == 0:
        run_cfg.write_text(run_text)
    comm.Barrier()
    assert main(["run", str(run_cfg), "--out", str(shared_tmp_path / "run")]) == 0
    comm.Barrier()
    res = json.loads((shared_tmp_path / "run" / "result.json").read_text())
    split = res["micro"]["reduced"]
    assert len(res["steps"]) == 2 and split["reduced_solves"] > 0
    assert split["reduced_solves"] + split["full_solves"] == res["micro"]["solves"]
    assert res["micro"]["hill_mandel_ok"]
