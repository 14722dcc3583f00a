"""``fe2 run`` with a single-scale Cauchy–Born material (``[material] model = "cauchy_born"``).

* Homogeneous bar (LJ FCC crystal, uniaxial strain: u_x prescribed on xmax, rollers on the other
  faces): the FE solution is the homogeneous F = diag(1 + ε, 1, 1) exactly (P1 reproduces it, and
  cubic symmetry makes P diagonal, so the rollers carry no shear), so the reaction on xmax equals
  the law's own P11 × area — to the macro Newton tolerance (1e-8 relative); the ellipticity flag
  is 0 at every point at ε = 0.10 and 1 at every point at ε = 0.16 (the law's own indicator
  changes sign at ε ≈ 0.139 along this path).
* ``-n 1`` = ``-n 2``: the same run on COMM_SELF and on COMM_WORLD gives the same reactions
  (1e-10) and flag counts (``parallel``: only under mpirun).
* The demo ``demos/configs/run/cauchy_born_plate_breakdown.toml`` (triangular LJ plate with a hole)
  fires the indicator before the end of its load path, at a nominal strain below the homogeneous
  breakdown strain (ε_c ≈ 0.126): the hole concentrates the strain.
* Config errors: a 2D lattice on the 3D bar, and neither/both of [rve] and [material].
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from mpi4py import MPI

from fe2.apps.run.runner import cauchy_born_law, run_fe2
from fe2.config.base import parse_config
from fe2.config.run import RunConfig, load_run_config
from fe2.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]
LX, LY, LZ, STRETCH = 1.0, 0.5, 0.5, 0.16
FACTORS = [0.625, 1.0]  # strains 0.10 and 0.16


def _bar_config() -> RunConfig:
    data = {
        "macro": {"domain": {"kind": "bar", "lengths": [LX, LY, LZ], "mesh_size": 0.5},
                  "dirichlet": [{"boundary": "xmin", "component": 0, "value": 0.0},
                                {"boundary": "xmax", "component": 0, "value": STRETCH * LX},
                                {"boundary": "ymin", "component": 1, "value": 0.0},
                                {"boundary": "ymax", "component": 1, "value": 0.0},
                                {"boundary": "zmin", "component": 2, "value": 0.0},
                                {"boundary": "zmax", "component": 2, "value": 0.0}]},
        "loading": {"load_factors": FACTORS, "monitor": {"boundary": "xmax", "component": 0}},
        "material": {"model": "cauchy_born", "lattice": "fcc",
                     "potential": {"kind": "lennard_jones", "epsilon": 1.0, "sigma": 1.0, "cutoff": 2.5}},
    }
    return parse_config(data, RunConfig, "test")


def test_homogeneous_bar_equals_the_law(shared_tmp_path):
    comm = MPI.COMM_WORLD
    cfg = _bar_config()
    result = run_fe2(cfg, comm, shared_tmp_path / "bar")
    assert cfg.material is not None and cfg.material.model == "cauchy_born"
    law = cauchy_born_law(cfg.material)
    n_points = result["macro_quadrature_points"]
    for step, factor in zip(result["steps"], FACTORS, strict=True):
        f = np.diag([1.0 + STRETCH * factor, 1.0, 1.0]).reshape(1, 9)
        p = law.evaluate(f, law.initial_state(1))[0][0, 0]
        assert step["reaction"] == pytest.approx(p * LY * LZ, rel=1e-8)
        lost = law.ellipticity(f)[0][0] <= 0.0
        assert step["flagged_points"]["cb_ellipticity_lost_flag"] == (n_points if lost else 0)
    assert [s["flagged_points"]["cb_ellipticity_lost_flag"] for s in result["steps"]] == [0, n_points]
    assert result["flagged_points"]["cb_ellipticity_lost_flag"]["first_load_factor"] == 1.0
    assert result["rve"] is None and result["material"]["lattice"] == "fcc"


@pytest.mark.parallel
def test_one_rank_equals_two_ranks(shared_tmp_path):
    cfg = _bar_config()
    world = run_fe2(cfg, MPI.COMM_WORLD, shared_tmp_path / "world")
    alone = run_fe2(cfg, MPI.COMM_SELF, shared_tmp_path / f"self{MPI.COMM_WORLD.rank}")
    for a, b in zip(world["steps"], alone["steps"], strict=True):
        assert a["reaction"] == pytest.approx(b["reaction"], rel=1e-10)
        assert a["flagged_points"] == b["flagged_points"]


def test_demo_plate_fires_the_breakdown_indicator(shared_tmp_path):
    cfg = load_run_config(ROOT / "demos" / "configs" / "run" / "cauchy_born_plate_breakdown.toml")
    result = run_fe2(cfg, MPI.COMM_WORLD, shared_tmp_path / "demo")
    flag = result["flagged_points"]["cb_ellipticity_lost_flag"]
    factors = cfg.loading.load_factors
    assert flag["first_load_factor"] is not None and factors[0] < flag["first_load_factor"] <= factors[-1]
    nominal = 0.1 * flag["first_load_factor"]  # right-edge displacement / width
    assert nominal < 0.126  # below the homogeneous uniaxial-strain breakdown of the lattice
    assert 0 < flag["last_points"] < result["macro_quadrature_points"]  # local, at the hole
    frames = sorted((shared_tmp_path / "demo" / "series").glob("stress*.xdmf"))
    assert frames and all(name in frames[-1].read_text() for name in ("cb_ellipticity", "cb_ellipticity_lost_flag"))


@pytest.mark.serial
def test_config_errors_name_the_key():
    data = _bar_config().model_dump(mode="json", exclude_none=True)
    bad = {**data, "material": {**data["material"], "lattice": "triangular"}}
    with pytest.raises(ConfigError, match=r"material\.lattice"):
        parse_config(bad, RunConfig, "test")
    neither = {k: v for k, v in data.items() if k != "material"}
    with pytest.raises(ConfigError, match="exactly one of"):
        parse_config(neither, RunConfig, "test")
