"""Energy and dissipation audit (fe2.macro.energy_audit, fe2.materials.energy).

The backward-Euler radial return satisfies a discrete energy identity per point,
σ_{n+1}·Δε = Δψ + σ_y0 Δα + (numerical dissipation ≥ 0), so for a consistently integrated
step the external work of the boundary equals stored energy + dissipation to the Newton
tolerances (macro 1e-10 relative, micro 1e-11): the tests ask 1e-10 of the balance, the macro
Newton's tolerance (the issue's bound, and the runtime flag, is 1e-8; measured ≤ 3.1e-11), and
round-off of the law identity. An evaluation from the wrong state (the previous iteration's
trial state) breaks the identity and must be seen.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from mpi4py import MPI

from fe2.geometry.macro_domains import plate_with_hole
from fe2.macro.driver import run_load_steps
from fe2.macro.energy_audit import summarize
from fe2.macro.small_strain import Dirichlet, QuasiStaticMacroProblem, Traction
from fe2.materials.contract import LinearElasticLaw
from fe2.materials.j2 import J2Plasticity

HERE = Path(__file__).resolve().parent


def _plate(material, comm, pull="displacement"):
    plate = plate_with_hole(comm, mesh_size=0.2)
    dirichlet = [Dirichlet(plate.tag("left"), 0.0, 0), Dirichlet(plate.tag("bottom"), 0.0, 1)]
    tractions = []
    if pull == "displacement":
        dirichlet.append(Dirichlet(plate.tag("right"), 0.01, 0))
    else:
        tractions.append(Traction(plate.tag("right"), [0.05, 0.0]))
    return QuasiStaticMacroProblem(plate.mesh, plate.facet_tags, material, dirichlet=dirichlet, tractions=tractions)


@pytest.mark.parametrize("dim", [2, 3])
@pytest.mark.parametrize("hardening", [{"h_iso": 0.3}, {"h_iso": 0.2, "h_kin": 0.5, "voce_q": 0.02, "voce_b": 30.0}])
def test_j2_energy_identity_on_random_paths(dim, hardening):
    """20 random strain increments at 50 points (loading, unloading, reversal): work = Δψ + D + D_num per
    point to round-off (1e-12 of the largest work; the Voce local Newton stops at 1e-13 of the yield
    radius, measured ≤ 3e-14), both dissipations ≥ 0 at every point, and plasticity does happen."""
    law = J2Plasticity(3.0, 0.35, 0.03, dim=dim, **hardening)
    rng = np.random.default_rng(7)
    m = law.driver_size
    state, eps = law.initial_state(50), np.zeros((50, m))
    for _ in range(20):
        eps1 = eps + rng.normal(scale=0.004, size=eps.shape)
        _, _, trial = law.evaluate(eps1, state)
        inc = law.energy_increment(eps, eps1, state, trial)
        scale = np.max(np.abs(inc.work))
        assert np.max(np.abs(inc.residual)) <= 1e-12 * scale
        assert inc.min_dissipated.min() >= 0.0
        assert inc.min_numerical.min() >= -1e-15 * scale
        state, eps = trial, eps1
    assert state.eq_plastic_strain.max() > 0.02


def test_j2_identity_breaks_when_evaluated_from_a_trial_state():
    """The return mapping started from an earlier trial state (not the committed one) no longer satisfies
    the identity relative to the committed state: the residual (measured 2.9e-3 of the work on this nearly
    proportional path) is ≥ 1e-4, eight orders above the round-off of a consistent step."""
    law = J2Plasticity(3.0, 0.35, 0.03, h_iso=0.3, dim=2)
    state = law.initial_state(10)
    eps0 = np.zeros((10, 3))
    eps_a = np.tile([0.02, -0.01, 0.0], (10, 1))
    eps_b = np.tile([0.03, -0.012, 0.004], (10, 1))
    _, _, trial_a = law.evaluate(eps_a, state)  # an earlier iterate of the same step
    _, _, wrong = law.evaluate(eps_b, trial_a)  # the defect: from that trial state
    inc = law.energy_increment(eps0, eps_b, state, wrong)
    assert np.min(np.abs(inc.residual) / np.abs(inc.work)) > 1e-4


def test_plate_j2_energy_balance(shared_tmp_path):
    """Plate with a hole, J2 with linear hardening, 4 displacement steps: balance ≤ 1e-10 of the step's
    work on every step, no dissipation while elastic (step 1: exactly 0), positive once plastic, and
    every point's increments ≥ 0; the summary and the CSV say the same."""
    comm = MPI.COMM_WORLD
    solver = _plate(J2Plasticity(3.0, 0.35, 0.03, h_iso=0.3, dim=2), comm)
    rec = run_load_steps(solver, [0.25, 0.5, 0.75, 1.0], shared_tmp_path / "j2")
    energies = [r["energy"] for r in rec]
    for e in energies:
        assert abs(e["balance_residual"]) <= 1e-10
        assert abs(e["constitutive_residual"]) <= 1e-12
        assert e["min_dissipated"] >= 0.0 and e["min_numerical"] >= 0.0
    assert energies[0]["dissipated"] == 0.0
    assert energies[-1]["dissipated"] > 0.1 * energies[-1]["external"]
    summary = summarize(rec)
    assert summary["max_abs_balance_residual"] <= 1e-10
    total = summary["totals"]
    assert total["external"] == pytest.approx(total["stored"] + total["dissipated"] + total["numerical"], rel=1e-10)
    if comm.rank == 0:
        with (shared_tmp_path / "j2" / "energy_balance.csv").open() as fh:
            rows = list(csv.reader(fh))
        assert rows[0][2] == "external [stress*length^2]" and len(rows) == 5
        assert float(rows[-1][rows[0].index("dissipated [stress*length^2]")]) == pytest.approx(
            energies[-1]["dissipated"], rel=1e-15)


