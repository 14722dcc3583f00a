"""``fe2 identify``: end to end, calibration vs validation, one-line errors.

* synthetic mode on decay at rate k1 k2 with an unknown initial value (collective: also under
  ``mpirun -n 2``, rank 0 computes and every rank gets the result): the CSV files carry units,
  k1 and k2 are structurally non-identifiable by both tests with the combination k1*k2, the
  profile of k2 is flat and that of k1 bounded only through k2's bounds (reported so), A(0) is
  identifiable with a finite interval; the validation metrics equal the ones recomputed from
  validation.csv at the estimate;
* data mode: the fit uses the calibration file only — a validation file shifted by 10 sigma
  leaves the estimates unchanged to the last digit and is reported inconsistent with the noise
  model (normalized chi2 ~ 1 + 10^2), while an unshifted one is consistent;
* bad input (unknown parameter / species / observable, bounds, wrong data columns or units) is
  one ``fe2: error:`` line naming the key, exit 2, no result.json;
* the shipped demo configs validate.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from mpi4py import MPI

from fe2.apps.identify.data import write_time_course
from fe2.apps.identify.runner import run_identify
from fe2.cli import main
from fe2.config.identify import load_identify
from fe2.physics.reactions import profile_likelihood as pl
from fe2.physics.reactions.sensitivity import SensitivityModel

ROOT = Path(__file__).resolve().parents[2]
DEMOS = sorted((ROOT / "demos" / "configs" / "identify").glob("*.toml"))

PRODUCT = """
observables = ["A"]

[network.species]
A = 2.0

[network.parameters]
k1 = 2.0
k2 = 0.5

[[network.reactions]]
equation = "A ->"
law = "expression"
rate = "k1*k2*A"

[units]
time = "s"
amount = "mM"

[parameters.k1]
nominal = 2.0
lower = 0.5
upper = 8.0
unit = "1/s"

[parameters.k2]
nominal = 0.5
lower = 0.15
upper = 1.8

[initial.A]
nominal = 2.0
lower = 0.5
upper = 8.0

[noise]
sigma = 0.02

[design]
t_end = 4.0
n_times = 9

[synthetic]
seed = 3

[fit]
starts = 1
"""

DECAY = """
observables = {{ A = "A" }}

[network.species]
A = 1.0

[network.parameters]
k = 0.7

[[network.reactions]]
equation = "A ->"
k = "k"

[units]
time = "s"
amount = "mM"

[parameters.k]
nominal = 0.7
lower = 0.01
upper = 10.0

[noise]
sigma = {{ A = 0.01 }}

[structural]
symbolic = false

[fit]
starts = 1

