"""Transient tissue perfusion: S ∂p/∂t + ∇·u = s(p) by backward Euler (primal and mixed).

* Uniform tissue, impermeable boundary, uniform initial pressure: no gradients ever form, so the
  discrete solution is the backward-Euler recurrence p⁺ = (S p/Δt + A)/(S/Δt + C) exactly
  (1e-12 relative: round-off of one solve), and it converges to the exponential relaxation
  p_eq + (p₀ − p_eq) e^{−Ct/S} at first order (observed rate within 0.05 of 1).
* A step with Δt → ∞ is the steady solve (1e-10), and the fluid audit including the storage
  rate closes to 1e-10 at every transient step of a tumour with a pressure boundary (mixed:
  globally and per cell; primal: with the consistent boundary flux).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from dolfinx import mesh as dmesh
from mpi4py import MPI

from fe2.geometry.tissue import tumour_in_host
from fe2.physics.darcy import DarcyProblem, PressureBC, TissueProperties

STORAGE = 1e-4  # 1/Pa; with C = L_p S/V of the Baxter-Jain tumour, the relaxation time S/C ~ 240 s


def _tissue():
    return dataclasses.replace(TissueProperties.baxter_jain("tumour"), storage=STORAGE)


def _mean_pressure(res, comm):
    import ufl
    from dolfinx import fem

    one = fem.assemble_scalar(fem.form(1.0 * ufl.dx(domain=res.p.function_space.mesh)))
    return comm.allreduce(fem.assemble_scalar(fem.form(res.p * ufl.dx)), op=MPI.SUM) / comm.allreduce(one)


@pytest.mark.parametrize("formulation", ["primal", "mixed"])
def test_uniform_relaxation_is_the_backward_euler_recurrence_and_first_order(formulation):
    comm = MPI.COMM_WORLD
    msh = dmesh.create_unit_square(comm, 6, 6)
    t = _tissue()
    C, A, S = t.exchange, t.source_constant, t.storage
    p_eq, p0, T = A / C, 0.0, S / C  # relaxation time T
    errors = []
    for n_steps in (8, 16, 32):
        prob = DarcyProblem(msh, None, None, {1: t}, formulation=formulation)
        prob.set_pressure(p0)
        dt, p_be = T / n_steps, p0
        for _ in range(n_steps):
            res = prob.step(dt)
            p_be = (S * p_be / dt + A) / (S / dt + C)
        p_h = _mean_pressure(res, comm)
        spread = comm.allreduce(float(np.ptp(res.p.x.array)), op=MPI.MAX)
        assert spread <= 1e-12 * abs(p_eq)  # uniform: no gradient ever forms
        assert abs(p_h - p_be) <= 1e-12 * abs(p_eq)
        errors.append(abs(p_h - (p_eq + (p0 - p_eq) * np.exp(-1.0))))
    rates = np.log2(np.array(errors[:-1]) / np.array(errors[1:]))
    assert np.all(np.abs(rates - 1.0) < 0.05), rates


@pytest.mark.parametrize("formulation", ["primal", "mixed"])
def test_transient_audit_closes_and_infinite_step_is_steady(formulation):
    comm = MPI.COMM_WORLD
    tm = tumour_in_host(comm, dim=2, tumour_radius=1e-3, host_radius=None, mesh_size=2.5e-4)
    tissue = {tm.region("tumour"): _tissue()}
    bcs = [PressureBC(tm.tag("outer"), 0.0)]
    prob = DarcyProblem(tm.mesh, tm.cell_tags, tm.facet_tags, tissue, bcs=bcs, formulation=formulation)
    prob.set_pressure(0.0)
    for _ in range(3):
        res = prob.step(60.0)
        a = res.audit
        assert a.storage_rate > 0  # the tissue is filling up
        if formulation == "mixed":
            assert a.relative_residual <= 1e-10 and a.cell_residual_max <= 1e-10, a
        else:
            assert a.relative_residual_consistent <= 1e-10, a
    p_long = prob.step(1e30).p.x.array.copy()
    p_steady = prob.solve().p.x.array
    scale = comm.allreduce(float(np.max(np.abs(p_steady))), op=MPI.MAX)
    assert comm.allreduce(float(np.max(np.abs(p_long - p_steady))), op=MPI.MAX) <= 1e-10 * scale


@pytest.mark.serial
def test_cli_transient_run_writes_the_balance_per_step(tmp_path):
    import csv
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[3]
    cfg = (root / "demos/configs/darcy/isolated_tumour.toml").read_text()
    cfg = cfg.replace("mesh_size = 5e-5", "mesh_size = 2e-4").replace(
        'preset = "baxter_jain_tumour"', 'preset = "baxter_jain_tumour"\nstorage = 1e-4')
    cfg += "\n[transient]\ndt = 60.0\nn_steps = 4\n"
    (tmp_path / "c.toml").write_text(cfg)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MPLBACKEND": "Agg"}
    proc = subprocess.run([sys.executable, "-m", "fe2.cli", "darcy", "c.toml", "--out", "out"], cwd=tmp_path,
                          capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr
    res = json.loads((tmp_path / "out/result.json").read_text())
    assert res["transient"]["max_relative_residual"] <= 1e-10
    rows = list(csv.DictReader(open(tmp_path / "out/darcy_transient.csv")))
    assert len(rows) == 4
    storage = [float(r["storage_rate"]) for r in rows]
    assert all(s > 0 for s in storage) and storage[-1] < storage[0]  # filling up, ever more slowly
    # without storage anywhere, [transient] is a one-line config error
    (tmp_path / "bad.toml").write_text(cfg.replace("storage = 1e-4", ""))
    proc = subprocess.run([sys.executable, "-m", "fe2.cli", "darcy", "bad.toml", "--out", "o2"], cwd=tmp_path,
                          capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 2 and "positive tissue storage" in proc.stderr
