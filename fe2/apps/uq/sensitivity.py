"""Sobol' indices, Morris screening and Monte Carlo moments from the finished samples.

Sobol' (SALib ``analyze.sobol``, second order off): first-order indices by the Saltelli et al.
(2010) estimator S_i = mean(f_B (f_{A_B^i} - f_A)) / V, total indices by Jansen's (1999)
estimator ST_i = mean((f_A - f_{A_B^i})^2) / (2 V), V the variance of [f_A, f_B]; the
confidence intervals are bootstrap intervals (``resamples`` resamples of the n base rows,
normal approximation: ± z σ_boot), at level ``confidence``.

Morris (SALib ``analyze.morris``): μ* (mean |elementary effect|), μ and σ over the trajectories,
μ* with a bootstrap confidence interval; the elementary effects are per unit step of the input's
probability (the design lives on a grid of the unit cube mapped by each inverse CDF), so μ* is in
units of the QoI and comparable across inputs of different units.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

from fe2.apps.uq.designs import Design
from fe2.config.uq import UQConfig
from fe2.errors import SolverError


def qoi_matrix(cfg: UQConfig, done: dict[int, dict], n: int) -> dict[str, np.ndarray]:
    """QoI name -> values of samples 0..n-1 (all finished); a non-finite value is a SolverError."""
    out = {}
    for q in cfg.qoi:
        y = np.array([done[i]["qoi"][q.name] for i in range(n)], float)
        if not np.all(np.isfinite(y)):
            bad = int(np.flatnonzero(~np.isfinite(y))[0])
            raise SolverError(f"qoi {q.name}: sample {bad} gave {y[bad]} (not finite); no index can be computed")
        out[q.name] = y
    return out


def _problem(cfg: UQConfig) -> dict:
    d = len(cfg.inputs)
    return {"num_vars": d, "names": [i.key for i in cfg.inputs], "bounds": [[0.0, 1.0]] * d}


def sobol_indices(cfg: UQConfig, design: Design, done: dict[int, dict]) -> dict:
    """``{qoi: {input: {S1, S1_ci, ST, ST_ci}}, ...}`` with the conventions stated."""
    from SALib.analyze import sobol

    s = cfg.sobol
    ys = qoi_matrix(cfg, done, design.size)
    per_qoi = {}
    for name, y in ys.items():
        if np.ptp(y) == 0.0:
            raise SolverError(f"qoi {name}: the same value in every sample; Sobol' indices are undefined (0/0)")
        res = sobol.analyze(_problem(cfg), y, calc_second_order=False, num_resamples=s.resamples,
                            conf_level=s.confidence, seed=cfg.seed)
        per_qoi[name] = {
            "mean": float(np.mean(y)), "variance": float(np.var(y, ddof=1)),
            "indices": {inp.key: {"S1": float(res["S1"][k]), "S1_ci": float(res["S1_conf"][k]),
                                  "ST": float(res["ST"][k]), "ST_ci": float(res["ST_conf"][k])}
                        for k, inp in enumerate(cfg.inputs)},
        }
    return {
        "qoi": per_qoi,
        "conventions": {
            "estimators": "S1: Saltelli et al. 2010, ST: Jansen 1999 (SALib analyze.sobol)",
            "design": f"Saltelli scheme on a scrambled Sobol' sequence (seed {cfg.seed}), second order off",
            "base_samples": s.n, "runs": design.size,
            "ci": f"± half-width of the {s.confidence:.0%} bootstrap interval (normal approximation, "
                  f"{s.resamples} resamples of the base rows)",
            "confidence": s.confidence,
        },
    }


def morris_screening(cfg: UQConfig, design: Design, done: dict[int, dict]) -> dict:
    """``{qoi: {input: {mu_star, mu_star_ci, mu, sigma}}}`` and a ranking by μ*."""
    from SALib.analyze import morris

    m = cfg.morris
    assert design.unit is not None
    ys = qoi_matrix(cfg, done, design.size)
    per_qoi = {}
    for name, y in ys.items():
        res = morris.analyze(_problem(cfg), design.unit, y, num_resamples=m.resamples, conf_level=m.confidence,
                             num_levels=m.levels, seed=cfg.seed)
        # SALib divides by its grid step Δ = levels/(2(levels-1)); on the cell centres the same step is
        # Δ (levels-1)/levels = 1/2, so the effects per unit of the centred coordinate are SALib's × 2Δ
        scale = m.levels / (m.levels - 1.0)
        table = {inp.key: {"mu_star": float(res["mu_star"][k] * scale),
                           "mu_star_ci": float(res["mu_star_conf"][k] * scale),
                           "mu": float(res["mu"][k] * scale), "sigma": float(res["sigma"][k] * scale)}
                 for k, inp in enumerate(cfg.inputs)}
        per_qoi[name] = {"indices": table,
                         "ranking": sorted(table, key=lambda k: -table[k]["mu_star"])}
    return {
        "qoi": per_qoi,
        "conventions": {
            "estimator": "Morris elementary effects, mu* = mean |EE| (Campolongo et al. 2007), SALib analyze.morris",
            "step": "elementary effects per unit of the inputs' probability coordinate: the design steps by 1/2 "
                    "between centres of `levels` equal-probability cells, mapped by each inverse CDF (for a "
                    "uniform input on [a, b] and y = c x, EE = c (b - a))",
            "trajectories": m.trajectories, "levels": m.levels, "runs": design.size,
            "ci": f"± half-width of the {m.confidence:.0%} bootstrap interval of mu*", "confidence": m.confidence,
        },
    }


def mean_ci(y: np.ndarray, confidence: float) -> dict:
    """Sample mean, standard deviation and the Student-t ``confidence`` interval half-width of the mean."""
    n = y.size
    std = float(np.std(y, ddof=1))
    half = float(stats.t.ppf(0.5 + confidence / 2.0, n - 1) * std / np.sqrt(n))
    return {"mean": float(np.mean(y)), "std": std, "mean_ci": half, "n": int(n)}


def monte_carlo(cfg: UQConfig, design: Design, done: dict[int, dict]) -> dict:
    """Mean, std, CI of the mean of each QoI."""
    ys = qoi_matrix(cfg, done, design.size)
    return {"qoi": {name: mean_ci(y, cfg.mc.confidence) for name, y in ys.items()},
            "conventions": {"ci": f"± half-width of the Student-t {cfg.mc.confidence:.0%} interval of the mean",
                            "runs": design.size, "confidence": cfg.mc.confidence}}


__all__ = ["mean_ci", "monte_carlo", "morris_screening", "qoi_matrix", "sobol_indices"]