[data]
calibration = "{cal}"
validation = "{val}"
"""


def _write(folder: Path, name: str, text: str) -> Path:
    p = folder / name
    if MPI.COMM_WORLD.rank == 0:
        p.write_text(text)
    MPI.COMM_WORLD.Barrier()
    return p


def test_synthetic_end_to_end(shared_tmp_path):
    comm = MPI.COMM_WORLD
    cfg_path = _write(shared_tmp_path, "product.toml", PRODUCT)
    cfg, network = load_identify(cfg_path)
    out = shared_tmp_path / "out"
    res = run_identify(cfg, network, comm, out)
    v = res["verdicts"]
    assert v["k1"]["structural_local"] == v["k2"]["structural_local"] == "not identifiable"
    assert v["k1"]["structural_symbolic"] == v["k2"]["structural_symbolic"] == "not identifiable"
    assert v["A(0)"] == v["A(0)"] | {"structural_local": "identifiable", "structural_symbolic": "identifiable",
                                     "practical": "finite"}
    # k2 flat: every k2 in [0.15, 1.8] is matched by k1 = p_hat / k2 inside [0.5, 8] (p = k1 k2);
    # k1 is "finite" only through k2's bounds: its ends lie just beyond p_hat / 1.8 and p_hat / 0.15
    # (a few % beyond: the threshold is crossed soon after k2 sticks at its bound, sigma is small)
    assert v["k2"]["practical"] == "flat"
    assert v["k1"]["practical"] == "finite" and v["k1"]["end_limited_by_bounds_of"] == ["k2"]
    p_hat = v["k1"]["estimate"] * v["k2"]["estimate"]
    assert 0.9 * p_hat / 1.8 < v["k1"]["interval"][0] < p_hat / 1.8
    assert p_hat / 0.15 < v["k1"]["interval"][1] < 1.1 * p_hat / 0.15
    assert res["structural_local"]["identifiable_combinations"] == ["k1*k2"]
    assert res["structural_symbolic"]["identifiable_combinations"] == ["k1*k2"]
    lo, hi = v["A(0)"]["interval"]
    assert lo < v["A(0)"]["estimate"] < hi
    with open(out / "result.json") as fh:
        assert json.load(fh)["verdicts"] == v
    for f in ["calibration.csv", "validation.csv", "fit.png", "profile_k1.png", "profile_k2.png", "profile_A_0.png"]:
        assert (out / f).is_file(), f
    with open(out / "validation.csv", newline="") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == ["time [s]", "A [mM]"] and len(rows) == 10
    # validation metrics = chi2 of validation.csv at the estimate, recomputed here (no refit)
    model = SensitivityModel(network, ["k1", "k2"], ["A"], ["A"])
    est = np.array([v[n]["estimate"] for n in ("k1", "k2", "A(0)")])
    data = np.array(rows[1:], dtype=float)
    pred = model.simulate(est, data[:, 0], sensitivities=False).y[:, 0]
    chi2 = float(np.sum(((data[:, 1] - pred) / 0.02) ** 2))
    assert res["validation"]["chi2"] == pytest.approx(chi2, rel=1e-8)  # same integrator and tolerances
    assert res["validation"]["degrees_of_freedom"] == 9


def test_fit_uses_calibration_only(shared_tmp_path):
    """A 10-sigma shift of the validation file changes nothing in the fit and fails validation."""
    folder = shared_tmp_path
    if MPI.COMM_WORLD.rank == 0:
        from fe2.physics.reactions.network_file import network_from_dict

        net = network_from_dict({"species": {"A": 1.0}, "parameters": {"k": 0.7},
                                 "reactions": [{"equation": "A ->", "k": "k"}]})
        m = SensitivityModel(net, ["k"], ["A"])
        rng = np.random.default_rng(11)
        t = np.linspace(0, 3, 13)
        cal = pl.synthetic_data(m, m.nominal(), t, [0.01], rng)
        val = pl.synthetic_data(m, m.nominal(), t, [0.01], rng)
        write_time_course(folder / "cal.csv", cal, "s", "mM")
        write_time_course(folder / "val.csv", val, "s", "mM")
        write_time_course(folder / "val_shifted.csv", pl.TimeCourse(val.times, val.values + 0.1, val.names), "s", "mM")
    MPI.COMM_WORLD.Barrier()
    results = []
    for name, val in (("ok.toml", "val.csv"), ("shifted.toml", "val_shifted.csv")):
        p = _write(folder, name, DECAY.format(cal="cal.csv", val=val))
        cfg, network = load_identify(p)
        results.append(run_identify(cfg, network, MPI.COMM_WORLD, folder / f"out_{name}"))
    ok, shifted = results
    assert ok["calibration"]["estimate"] == shifted["calibration"]["estimate"]
    assert ok["profiles"]["k"]["lower"] == shifted["profiles"]["k"]["lower"]
    assert ok["validation"]["consistent_with_noise_model"]
    assert not shifted["validation"]["consistent_with_noise_model"]
    assert shifted["validation"]["normalized_chi2"] > 50  # ~1 + (0.1/0.01)^2 = 101 give or take the noise
    assert shifted["validation"]["rmse"]["A"] == pytest.approx(0.1, rel=0.2)


BAD = [
    (PRODUCT.replace("[parameters.k2]", "[parameters.kx]"), "parameters.kx: unknown parameter"),
    (PRODUCT.replace("[initial.A]", "[initial.Q]"), "initial.Q: unknown species"),
    (PRODUCT.replace('observables = ["A"]', 'observables = ["Z"]'), "observables.Z: unknown species or parameter"),
    (PRODUCT.replace("lower = 0.5\nupper = 8.0\nunit", "lower = 5.0\nupper = 8.0\nunit"),
     "parameters.k1: need lower <= nominal <= upper"),
    (PRODUCT.replace("sigma = 0.02", "sigma = { B = 0.02 }"), "noise.sigma.B: not an observable"),
    (PRODUCT.replace("seed = 3", "seed = 3\ntruth = { k9 = 1.0 }"), "synthetic.truth.k9: not a studied parameter"),
    (PRODUCT.replace("[parameters.k1]", "[parameters.k1]\nnominall = 1"), "parameters.k1.nominall: unknown key"),
]

CSV_BAD = [
    ("time [s],A [mM],B [mM]\n0,1,1\n1,0.5,0.5\n", "data.calibration: column 'B' is not an observable"),
    ("time [s],C [mM]\n0,1\n1,0.5\n", "data.calibration: no column for observable 'A'"),
    ("time [min],A [mM]\n0,1\n1,0.5\n", "data.calibration: column 'time' is in [min] but units.time = 's'"),
    ("time [s],A [mM]\n0,1\n1,x\n", "data.calibration: line 3"),
    ("A [mM]\n1\n0.5\n", "data.calibration: no 'time' column"),
]


@pytest.mark.serial
def test_bad_input_one_line_exit_2(tmp_path, capsys):
    cases = [(t, n) for t, n in BAD]
    for i, (text, needle) in enumerate(CSV_BAD):
        (tmp_path / f"bad{i}.csv").write_text(text)
        (tmp_path / "val.csv").write_text("time [s],A [mM]\n0,1\n1,0.5\n")
        cases.append((DECAY.format(cal=f"bad{i}.csv", val="val.csv"), needle))
    for i, (text, needle) in enumerate(cases):
        path = tmp_path / f"case{i}.toml"
        path.write_text(text)
        out = tmp_path / f"out{i}"
        assert main(["identify", str(path), "--out", str(out)]) == 2, needle
        err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
        assert len(err) == 1 and err[0].startswith("fe2: error: ") and needle in err[0], (i, err)
        assert str(path) in err[0]
        assert not (out / "result.json").exists()


@pytest.mark.parametrize("path", DEMOS, ids=[p.name for p in DEMOS])
def test_demo_configs_validate(path):
    cfg, network = load_identify(path)
    assert cfg.synthetic is not None and set(cfg.parameters) <= set(network.parameters)


def test_sbml_network_structural_only(shared_tmp_path):
    """An SBML model (full Michaelis–Menten mass action, E + S <-> C -> E + P) with S and P observed
    and no data: only the structural tests run. The two independent tests agree — k1, km1, k2
    identifiable (P' = k2 C and S' = -k1 E S + km1 C with E = E0 - C determine them) — and the
    symbolic one is full rank 7 of (E, S, C, P)(0) + 3 rates; no fit, no profile files. With
    ``symbolic_initial = "configured"`` (Taylor series at the file's initial state) the unknowns
    are the 3 rates, full rank."""
    sbml = ROOT / "tests" / "data" / "sbml" / "enzyme_mm.xml"
    text = f'sbml = "{sbml}"\nobservables = ["S", "P"]\n[design]\nt_end = 10.0\nn_times = 21\n' + "".join(
        f"[parameters.{k}]\nnominal = 1.0\nlower = 0.1\nupper = 10.0\n" for k in ("k1", "km1", "k2"))
    cfg, network = load_identify(_write(shared_tmp_path, "sbml.toml", text))
    res = run_identify(cfg, network, MPI.COMM_WORLD, shared_tmp_path / "out_sbml")
    assert res["structural_local"]["rank"] == 3
    assert res["structural_symbolic"]["rank"] == res["structural_symbolic"]["dimension"] == 7
    assert all(v == {"structural_local": "identifiable", "structural_symbolic": "identifiable"}
               for v in res["verdicts"].values())
    assert res["files"] == ["result.json"] and "calibration" not in res
    # the Taylor-series variant at the SBML file's initial state (E, S, C, P) = (1, 10, 0, 0): full rank 3
    text2 = text + '[structural]\nsymbolic_initial = "configured"\n'
    cfg2, network2 = load_identify(_write(shared_tmp_path, "sbml_known.toml", text2))
    sym = run_identify(cfg2, network2, MPI.COMM_WORLD, shared_tmp_path / "out_sbml2")["structural_symbolic"]
    assert (sym["status"], sym["rank"], sym["unknowns"], sym["initial_state"]) == (
        "conclusive", 3, ["k1", "km1", "k2"], "configured")