@pytest.mark.parametrize("pull", ["displacement", "traction"])
def test_elastic_path_has_no_dissipation_and_the_numerical_part_halves(shared_tmp_path, pull):
    """Linear elastic plate pulled by a displacement or by a traction: the physical dissipation is exactly 0,
    the balance closes to 1e-12, and the numerical (backward-rule) part, ½ Δε·C·Δε summed over a fixed path
    in N equal steps, is Δψ_total / N: halving the steps halves it (observed order 1 in the step, to 1e-10)."""
    comm = MPI.COMM_WORLD
    totals = []
    for n in (4, 8):
        solver = _plate(LinearElasticLaw.isotropic(3.0, 0.35, 2), comm, pull)
        rec = run_load_steps(solver, list(np.linspace(0, 1, n + 1)[1:]), shared_tmp_path / f"{pull}{n}")
        s = summarize(rec)
        assert s["max_abs_balance_residual"] <= 1e-12
        assert s["totals"]["dissipated"] == 0.0
        totals.append(s["totals"])
    assert totals[0]["stored"] == pytest.approx(totals[1]["stored"], rel=1e-12)
    assert totals[0]["numerical"] / totals[1]["numerical"] == pytest.approx(2.0, rel=1e-10)
    assert totals[1]["numerical"] == pytest.approx(totals[1]["stored"] / 8, rel=1e-10)


