"""Statistics of a bound-convergence study from its finished records (rank 0; no MPI).

:func:`summarize` is a pure function of (config, records): per case and size the
sample statistics of every measure under every BC, the KUBC−TUBC gaps, fitted
power laws (variance and relative gap versus size), the tolerance answers, the
ordering check and the Hashin–Shtrikman / Voigt / Reuss references.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
from scipy import stats as sps

from fe2 import config as cfgmod
from fe2.apps.bounds import statistics as st
from fe2.apps.bounds.measures import MEASURE_DEFINITIONS, measure_values, reference_bounds
from fe2.apps.bounds.plan import Case, build_cases, effective_radius, record_key
from fe2.apps.bounds.record import BoundsRecord
from fe2.micro.results import NOTATION, hill_mandel_tolerance, hill_mandel_warning

__all__ = ["ORDERING_TOL", "summarize"]

#: Relative tolerance of the ordering check KUBC ⪰ periodic ⪰ TUBC (smallest eigenvalue of the
#: difference over the largest of the tensor): a direct solve leaves round-off only.
ORDERING_TOL = 1e-10


def _extrapolate(
    values: Sequence[float], tol: float, fit: dict | None, power: float, target: float
) -> float | None:
    """Size at which a fitted power law reaches ``target``, only when no computed size met ``tol``
    and the fitted decay is significant (exponent > 2 standard errors); None otherwise.
    """
    if fit is None or any(v <= tol for v in values[-1:]):
        return None
    if not (fit["exponent"] > 2.0 * fit["stderr"]):
        return None
    return st.size_for_tolerance(st.PowerLawFit(**fit), target, power=power)


def _fit_or_none(fn, *args) -> dict | None:
    try:
        return fn(*args).to_dict()
    except (ValueError, np.linalg.LinAlgError):
        return None


def summarize(
    cfg: cfgmod.BoundsConfig, records: Mapping[str, BoundsRecord], cases: Sequence[Case] | None = None
) -> dict:
    """Statistics, fits, tolerance answers and reference bounds from the finished records.

    Pure function of (cfg, records): the same records give the same summary
    whatever order they finished in (values are sorted by realization index).
    """
    cases = build_cases(cfg) if cases is None else cases
    conf = cfg.tolerances.confidence
    measures = cfg.measure_names
    bcs = list(cfg.boundary_conditions)
    ref = cfg.reference
    d = cfg.dim
    out_cases: dict[str, dict] = {}
    complete = True
    # 'auto' may solve a realization iteratively: the looser (iterative) bound, the same 1e-10 at rtol <= 1e-11
    hm_tol = hill_mandel_tolerance("direct" if cfg.solver.kind == "direct" else "iterative", cfg.solver.rtol)
    warnings: list[str] = []
    for case in cases:
        rows = []
        per_size_values: dict[float, dict[str, dict[str, np.ndarray]]] = {}
        ordering_min: dict[str, float] = {}
        violations = 0
        hm_max = 0.0
        hm_violations = 0
        fractions_largest: list[float] = []
        for size, n_exp in zip(case.sizes, case.realizations, strict=True):
            recs = []
            for i in range(n_exp):
                rec = records.get(record_key(cfg, case, size, i))
                if rec is not None:
                    recs.append(rec)
            recs.sort(key=lambda r: r.realization)
            if len(recs) < n_exp:
                complete = False
            r_eff, n_inc = effective_radius(cfg, size)
            entry: dict = {
                "size": size,
                "L": 2.0 * cfg.radius * size,
                "radius": r_eff,
                "n_inclusions": n_inc,
                "expected": n_exp,
                "n": len(recs),
                "complete": len(recs) == n_exp,
            }
            if not recs:
                rows.append(entry)
                continue
            vals: dict[str, dict[str, np.ndarray]] = {
                bc: {
                    m: np.array(
                        [measure_values(cfg.physics, d, np.asarray(r.effective[bc]))[m] for r in recs]
                    )
                    for m in measures
                }
                for bc in bcs
            }
            per_size_values[size] = vals
            for r in recs:
                for k, v in r.ordering.items():
                    ordering_min[k] = min(ordering_min.get(k, math.inf), v)
                violations += any(v < -ORDERING_TOL for v in r.ordering.values())
                hm_max = max(hm_max, max(r.hill_mandel.values()))
                hm_violations += max(r.hill_mandel.values()) > hm_tol
            fr = [r.volume_fractions["inclusion"] for r in recs]
            entry["inclusion_fraction_measured"] = float(np.mean(fr))
            if size == case.sizes[-1]:
                fractions_largest = fr
            if len(recs) >= 2:
                entry["stats"] = {
                    bc: {m: st.sample_stats(vals[bc][m], conf).to_dict() for m in measures} for bc in bcs
                }
                if "kubc" in bcs and "tubc" in bcs:
                    gaps = {}
                    for m in measures:
                        k_, t_ = vals["kubc"][m], vals["tubc"][m]
                        base = vals["periodic"][m] if "periodic" in bcs else 0.5 * (k_ + t_)
                        g = {
                            "absolute": st.sample_stats(k_ - t_, conf).to_dict(),
                            "relative": st.sample_stats((k_ - t_) / base, conf).to_dict(),
                        }
                        if "periodic" in bcs:
                            p_ = vals["periodic"][m]
                            g["kubc_excess"] = st.sample_stats((k_ - p_) / p_, conf).to_dict()
                            g["tubc_deficit"] = st.sample_stats((p_ - t_) / p_, conf).to_dict()
                        gaps[m] = g
                    entry["gap"] = gaps
                s_ref = entry["stats"][ref]
                entry["realizations_needed"] = {
                    m: st.realizations_needed(s_ref[m]["std"], s_ref[m]["mean"], cfg.tolerances.ci, conf)
                    for m in measures
                }
            rows.append(entry)
        full = [e for e in rows if "stats" in e]
        fits: dict = {"variance": {bc: {} for bc in bcs}, "relative_gap": {}}
        for bc in bcs:
            for m in measures:
                pts = [e for e in full if e["stats"][bc][m]["std"] > 1e-9 * abs(e["stats"][bc][m]["mean"])]
                fit = None
                if len(pts) >= 2 and len(pts) == len(full):
                    fit = _fit_or_none(
                        st.variance_power_law,
                        [e["size"] for e in pts],
                        [e["stats"][bc][m]["std"] ** 2 for e in pts],
                        [e["n"] for e in pts],
                    )
                fits["variance"][bc][m] = fit
        for m in measures:
            fit = None
            if full and all("gap" in e for e in full):
                rel = [e["gap"][m]["relative"] for e in full]
                if len(full) >= 2 and all(g["mean"] > 0 and g["sem"] > 0 for g in rel):
                    fit = _fit_or_none(
                        st.power_law_fit,
                        [e["size"] for e in full],
                        [g["mean"] for g in rel],
                        [g["sem"] / g["mean"] for g in rel],
                    )
            fits["relative_gap"][m] = fit
        tol = {}
        for m in measures:
            sizes_ = [e["size"] for e in full]
            t_entry: dict = {}
            if full and all("gap" in e for e in full):
                gmean = [e["gap"][m]["relative"]["mean"] for e in full]
                gfit = fits["relative_gap"][m]
                t_entry["gap"] = {
                    "tolerance": cfg.tolerances.gap,
                    "smallest_size": st.smallest_meeting(sizes_, gmean, cfg.tolerances.gap),
                    "extrapolated_size": _extrapolate(
                        gmean, cfg.tolerances.gap, gfit, 1.0, cfg.tolerances.gap
                    ),
                }
            if full:
                cis = [e["stats"][ref][m]["ci_rel"] for e in full]
                pis = [e["stats"][ref][m]["pi_rel"] for e in full]
                t_entry["ci"] = {
                    "tolerance": cfg.tolerances.ci,
                    "bc": ref,
                    "smallest_size": st.smallest_meeting(sizes_, cis, cfg.tolerances.ci),
                }
                vfit = fits["variance"][ref][m]
                mean_last = full[-1]["stats"][ref][m]["mean"]
                z = float(sps.norm.ppf(0.5 * (1.0 + conf)))
                t_entry["single_realization"] = {
                    "tolerance": cfg.tolerances.ci,
                    "bc": ref,
                    "smallest_size": st.smallest_meeting(sizes_, pis, cfg.tolerances.ci),
                    "extrapolated_size": _extrapolate(
                        pis, cfg.tolerances.ci, vfit, 0.5, cfg.tolerances.ci * abs(mean_last) / z
                    ),
                }
                # bias of the mean: a small box can be precise (little scatter: e.g. one inclusion per
                # periodic box is a crystal) yet biased. Judged against the largest size, which
                # therefore cannot be judged itself: the answer is among the smaller sizes, or None.
                means = [e["stats"][ref][m]["mean"] for e in full]
                drift = [abs(mu - means[-1]) / abs(means[-1]) for mu in means[:-1]]
                t_entry["mean_converged"] = {
                    "tolerance": cfg.tolerances.ci,
                    "bc": ref,
                    "relative_to_size": full[-1]["size"],
                    "drift": drift,
                    "smallest_size": st.smallest_meeting(sizes_[:-1], drift, cfg.tolerances.ci)
                    if drift
                    else None,
                }
            g_s = t_entry.get("gap", {}).get("smallest_size")
            c_s = t_entry.get("ci", {}).get("smallest_size")
            t_entry["gap_and_ci"] = max(g_s, c_s) if (g_s is not None and c_s is not None) else None
            tol[m] = t_entry
        refb: dict = {}
        if fractions_largest:
            f_meas = float(np.mean(fractions_largest))
            for m in measures:
                b = reference_bounds(cfg.physics, d, case.materials, f_meas, m)
                b["fraction"] = f_meas
                last = full[-1] if full and full[-1]["size"] == case.sizes[-1] else None
                if last is not None and ref in last["stats"]:
                    pm = last["stats"][ref][m]["mean"]
                    lo, hi = b["hashin_shtrikman"]
                    b["reference_mean_at_largest"] = pm
                    b["inside_hashin_shtrikman"] = bool(lo <= pm <= hi)
                refb[m] = b
        out_cases[case.name] = {
            "ratio": case.ratio,
            "materials": case.materials,
            "wrap": case.wrap,
            "sizes": rows,
            "fits": fits,
            "tolerance": tol,
            "reference_bounds": refb,
            "ordering": {
                "min_relative_eigenvalue": ordering_min,
                "tolerance": ORDERING_TOL,
                "violations": violations,
            },
            "hill_mandel_max": hm_max,
            "hill_mandel_tolerance": hm_tol,
            "hill_mandel_violations": hm_violations,
        }
        w = hill_mandel_warning(f"case {case.name!r}, {hm_violations} realization(s)", hm_max, hm_tol)
        if w is not None:
            warnings.append(w)
    contrast: dict = {}
    sweep = [c for c in cases if c.name != "main"]
    if sweep and "kubc" in bcs and "tubc" in bcs:
        for m in measures:
            contrast[m] = [
                {
                    "case": c.name,
                    "ratio": c.ratio,
                    "relative_gap": {
                        str(e["size"]): {
                            "mean": e["gap"][m]["relative"]["mean"],
                            "ci": e["gap"][m]["relative"]["ci"],
                        }
                        for e in out_cases[c.name]["sizes"]
                        if "gap" in e
                    },
                }
                for c in sorted(cases, key=lambda c: c.ratio if c.ratio > 0 else math.inf)
            ]
    return {
        "study": "bounds",
        "physics": cfg.physics,
        "dim": d,
        **NOTATION[cfg.physics],
        "length_scale": "ℓ = 2 r (inclusion diameter); size = L/ℓ, box edge L",
        "radius": cfg.radius,
        "volume_fraction": cfg.volume_fraction,
        "exact_fraction": cfg.exact_fraction,
        "boundary_conditions": bcs,
        "reference_bc": ref,
        "measures": measures,
        "measure_definitions": MEASURE_DEFINITIONS[cfg.physics],
        "confidence": conf,
        "tolerances": cfg.tolerances.model_dump(),
        "complete": complete,
        "cases": out_cases,
        "contrast": contrast,
        "warnings": warnings,
        "config": cfg.model_dump(),
    }
