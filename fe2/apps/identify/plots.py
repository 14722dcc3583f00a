"""PNG figures of ``fe2 identify``: one profile likelihood per parameter, and the fit vs the data."""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np

from fe2.physics.reactions.profile_likelihood import Profile, TimeCourse


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: Path) -> None:
    tmp = path.with_name(path.name + ".tmp")
    fig.savefig(tmp, format="png", dpi=110)
    os.replace(tmp, path)


def safe_name(name: str) -> str:
    """A file-name part for a parameter name (``X2(0)`` -> ``X2_0``)."""
    return re.sub(r"[^A-Za-z0-9_]+", "_", name).strip("_")


def plot_profile(path: Path, prof: Profile, unit: str, threshold: float, level: float,
                 estimate: float, truth: float | None, bounds: tuple[float, float]) -> None:
    """2 Delta NLL vs the parameter (log axis) with the chi2_1 threshold and the interval ends."""
    plt = _pyplot()
    order = np.argsort(prof.log_values)
    x = np.exp(np.asarray(prof.log_values)[order])
    y = np.asarray(prof.delta_chi2)[order]
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(x, y, "o-", ms=3, label="profile (others re-optimized)")
    ax.axhline(threshold, color="k", ls="--", lw=1,
               label=f"threshold $\\chi^2_1({level:g})$ = {threshold:.2f}")
    for end, txt in ((prof.lower, "lower"), (prof.upper, "upper")):
        if end is not None:
            ax.axvline(end, color="tab:green", lw=1, ls=":")
            ax.annotate(f"{txt} {end:.4g}", (end, threshold), textcoords="offset points", xytext=(3, 5), fontsize=8)
    ax.axvline(estimate, color="tab:blue", lw=1, label=f"estimate {estimate:.4g}")
    if truth is not None:
        ax.axvline(truth, color="tab:red", lw=1, ls="-.", label=f"true value {truth:.4g}")
    ax.set_xscale("log")
    ax.set_xlim(*bounds) if prof.verdict != "finite" else None
    ax.set_ylim(bottom=min(0.0, float(y.min())) - 0.1, top=max(2 * threshold, float(min(y.max(), 4 * threshold))))
    ax.set_xlabel(f"{prof.name} [{unit}] (log scale)")
    ax.set_ylabel(r"$2\,\Delta$NLL = $\Delta\chi^2$ [-]")
    ax.set_title(f"profile likelihood of {prof.name}: {prof.verdict}")
    ax.legend(fontsize=7)
    fig.tight_layout()
    _save(fig, path)
    plt.close(fig)


def plot_fit(path: Path, model_times: np.ndarray, model_values: np.ndarray, calibration: TimeCourse,
             validation: TimeCourse | None, sigma: np.ndarray, time_unit: str, amount_unit: str) -> None:
    """Calibration and validation data (error bars: +- sigma) and the fitted model."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for o, name in enumerate(calibration.names):
        line, = ax.plot(model_times, model_values[:, o], label=f"{name}: fitted model")
        ax.errorbar(calibration.times, calibration.values[:, o], yerr=sigma[o], fmt="o", ms=3,
                    color=line.get_color(), label=f"{name}: calibration data")
        if validation is not None:
            ax.errorbar(validation.times, validation.values[:, o], yerr=sigma[o], fmt="s", ms=3, mfc="none",
                        color=line.get_color(), label=f"{name}: validation data (not fitted)")
    ax.set_xlabel(f"time [{time_unit}]")
    ax.set_ylabel(f"observable [{amount_unit}]")
    ax.set_title("fit on the calibration data; validation data predicted")
    ax.legend(fontsize=7)
    fig.tight_layout()
    _save(fig, path)
    plt.close(fig)
