"""Outputs read back from Python with the readers of the venv (pyvista), through fe2.io.open_results.

`fe2 run` and `fe2 phasefield` write every field series as XDMF (ParaView) and as a VTK XML
collection (pyvista; VTK 9.7's XDMF reader crashes on dolfinx XDMF). Checked: the series
present, their times (= the load factors / the frame times of result.json), the field names
and components, one cell per macro cell and one point per node on 1 and 2 ranks (pieces and
their shared nodes merged), the Dirichlet value in the displacement read back, and the CSV
tables with their units.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from mpi4py import MPI
from test_bad_input import _base, _dump

from fe2.cli import main
from fe2.io import open_results


def _run_config(tmp):
    d = _base("run/fe2_plate_j2.toml")
    d["macro"]["domain"]["mesh_size"] = 0.4
    d["rve"]["geometry"]["mesh_size"] = 0.35
    d["loading"]["load_factors"] = [0.5, 1.0]
    d["output"] = {"micro_points": []}
    return d


def test_fe2_run_outputs_open_in_pyvista(shared_tmp_path):
    comm = MPI.COMM_WORLD
    cfg = shared_tmp_path / "run.toml"
    if comm.rank == 0:
        cfg.write_text(_dump(_run_config(shared_tmp_path)))
    comm.Barrier()
    out = shared_tmp_path / "out"
    assert main(["run", str(cfg), "--out", str(out)]) == 0
    comm.Barrier()
    if comm.rank != 0:
        return
    res = open_results(out)
    assert res.finished and set(res.series) == {"displacement", "stress"}
    assert res.times("stress") == [0.5, 1.0] == [s["load_factor"] for s in res.result["steps"]]
    u, s = res.field("displacement"), res.field("stress")
    assert s.n_cells == u.n_cells == res.result["macro_quadrature_points"]  # degree 1: one point per cell
    assert s.cell_data["stress_voigt"].shape == (s.n_cells, 3) and "eq_plastic_strain" in s.cell_data
    assert u.point_data["displacement"].shape == (u.n_points, 3)  # 2D vectors padded to 3 components
    right = np.isclose(u.points[:, 0], 1.0)
    assert right.any() and np.allclose(u.point_data["displacement"][right, 0], 0.02, rtol=0, atol=1e-15)
    table = res.tables["load_displacement"]
    np.testing.assert_array_equal(table["reaction_force"], [r["reaction"] for r in res.result["steps"]])
    assert "dissipated [stress*length^2]" in res.tables["energy_balance"]
    first = res.field("stress", 0)
    assert first.n_cells == s.n_cells
    assert not np.array_equal(first.cell_data["stress_voigt"], s.cell_data["stress_voigt"])


def test_fe2_phasefield_series_opens_in_pyvista(shared_tmp_path):
    comm = MPI.COMM_WORLD
    d = _base("phasefield/pfhub_bm1b_small.toml")
    d["domain"]["cells"] = [12, 12]
    d["time"]["t_end"] = 4.0
    d["output"] = {"every": 2, "checkpoint_every": 2}
    cfg = shared_tmp_path / "pf.toml"
    if comm.rank == 0:
        cfg.write_text(_dump(d))
    comm.Barrier()
    out = shared_tmp_path / "pf"
    assert main(["phasefield", str(cfg), "--out", str(out)]) == 0
    comm.Barrier()
    if comm.rank != 0:
        return
    res = open_results(out)
    assert "concentration" in res.series
    times = res.times("concentration")
    assert times[0] == 0.0 and times[-1] == pytest.approx(4.0) and times == sorted(times)
    c = res.field("concentration")
    assert c.n_cells == 2 * 12 * 12  # triangles of the 12 x 12 lattice, each once
    (name,) = [k for k in c.point_data if not k.startswith("vtk")]
    values = c.point_data[name]
    assert np.all(np.isfinite(values)) and 0.0 < values.mean() < 1.0
    assert json.loads((out / "result.json").read_text())  # finished
