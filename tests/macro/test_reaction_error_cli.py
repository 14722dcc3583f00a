"""``fe2 run`` with ``[solver] error_estimate = true``: the DWR estimate of the monitored reaction in result.json.

The quarter plate with a hole of demos/configs/run/fe2_plate_j2.toml with an elastic matrix (so the RVE is
linear: C_hom once), coarse meshes, one load step. The effectivity of the estimate is verified in
tests/macro/test_reaction_error.py, the adaptive loop's dofs against uniform refinement in
tests/macro/test_reaction_adaptivity.py; here: the wiring (estimate, ``target_error``) and the refusals.
"""

from __future__ import annotations

import itertools
import json
import tomllib
from pathlib import Path

import pytest
from mpi4py import MPI

from fe2.apps.run.runner import run_fe2
from fe2.config.base import parse_config
from fe2.config.run import RunConfig
from fe2.errors import ConfigError, SolverError

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


def test_target_error_refines_then_runs_on_the_refined_mesh(shared_tmp_path):
    """``target_error = 4e-3``: the mesh is refined until the relative estimate meets it (every earlier solve
    above it, dofs growing), the load steps then run on that mesh, and the final estimate is the last adaptive
    solve's (same mesh, same load factor: 1e-8) and meets the target. Collective (1 and 2 ranks)."""
    target = 4e-3
    cfg = parse_config(config(target_error=target), RunConfig, "run.toml")
    assert cfg.solver.estimates and not cfg.solver.error_estimate
    run_fe2(cfg, MPI.COMM_WORLD, shared_tmp_path / "out")
    MPI.COMM_WORLD.Barrier()  # result.json is written by rank 0
    res = json.loads((shared_tmp_path / "out/result.json").read_text())
    steps = res["adaptivity"]["steps"]
    assert len(steps) >= 2, steps  # the coarse mesh alone is at 1.1 %
    assert all(s["relative_estimate"] > target for s in steps[:-1]) and steps[-1]["relative_estimate"] <= target
    assert all(a["dofs"] < b["dofs"] for a, b in itertools.pairwise(steps))
    est = res["error_estimate"]
    assert est["dofs"] == steps[-1]["dofs"] and est["relative_estimate"] <= target
    assert est["estimate"] == pytest.approx(steps[-1]["estimate"], rel=1e-8)
    cfg = parse_config(config(target_error=target, max_refinements=1), RunConfig, "run.toml")
    with pytest.raises(SolverError, match="not met in 2 solves"):  # one refinement is not enough
        run_fe2(cfg, MPI.COMM_WORLD, shared_tmp_path / "out1")
    assert est["value"] == pytest.approx(res["steps"][-1]["reaction"], rel=1e-10)


@pytest.mark.parametrize("elastic, drop_monitor, solver, match", [
    (False, False, {"error_estimate": True}, "solver.error_estimate needs linear micro models"),
    (True, True, {"error_estimate": True}, "loading.monitor"),
    (False, False, {"target_error": 1e-3}, "solver.target_error needs linear micro models"),
    (True, False, {"target_error": 0.0}, "target_error"),
    (True, False, {"target_error": 1e-3, "max_refinements": -1}, "max_refinements"),
    (True, False, {"error_estimate": True, "max_refinements": 3}, "solver.max_refinements needs solver.target_error"),
])
def test_refusals(elastic, drop_monitor, solver, match):
    data = config(elastic=elastic, **solver)
    if drop_monitor:
        del data["loading"]["monitor"]
    with pytest.raises(ConfigError, match=match) as exc:
        parse_config(data, RunConfig, "run.toml")
    assert "\n" not in str(exc.value)


def test_estimate_with_a_single_scale_material_is_refused():
    """``[material]`` instead of ``[rve]``: one line, not an AttributeError from the validator."""
    data = config(error_estimate=True)
    del data["rve"]
    data["material"] = {"model": "elastic", "young": 3.0, "poisson": 0.35}
    with pytest.raises(ConfigError, match="needs linear micro models"):
        parse_config(data, RunConfig, "run.toml")
