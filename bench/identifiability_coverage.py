"""Coverage of 95 % profile-likelihood intervals over many synthetic data sets (``fe2 identify``'s method).

Cases (each: simulate at the true parameters, add Gaussian noise, fit in ln theta, profile every
parameter, count the intervals that contain the truth):

* ``linear_1p`` — A' = k1 + k2 C, C' = 1, A(0) = 0, k1 studied (k2 = 0.5 known): A = k1 t + k2 t^2/2
  is linear in k1, so the coverage is exactly 0.95 (Wilks exact for linear Gaussian models);
* ``linear_2p`` — the same with (k1, k2) studied (correlated; the profile re-optimizes the other);
* ``decay_nonlinear`` — A -> 0 at rate k with unknown A(0): y = A0 exp(-k t), nonlinear in k,
  so 0.95 holds only asymptotically (the noise level sets how close it is).

Printed: the number of covering intervals, the coverage with its Clopper–Pearson 95 % interval,
the mean profile interval width in ln theta vs the Wald width 2 * 1.96 * std, model solves and
wall time. Run: ``python bench/identifiability_coverage.py [--quick] [--json FILE]``.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
from scipy.stats import beta

from fe2.physics.reactions import profile_likelihood as pl
from fe2.physics.reactions.network_file import network_from_dict
from fe2.physics.reactions.sensitivity import SensitivityModel


def _linear():
    return network_from_dict({"species": {"A": 0.0, "C": 0.0}, "parameters": {"k1": 1.0, "k2": 0.5, "u": 1.0},
                              "reactions": [{"equation": "-> A", "k": "k1"}, {"equation": "-> C", "k": "u"},
                                            {"equation": "C -> C + A", "k": "k2"}]})


def _decay():
    return network_from_dict({"species": {"A": 1.0}, "parameters": {"k": 0.8},
                              "reactions": [{"equation": "A ->", "k": "k"}]})


CASES = {
    "linear_1p": (_linear, ["k1"], [], np.linspace(0.5, 4.0, 8), 0.3),
    "linear_2p": (_linear, ["k1", "k2"], [], np.linspace(0.5, 4.0, 8), 0.3),
    "decay_nonlinear": (_decay, ["k"], ["A"], np.linspace(0.25, 4.0, 10), 0.05),
}


def clopper_pearson(k: int, n: int, level: float = 0.95) -> tuple[float, float]:
    a = (1 - level) / 2
    lo = 0.0 if k == 0 else float(beta.ppf(a, k, n - k + 1))
    hi = 1.0 if k == n else float(beta.ppf(1 - a, k + 1, n - k))
    return lo, hi


def run_case(name: str, n_sets: int, seed: int) -> dict:
    make, params, initial, times, sigma = CASES[name]
    model = SensitivityModel(make(), params, ["A"], initial)
    theta = model.nominal()
    rng = np.random.default_rng(seed)
    covered = np.zeros(model.n_theta, dtype=int)
    widths = np.zeros(model.n_theta)
    wald = np.zeros(model.n_theta)
    solves = 0
    tic = time.perf_counter()
    for _ in range(n_sets):
        data = pl.synthetic_data(model, theta, times, [sigma], rng)
        prob = pl.LeastSquares(model, data, [sigma], theta / 100, theta * 100)
        best = pl.fit(prob, np.log(theta)[None])
        for j in range(model.n_theta):
            prof = pl.profile(prob, best, j)
            if prof.lower is not None and prof.upper is not None:
                covered[j] += prof.lower <= theta[j] <= prof.upper
                widths[j] += np.log(prof.upper / prof.lower)
            wald[j] += 2 * 1.96 * best.wald_std_log[j]
        solves += prob.n_solves
    wall = time.perf_counter() - tic
    rows = {}
    for j, p in enumerate(model.theta_names):
        lo, hi = clopper_pearson(int(covered[j]), n_sets)
        rows[p] = {"covered": int(covered[j]), "n_sets": n_sets, "coverage": covered[j] / n_sets,
                   "clopper_pearson_95": [lo, hi], "mean_width_ln": widths[j] / n_sets,
                   "mean_wald_width_ln": wald[j] / n_sets}
    return {"parameters": rows, "solves": solves, "wall_s": wall, "sigma": sigma, "times": times.tolist()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer data sets (a smoke run)")
    ap.add_argument("--json", help="write the record here")
    args = ap.parse_args()
    n = {"linear_1p": 1000, "linear_2p": 200, "decay_nonlinear": 300}
    if args.quick:
        n = {k: max(20, v // 10) for k, v in n.items()}
    record = {}
    print(f"{'case':16s} {'param':6s} {'covered':>9s} {'coverage':>9s} {'CP 95 %':>16s} "
          f"{'width ln':>9s} {'Wald':>7s} {'solves':>7s} {'wall s':>7s}")
    for name in CASES:
        res = run_case(name, n[name], seed=12345)
        record[name] = res
        for p, r in res["parameters"].items():
            lo, hi = r["clopper_pearson_95"]
            print(f"{name:16s} {p:6s} {r['covered']:4d}/{r['n_sets']:<4d} {r['coverage']:9.3f} "
                  f"[{lo:.3f}, {hi:.3f}] {r['mean_width_ln']:9.4f} {r['mean_wald_width_ln']:7.4f} "
                  f"{res['solves']:7d} {res['wall_s']:7.1f}")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(record, fh, indent=2)
            fh.write("\n")


if __name__ == "__main__":
    main()
