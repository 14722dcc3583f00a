"""Outputs read back from Python with the readers of the venv (pyvista), through fe2.io.open_results.

Every command writes its field files for ParaView (XDMF / VTX) and as a VTK XML collection
(pyvista; VTK 9.7's XDMF reader crashes on dolfinx XDMF). Checked per command: the series
present, their times (= the load factors / the frame times of result.json), every field of a file
(not one per file) with its name and component count, one cell per macro cell and one point per
node on 1 and 2 ranks (pieces and their shared nodes merged), the Dirichlet value in the
displacement read back, the phase names of the cell data, and the CSV tables with their units.
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
    d["output"] = {"micro_points": [[0.02, 0.21]]}
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
    assert res.finished and set(res.series) == {"displacement", "stress", "micro_point0"}
    assert res.times("stress") == [0.5, 1.0] == [s["load_factor"] for s in res.result["steps"]]
    u, s = res.field("displacement"), res.field("stress")
    assert s.n_cells == u.n_cells == res.result["macro_quadrature_points"]  # degree 1: one point per cell
    assert s.cell_data["stress_voigt"].shape == (s.n_cells, 3) and "eq_plastic_strain" in s.cell_data
    assert u.point_data["displacement"].shape == (u.n_points, 3)  # 2D vectors padded to 3 components
    # one point per mesh node on 1 and 2 ranks: the pieces' shared nodes are merged
    assert np.unique(np.round(u.points, 12), axis=0).shape[0] == u.n_points
    right = np.isclose(u.points[:, 0], 1.0)
    assert right.any() and np.allclose(u.point_data["displacement"][right, 0], 0.02, rtol=0, atol=1e-15)
    table = res.tables["load_displacement"]
    np.testing.assert_array_equal(table["reaction_force"], [r["reaction"] for r in res.result["steps"]])
    # the measured displacement of the monitored edge: its prescribed 0.02 x load factor (to round-off)
    np.testing.assert_allclose(table["displacement [length]"], 0.02 * table["load_factor"], rtol=0, atol=1e-15)
    assert "reaction_force [force per unit thickness]" in table
    assert "dissipated [stress*length^2]" in res.tables["energy_balance"]
    first = res.field("stress", 0)
    assert first.n_cells == s.n_cells
    assert not np.array_equal(first.cell_data["stress_voigt"], s.cell_data["stress_voigt"])
    # the RVE of the micro output point: every field of a frame in one file, one frame per load step
    assert res.times("micro_point0") == [0.5, 1.0]
    rve = res.field("micro_point0")
    assert rve.point_data["u"].shape == rve.point_data["fluctuation"].shape == (rve.n_points, 3)
    assert rve.cell_data["eq_plastic_strain"].shape == (rve.n_cells,)
    assert np.max(rve.cell_data["eq_plastic_strain"]) >= 0.0
    # phase names: tag -> name of the config's RVE phases
    assert set(res.phase_names.values()) == set(res.result["rve"]["phases"])
    assert set(np.unique(rve.cell_data["phase"]).astype(int)) == set(res.phase_names)


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
    result = json.loads((out / "result.json").read_text())  # finished
    # units and notation of every monitored quantity (2D: per unit thickness) and the field's name
    assert {"t", "dt", "energy", "mass", "c"} <= set(result["units"])
    assert "per unit thickness" in result["units"]["energy"] and "'c'" in result["notation"]
    assert name == "c"


def _run_cli(shared_tmp_path, command: str, config: dict, name: str):
    """Write ``config`` as TOML, run ``fe2 COMMAND`` into ``name`` (all ranks); rank 0 gets the Results."""
    comm = MPI.COMM_WORLD
    cfg = shared_tmp_path / f"{name}.toml"
    if comm.rank == 0:
        cfg.write_text(_dump(config))
    comm.Barrier()
    out = shared_tmp_path / name
    assert main([command, str(cfg), "--out", str(out)]) == 0
    comm.Barrier()
    return open_results(out) if comm.rank == 0 else None


def test_fe2_homogenize_fields_open_in_pyvista(shared_tmp_path):
    """Every RVE field file: u and fluctuation (scalar temperatures here) and the phase tags, with
    result.json's phase_tags naming each tag of the cell data."""
    d = _base("inclusions_2d_conductivity.toml")
    d["geometry"]["mesh_size"] = 0.15
    d["boundary_conditions"] = ["periodic", "tubc"]
    res = _run_cli(shared_tmp_path, "homogenize", d, "hom")
    if res is None:
        return
    assert set(res.series) == {f"fields/{bc}_{case}" for bc in ("periodic", "tubc") for case in ("G1", "G2")}
    assert res.phase_names[1] == "matrix"  # the matrix is tag 1 (fe2.geometry.inclusions)
    assert set(res.phase_names.values()) == {"matrix", "copper", "glass"}
    for name in res.series:
        g = res.field(name)
        assert g.point_data["u"].shape == g.point_data["fluctuation"].shape == (g.n_points,)  # temperature
        tags = np.unique(g.cell_data["phase"]).astype(int)
        assert set(tags) == set(res.phase_names)  # every cell tagged, every tag named
    # the fluctuation of the periodic case is periodic in x1: equal on x1 = 0 and x1 = 2 at equal x2
    g = res.field("fields/periodic_G1")
    left, right = np.isclose(g.points[:, 0], 0.0), np.isclose(g.points[:, 0], 2.0)
    yl, yr = g.points[left, 1], g.points[right, 1]
    wl = g.point_data["fluctuation"][left][np.argsort(yl)]
    wr = g.point_data["fluctuation"][right][np.argsort(yr)]
    # periodic pairing of nodes: the same value to round-off (1e-12 of the largest fluctuation)
    assert np.allclose(wl, wr, rtol=0, atol=1e-12 * np.max(np.abs(g.point_data["fluctuation"])))
    assert all((res.folder / f).is_file() for f in res.result["fields"])
    assert sum(f.endswith(".pvd") for f in res.result["fields"]) == 4


