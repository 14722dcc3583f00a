"""``fe2 uq`` against closed forms, through the whole machinery (config, design, ensemble, store, analysis).

Python bases (:mod:`fe2.analytic.sensitivity`), run in-process on COMM_SELF:

* Ishigami (a = 7, b = 0.1): Sobol' S1 and ST of the three inputs within their 95 % bootstrap
  intervals of the exact values, which the test recomputes from the closed form;
* a total-degree-3 polynomial in U(-1, 1), N(0, 1), U(0, 2): the PCE of degree 3 (regression and
  Gaussian quadrature) reproduces mean, variance, S1 and ST to round-off (the exact ANOVA terms
  are derived in the test); adaptive degree selection picks degree 3 by leave-one-out error;
* Morris on a linear function: μ*_i = |c_i| (b_i - a_i) exactly and σ = 0;
* Y = θ + ε (θ epistemic, ε aleatory, Gaussian): the split within 3 exact standard errors, and
  with Y = θ + ε L^-1 scanned over L the fitted aleatory exponent -2 (epistemic ~ 0).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from mpi4py import MPI

from fe2.apps.uq.runner import run_uq
from fe2.config.uq import load_uq_config

pytestmark = pytest.mark.serial  # pure numpy on COMM_SELF: every rank would repeat it

PI = math.pi


def _run(tmp_path: Path, text: str, name: str = "study") -> dict:
    study = tmp_path / f"{name}.toml"
    study.write_text(text)
    return run_uq(load_uq_config(study), study, MPI.COMM_SELF, tmp_path / name)


def _uniform(key: str, low: float, high: float, kind: str = "epistemic") -> str:
    return (f'[[inputs]]\nkey = "{key}"\ndistribution = "uniform"\nlow = {low!r}\nhigh = {high!r}\n'
            f'kind = "{kind}"\n')


def _normal(key: str, mean: float, std: float, kind: str = "epistemic") -> str:
    return f'[[inputs]]\nkey = "{key}"\ndistribution = "normal"\nmean = {mean!r}\nstd = {std!r}\nkind = "{kind}"\n'


ISHIGAMI = ('base = "python:fe2.analytic.sensitivity:ishigami"\nmethod = "sobol"\nseed = 3\n'
            'base_arguments = { a = 7.0, b = 0.1 }\n'
            + "".join(_uniform(f"x{i}", -PI, PI) for i in (1, 2, 3))
            + '[[qoi]]\nname = "y"\npath = "y"\n[sobol]\nn = 1024\nconfidence = 0.95\n')


def test_ishigami_sobol_indices_within_their_intervals_of_the_exact_values(tmp_path):
    a, b = 7.0, 0.1
    v1 = 0.5 * (1 + b * PI ** 4 / 5) ** 2
    v2 = a ** 2 / 8
    v13 = b ** 2 * PI ** 8 * (1 / 18 - 1 / 50)  # E[x3^8] - E[x3^4]^2 on U(-π, π), times b² E[sin² x1]
    v = v1 + v2 + v13
    exact_s1 = [v1 / v, v2 / v, 0.0]
    exact_st = [(v1 + v13) / v, v2 / v, v13 / v]
    assert exact_s1[0] == pytest.approx(0.3139, abs=1e-4) and exact_st[2] == pytest.approx(0.2437, abs=1e-4)
    res = _run(tmp_path, ISHIGAMI)
    rec = res["sobol"]["qoi"]["y"]
    assert res["samples"]["count"] == 1024 * 5  # Saltelli, d = 3, second order off: n (d + 2)
    assert rec["variance"] == pytest.approx(v, rel=0.05)  # 5120 runs: sampling error of a variance ~2 %
    for k, key in enumerate(("x1", "x2", "x3")):
        idx = rec["indices"][key]
        # the test: each estimate within its own 95 % interval of the exact value
        assert abs(idx["S1"] - exact_s1[k]) <= idx["S1_ci"], (key, idx, exact_s1[k])
        assert abs(idx["ST"] - exact_st[k]) <= idx["ST_ci"], (key, idx, exact_st[k])
        assert idx["S1_ci"] < 0.1 and idx["ST_ci"] < 0.1  # intervals that say something
    assert (tmp_path / "study" / "sobol_y.png").is_file()


def _polynomial_exact() -> dict:
    """ANOVA of y = 1 + 2 x1 + x2² - 3 x1 x3 + 0.5 x1 x2 x3, x1 ~ U(-1,1), x2 ~ N(0,1), x3 ~ U(0,2)."""
    v1x, m3, v3x = 1 / 3, 1.0, 1 / 3  # Var x1, E x3, Var x3; E x2² = 1, Var x2² = 2
    terms = {
        "1": (2 - 3 * m3) ** 2 * v1x,  # f1 = x1 (2 - 3 m3)
        "2": 2.0,  # f2 = x2² - 1
        "12": 0.25 * m3 ** 2 * v1x,  # f12 = 0.5 m3 x1 x2
        "13": 9 * v1x * v3x,  # f13 = -3 x1 (x3 - m3)
        "123": 0.25 * v1x * v3x,  # f123 = 0.5 x1 x2 (x3 - m3)
    }
    v = sum(terms.values())
    s1 = [terms["1"] / v, terms["2"] / v, 0.0]
    st = [sum(t for k, t in terms.items() if str(i) in k) / v for i in (1, 2, 3)]
    return {"mean": 2.0, "variance": v, "S1": s1, "ST": st}


def _polynomial_study(pce: str) -> str:
    return ('base = "python:fe2.analytic.sensitivity:polynomial"\nmethod = "pce"\nseed = 5\n'
            + _uniform("x1", -1.0, 1.0) + _normal("x2", 0.0, 1.0) + _uniform("x3", 0.0, 2.0)
            + '[[qoi]]\nname = "y"\npath = "y"\n' + pce)


@pytest.mark.parametrize("pce", ['[pce]\ndegree = 3\nrule = "regression"\nvalidation = 8\n',
                                 '[pce]\ndegree = 3\nrule = "quadrature"\n',
                                 '[pce]\ndegree = 3\nrule = "quadrature"\nsparse = true\n'],
                         ids=["regression", "quadrature", "sparse-quadrature"])
def test_pce_of_a_polynomial_is_exact_with_exact_sobol_indices(tmp_path, pce):
    exact = _polynomial_exact()
    rec = _run(tmp_path, _polynomial_study(pce))["pce"]["qoi"]["y"]
    # round-off: coefficients from a QR solve / a 64-node (83-node Smolyak) rule of O(1) numbers, V ≈ 3.4
    assert rec["mean"] == pytest.approx(exact["mean"], abs=1e-10)
    assert rec["variance"] == pytest.approx(exact["variance"], rel=1e-10)
    for k, key in enumerate(("x1", "x2", "x3")):
        assert rec["indices"][key]["S1"] == pytest.approx(exact["S1"][k], abs=1e-10)
        assert rec["indices"][key]["ST"] == pytest.approx(exact["ST"][k], abs=1e-10)
    if rec["loo_relative_error"] is not None:
        assert rec["loo_relative_error"] < 1e-20  # residuals at round-off, relative to var y ≈ 3
        assert rec["validation"]["relative_mse"] < 1e-20


def test_adaptive_pce_picks_the_degree_of_the_polynomial(tmp_path):
    rec = _run(tmp_path, _polynomial_study('[pce]\ndegree = 3\nadaptive = true\nsamples = 60\n'))["pce"]["qoi"]["y"]
    loo = rec["loo_by_degree"]
    # degrees 1 and 2 miss the x1 x2 x3 term (variance share ≈ 0.9 %) and more: clearly nonzero error
    assert loo["1"] > 1e-3 and loo["2"] > 1e-3 and loo["3"] < 1e-20
    assert rec["degree"] == 3


def test_morris_elementary_effects_of_a_linear_function_are_exact(tmp_path):
    (tmp_path / "linear.py").write_text(
        "def f(x):\n    return {'y': 3.0 * x['a'] - 2.0 * x['b'] + 0.0 * x['c']}\n")
    text = ('base = "python:linear.py:f"\nmethod = "morris"\nseed = 2\n'
            + _uniform("a", 0.0, 2.0) + _uniform("b", -1.0, 4.0) + _uniform("c", 0.0, 1.0)
            + '[[qoi]]\nname = "y"\npath = "y"\n[morris]\ntrajectories = 8\nlevels = 4\n')
    rec = _run(tmp_path, text)["morris"]["qoi"]["y"]
    # exact: EE_i = c_i (b_i - a_i) per unit probability for a uniform input; no interaction, σ = 0
    for key, want in (("a", 6.0), ("b", 10.0), ("c", 0.0)):
        assert rec["indices"][key]["mu_star"] == pytest.approx(want, abs=1e-12)
        assert rec["indices"][key]["sigma"] == pytest.approx(0.0, abs=1e-12)
    assert rec["ranking"] == ["b", "a", "c"]


def test_variance_split_of_a_linear_gaussian_hierarchical_model(tmp_path):
    s_theta, s_eps, m, n = 1.0, 0.5, 400, 10
    text = ('base = "python:fe2.analytic.sensitivity:hierarchical_gaussian"\nmethod = "split"\nseed = 7\n'
            + _normal("theta", 0.0, s_theta) + _normal("eps", 0.0, s_eps, "aleatory")
            + f'[[qoi]]\nname = "y"\npath = "y"\n[split]\nouter = {m}\ninner = {n}\nresamples = 400\n')
    rec = _run(tmp_path, text)["split"]["qoi"]["y"]
    # exact standard errors of the ANOVA estimators for Gaussian groups: s_i² ~ σε² χ²(n-1)/(n-1),
    # the group means ~ N(0, σθ² + σε²/n), independent of the s_i²
    se_a = s_eps ** 2 * math.sqrt(2.0 / (m * (n - 1)))
    se_e = math.sqrt(2.0 * (s_theta ** 2 + s_eps ** 2 / n) ** 2 / (m - 1) + (se_a / n) ** 2)
    assert abs(rec["aleatory"] - s_eps ** 2) < 3 * se_a, (rec["aleatory"], se_a)  # 3 σ: p ≈ 0.3 % per check
    assert abs(rec["epistemic"] - s_theta ** 2) < 3 * se_e, (rec["epistemic"], se_e)
    # the bootstrap over groups estimates those errors from the data: an SE is proportional to the
    # estimated variance, relative scatter sqrt(2/(M-1)) ≈ 7 % for M = 400 groups, plus ≈ 3.5 % from 400
    # resamples; 15 % is about 2 of those combined (measured with seed 7: -7 % and -12 %)
    assert rec["aleatory_se"] == pytest.approx(se_a, rel=0.15)
    assert rec["epistemic_se"] == pytest.approx(se_e, rel=0.15)
    assert rec["aleatory_ci"][0] < rec["aleatory"] < rec["aleatory_ci"][1]


def test_variance_split_scan_fits_the_aleatory_exponent(tmp_path):
    (tmp_path / "rve_like.py").write_text(
        "def f(x):\n    return {'y': x['theta'] + x['eps'] / x['L']}\n")  # Var(Y|θ) = σε² L^-2 (like L^-d, d = 2)
    text = ('base = "python:rve_like.py:f"\nmethod = "split"\nseed = 4\n'
            + _normal("theta", 1.0, 0.3) + _normal("eps", 0.0, 1.0, "aleatory")
            + '[[qoi]]\nname = "y"\npath = "y"\n[split]\nouter = 200\ninner = 8\nresamples = 200\n'
            + '[split.scan]\nkey = "L"\nvalues = [1.0, 2.0, 4.0]\n')
    rec = _run(tmp_path, text)["split"]["qoi"]["y"]
    rows = rec["by_scan"]
    assert [r["size"] for r in rows] == [1.0, 2.0, 4.0]
    # common random numbers: the same ε draws at every L, so the aleatory estimates scale exactly as L^-2
    assert rec["exponent_aleatory"] == pytest.approx(-2.0, abs=1e-9)
    # the epistemic estimate: Var(group means) - aleatory/n uses the same θ draws at every L, so it is
    # flat up to the inner-mean noise that differs with L: within 3 of its standard errors of 0.09
    for r in rows:
        assert abs(r["epistemic"] - 0.09) < 3 * r["epistemic_se"]
    assert (tmp_path / "study" / "split_y.png").is_file()


def test_designs_do_not_depend_on_the_distribution_draw_order():
    """from_unit maps each input by its own inverse CDF: integers low..high equally likely, laws exact."""
    from fe2.apps.uq.distributions import from_unit
    from fe2.config.uq import UQInput

    seed = UQInput(key="s", distribution="uniform", low=0, high=3, integer=True)
    logn = UQInput(key="k", distribution="lognormal", mu=math.log(10.0), sigma=0.3)
    trunc = UQInput(key="t", distribution="truncnormal", mean=0.0, std=1.0, low=-0.5, high=2.0)
    u = (np.arange(4000) + 0.5) / 4000
    x = from_unit([seed, logn, trunc], np.column_stack([u, u, u]))
    assert sorted(set(x[:, 0])) == [0, 1, 2, 3] and np.all(np.bincount(x[:, 0].astype(int)) == 1000)
    assert np.median(x[:, 1]) == pytest.approx(10.0, rel=1e-3)  # median e^mu (midpoint rule: 1e-3)
    assert x[:, 2].min() >= -0.5 and x[:, 2].max() <= 2.0


def test_correlated_inputs_by_gaussian_copula(tmp_path):
    """x1 ~ N(1, 2²), x2 ~ N(-1, 0.5²) with correlation 0.6: Var(x1 + x2) = 4 + 0.25 + 2·0.6·2·0.5 = 5.45."""
    import json

    (tmp_path / "pair.py").write_text("def f(x):\n    return {'s': x['x1'] + x['x2']}\n")
    n = 4000
    text = ('base = "python:pair.py:f"\nmethod = "mc"\nseed = 9\n' + _normal("x1", 1.0, 2.0) + _normal("x2", -1.0, 0.5)
            + '[[correlations]]\ninputs = ["x1", "x2"]\nrho = 0.6\n'
            + f'[[qoi]]\nname = "s"\npath = "s"\n[mc]\nn = {n}\n')
    rec = _run(tmp_path, text)["mc"]["qoi"]["s"]
    var = 5.45
    # sampling error of a Gaussian sample variance: var sqrt(2/(n-1)) ≈ 0.12; 3 σ
    assert rec["std"] ** 2 == pytest.approx(var, abs=3 * var * math.sqrt(2.0 / (n - 1)))
    x = np.array([json.loads(line)["x"] for line in (tmp_path / "study" / "samples" / "rank0.jsonl").open()])
    # sample correlation: standard error (1 - rho²)/sqrt(n) ≈ 0.010; 3 σ. Marginal std of x1: 2/sqrt(2n) ≈ 0.022
    assert np.corrcoef(x.T)[0, 1] == pytest.approx(0.6, abs=3 * 0.64 / math.sqrt(n))
    assert np.std(x[:, 0], ddof=1) == pytest.approx(2.0, abs=3 * 2.0 / math.sqrt(2 * n))


def test_correlations_are_refused_where_indices_assume_independence(tmp_path):
    from fe2.errors import ConfigError

    text = (ISHIGAMI.replace("n = 1024", "n = 8")
            + '[[correlations]]\ninputs = ["x1", "x2"]\nrho = 0.3\n')
    study = tmp_path / "s.toml"
    study.write_text(text)
    with pytest.raises(ConfigError, match="correlations: only for method"):
        load_uq_config(study)


def test_unbuildable_realizations_are_redrawn_with_derived_seeds(tmp_path):
    """A base whose realization fails for some seeds (as a jammed packing or an unmatched periodic mesh
    does): those samples are rerun with derived seeds, deterministically, and the study completes."""
    import json

    (tmp_path / "fragile.py").write_text(
        "from fe2.errors import GeometryError\n"
        "def f(x):\n"
        "    if x['seed'] % 3 == 0:\n"
        "        raise GeometryError('cannot pack')\n"
        "    return {'y': x['k'] + (x['seed'] % 7)}\n")
    text = ('base = "python:fragile.py:f"\nmethod = "mc"\nseed = 1\n' + _uniform("k", 0.0, 1.0)
            + '[[inputs]]\nkey = "seed"\ndistribution = "uniform"\ninteger = true\nlow = 0\nhigh = 1000\n'
            'kind = "aleatory"\n[[qoi]]\nname = "y"\npath = "y"\n[mc]\nn = 60\n')
    first = _run(tmp_path, text, "a")
    again = _run(tmp_path, text, "b")
    assert first["mc"] == again["mc"]  # the redraws are deterministic
    lines = [json.loads(s) for s in (tmp_path / "a" / "samples" / "rank0.jsonl").read_text().splitlines()]
    redrawn = [rec for rec in lines if rec.get("redraws")]
    assert redrawn, "seed % 3 == 0 for about a third of 60 draws: some samples must have been redrawn"
    assert all(rec["used"]["seed"] % 3 != 0 and 0 <= rec["used"]["seed"] <= 1000 for rec in redrawn)
    assert all(int(rec["x"][1]) % 3 == 0 for rec in redrawn)  # the design's own seed is what failed
