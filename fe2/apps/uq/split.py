"""The total-variance split Var Y = E[Var(Y|θ)] + Var(E[Y|θ]) from nested samples.

θ: the epistemic inputs (``outer`` draws θ_i), ε: the aleatory ones (``inner`` draws per θ_i),
Y_ij = f(θ_i, ε_ij). The one-way random-effects (ANOVA) estimators, unbiased for any law:

* aleatory part  A = E[Var(Y|θ)]:  Â = (1/M) Σ_i s_i²,  s_i² the within-group variance (ddof 1);
* epistemic part E = Var(E[Y|θ]):  Ê = s_ȳ² − Â / n,    s_ȳ² the variance of the group means
  (ddof 1), whose expectation is E + A / n (the inner mean's own noise is taken off);
* total Â + Ê, and the epistemic share Ê / (Â + Ê).

Ê can come out negative when E is small against A / n (report it as it is: clipping would bias
it). Confidence intervals: percentile bootstrap over the outer groups (the groups are the
independent units), ``resamples`` resamples, at level ``confidence``. With a scan (several RVE
sizes L), the power laws A ∝ L^p_A and E ∝ L^p_E are fitted by least squares in log–log (only
over the positive values).
"""

from __future__ import annotations

import numpy as np

from fe2.apps.uq.designs import Design
from fe2.apps.uq.sensitivity import qoi_matrix
from fe2.config.uq import UQConfig


def variance_split(y: np.ndarray) -> tuple[float, float]:
    """(aleatory Â, epistemic Ê) of a (M outer, n inner) array (see the module docstring)."""
    n = y.shape[1]
    within = float(np.mean(np.var(y, axis=1, ddof=1)))
    between = float(np.var(np.mean(y, axis=1), ddof=1))
    return within, between - within / n


def _bootstrap(y: np.ndarray, resamples: int, confidence: float, rng: np.random.Generator) -> dict:
    m = y.shape[0]
    draws = np.array([variance_split(y[rng.integers(0, m, m)]) for _ in range(resamples)])
    lo, hi = 50.0 * (1.0 - confidence), 50.0 * (1.0 + confidence)
    a, e = variance_split(y)
    tot = draws.sum(axis=1)
    return {
        "aleatory": a, "epistemic": e, "total": a + e,
        "epistemic_share": e / (a + e) if a + e > 0 else float("nan"),
        "aleatory_ci": [float(np.percentile(draws[:, 0], lo)), float(np.percentile(draws[:, 0], hi))],
        "epistemic_ci": [float(np.percentile(draws[:, 1], lo)), float(np.percentile(draws[:, 1], hi))],
        "total_ci": [float(np.percentile(tot, lo)), float(np.percentile(tot, hi))],
        "aleatory_se": float(np.std(draws[:, 0], ddof=1)),
        "epistemic_se": float(np.std(draws[:, 1], ddof=1)),
        "mean": float(np.mean(y)),
    }


def power_law(sizes: list[float], values: list[float]) -> float | None:
    """Exponent p of values ∝ sizes^p (log–log least squares over the positive values); None if < 2."""
    pts = [(s, v) for s, v in zip(sizes, values, strict=True) if v > 0]
    if len(pts) < 2 or len({s for s, _ in pts}) < 2:
        return None
    ls, lv = np.log([s for s, _ in pts]), np.log([v for _, v in pts])
    return float(np.polyfit(ls, lv, 1)[0])


def _sizes(cfg: UQConfig) -> list[float] | None:
    scan = cfg.split.scan
    if scan is None:
        return None
    if scan.sizes is not None:
        return list(scan.sizes)
    out = []
    for v in scan.values:
        first = v[0] if isinstance(v, list) and v else v
        if isinstance(first, bool) or not isinstance(first, (int, float)):
            return None
        out.append(float(first))
    return out


def split_analysis(cfg: UQConfig, design: Design, done: dict[int, dict]) -> dict:
    """The split of every QoI (per scan value), with bootstrap intervals and the fitted exponents."""
    s = cfg.split
    ys = qoi_matrix(cfg, done, design.size)
    n_scan = design.notes["scans"]
    sizes = _sizes(cfg)
    per_qoi = {}
    for name, y in ys.items():
        groups = y.reshape(n_scan, s.outer, s.inner)
        rng = np.random.default_rng(cfg.seed)
        rows = [_bootstrap(groups[k], s.resamples, s.confidence, rng) for k in range(n_scan)]
        rec: dict = {"by_scan": rows} if s.scan is not None else dict(rows[0])
        if s.scan is not None:
            for row, value in zip(rows, s.scan.values, strict=True):
                row["scan_value"] = value
            if sizes is not None:
                for row, size in zip(rows, sizes, strict=True):
                    row["size"] = size
                rec["exponent_aleatory"] = power_law(sizes, [r["aleatory"] for r in rows])
                rec["exponent_epistemic"] = power_law(sizes, [r["epistemic"] for r in rows])
        per_qoi[name] = rec
    return {
        "qoi": per_qoi,
        "conventions": {
            "estimators": "one-way random-effects ANOVA: aleatory = mean within-group variance (ddof 1), "
                          "epistemic = variance of group means (ddof 1) - aleatory / inner; both unbiased",
            "ci": f"{s.confidence:.0%} percentile bootstrap over the outer (epistemic) groups, "
                  f"{s.resamples} resamples; *_se: the bootstrap standard error",
            "outer": s.outer, "inner": s.inner, "runs": design.size, "confidence": s.confidence,
            "epistemic_inputs": [i.key for i in cfg.inputs if i.kind == "epistemic"],
            "aleatory_inputs": [i.key for i in cfg.inputs if i.kind == "aleatory"],
            "exponents": "least-squares slope of log(variance part) vs log(size) over the positive values"
                         if s.scan is not None else None,
        },
    }


__all__ = ["power_law", "split_analysis", "variance_split"]
