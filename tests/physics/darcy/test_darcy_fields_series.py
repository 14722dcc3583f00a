"""``fe2 darcy`` writes its fields as a time series: a frame of every field at every output step.

A tumour with storage runs 3 transient flow steps (dt = 60 s, a frame every 2nd step and the last:
t = 120, 180 s), then 2 solute steps (dt = 30 s, carried by the final flow, injected at t = 180 s: a frame at
the 2nd and last, t = 240 s). Read back with fe2's reader (fe2.io.open_results, the .pvd) the series has
exactly these times, every frame holds p, u and c, c is zero before the injection, and the integral
of c in each solute frame equals the solute audit's mass (solute_audit.csv) at that time: c is P1,
written exactly into DG1, and pyvista integrates linear data on triangles exactly, so to round-off
(rtol 1e-9). The tissue fills up (storage > 0), so the largest pressure grows from frame to frame.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[3]


def test_darcy_fields_are_a_time_series_of_every_output_step(shared_tmp_path, comm):
    from fe2.apps.darcy.runner import run_darcy
    from fe2.config.darcy import load_darcy_config
    from fe2.io import open_results

    cfg_text = (ROOT / "demos/configs/darcy/isolated_tumour.toml").read_text()
    cfg_text = cfg_text.replace("mesh_size = 5e-5", "mesh_size = 2.5e-4").replace(
        'preset = "baxter_jain_tumour"', 'preset = "baxter_jain_tumour"\nstorage = 1e-4')
    cfg_text += ("\n[transient]\ndt = 60.0\nn_steps = 3\n\n[solute]\nD = 1e-10\nuptake = 1e-4\nPS_V = 1e-4\n"
                 "c_vessel = 1.0\ndt = 30.0\nn_steps = 2\n\n[output]\nfields_every = 2\n")
    path = shared_tmp_path / "series.toml"
    if comm.rank == 0:
        path.write_text(cfg_text)
    comm.Barrier()
    out = shared_tmp_path / "out"
    res = run_darcy(load_darcy_config(path), comm, out)
    expected = [120.0, 180.0, 240.0]
    assert res["fields_series"]["times"] == pytest.approx(expected, abs=1e-9)
    if comm.rank != 0:
        return
    r = open_results(out)
    assert r.times("fields") == pytest.approx(expected, abs=1e-9)
    audit = r.tables["solute_audit"]
    p_max = []
    for k, t in enumerate(expected):
        g = r.field("fields", k)
        assert {"p", "u", "c"} <= set(g.point_data)
        p_max.append(float(np.max(g.point_data["p"])))
        c_int = float(g.integrate_data().point_data["c"][0])
        if t <= 180.0:
            assert np.max(np.abs(g.point_data["c"])) == 0.0  # before (and at) the injection
        else:
            row = int(np.argmin(np.abs(audit["time"] - (t - 180.0))))
            assert audit["time"][row] == pytest.approx(t - 180.0)
            assert c_int == pytest.approx(audit["mass"][row], rel=1e-9)
    assert p_max[1] > p_max[0]  # filling up between the two transient frames
    assert p_max[2] == p_max[1]  # the solute frame carries the final flow
