"""Report files of a bound-convergence study (rank 0): summary.json, the CSV tables, the PNGs.

``summary.json``, ``statistics.csv``, ``gaps.csv``, ``fits.csv`` and
``realizations.csv`` are written atomically; the plots (``bounds_<measure>.png``,
``variance_<measure>.png``, ``contrast_<measure>.png``) by :mod:`fe2.apps.bounds.plots`.
Notation: Voigt with engineering shear, order ``11 22 12`` (2D) / ``11 22 33 23 13 12`` (3D).
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from fe2 import config as cfgmod
from fe2.apps.bounds.measures import measure_values
from fe2.apps.bounds.plan import Case, record_key
from fe2.apps.bounds.record import BoundsRecord
from fe2.apps.bounds.store import RECORD_GLOB
from fe2.io.results import write_csv_atomic, write_json_atomic

__all__ = ["print_bounds_table", "write_report"]


def _fmt(v) -> str | float | int:
    return "" if v is None else v


def write_report(
    summary: dict,
    records: Mapping[str, BoundsRecord],
    cfg: cfgmod.BoundsConfig,
    cases: Sequence[Case],
    out: Path,
) -> None:
    """summary.json, the CSV tables and the PNGs (call on one rank)."""
    from fe2.apps.bounds import plots

    t0 = time.perf_counter()
    stats_rows, gap_rows, fit_rows, real_rows = [], [], [], []
    measures = summary["measures"]
    for name, c in summary["cases"].items():
        for e in c["sizes"]:
            for bc, per in e.get("stats", {}).items():
                for m, s in per.items():
                    stats_rows.append(
                        [
                            name,
                            c["ratio"],
                            e["size"],
                            e["L"],
                            bc,
                            m,
                            s["n"],
                            s["mean"],
                            s["std"],
                            s["sem"],
                            s["ci"],
                            s["ci_rel"],
                            s["pi_rel"],
                            s["min"],
                            s["max"],
                        ]
                    )
            for m, g in e.get("gap", {}).items():
                gap_rows.append(
                    [
                        name,
                        c["ratio"],
                        e["size"],
                        m,
                        g["absolute"]["n"],
                        g["absolute"]["mean"],
                        g["absolute"]["ci"],
                        g["relative"]["mean"],
                        g["relative"]["ci"],
                        _fmt(g.get("kubc_excess", {}).get("mean")),
                        _fmt(g.get("tubc_deficit", {}).get("mean")),
                    ]
                )
        for bc, per in c["fits"]["variance"].items():
            for m, f in per.items():
                if f:
                    fit_rows.append(
                        [
                            name,
                            "variance",
                            bc,
                            m,
                            f["exponent"],
                            f["stderr"],
                            f["prefactor"],
                            f["n_points"],
                            f["chi2_dof"],
                        ]
                    )
        for m, f in c["fits"]["relative_gap"].items():
            if f:
                fit_rows.append(
                    [
                        name,
                        "relative_gap",
                        "kubc-tubc",
                        m,
                        f["exponent"],
                        f["stderr"],
                        f["prefactor"],
                        f["n_points"],
                        f["chi2_dof"],
                    ]
                )
    for case in cases:
        for size, n_exp in zip(case.sizes, case.realizations, strict=True):
            for i in range(n_exp):
                rec = records.get(record_key(cfg, case, size, i))
                if rec is None:
                    continue
                for bc, C in rec.effective.items():
                    vals = measure_values(cfg.physics, cfg.dim, np.asarray(C))
                    real_rows.append(
                        [case.name, case.ratio, size, i, rec.seed, bc, *[vals[m] for m in measures]]
                    )
    conf = int(round(100 * summary["confidence"]))
    write_csv_atomic(
        out / "statistics.csv",
        [
            "case",
            "ratio",
            "size",
            "L",
            "bc",
            "measure",
            "n",
            "mean",
            "std",
            "sem",
            f"ci{conf}",
            f"ci{conf}_rel",
            f"pi{conf}_rel",
            "min",
            "max",
        ],
        stats_rows,
    )
    write_csv_atomic(
        out / "gaps.csv",
        [
            "case",
            "ratio",
            "size",
            "measure",
            "n",
            "gap_mean",
            f"gap_ci{conf}",
            "rel_gap_mean",
            f"rel_gap_ci{conf}",
            "kubc_excess_mean",
            "tubc_deficit_mean",
        ],
        gap_rows,
    )
    write_csv_atomic(
        out / "fits.csv",
        ["case", "quantity", "bc", "measure", "exponent", "stderr", "prefactor", "n_points", "chi2_dof"],
        fit_rows,
    )
    write_csv_atomic(
        out / "realizations.csv", ["case", "ratio", "size", "realization", "seed", "bc", *measures], real_rows
    )
    figures = plots.draw_all(summary, out)
    if "run" in summary:
        summary["run"]["report_s"] = time.perf_counter() - t0
    summary["files"] = {
        "records": RECORD_GLOB,
        "statistics": "statistics.csv",
        "gaps": "gaps.csv",
        "fits": "fits.csv",
        "realizations": "realizations.csv",
        "figures": figures,
    }
    write_json_atomic(out / "summary.json", summary)


def print_bounds_table(s: dict) -> None:
    """Main case: mean ± CI per size and BC, relative gap, fitted exponents, tolerance answers."""
    c = s["cases"]["main"]
    conf = int(round(100 * s["confidence"]))
    for m in s["measures"]:
        print(f"\n{m}: mean ± {conf}% CI over realizations; gap = (KUBC - TUBC) / periodic")
        head = "".join(f"{bc:>24s}" for bc in s["boundary_conditions"])
        print(f"{'L/ℓ':>6s}{'n':>5s}{head}{'gap':>18s}")
        for e in c["sizes"]:
            if "stats" not in e:
                continue
            cols = "".join(f"{e['stats'][bc][m]['mean']:>13.6g} ± {e['stats'][bc][m]['ci']:<8.2g}"
                           for bc in s["boundary_conditions"])
            gap = e.get("gap", {}).get(m)
            gtxt = f"{gap['relative']['mean']:>9.4f} ± {gap['relative']['ci']:<6.2g}" if gap else ""
            print(f"{e['size']:>6g}{e['n']:>5d}{cols}{gtxt:>18s}")
        for bc, per in c["fits"]["variance"].items():
            f = per.get(m)
            if f:
                print(f"  Var[{m}] ∝ (L/ℓ)^-γ, {bc:8s}: γ = {f['exponent']:.2f} ± {f['stderr']:.2f}"
                      f" (theory: d = {s['dim']})")
        f = c["fits"]["relative_gap"].get(m)
        if f:
            print(f"  gap ∝ (L/ℓ)^-β: β = {f['exponent']:.2f} ± {f['stderr']:.2f}")
        t = c["tolerance"].get(m, {})
        questions = (
            ("gap", "gap"),
            ("ci", "CI of the mean"),
            ("single_realization", "one realization"),
            ("mean_converged", "mean drift vs the largest size"),
        )
        for what, label in questions:
            if what in t:
                x = t[what]
                ext = x.get("extrapolated_size")
                ext_txt = f", extrapolated {ext:.3g}" if ext is not None and math.isfinite(ext) else ""
                sm = x["smallest_size"]
                found = "none of the sizes" if sm is None else f"{sm:g}"
                print(f"  smallest L/ℓ with {label} <= {x['tolerance']:g}: {found}{ext_txt}")
