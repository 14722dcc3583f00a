"""FE² with nonlinear RVEs: verification against single-scale solves and finite differences.

* A one-phase elastoplastic RVE (homogeneous J2) must reproduce the
  single-scale elastoplastic solve with the same law: the micro fluctuation is
  zero and the homogenized stress/tangent are the law's own (1e-6 asked; the
  difference is micro-Newton tolerance, ~1e-12).
* The homogenized tangent of a two-phase RVE at a plastic state equals central
  finite differences of the homogenized stress (1e-5 asked; h = 1e-7 gives ~1e-10).
* Hill–Mandel at every micro solve below 1e-8.
* Restart from a checkpoint reproduces the uninterrupted run (1e-12).
"""

from __future__ import annotations

import numpy as np
import pytest
from mpi4py import MPI

from fe2.geometry import square_array
from fe2.geometry.macro_domains import plate_with_hole
from fe2.macro.balance import BalancedMaterial, plan_moves
from fe2.macro.driver import Monitor, run_load_steps
from fe2.macro.small_strain import Dirichlet, QuasiStaticMacroProblem
from fe2.materials import EmptyState, LinearElasticLaw, MicroModel
from fe2.materials.j2 import J2Plasticity
from fe2.micro.nonlinear_rve import NonlinearRVEMaterial

J2 = {"young": 1.0, "poisson": 0.3, "sigma_y0": 0.01, "h_iso": 0.1}


def _plate_solver(material, comm, mesh_size=0.35):
    plate = plate_with_hole(comm, mesh_size=mesh_size)
    dirichlet = [
        Dirichlet(plate.tag("left"), 0.0, 0),
        Dirichlet(plate.tag("bottom"), 0.0, 1),
        Dirichlet(plate.tag("right"), 0.03, 0),  # u_x = 0.03 * load factor: well into plasticity
    ]
    return QuasiStaticMacroProblem(plate.mesh, plate.facet_tags, material, dirichlet=dirichlet), plate


def _max_rel_diff(a, b, comm):
    num = comm.allreduce(float(np.max(np.abs(a - b), initial=0.0)), op=MPI.MAX)
    den = comm.allreduce(float(np.max(np.abs(b), initial=0.0)), op=MPI.MAX)
    return num / den


def test_one_phase_elastoplastic_rve_equals_single_scale(shared_tmp_path):
    comm = MPI.COMM_WORLD
    rve = square_array(MPI.COMM_SELF, volume_fraction=0.3, mesh_size=0.25)
    law = J2Plasticity(**J2, dim=2)
    rve_mat = NonlinearRVEMaterial(rve, {"matrix": law, "fibre": law})
    fe2_solver, plate = _plate_solver(rve_mat, comm)
    single, _ = _plate_solver(J2Plasticity(**J2, dim=2), comm)
    steps = [0.4, 0.7, 1.0]
    rec_fe2 = run_load_steps(fe2_solver, steps, shared_tmp_path / "fe2", monitor=Monitor(plate.tag("right"), 0))
    rec_one = run_load_steps(single, steps, shared_tmp_path / "single", monitor=Monitor(plate.tag("right"), 0))
    assert _max_rel_diff(fe2_solver.u.x.array, single.u.x.array, comm) < 1e-6
    for a, b in zip(rec_fe2, rec_one, strict=False):
        assert a["reaction"] == pytest.approx(b["reaction"], rel=1e-6)
    # plasticity happened, and the macro Newton converged quadratically (consistent tangent)
    peq = comm.allreduce(float(np.max(single.state.eq_plastic_strain, initial=0.0)), op=MPI.MAX)
    assert peq > 1e-3
    res = rec_fe2[-1]["residuals"]
    assert len(res) <= 7 and res[-1] < 1e-10 * res[0]
    assert comm.allreduce(rve_mat.hill_mandel_max, op=MPI.MAX) < 1e-8
    # the RVE-averaged equivalent plastic strain (written to stress.xdmf) equals the law's own
    averaged = rve_mat.point_fields(fe2_solver.state)["eq_plastic_strain"]
    np.testing.assert_allclose(averaged, single.state.eq_plastic_strain, rtol=1e-6, atol=1e-12)


