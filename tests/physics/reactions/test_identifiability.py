"""Identifiability of reaction-network parameters: sensitivities, structural tests, profile likelihood.

* forward sensitivities from the sensitivity equations vs central finite differences of the state
  integration (the only place finite differences appear);
* structural identifiability, local (SVD rank of the sensitivity matrix at random points) and
  symbolic (Hermann–Krener observability rank of the parameter-augmented system), on models with
  a known answer: decay at rate ``k1 k2`` (only the product is identifiable: null direction
  (1, -1)/sqrt(2) in ln k) and the two-compartment model with input into and observation of
  compartment 1 (elimination from compartment 1 only: k01, k12, k21 identifiable — Bellman &
  Åström 1970, Godfrey 1983; elimination from both compartments: not identifiable, 4 parameters
  but 3 independent output invariants);
* practical identifiability: profile-likelihood verdicts (finite / one-sided / flat) and the
  coverage of the 95 % profile intervals over repeated synthetic data sets, within binomial
  limits.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import binom

from fe2.errors import ConfigError
from fe2.physics.reactions import profile_likelihood as pl
from fe2.physics.reactions.identifiability import local_rank_test, random_points, symbolic_rank_test
from fe2.physics.reactions.network_file import network_from_dict
from fe2.physics.reactions.sensitivity import SensitivityModel

pytestmark = pytest.mark.serial  # numpy/scipy/sympy only: every rank would repeat the same work


def product_network():
    """A -> 0 at rate k1*k2*A: A(t) = A0 exp(-k1 k2 t) depends on the product only."""
    return network_from_dict({"species": {"A": 1.0}, "parameters": {"k1": 2.0, "k2": 0.5},
                              "reactions": [{"equation": "A ->", "law": "expression", "rate": "k1*k2*A"}]})


def two_compartment(elimination_from_2: bool):
    """Constant input u into X1, exchange X1 <-> X2 (k21: 1 -> 2, k12: 2 -> 1), elimination k01
    from X1 (and k02 from X2); X1 is observed."""
    par = {"k01": 0.3, "k12": 0.5, "k21": 0.8, "u": 1.0}
    rx = [{"equation": "-> X1", "k": "u"}, {"equation": "X1 ->", "k": "k01"},
          {"equation": "X1 -> X2", "k": "k21"}, {"equation": "X2 -> X1", "k": "k12"}]
    if elimination_from_2:
        par["k02"] = 0.2
        rx.append({"equation": "X2 ->", "k": "k02"})
    return network_from_dict({"species": {"X1": 0.0, "X2": 0.0}, "parameters": par, "reactions": rx})


def test_sensitivities_match_central_differences():
    """dy/dtheta from the sensitivity equations vs central differences of the observables.

    Binding with catalysis (nonlinear), theta = (kf, kr, kc, s, A(0)): rate constants, a scale
    factor in an observable (the dh/dp path) and an unknown initial concentration (S(0) = e_A).
    Differences with relative step h = 1e-4 on states integrated to rtol = 1e-12: truncation
    error ~h^2 = 1e-8 and integration noise ~rtol/h = 1e-8 of the scale, so 1e-6 of max |dy|
    leaves a margin of 100; both integrators (BDF, LSODA) are checked.
    """
    net = network_from_dict({
        "species": {"A": 1.0, "B": 0.6, "C": 0.0, "P": 0.0},
        "parameters": {"kf": 3.0, "kr": 0.7, "kc": 0.4, "s": 2.5},
        "reactions": [{"equation": "A + B <-> C", "k": "kf", "k_reverse": "kr"},
                      {"equation": "C -> B + P", "k": "kc"}]})
    model = SensitivityModel(net, ["kf", "kr", "kc", "s"], {"C": "C", "signal": "s*P + A"}, unknown_initial=["A"])
    assert model.theta_names == ["kf", "kr", "kc", "s", "A(0)"]
    times = np.linspace(0.0, 6.0, 13)
    theta = model.nominal()
    for method in ("BDF", "LSODA"):
        sim = model.simulate(theta, times, method=method, rtol=1e-12, atol=1e-14)
        assert sim.dy is not None
        for j in range(model.n_theta):
            h = 1e-4 * theta[j]
            up, dn = theta.copy(), theta.copy()
            up[j] += h
            dn[j] -= h
            fd = (model.simulate(up, times, False, method=method, rtol=1e-12, atol=1e-14).y
                  - model.simulate(dn, times, False, method=method, rtol=1e-12, atol=1e-14).y) / (2 * h)
            scale = np.abs(sim.dy[:, :, j]).max()
            assert scale > 1e-3  # every parameter moves the outputs
            assert np.abs(fd - sim.dy[:, :, j]).max() <= 1e-6 * scale, (method, model.theta_names[j])


def test_product_only_identifiable_local_and_symbolic():
    """Only k1*k2 is identifiable: both tests find rank 1 of 2 in (k1, k2), null direction
    (1, -1)/sqrt(2) in ln k (exact for the symbolic one; to 1e-6 for the SVD, whose second
    singular value is at round-off: the two log-sensitivity columns are identical), combination k1*k2."""
    net = product_network()
    model = SensitivityModel(net, ["k1", "k2"], ["A"])
    pts = random_points(np.array([0.1, 0.05]), np.array([20.0, 5.0]), 3, seed=1)
    loc = local_rank_test(model, np.linspace(0, 4, 9), [0.01], pts)
    assert loc.rank == 1 and loc.ranks == [1, 1, 1]
    assert loc.identifiable == {"k1": False, "k2": False}
    v = np.asarray(loc.null_directions[0])
    assert np.allclose(np.abs(v), [2**-0.5, 2**-0.5], atol=1e-6) and v[0] * v[1] < 0
    assert max(s[1] for s in loc.singular_values) < 1e-10  # a structural zero, far below rel_tol = 1e-6
    assert loc.identifiable_combinations == ["k1*k2"]
    sym = symbolic_rank_test(net, ["k1", "k2"], ["A"], seed=3)
    assert sym.status == "conclusive" and sym.rank == 2 and sym.unknowns == ["A(0)", "k1", "k2"]
    assert sym.identifiable == {"A(0)": True, "k1": False, "k2": False}
    assert np.allclose(np.abs(sym.null_directions[0]), [0, 2**-0.5, 2**-0.5], atol=1e-12)
    assert sym.identifiable_combinations == ["k1*k2"]


def test_two_compartment_classic_verdicts():
    """Elimination from compartment 1 only: k01, k12, k21 identifiable (rank 3 of 3; symbolic:
    full rank 5 of (X1(0), X2(0), k01, k12, k21)); with elimination from both: rank 3 of 4
    (symbolic 5 of 6), no rate constant identifiable, X1(0) still is."""
    t = np.linspace(0, 10, 21)
    ident = two_compartment(False)
    pars = ["k01", "k12", "k21"]
    m = SensitivityModel(ident, pars, ["X1"])
    loc = local_rank_test(m, t, [0.01], random_points(m.nominal() / 5, m.nominal() * 5, 3, seed=2))
    assert loc.rank == 3 and all(loc.identifiable.values()) and loc.null_directions == []
    sym = symbolic_rank_test(ident, pars, ["X1"], seed=1)
    assert (sym.status, sym.rank, sym.reason) == ("conclusive", 5, "full rank") and all(sym.identifiable.values())

    non = two_compartment(True)
    pars4 = [*pars, "k02"]
    m4 = SensitivityModel(non, pars4, ["X1"])
    loc4 = local_rank_test(m4, t, [0.01], random_points(m4.nominal() / 5, m4.nominal() * 5, 3, seed=2))
    assert loc4.rank == 3 and not any(loc4.identifiable.values())
    assert loc4.identifiable_combinations == []  # not a scaling symmetry: the null direction moves
    sym4 = symbolic_rank_test(non, pars4, ["X1"], seed=1)
    assert sym4.status == "conclusive" and sym4.rank == 5 and len(sym4.unknowns) == 6
    assert sym4.identifiable == {"X1(0)": True, "X2(0)": False, "k01": False, "k12": False, "k21": False,
                                 "k02": False}


def test_bolus_two_compartment_needs_the_known_initial_state():
    """A bolus into compartment 1 (X1(0) = 1, X2(0) = 0, no input), X1 observed, elimination from 1:
    k01, k12, k21 identifiable (Godfrey 1983) — *given* the initial state. The generic test, with
    the initial state unknown, cannot see it: y = a exp(-l1 t) + b exp(-l2 t) has 4 invariants for
    5 unknowns (rank 4 of 5, conclusive). The Taylor-series variant at the known initial state
    reaches full rank 3 (conclusive), and so does the local test, which uses the configured state."""
    net = network_from_dict({"species": {"X1": 1.0, "X2": 0.0}, "parameters": {"k01": 0.3, "k12": 0.5, "k21": 0.8},
                             "reactions": [{"equation": "X1 ->", "k": "k01"}, {"equation": "X1 -> X2", "k": "k21"},
                                           {"equation": "X2 -> X1", "k": "k12"}]})
    pars = ["k01", "k12", "k21"]
    generic = symbolic_rank_test(net, pars, ["X1"], seed=1)
    assert (generic.status, generic.rank, len(generic.unknowns)) == ("conclusive", 4, 5)
    assert generic.identifiable == {"X1(0)": True, "X2(0)": False, "k01": False, "k12": False, "k21": False}
    known = symbolic_rank_test(net, pars, ["X1"], seed=1, known_initial={"X1": 1.0, "X2": 0.0})
    assert (known.status, known.reason, known.rank, known.unknowns) == ("conclusive", "full rank", 3, pars)
    m = SensitivityModel(net, pars, ["X1"])
    loc = local_rank_test(m, np.linspace(0, 10, 21), [0.01], random_points(m.nominal() / 5, m.nominal() * 5, 3, 2))
    assert loc.rank == 3 and all(loc.identifiable.values())


def test_symbolic_test_inconclusive_when_capped():
    """Capping the order (or the expression size) stops early and says so: after orders 0 and 1
    the two-compartment rank is 2 of 5, a lower bound, not a verdict."""
    net = two_compartment(False)
    capped = symbolic_rank_test(net, ["k01", "k12", "k21"], ["X1"], seed=1, max_order=1)
    assert capped.status == "inconclusive" and capped.ranks_by_order == [1, 2] and "max_order = 1" in capped.reason
    swell = symbolic_rank_test(net, ["k01", "k12", "k21"], ["X1"], seed=1, max_ops=20)
    assert swell.status == "inconclusive" and "expression swell" in swell.reason and swell.rank < 5


def test_symbolic_test_skips_non_rational_models():
    net = network_from_dict({"species": {"A": 1.0}, "parameters": {"k": 1.0},
                             "reactions": [{"equation": "A ->", "law": "expression", "rate": "k*exp(-A)"}]})
    res = symbolic_rank_test(net, ["k"], ["A"])
    assert res.status == "skipped" and "rational" in res.reason


def test_bad_names_are_config_errors():
    net = product_network()
    with pytest.raises(ConfigError, match=r"parameters\.kx: unknown parameter"):
        SensitivityModel(net, ["kx"], ["A"])
    with pytest.raises(ConfigError, match=r"observables\.Z: unknown species or parameter 'Z'"):
        SensitivityModel(net, ["k1"], ["Z"])
    with pytest.raises(ConfigError, match=r"initial\.Q: unknown species"):
        SensitivityModel(net, ["k1"], ["A"], unknown_initial=["Q"])


def _problem(model, theta, times, sigma, rng, spread=100.0):
    data = pl.synthetic_data(model, theta, times, sigma, rng)
    return pl.LeastSquares(model, data, sigma, theta / spread, theta * spread)


def test_profile_verdicts_finite_one_sided_flat():
    """Finite for an identifiable rate; flat for k1 of the product model (k2 compensates exactly
    within its bounds: max 2 Delta NLL at fit tolerance, 1e-6); one-sided for a decay too fast
    for the sampling (A(0.5) = exp(-25): any k above ~6 fits as well, below it does not)."""
    rng = np.random.default_rng(5)
    m = SensitivityModel(two_compartment(False), ["k01"], ["X1"])
    prob = _problem(m, m.nominal(), np.linspace(0.5, 10, 20), [0.02], rng)
    best = pl.fit(prob, np.log(m.nominal())[None])
    prof = pl.profile(prob, best, 0)
    assert prof.verdict == "finite" and prof.lower < m.nominal()[0] * 1.5 and prof.upper > m.nominal()[0] / 1.5

    net = product_network()
    m2 = SensitivityModel(net, ["k1", "k2"], ["A"])
    data2 = pl.synthetic_data(m2, m2.nominal(), np.linspace(0.25, 4, 16), [0.02], rng)
    prob2 = pl.LeastSquares(m2, data2, [0.02], [0.2, 0.005], [20.0, 50.0])  # k2 = 1/k1 stays inside
    best2 = pl.fit(prob2, np.log(m2.nominal())[None])
    prof2 = pl.profile(prob2, best2, 0)
    assert prof2.verdict == "flat" and max(prof2.delta_chi2) < 1e-6

    fast = network_from_dict({"species": {"A": 1.0}, "parameters": {"k": 50.0},
                              "reactions": [{"equation": "A ->", "k": "k"}]})
    m3 = SensitivityModel(fast, ["k"], ["A"])
    prob3 = _problem(m3, m3.nominal(), np.linspace(0.5, 3, 6), [0.05], rng)
    best3 = pl.fit(prob3, np.log(m3.nominal())[None])
    prof3 = pl.profile(prob3, best3, 0)
    assert prof3.verdict == "one-sided" and prof3.upper is None and 2.0 < prof3.lower < 10.0


def _binomial_limits(n: int, level: float = 0.95, prob: float = 0.99) -> tuple[int, int]:
    """Central ``prob`` range of the number of covering intervals out of ``n`` at true coverage ``level``."""
    return int(binom.ppf((1 - prob) / 2, n, level)), int(binom.ppf(1 - (1 - prob) / 2, n, level))


@pytest.mark.parametrize("parameters, n_sets", [(["k1"], 100), (["k1", "k2"], 30)])
def test_profile_intervals_cover_at_nominal_rate(parameters, n_sets):
    """Coverage of the 95 % profile-likelihood intervals over independent synthetic data sets.

    A' = k1 + k2 C with C' = u (C = u t), A(0) = 0: A(t) = k1 t + k2 u t^2 / 2 is linear in
    (k1, k2), so with known Gaussian noise 2 Delta NLL of the profile is exactly chi2_1 and the
    intervals cover with probability 0.95 exactly (in any parametrization: the fit is in ln k).
    Two checks: (i) every interval equals the closed-form one of linear least squares,
    k_hat_j +- sqrt(3.84 (X^T X)^-1_jj), to 1e-3 of its width (the walk's crossing is located
    to 1e-4 in ln k; the fits converge to ftol = 1e-10); (ii) the number of covering intervals
    lies in the central 99 % binomial range at p = 0.95 (100 sets: [89, 100]; 30 sets: [25, 30]).
    With two parameters the profile re-optimizes the other one (correlated: t and t^2/2 on [0.5, 4]).
    """
    net = network_from_dict({"species": {"A": 0.0, "C": 0.0}, "parameters": {"k1": 1.0, "k2": 0.5, "u": 1.0},
                             "reactions": [{"equation": "-> A", "k": "k1"}, {"equation": "-> C", "k": "u"},
                                           {"equation": "C -> C + A", "k": "k2"}]})
    model = SensitivityModel(net, parameters, ["A"])
    theta = model.nominal()
    times = np.linspace(0.5, 4.0, 8)
    sigma = 0.3
    regressors = {"k1": times, "k2": times**2 / 2}  # dA/dk: A = k1 t + k2 t^2/2 (u = 1)
    X = np.stack([regressors[p] for p in parameters], axis=1) / sigma
    offset = sum(net.parameters[p] * regressors[p] for p in regressors if p not in parameters)
    cov = np.linalg.inv(X.T @ X)
    thr = pl.threshold(0.95)
    rng = np.random.default_rng(2026)
    covered = np.zeros(len(parameters), dtype=int)
    worst = 0.0
    for _ in range(n_sets):
        prob = _problem(model, theta, times, [sigma], rng)
        best = pl.fit(prob, np.log(theta)[None])
        k_hat = cov @ X.T @ ((prob.data.values[:, 0] - offset) / sigma)
        for j in range(len(parameters)):
            prof = pl.profile(prob, best, j)
            assert prof.verdict == "finite" and prof.better_optimum is None
            half = np.sqrt(thr * cov[j, j])
            worst = max(worst, abs(prof.lower - (k_hat[j] - half)) / (2 * half),
                        abs(prof.upper - (k_hat[j] + half)) / (2 * half))
            covered[j] += prof.lower <= theta[j] <= prof.upper
    lo, hi = _binomial_limits(n_sets)
    print(f"coverage {parameters}: {covered.tolist()} of {n_sets} (99 % binomial range [{lo}, {hi}]); "
          f"largest interval-end error {worst:.1e} of the width")
    assert worst < 1e-3
    assert all(lo <= c <= hi for c in covered), (covered, lo, hi)