def test_fe2_darcy_fields_open_in_pyvista(shared_tmp_path):
    d = _base("darcy/isolated_tumour.toml")
    d["domain"]["mesh_size"] = 2.5e-4
    res = _run_cli(shared_tmp_path, "darcy", d, "darcy")
    if res is None:
        return
    assert "fields" in res.series and "fields.pvd" in res.result["files"]
    g = res.field("fields")
    data = {k: v for k, v in g.point_data.items() if not k.startswith("vtk")}
    assert data["p"].shape == (g.n_points,) and data["u"].shape == (g.n_points, 3)  # all fields of the file
    # the outer boundary carries p = 0 (Dirichlet in the mixed form: weakly, so to the discretisation
    # error; the centre pressure of result.json is the largest)
    assert np.max(data["p"]) == pytest.approx(res.result["radial_profile"]["p_center_Pa"], rel=0.05)


def test_fe2_reactions_species_open_in_pyvista(shared_tmp_path):
    d = _base("reactions/spatial_reversible_binding.toml")
    d["spatial"].update({"mesh": {"length": [1.0, 1.0], "cells": [6, 6]}, "t_end": 0.1, "dt": 0.05,
                         "output_every": 1})
    res = _run_cli(shared_tmp_path, "reactions", d, "rd")
    if res is None:
        return
    assert res.times("species") == pytest.approx([0.0, 0.05, 0.1])
    g = res.field("species")
    assert {"A", "B", "C"} <= set(g.point_data)  # every species in the one file
    assert g.n_cells == 2 * 6 * 6
    # the integral of the field read back equals the integrals.csv value at t_end (P1 data, linear
    # interpolation on triangles: integrate_data is exact for them, up to round-off)
    integ = g.integrate_data()
    assert integ.point_data["C"][0] == pytest.approx(res.tables["integrals"]["C"][-1], rel=1e-10)
    # units of result.json from the config's [units] (defaults "1"), and the notation of the mode
    units = res.result["units"]
    assert units["time"] == units["t_end"] == d.get("units", {}).get("time", "1")
    assert units["integrals"] == f"{d.get('units', {}).get('amount', '1')} * area"
    assert "concentration fields" in res.result["notation"]


def test_reactions_well_mixed_result_has_units(shared_tmp_path):
    d = _base("reactions/well_mixed_enzyme.toml")
    d["units"] = {"time": "s", "amount": "mol/m^3"}
    res = _run_cli(shared_tmp_path, "reactions", d, "wm")
    if res is None:
        return
    assert res.result["units"]["concentration"] == "mol/m^3" and res.result["units"]["time"] == "s"
    assert res.result["timeseries"]["units"]["time"] == "s"


def test_a_failed_index_write_is_raised_on_every_rank(shared_tmp_path):
    """Rank 0 writes the series index; a frame whose VTK collection is unreadable made it raise alone
    while its peers waited in the barrier (a hang under mpirun in library use). Now every rank raises
    the same OutputError."""
    from dolfinx import fem, mesh

    from fe2.errors import OutputError
    from fe2.io.series import FieldSeries

    comm = MPI.COMM_WORLD
    m = mesh.create_unit_square(comm, 2, 2)
    f = fem.Function(fem.functionspace(m, ("Lagrange", 1)), name="f")
    series = FieldSeries(shared_tmp_path / "s", "f", comm)
    series.write(0, m, [f], 0.0)
    if comm.rank == 0:
        series.vtk_frame_path(0).write_text("<not xml")
    comm.Barrier()
    with pytest.raises(OutputError, match="not a readable VTK collection"):
        series.commit()


def test_tubc_fluctuation_field_is_the_fluctuation(shared_tmp_path):
    """The written 'fluctuation' of a TUBC load case is u − Ē·(x − x_c) (Ē its mean strain), as for the
    other BCs — it was the total field u. On an RVE whose phases are equal the exact solution is
    affine, so every BC's fluctuation is round-off (≤ 1e-10 of |u|) while u itself is O(1)."""
    d = _base("inclusions_2d_conductivity.toml")
    d["geometry"]["mesh_size"] = 0.2
    for ph in d["materials"]:
        d["materials"][ph] = {"conductivity": 1.0}
    d["boundary_conditions"] = ["kubc", "periodic", "tubc"]
    res = _run_cli(shared_tmp_path, "homogenize", d, "hom_equal")
    if res is None:
        return
    for bc in ("kubc", "periodic", "tubc"):
        g = res.field(f"fields/{bc}_G1")
        u, w = g.point_data["u"], g.point_data["fluctuation"]
        assert np.max(np.abs(u)) > 0.1 and np.max(np.abs(w)) <= 1e-10 * np.max(np.abs(u)), bc