def test_homogenized_tangent_matches_finite_differences():
    """Two-phase RVE (J2 matrix, elastic fibres), macro strain in the plastic range."""
    rve = square_array(MPI.COMM_SELF, volume_fraction=0.3, mesh_size=0.12)
    laws = {"matrix": J2Plasticity(**J2, dim=2), "fibre": LinearElasticLaw.isotropic(10.0, 0.3, 2)}
    mat = NonlinearRVEMaterial(rve, laws)
    state = mat.initial_state(1)
    E = np.array([[0.02, -0.005, 0.004]])
    _, C, trial = mat.evaluate(E, state)
    assert np.max(trial.phase_states["matrix"].eq_plastic_strain) > 1e-3
    h = 1e-7  # central differences: truncation O(h^2) ~ 1e-14 relative, round-off ~1e-16/h ~ 1e-9
    fd = np.zeros((3, 3))
    for j in range(3):
        dE = np.zeros(3)
        dE[j] = h
        fp, _, _ = mat.evaluate(E + dE, state)
        fm, _, _ = mat.evaluate(E - dE, state)
        fd[:, j] = (fp[0] - fm[0]) / (2 * h)
    assert np.max(np.abs(fd - C[0])) <= 1e-5 * np.max(np.abs(C[0]))
    assert mat.hill_mandel_max < 1e-8


def test_warm_start_changes_iterations_not_the_answer():
    """A guess (the trial state at a nearby macro strain, as the macro Newton passes it) must give the
    cold-start answer to the micro Newton tolerance (fixed force-scale criterion 1e-11: stresses agree
    to ~1e-10 relative, asked 1e-8) in fewer micro iterations; a useless guess (far-away strain) must
    still converge, from the committed start it falls back to."""
    rve = square_array(MPI.COMM_SELF, volume_fraction=0.3, mesh_size=0.12)
    laws = {"matrix": J2Plasticity(**J2, dim=2), "fibre": LinearElasticLaw.isotropic(10.0, 0.3, 2)}
    mat = NonlinearRVEMaterial(rve, laws)
    state = mat.initial_state(1)
    E = np.array([[0.02, -0.005, 0.004]])
    _, _, near = mat.evaluate(E * 0.98, state)  # a nearby macro iterate
    _, _, far = mat.evaluate(-3 * E, state)  # an unrelated one
    mat.reset_stats()
    f_cold, C_cold, _ = mat.evaluate(E, state)
    cold_its = mat.micro_iterations
    for guess in (near, far):
        mat.reset_stats()
        f, C, _ = mat.evaluate(E, state, guess=guess)
        assert np.max(np.abs(f - f_cold)) <= 1e-8 * np.max(np.abs(f_cold))
        assert np.max(np.abs(C - C_cold)) <= 1e-8 * np.max(np.abs(C_cold))
        if guess is near:
            assert mat.micro_iterations < cold_its, (mat.micro_iterations, cold_its)


def test_fe2_restart_reproduces_uninterrupted_run(shared_tmp_path):
    comm = MPI.COMM_WORLD
    rve = square_array(MPI.COMM_SELF, volume_fraction=0.3, mesh_size=0.3)

    def material():
        return NonlinearRVEMaterial(rve, {"matrix": J2Plasticity(**J2, dim=2),
                                          "fibre": LinearElasticLaw.isotropic(10.0, 0.3, 2)})

    full, _plate = _plate_solver(material(), comm, mesh_size=0.5)
    run_load_steps(full, [0.5, 0.75, 1.0], shared_tmp_path / "full")
    part, _ = _plate_solver(material(), comm, mesh_size=0.5)
    run_load_steps(part, [0.5], shared_tmp_path / "part")
    resumed, _ = _plate_solver(material(), comm, mesh_size=0.5)
    run_load_steps(resumed, [0.5, 0.75, 1.0], shared_tmp_path / "part", restart=True)
    assert _max_rel_diff(resumed.u.x.array, full.u.x.array, comm) < 1e-12


