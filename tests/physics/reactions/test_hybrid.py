"""Hybrid SSA/ODE (fe2.physics.reactions.hybrid) against exact results.

Seeded and pure numpy, so every MPI rank would compute the same thing: the module is marked
``serial``. Tolerances are 4 standard errors of the Monte-Carlo estimate (a correct, seeded sampler fails such a
check with
probability ~6e-5 per quantity; a biased event location or a wrong partition fails by far):

* telegraph gene (one copy, slow switching, SSA) driving abundant mRNA and protein (ODE):
  gene ON ~ Bernoulli(p), p = k_on/(k_on + k_off) — mean and variance; mRNA mean k_m p / g and
  the hybrid's mRNA variance k_m^2 p (1-p) / (g (g + k_on + k_off)) (the switching noise of the
  piecewise-deterministic process, derived in the module docstring; the CME adds the Poisson
  part k_m p / g, which the hybrid neglects by construction); protein mean k_p k_m p / (g g_p);
  number of switches: with k_on = k_off the switching is a Poisson process of rate k_on,
  whatever the state;
* a slow event whose propensity follows a continuous species (A decaying, catalysing a single
  switch): exact switching probability 1 - exp(-int c A dt), 4 binomial standard errors;
* every species discrete: the hybrid is the SSA (birth–death vs its exact Poisson law, total
  variation below 3x its sampling expectation as in test_reactions.py);
* every species continuous: the RRE (birth–death, exact solution, global error <= 20 rtol);
* work: hybrid vs pure SSA on the telegraph case, counted in ODE steps + slow events against SSA
  events (deterministic for the seeds). The CPU-time ratio is not asserted here (timing does not
  belong in a test): ``bench/reactions_bench.py`` measures it (``hybrid_vs_ssa`` in
  ``bench/reactions.json``).
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import poisson

from fe2.errors import ConfigError
from fe2.physics.reactions import Network, Reaction, Species, gillespie
from fe2.physics.reactions.hybrid import hybrid, partition
from fe2.physics.reactions.stochastic import _Channels, counts_network

# Pure numpy/scipy: every MPI rank would repeat the same computation, so run it once (serial run only).
pytestmark = pytest.mark.serial

KON, KOFF, KM, G, KP, GP = 0.5, 0.5, 500.0, 1.0, 2.0, 1.0


def telegraph() -> Network:
    return Network(
        [Species("Goff", 1), Species("Gon", 0), Species("M", 0), Species("P", 0)],
        [Reaction.parse("Goff -> Gon", k="kon"), Reaction.parse("Gon -> Goff", k="koff"),
         Reaction.parse("Gon -> Gon + M", k="km"), Reaction.parse("M ->", k="g"),
         Reaction.parse("M -> M + P", k="kp"), Reaction.parse("P ->", k="gp")],
        {"kon": KON, "koff": KOFF, "km": KM, "g": G, "kp": KP, "gp": GP},
    )


def birth_death(k=10.0, g=1.0) -> Network:
    return Network([Species("A", 0)], [Reaction.parse("-> A", k="k"), Reaction.parse("A ->", k="g")],
                   {"k": k, "g": g})


def _se_mean(x):
    return x.std() / np.sqrt(x.size)


def _se_var(x):
    """Standard error of the sample variance, sqrt((m4 - m2^2) / n) from the sample moments."""
    d = x - x.mean()
    return np.sqrt((np.mean(d**4) - np.mean(d**2) ** 2) / x.size)


def test_partition_by_copy_number_threshold():
    # RRE maxima over [0, 10]: gene <= 1, mRNA ~ 250, protein ~ 500
    part = partition(telegraph(), 10.0, threshold=50.0)
    assert part.discrete == ["Goff", "Gon"] and part.continuous == ["M", "P"]
    assert part.slow_channels == [0, 1] and part.fast_channels == [2, 3, 4, 5]
    assert part.pilot_max["M"] > 240.0 and part.pilot_max["Gon"] <= 0.5 + 1e-3
    user = partition(telegraph(), 10.0, discrete=["Goff", "Gon", "M"])
    assert user.slow_channels == [0, 1, 2, 3] and user.threshold is None
    with pytest.raises(ConfigError, match=r"unknown species ('X'|X)"):
        partition(telegraph(), 10.0, discrete=["X"])


def test_hybrid_telegraph_gene_matches_exact_moments():
    n, T = 2000, 10.0  # T = 10 relaxation times: transient e^-10 << the 4-sigma tolerances
    res = hybrid(telegraph(), [T], n_traj=n, seed=3, threshold=50.0, rtol=1e-3)
    assert res.partition.discrete == ["Goff", "Gon"]
    x = res.x[-1]
    gon, m, prot = x[:, 1], x[:, 2], x[:, 3]
    assert np.all(x[:, 0] + x[:, 1] == 1) and set(np.unique(gon)) <= {0.0, 1.0}
    p = KON / (KON + KOFF)
    lam = KON + KOFF
    checks = {
        "Gon mean": (gon.mean(), p, _se_mean(gon)),
        "Gon variance": (gon.var(), p * (1 - p), _se_var(gon)),
        "M mean": (m.mean(), KM * p / G, _se_mean(m)),
        "M variance (switching)": (m.var(), KM**2 * p * (1 - p) / (G * (G + lam)), _se_var(m)),
        "P mean": (prot.mean(), KP * KM * p / (G * GP), _se_mean(prot)),
        "switches": (res.events, KON * T * n, np.sqrt(KON * T * n)),
    }
    for name, (got, exact, se) in checks.items():
        print(f"{name}: {got:.5g} vs exact {exact:.5g} ({(got - exact) / se:+.2f} standard errors)")
        assert abs(got - exact) <= 4.0 * se, name
    print(f"hybrid: {res.ode_steps / n:.0f} ODE steps and {res.events / n:.1f} slow events per trajectory")


def test_hybrid_event_times_with_time_dependent_propensity():
    """A single switch Off -> On catalysed by an abundant, deterministically decaying A
    (A(t) = A0 e^{-k t}): the slow propensity c A(t) Off changes between events, so the event
    time is found from G(t) = c int A = xi. Exact law: P(On at t) = 1 - exp(-c A0 (1 - e^{-k t}) / k).
    Checked at four times within 4 binomial standard errors."""
    c, a0, k, n = 1e-3, 1000.0, 1.0, 3000
    net = Network([Species("A", a0), Species("Off", 1), Species("On", 0)],
                  [Reaction.parse("A ->", k="k"), Reaction.parse("A + Off -> A + On", k="c")],
                  {"k": k, "c": c})
    t = np.array([0.5, 1.0, 2.0, 5.0])
    res = hybrid(net, t, n_traj=n, seed=11, rtol=1e-5, atol=1e-3)
    assert res.partition.continuous == ["A"] and res.partition.slow_channels == [1]
    p_exact = 1.0 - np.exp(-c * a0 * (1.0 - np.exp(-k * t)) / k)
    p = res.x[:, :, 2].mean(axis=1)
    se = np.sqrt(p_exact * (1 - p_exact) / n)
    print("P(On): hybrid", np.round(p, 4), "exact", np.round(p_exact, 4), "in SE", np.round((p - p_exact) / se, 2))
    assert np.all(np.abs(p - p_exact) <= 4.0 * se)
    err_a = np.max(np.abs(res.x[:, :, 0] - a0 * np.exp(-k * t)[:, None]))
    print(f"A vs its exact RRE: max abs error {err_a:.2e} (A0 = 1000, rtol 1e-5, atol 1e-3)")
    assert err_a <= 0.05  # measured 5.6e-3 (6e-6 of A0): the step control of the ODE part


def test_hybrid_with_every_species_discrete_is_the_ssa():
    n = 4000
    res = hybrid(birth_death(), [20.0], n_traj=n, seed=5, discrete=["A"])
    assert res.partition.slow_channels == [0, 1] and res.ode_steps >= res.events
    v, p = res.histogram("A")
    q = poisson.pmf(np.arange(60), 10.0 * (1 - np.exp(-20.0)))
    pp = np.zeros(60)
    pp[: v.size] = p
    tv = 0.5 * np.sum(np.abs(pp - q))
    tv_exp = 0.5 * float(np.sum(np.sqrt(2.0 * q * (1.0 - q) / (np.pi * n))))
    print(f"hybrid (all discrete) birth-death: TV = {tv:.4f}, expected sampling TV = {tv_exp:.4f}")
    assert tv <= 3.0 * tv_exp
    again = hybrid(birth_death(), [20.0], n_traj=50, seed=5, discrete=["A"])
    assert np.array_equal(again.x[-1], hybrid(birth_death(), [20.0], n_traj=50, seed=5, discrete=["A"]).x[-1])


def test_hybrid_with_every_species_continuous_is_the_rre():
    t = np.linspace(0.0, 5.0, 11)
    res = hybrid(birth_death(k=1000.0), t, n_traj=3, seed=0, threshold=10.0, rtol=1e-6, atol=1e-6)
    assert res.partition.continuous == ["A"] and res.events == 0
    exact = 1000.0 * (1.0 - np.exp(-t))
    err = np.max(np.abs(res.x[:, :, 0] - exact[:, None]) / 1000.0)
    print(f"hybrid (all continuous) vs exact RRE: max relative error {err:.2e}")
    assert err <= 20 * 1e-6


def test_hybrid_does_less_work_than_ssa_on_the_telegraph_gene():
    """Same network, same number of trajectories, seeded. SSA cost grows with the number of
    mRNA/protein events (~4600 per trajectory here), the hybrid's with ODE steps (~300) and gene
    switches (~2.5): counted work, deterministic for the seeds, so it can be asserted. Measured
    work ratio 14.6, asserted > 5 (a partition that left M discrete would count its ~2500
    birth/death events per trajectory as slow events: ratio < 2). The CPU-time ratio it buys (measured 4-5) is a
    benchmark, not a test:
    ``hybrid_vs_ssa`` in bench/reactions_bench.py."""
    net = telegraph()
    h = hybrid(net, [5.0], n_traj=200, seed=1, threshold=50.0, rtol=1e-3)
    s = gillespie(net, [5.0], n_traj=200, seed=1)
    work_h, work_s = h.ode_steps + h.events, s.events
    print(f"SSA {work_s / 200:.0f} events/trajectory, hybrid {h.ode_steps / 200:.0f} ODE steps + "
          f"{h.events / 200:.1f} slow events/trajectory: work ratio {work_s / work_h:.1f}")
    assert work_s > 5.0 * work_h


def test_counts_network_scales_constants_with_system_size():
    omega = 100.0
    net = Network([Species("A", 0.5), Species("B", 0.0), Species("S", 0.2), Species("P", 0.0)],
                  [Reaction.parse("2 A <-> B", k="k1", k_reverse="k2"),
                   Reaction.parse("S -> P", "michaelis_menten", vmax=2.0, km=0.1)],
                  {"k1": 3.0, "k2": 0.5})
    cnet = counts_network(net, omega)
    assert cnet.initial.tolist() == [50.0, 0.0, 20.0, 0.0]
    # 2A -> B: order 2, k omega^-1 2! ; B -> 2A: order 1, unchanged
    assert cnet.reactions[0].params["k"] == pytest.approx(3.0 * 2.0 / omega, rel=1e-15)
    assert cnet.reactions[0].params["k_reverse"] == pytest.approx(0.5, rel=1e-15)
    x = np.array([[40.0, 5.0, 30.0, 1.0], [1000.0, 10.0, 7.0, 0.0]])
    a = _Channels(cnet)(x)
    v_mm = 2.0 * (x[:, 2] / omega) / (0.1 + x[:, 2] / omega)
    assert np.allclose(a[:, 2], omega * v_mm, rtol=1e-12)  # omega * rate(x / omega)
    # large counts: propensity -> omega * deterministic rate
    assert a[1, 0] == pytest.approx(omega * 3.0 * (1000.0 / omega) ** 2, rel=2e-3)
    with pytest.raises(ConfigError, match="omega"):
        counts_network(net, 0.0)
