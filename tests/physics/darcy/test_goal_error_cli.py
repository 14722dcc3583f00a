"""``fe2 darcy`` with ``[solver] error_estimate`` / ``target_error``: the result.json wiring of the DWR estimate.

The isolated Baxter–Jain tumour (demos/configs/darcy/isolated_tumour.toml), primal P1, coarse mesh: one
pressure boundary ('outer'), so the QoI J_h is the audit's consistent outflow, and the Starling inflow
balances it (steady, no lymphatics).
"""

from __future__ import annotations

import itertools
import json
import tomllib
from pathlib import Path

import pytest
from mpi4py import MPI

from fe2.apps.darcy.runner import run_darcy
from fe2.config.base import parse_config
from fe2.config.darcy import DarcyConfig
from fe2.errors import ConfigError

ROOT = Path(__file__).resolve().parents[3]


def config(**solver) -> dict:
    data = tomllib.loads((ROOT / "demos/configs/darcy/isolated_tumour.toml").read_text())
    data["formulation"] = "primal"
    data["domain"]["mesh_size"] = 2.5e-4
    data["solver"] = solver
    return data


@pytest.mark.serial
def test_result_json_has_the_estimate(tmp_path):
    """error_estimate block in result.json: J_h = the audit's consistent outflow (1e-10), corrected = J_h + η,
    Σ|η_K| >= |η|, and a relative estimate below 5 % (measured 1.2 % at this mesh size)."""
    cfg = parse_config(config(error_estimate=True), DarcyConfig, "c.toml")
    rec = run_darcy(cfg, MPI.COMM_WORLD, tmp_path / "out")
    est = rec["error_estimate"]
    on_disk = json.loads((tmp_path / "out/result.json").read_text())["error_estimate"]
    assert {k: on_disk[k] for k in ("value", "estimate", "corrected")} == {k: est[k] for k in
                                                                         ("value", "estimate", "corrected")}
    assert est["units"].startswith("m^3/s") and "outer" in est["qoi"]
    assert est["value"] == pytest.approx(rec["darcy"]["audit"]["boundary_outflow_consistent"], rel=1e-10)
    assert est["corrected"] == pytest.approx(est["value"] + est["estimate"], rel=1e-14)
    assert est["sum_abs_indicators"] >= abs(est["estimate"]) * (1 - 1e-12)
    assert 0 < abs(est["estimate"]) < 0.05 * abs(est["value"])


@pytest.mark.serial
def test_adaptive_run_meets_target(tmp_path):
    """target_error = 2e-3: every row's estimate shrinks, the last meets the target, the mesh record is the
    refined one, and the estimate block is the last row's."""
    cfg = parse_config(config(target_error=2e-3, qoi="starling_inflow"), DarcyConfig, "c.toml")
    rec = run_darcy(cfg, MPI.COMM_WORLD, tmp_path / "out")
    rows = rec["adaptivity"]["steps"]
    assert len(rows) >= 2 and rows[-1]["relative_estimate"] <= 2e-3 < rows[0]["relative_estimate"]
    assert all(b["dofs"] > a["dofs"] for a, b in itertools.pairwise(rows))
    assert rec["mesh"]["cells"] == rows[-1]["cells"] and rec["mesh"]["adaptive_refinements"] == len(rows) - 1
    assert rec["error_estimate"]["estimate"] == pytest.approx(rows[-1]["estimate"], rel=1e-14)
    assert rec["error_estimate"]["value"] == pytest.approx(rec["darcy"]["audit"]["starling_inflow"], rel=1e-12)


@pytest.mark.parametrize("solver, top, match", [
    ({"error_estimate": True}, {"formulation": "mixed"}, "formulation = 'primal'"),
    ({"error_estimate": True, "qoi_boundary": "nowhere"}, {}, "solver.qoi_boundary"),
    ({"target_error": -1.0}, {}, "target_error"),
    ({"error_estimate": True, "qoi": "volume"}, {}, "qoi"),
])
def test_bad_solver_tables_are_one_line_errors(solver, top, match):
    data = {**config(**solver), **top}
    with pytest.raises(ConfigError, match=match):
        parse_config(data, DarcyConfig, "c.toml")


def test_demo_config_is_valid():
    """demos/configs/darcy/tumour_outflow_adaptive.toml (the adaptive example of docs/darcy.md) validates."""
    from fe2.config.darcy import load_darcy_config

    cfg = load_darcy_config(ROOT / "demos/configs/darcy/tumour_outflow_adaptive.toml")
    assert cfg.solver.target_error == 2e-3 and cfg.qoi_boundary_name() == "outer"
