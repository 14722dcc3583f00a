"""``fe2 uq`` over other fe2 commands than homogenize, in-process on COMM_SELF.

``fe2 reactions`` (well-mixed birth–death, ODE): A(T) = k/g (1 - e^{-gT}) is linear in k, so a
degree-1 polynomial chaos by 2-point Gauss–Legendre quadrature in k ~ U(5, 15) is exact: its mean
and variance are c E[k], c² Var k with c = (1 - e^{-gT})/g, and S1 = ST = 1 for k. The QoI is
read twice, from result.json (``final.A[0]``) and from the CSV column ``A`` (last row): the two
agree to the digits the CSV keeps. Each sample's folder is kept (``keep_sample_outputs``).
"""

from __future__ import annotations

import json
import math

import pytest
from mpi4py import MPI

from fe2.apps.uq.runner import run_uq
from fe2.config.uq import load_uq_config

pytestmark = pytest.mark.serial  # in-process COMM_SELF runs: every rank would repeat them

BIRTH_DEATH = """
mode = "well_mixed"
[network.species]
A = 0
[network.parameters]
k = 10.0
g = 1.0
[[network.reactions]]
equation = "-> A"
k = "k"
[[network.reactions]]
equation = "A ->"
k = "g"
[well_mixed]
method = "bdf"
t_end = 5.0
n_out = 11
rtol = 1e-8
atol = 1e-10
"""

STUDY = """
base = "reactions:birth_death.toml"
method = "pce"
keep_sample_outputs = true
[[inputs]]
key = "network.parameters.k"
distribution = "uniform"
low = 5.0
high = 15.0
[[qoi]]
name = "A_final"
path = "final.A[0]"
[[qoi]]
name = "A_csv"
csv = "timeseries.csv"
column = "A"
[pce]
degree = 1
rule = "quadrature"
"""


def test_pce_over_reactions_is_exact_for_a_linear_response(tmp_path):
    (tmp_path / "birth_death.toml").write_text(BIRTH_DEATH)
    study = tmp_path / "study.toml"
    study.write_text(STUDY)
    res = run_uq(load_uq_config(study), study, MPI.COMM_SELF, tmp_path / "out")
    c = 1.0 - math.exp(-5.0)
    assert res["samples"]["count"] == 2  # 2 Gauss-Legendre nodes
    for name in ("A_final", "A_csv"):
        rec = res["pce"]["qoi"][name]
        # BDF at rtol 1e-8: the ODE's own error (2e-8 relative, measured) is what is left
        assert rec["mean"] == pytest.approx(10.0 * c, rel=1e-6)
        assert rec["variance"] == pytest.approx(100.0 / 12.0 * c * c, rel=1e-5)
        assert rec["indices"]["network.parameters.k"]["S1"] == pytest.approx(1.0, abs=1e-12)
    kept = sorted(p.name for p in (tmp_path / "out" / "samples").iterdir() if p.is_dir())
    assert kept == ["000000", "000001"]
    node = json.loads((tmp_path / "out" / "samples" / "000000" / "result.json").read_text())
    assert node["final"]["A"][0] == pytest.approx(res["pce"]["qoi"]["A_final"]["mean"], rel=0.5)


PLATE = """
[macro]
domain = { kind = "plate_with_hole", width = 1.0, height = 1.0, radius = 0.2, mesh_size = 0.25 }
degree = 1
dirichlet = [
    { boundary = "left", component = 0, value = 0.0 },
    { boundary = "bottom", component = 1, value = 0.0 },
    { boundary = "right", component = 0, value = 0.01 },
]
[loading]
load_factors = [1.0]
monitor = { boundary = "right", component = 0 }
[material]
model = "elastic"
young = 2.0
poisson = 0.3
"""

RUN_STUDY = """
base = "run:plate.toml"
method = "pce"
[[inputs]]
key = "material.young"
distribution = "uniform"
low = 1.0
high = 3.0
[[qoi]]
name = "R"
path = "steps[-1].reaction"
[pce]
degree = 1
rule = "quadrature"
"""


def test_pce_over_run_reaction_is_linear_in_young(tmp_path):
    """``fe2 run`` with a single-scale linear-elastic law under displacement control: the reaction force
    is R = c E (c from the geometry and ν alone), so a degree-1 PCE in E ~ U(1, 3) is exact — mean
    c E[E] = 2c, variance c² Var E = c²/3 — and S1 = ST = 1. c is read off the two Gauss nodes'
    R/E, which must agree to the linear solve's round-off (asserted 1e-10 relative)."""
    (tmp_path / "plate.toml").write_text(PLATE)
    study = tmp_path / "study.toml"
    study.write_text(RUN_STUDY)
    res = run_uq(load_uq_config(study), study, MPI.COMM_SELF, tmp_path / "out")
    lines = [json.loads(s) for s in (tmp_path / "out" / "samples" / "rank0.jsonl").read_text().splitlines()]
    ratios = [r["qoi"]["R"] / r["x"][0] for r in lines]
    assert len(ratios) == 2 and ratios[0] == pytest.approx(ratios[1], rel=1e-10)
    c = ratios[0]
    rec = res["pce"]["qoi"]["R"]
    assert abs(c) > 0
    assert rec["mean"] == pytest.approx(2.0 * c, rel=1e-10)
    assert rec["variance"] == pytest.approx(c * c / 3.0, rel=1e-10)
    assert rec["indices"]["material.young"]["S1"] == pytest.approx(1.0, abs=1e-12)


