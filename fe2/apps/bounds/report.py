"""Report files of a bound-convergence study (rank 0): summary.json, the CSV tables, the PNGs.

``summary.json``, ``statistics.csv``, ``gaps.csv``, ``fits.csv`` and
``realizations.csv`` are written atomically; the plots (``bounds_<measure>.png``,
``variance_<measure>.png``, ``contrast_<measure>.png``) by :mod:`fe2.apps.bounds.plots`.
Notation: Voigt with engineering shear, order ``11 22 12`` (2D) / ``11 22 33 23 13 12`` (3D).
"""

from __future__ import annotations

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

__all__ = ["write_report"]


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