def test_fe2_distributed_equals_serial(shared_tmp_path):
    """The same FE² run on COMM_WORLD (distributed macro mesh, RVEs of owned points on each rank) and on
    COMM_SELF: reactions and the displacement norm agree to solver tolerance (1e-9)."""
    import ufl
    from dolfinx import fem

    rve = square_array(MPI.COMM_SELF, volume_fraction=0.3, mesh_size=0.3)

    def run(comm, folder, balance_tolerance=None):
        mat = NonlinearRVEMaterial(rve, {"matrix": J2Plasticity(**J2, dim=2),
                                         "fibre": LinearElasticLaw.isotropic(10.0, 0.3, 2)})
        if balance_tolerance is not None:
            mat = BalancedMaterial(mat, comm, tolerance=balance_tolerance)
        solver, plate = _plate_solver(mat, comm, mesh_size=0.4)
        rec = run_load_steps(solver, [0.5, 1.0], folder, monitor=Monitor(plate.tag("right"), 0))
        norm = comm.allreduce(fem.assemble_scalar(fem.form(ufl.inner(solver.u, solver.u) * ufl.dx)))
        return np.array([r["reaction"] for r in rec]), norm, mat.statistics().reduce(comm).points_lent

    rw, nw, _ = run(MPI.COMM_WORLD, shared_tmp_path / "world")
    rs, ns, _ = run(MPI.COMM_SELF, shared_tmp_path / f"self{MPI.COMM_WORLD.rank}")
    np.testing.assert_allclose(rw, rs, rtol=1e-9)
    assert nw == pytest.approx(ns, rel=1e-9)
    # cost-aware lending (tolerance 1.0: lend whenever a single point narrows the gap) changes where
    # points are solved, not the answer
    rb, nb, lent = run(MPI.COMM_WORLD, shared_tmp_path / "balanced", balance_tolerance=1.0)
    np.testing.assert_allclose(rb, rs, rtol=1e-9)
    assert nb == pytest.approx(ns, rel=1e-9)
    if MPI.COMM_WORLD.size > 1:
        assert lent > 0