PHASEFIELD = """
model = "cahn_hilliard"
kappa = 2.0
mobility = 5.0
boundary = "noflux"
[domain]
length = [20.0, 20.0]
cells = [8, 8]
[energy]
kind = "double_well"
rho = 5.0
[initial]
kind = "pfhub_bm1"
c0 = 0.5
amplitude = 0.01
[time]
t_end = 1.0
dt = 1.0
adaptive = false
"""

PF_STUDY = """
base = "phasefield:pf.toml"
method = "pce"
[[inputs]]
key = "energy.rho"
distribution = "uniform"
low = 2.0
high = 8.0
[[qoi]]
name = "E0"
path = "energy_initial"
[pce]
degree = 2
rule = "quadrature"
"""


def test_pce_over_phasefield_initial_energy_is_linear_in_rho(tmp_path):
    """``fe2 phasefield`` (Cahn–Hilliard, double well ρ c²(1 − c)²): the initial free energy
    F0 = ρ ∫ c0²(1 − c0)² dx + κ/2 ∫ |∇c0|² dx is affine in ρ (the initial field does not depend on it),
    so a degree-2 PCE in ρ ~ U(2, 8) on 3 Gauss nodes has a zero quadratic coefficient (asserted
    1e-9 of the linear one: quadrature and assembly round-off) and S1 = 1."""
    (tmp_path / "pf.toml").write_text(PHASEFIELD)
    study = tmp_path / "study.toml"
    study.write_text(PF_STUDY)
    rec = run_uq(load_uq_config(study), study, MPI.COMM_SELF, tmp_path / "out")["pce"]["qoi"]["E0"]
    c = rec["coefficients"]
    assert len(c) == 3 and abs(c[1]) > 0
    assert abs(c[2]) <= 1e-9 * abs(c[1])
    assert rec["indices"]["energy.rho"]["S1"] == pytest.approx(1.0, abs=1e-12)


BOUNDS = """
physics = "conductivity"
dim = 2
sizes = [2]
realizations = 2
volume_fraction = 0.3
radius = 0.5
elements_per_radius = 2
seed = 1
measures = ["k"]
[materials.matrix]
conductivity = 1.0
[materials.inclusion]
conductivity = 10.0
"""

BOUNDS_STUDY = """
base = "bounds:b.toml"
method = "mc"
seed = 5
[[inputs]]
key = "seed"
distribution = "uniform"
integer = true
low = 0
high = 1000000
kind = "aleatory"
[[qoi]]
name = "k_periodic"
path = "cases.main.sizes[0].stats.periodic.k.mean"
[[qoi]]
name = "k_kubc"
path = "cases.main.sizes[0].stats.kubc.k.mean"
[[qoi]]
name = "k_tubc"
path = "cases.main.sizes[0].stats.tubc.k.mean"
[mc]
n = 2
"""


def test_uq_over_bounds_runs_the_study_of_each_seed(tmp_path):
    """``fe2 uq`` over ``fe2 bounds`` with the microstructure seed as the (aleatory) input: each
    sample's QoIs are exactly those of ``fe2 bounds`` run by itself with that seed (same code, same
    process: asserted bitwise), two seeds give two microstructures (different k), and every sample
    keeps the bound ordering KUBC ≥ periodic ≥ TUBC of the means (it holds per realization) (a theorem for exact
    integrals; margin 1e-12 relative for the solver's round-off)."""
    from fe2.apps.bounds import run_bounds_study
    from fe2.config.bounds import load_bounds_config

    (tmp_path / "b.toml").write_text(BOUNDS)
    study = tmp_path / "study.toml"
    study.write_text(BOUNDS_STUDY)
    run_uq(load_uq_config(study), study, MPI.COMM_SELF, tmp_path / "out")
    lines = [json.loads(s) for s in (tmp_path / "out" / "samples" / "rank0.jsonl").read_text().splitlines()]
    assert len(lines) == 2
    seeds = [int(r["x"][0]) for r in lines]
    assert seeds[0] != seeds[1]
    ks = [r["qoi"]["k_periodic"] for r in lines]
    assert ks[0] != ks[1]
    for r in lines:
        q = r["qoi"]
        assert q["k_kubc"] >= q["k_periodic"] * (1 - 1e-12) and q["k_periodic"] >= q["k_tubc"] * (1 - 1e-12)
    bounds_file = tmp_path / "b_direct.toml"
    bounds_file.write_text(BOUNDS.replace("seed = 1", f"seed = {seeds[0]}"))
    summary = run_bounds_study(load_bounds_config(bounds_file), MPI.COMM_SELF, tmp_path / "direct", fresh=True)
    stats = summary["cases"]["main"]["sizes"][0]["stats"]
    assert stats["periodic"]["k"]["mean"] == lines[0]["qoi"]["k_periodic"]
    assert stats["kubc"]["k"]["mean"] == lines[0]["qoi"]["k_kubc"]
