"""``fe2 run`` with ``[solver] error_estimate = true``: the DWR estimate of the monitored reaction in result.json.

The quarter plate with a hole of demos/configs/run/fe2_plate_j2.toml with an elastic matrix (so the RVE is
linear: C_hom once), coarse meshes, one load step. The effectivity of the estimate is verified in
tests/macro/test_reaction_error.py; here: the wiring and the refusals.
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest
from mpi4py import MPI

from fe2.apps.run.runner import run_fe2
from fe2.config.base import parse_config
from fe2.config.run import RunConfig
from fe2.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]


def config(elastic: bool = True, **solver) -> dict:
    data = tomllib.loads((ROOT / "demos/configs/run/fe2_plate_j2.toml").read_text())
    data["macro"]["domain"]["mesh_size"] = 0.3
    data["rve"]["geometry"]["mesh_size"] = 0.35
    data["loading"]["load_factors"] = [1.0]
    data["output"]["micro_points"] = []
    if elastic:
        data["rve"]["materials"]["matrix"] = {"model": "elastic", "young": 3.0, "poisson": 0.35}
    data["solver"] = solver
    return data


@pytest.mark.serial
def test_result_json_has_the_reaction_estimate(tmp_path):
    """J_h = the last step's monitored reaction (1e-10), corrected = J_h + η, Σ|η_K| >= |η|, |η| < 5 % of J_h
    (measured 1.1 % on this coarse mesh), units stated."""
    cfg = parse_config(config(error_estimate=True), RunConfig, "run.toml")
    res = run_fe2(cfg, MPI.COMM_WORLD, tmp_path / "out")
    est = json.loads((tmp_path / "out/result.json").read_text())["error_estimate"]
    assert est["value"] == pytest.approx(res["steps"][-1]["reaction"], rel=1e-10)
    assert est["corrected"] == pytest.approx(est["value"] + est["estimate"], rel=1e-14)
    assert est["sum_abs_indicators"] >= abs(est["estimate"]) * (1 - 1e-12)
    assert 0 < abs(est["estimate"]) < 0.05 * abs(est["value"])
    assert "force" in est["units"] and "right" in est["qoi"]


@pytest.mark.parametrize("elastic, drop_monitor, match", [
    (False, False, "linear micro models"),
    (True, True, "loading.monitor"),
])
def test_refusals(elastic, drop_monitor, match):
    data = config(elastic=elastic, error_estimate=True)
    if drop_monitor:
        del data["loading"]["monitor"]
    with pytest.raises(ConfigError, match=match):
        parse_config(data, RunConfig, "run.toml")