@pytest.mark.serial
def test_cli_run_restart_and_errors(tmp_path):
    """`fe2 run` writes result.json; `--restart` after the last step re-runs nothing and ends equal;
    a bad config is one line on stderr and exit code 2."""
    import json
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    cfg = (root / "demos" / "configs" / "run" / "fe2_plate_j2.toml").read_text()
    cfg = cfg.replace("mesh_size = 0.2 }", "mesh_size = 0.4 }").replace("mesh_size = 0.15 }", "mesh_size = 0.35 }")
    good = tmp_path / "run.toml"
    good.write_text(cfg)
    cmd = [sys.executable, "-m", "fe2.cli", "run", str(good), "--out", str(tmp_path / "out")]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    first = json.loads((tmp_path / "out" / "result.json").read_text())
    assert first["micro"]["hill_mandel_max"] < 1e-8 and len(first["steps"]) == 4
    micro = (tmp_path / "out" / "micro_point0.xdmf").read_text()  # the config's micro output point
    for t in ("0.25", "0.5", "0.75", "1"):  # one RVE snapshot per converged load step
        assert f'<Time Value="{t}" />' in micro
    assert 'Name="fluctuation"' in micro and 'Name="eq_plastic_strain"' in micro
    proc = subprocess.run([*cmd, "--restart"], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    again = json.loads((tmp_path / "out" / "result.json").read_text())
    assert [s["reaction"] for s in again["steps"]] == [s["reaction"] for s in first["steps"]]
    bad = tmp_path / "bad.toml"
    bad.write_text(cfg.replace("sigma_y0 = 0.03", "sigma_y0 = -0.03"))
    proc = subprocess.run([sys.executable, "-m", "fe2.cli", "run", str(bad), "--out", str(tmp_path / "bad")],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("fe2: error:") and "sigma_y0" in lines[0]


def test_3d_bar_one_phase_j2_rve_equals_single_scale(shared_tmp_path):
    """3D: a bar pulled along x1 (u1 = 0.04 at x1 = L), every macro point a one-phase J2 sphere-RVE;
    equals the single-scale J2 bar (1e-6), with plastic flow reached."""
    from fe2.geometry.macro_domains import bar

    comm = MPI.COMM_WORLD
    rve = square_array(MPI.COMM_SELF, volume_fraction=0.2, mesh_size=0.6, dim=3)
    law = J2Plasticity(**J2, dim=3)

    def solver(material):
        b = bar(comm, lengths=(2.0, 1.0, 1.0), mesh_size=0.6)
        bcs = [Dirichlet(b.tag("xmin"), 0.0, 0), Dirichlet(b.tag("ymin"), 0.0, 1), Dirichlet(b.tag("zmin"), 0.0, 2),
               Dirichlet(b.tag("xmax"), 0.04, 0)]
        return QuasiStaticMacroProblem(b.mesh, b.facet_tags, material, dirichlet=bcs)

    fe2_solver = solver(NonlinearRVEMaterial(rve, {"matrix": law, "fibre": law}))
    single = solver(J2Plasticity(**J2, dim=3))
    run_load_steps(fe2_solver, [0.5, 1.0], shared_tmp_path / "fe2")
    run_load_steps(single, [0.5, 1.0], shared_tmp_path / "single")
    assert _max_rel_diff(fe2_solver.u.x.array, single.u.x.array, comm) < 1e-6
    assert comm.allreduce(float(np.max(single.state.eq_plastic_strain, initial=0.0)), op=MPI.MAX) > 1e-3


def test_balance_plan_moves_points_to_the_idle_rank():
    """The plan is deterministic and brings max/mean load within the tolerance where single points allow."""
    costs = [np.array([3.0, 1.0, 1.0, 1.0]), np.array([0.5, 0.5]), np.array([1.0])]
    moves = plan_moves(costs, tolerance=1.05)
    loads = np.array([c.sum() for c in costs])
    for src, k, dst in moves:
        loads[src] -= costs[src][k]
        loads[dst] += costs[src][k]
    # loads 6 / 1 / 1 (max/mean 2.25): the 1.0 points of rank 0 go to ranks 1 and 2, the 3.0 point
    # cannot be split; no further single move narrows the gap, so the plan ends at 3 / 3 / 2 (1.125)
    np.testing.assert_allclose(loads, [3.0, 3.0, 2.0])
    assert moves == plan_moves(costs, tolerance=1.05)
    assert plan_moves([np.ones(4), np.ones(4)]) == []


def test_a_micro_failure_on_one_rank_is_raised_on_every_rank():
    """A solver failure on the last rank only must reach every rank as an error (no rank may be left
    waiting in the exchange of lent points)."""
    from fe2.errors import SolverError

    comm = MPI.COMM_WORLD

    class FailsOnLastRank(MicroModel):
        dim = 2  # small strain: driver size 3

        def evaluate(self, driver, state, guess=None):
            if comm.rank == comm.size - 1:
                raise SolverError("micro linear solve diverged")
            return driver.copy(), np.broadcast_to(np.eye(3), (driver.shape[0], 3, 3)).copy(), state

    mat = BalancedMaterial(FailsOnLastRank(), comm)
    with pytest.raises(SolverError, match="diverged"):
        mat.evaluate(np.zeros((4, 3)), EmptyState())