class _TrialStartedJ2(J2Plasticity):
    """A deliberately inconsistent coupling: within a step every evaluation starts from the previous
    iteration's trial state instead of the committed state (the error the contract forbids)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._last = None

    def evaluate(self, driver, state, guess=None):
        start = self._last if self._last is not None else state
        flux, tangent, trial = super().evaluate(driver, start)
        self._last = trial
        return flux, tangent, trial

    def commit(self):
        self._last = None

    def rollback(self):
        self._last = None


def test_audit_detects_an_inconsistent_coupling(shared_tmp_path):
    """The same plate with the trial-started law: the macro Newton still converges, but the audit's
    balance residual is far above the 1e-8 the consistent run keeps."""
    comm = MPI.COMM_WORLD
    solver = _plate(_TrialStartedJ2(3.0, 0.35, 0.03, h_iso=0.3, dim=2), comm)
    rec = run_load_steps(solver, [0.25, 0.5, 0.75, 1.0], shared_tmp_path / "bad")
    summary = summarize(rec)
    assert summary["max_abs_balance_residual"] > 1e-3 and not summary["within_tolerance"]
    assert summary["max_abs_constitutive_residual"] > 1e-3  # located: the state handling, not equilibrium
    assert summary["max_abs_equilibrium_residual"] <= 1e-10


def test_fe2_run_reports_the_audit(shared_tmp_path):
    """`fe2 run` with J2 RVEs (periodic, coarse): result.json carries the audit, the balance closes to 1e-10
    at every step (measured 2e-15), plastic dissipation is positive, and energy_balance.csv is written."""
    from fe2.cli import main

    comm = MPI.COMM_WORLD
    cfg = shared_tmp_path / "run.toml"
    if comm.rank == 0:
        text = (HERE.parents[1] / "demos" / "configs" / "run" / "fe2_plate_j2.toml").read_text()
        text = text.replace("mesh_size = 0.2 }", "mesh_size = 0.4 }")
        text = text.replace("mesh_size = 0.15 }", "mesh_size = 0.35 }")
        text = text.replace("load_factors = [0.25, 0.5, 0.75, 1.0]", "load_factors = [0.5, 1.0]")
        text = text.replace("micro_points = [[0.02, 0.21]]", "micro_points = []")
        cfg.write_text(text)
    comm.Barrier()
    assert main(["run", str(cfg), "--out", str(shared_tmp_path / "out")]) == 0
    comm.Barrier()  # rank 0 writes result.json
    result = json.loads((shared_tmp_path / "out" / "result.json").read_text())
    energy = result["energy"]
    assert energy["available"] and energy["steps"] == 2 and energy["within_tolerance"]
    assert energy["max_abs_balance_residual"] <= 1e-10
    assert energy["max_abs_hill_mandel_residual"] <= 1e-10
    assert energy["totals"]["dissipated"] > 0.0 and energy["min_dissipated"] >= 0.0
    assert (shared_tmp_path / "out" / "energy_balance.csv").is_file()


@pytest.mark.parametrize("dim", [2, 3])
def test_neo_hookean_energy_identity_and_a_stress_that_is_not_dW_dF(dim):
    """20 random increments of F at 50 points (steps of 0.005 around F = I, strains to ~6 %): work =
    ΔW + numerical per point to round-off (1e-12 of the largest work; the 8-point path rule makes the
    quadrature error ~|ΔF|^16), no dissipation at all, and the numerical part ≥ 0 and within 5 % of
    ½ ΔF:A:ΔF (A convex on small steps near I; the O(|ΔF|³) remainder is ~1 % here). A law whose
    stress is 1 % off ∂W/∂F leaves a constitutive residual of ~1 % of the stored energy change."""
    from fe2.materials.neo_hookean import NeoHookean

    law = NeoHookean(10.0, 0.3, dim=dim)
    rng = np.random.default_rng(3)
    f = np.tile(np.eye(dim).ravel(), (50, 1))
    for _ in range(20):
        f1 = f + rng.normal(scale=0.005, size=f.shape)
        inc = law.energy_increment(f, f1, None, None)
        scale = np.max(np.abs(inc.work))
        assert np.max(np.abs(inc.residual)) <= 1e-12 * scale
        assert np.all(inc.dissipated == 0.0) and np.all(inc.min_dissipated == 0.0)
        r, w = np.polynomial.legendre.leggauss(8)
        r, w = 0.5 * (r + 1.0), 0.5 * w
        df = f1 - f
        by_tangent = sum(wg * rg * np.einsum("pi,pij,pj->p", df, law.evaluate(f + rg * df, None)[1], df)
                         for rg, wg in zip(r, w, strict=True))
        assert inc.min_numerical.min() >= 0.0
        assert np.allclose(inc.numerical, by_tangent, rtol=1e-9, atol=0.0)
        f = f1

    class _OffStress(NeoHookean):
        def _stress_flat(self, driver):
            return 1.01 * super()._stress_flat(driver)

    bad = _OffStress(10.0, 0.3, dim=dim).energy_increment(np.tile(np.eye(dim).ravel(), (5, 1)), f[:5], None, None)
    assert np.all(np.abs(bad.residual) > 5e-3 * np.abs(bad.stored))


def test_plate_neo_hookean_energy_balance(shared_tmp_path):
    """Finite-strain plate with a hole (neo-Hookean, 3 displacement steps): the audit is available,
    the balance closes to 1e-10 on every step (macro Newton 1e-10; measured 4.7e-12), dissipation is exactly 0, and the
    constitutive identity holds to round-off — the hyperelastic path has no physical dissipation."""
    from fe2.materials.neo_hookean import NeoHookean

    comm = MPI.COMM_WORLD
    solver = _plate(NeoHookean(3.0, 0.35, dim=2), comm)
    rec = run_load_steps(solver, [1 / 3, 2 / 3, 1.0], shared_tmp_path / "nh")
    summary = summarize(rec)
    assert summary["available"] and summary["within_tolerance"]
    assert summary["max_abs_balance_residual"] <= 1e-10
    assert summary["max_abs_constitutive_residual"] <= 1e-12
    assert summary["totals"]["dissipated"] == 0.0 and summary["min_numerical"] >= 0.0
    assert summary["totals"]["stored"] > 0.0


def test_fe2_finite_strain_rve_energy_balance(shared_tmp_path):
    """FE² at finite strain: plate (mesh 0.4) with two-phase neo-Hookean RVEs (E 1 / 20, f = 0.3, periodic),
    30 % stretch in 2 steps. Balance ≤ 1e-10 (measured 3.1e-11: the macro Newton's tolerance), Hill–Mandel
    in increments ≤ 1e-10 (measured 9.3e-13: micro Newton), constitutive identity ≤ 1e-12 (3.1e-16), no
    dissipation, numerical part ≥ 0 at every micro point."""
    from fe2.geometry import square_array
    from fe2.materials.neo_hookean import NeoHookean
    from fe2.micro.nonlinear_rve import NonlinearRVEMaterial

    comm = MPI.COMM_WORLD
    rve = square_array(MPI.COMM_SELF, volume_fraction=0.3, mesh_size=0.3)
    mat = NonlinearRVEMaterial(rve, {"matrix": NeoHookean(1.0, 0.3, dim=2), "fibre": NeoHookean(20.0, 0.3, dim=2)})
    plate = plate_with_hole(comm, mesh_size=0.4)
    bcs = [Dirichlet(plate.tag("left"), 0.0, 0), Dirichlet(plate.tag("bottom"), 0.0, 1),
           Dirichlet(plate.tag("right"), 0.3, 0)]
    solver = QuasiStaticMacroProblem(plate.mesh, plate.facet_tags, mat, dirichlet=bcs)
    summary = summarize(run_load_steps(solver, [0.5, 1.0], shared_tmp_path / "fe2_nh"))
    assert summary["available"] and summary["within_tolerance"]
    assert summary["max_abs_balance_residual"] <= 1e-10
    assert summary["max_abs_hill_mandel_residual"] <= 1e-10
    assert summary["max_abs_constitutive_residual"] <= 1e-12
    assert summary["totals"]["dissipated"] == 0.0 and summary["min_numerical"] >= 0.0
