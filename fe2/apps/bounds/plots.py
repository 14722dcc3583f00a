"""PNG plots of a bound-convergence study (matplotlib, Agg; call on one rank).

Input is the summary dict of :func:`fe2.apps.bounds.summary.summarize`. Three kinds of figure:

* ``bounds_<measure>.png`` — left: mean ± confidence interval of the measure
  versus RVE size L/ℓ for each boundary condition, with the Hashin–Shtrikman
  band and the Voigt/Reuss values; right: the relative KUBC−TUBC gap versus L/ℓ
  on log-log axes with its fitted power law.
* ``variance_<measure>.png`` — the variance over realizations versus L/ℓ on
  log-log axes, per BC, with chi-square 95 % error bars, the fitted slope −γ and
  the reference slope −d (short-range correlation).
* ``contrast_<measure>.png`` — the relative gap versus phase contrast (one line
  per size; pores at the left end), when a contrast sweep was run.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

COLORS = {"kubc": "tab:red", "periodic": "black", "tubc": "tab:blue"}
LABELS = {"kubc": "KUBC (upper)", "periodic": "periodic", "tubc": "TUBC (lower)"}
MARKERS = {"kubc": "v", "periodic": "o", "tubc": "^"}
OFFSETS = {"kubc": 0.985, "periodic": 1.0, "tubc": 1.015}
YLABELS = {  # fe2 converts no units: the measures are in the units of the config's phase properties
    "bulk": "bulk modulus κ = (I:C:I)/d²  [units of young]",
    "shear": "shear modulus μ (orientation average)  [units of young]",
    "C11": "C11  [units of young]",
    "k": "conductivity k = tr(K)/d  [units of conductivity]",
    "K11": "K11  [units of conductivity]",
}


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _size_axis(ax, sizes) -> None:
    from matplotlib.ticker import FixedLocator, NullFormatter, NullLocator

    ax.set_xscale("log")
    ax.xaxis.set_major_locator(FixedLocator(sizes))
    ax.xaxis.set_minor_locator(NullLocator())
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xticklabels([f"{s:g}" for s in sizes])
    ax.set_xlabel("RVE size L/ℓ  (ℓ = inclusion diameter; log scale)")


def _fit_line(ax, sizes, fit, color, label) -> None:
    x = np.geomspace(min(sizes), max(sizes), 50)
    ax.plot(x, fit["prefactor"] * x ** (-fit["exponent"]), "--", color=color, lw=1.2, label=label)


def plot_bounds(summary: dict, case: str, measure: str, path: Path) -> Path | None:
    """Mean ± CI per BC vs L/ℓ (+ HS, Voigt, Reuss) and the relative gap vs L/ℓ."""
    c = summary["cases"][case]
    rows = [e for e in c["sizes"] if "stats" in e]
    if not rows:
        return None
    plt = _plt()
    has_gap = all("gap" in e for e in rows)
    fig, axes = plt.subplots(
        1, 2 if has_gap else 1, figsize=(11 if has_gap else 6, 4.6), dpi=110, squeeze=False
    )
    ax = axes[0, 0]
    sizes = [e["size"] for e in rows]
    conf = int(round(100 * summary["confidence"]))
    lo_data, hi_data = np.inf, -np.inf
    for bc in summary["boundary_conditions"]:
        mean = np.array([e["stats"][bc][measure]["mean"] for e in rows])
        ci = np.array([e["stats"][bc][measure]["ci"] for e in rows])
        ax.errorbar(
            np.array(sizes) * OFFSETS[bc],
            mean,
            yerr=ci,
            color=COLORS[bc],
            marker=MARKERS[bc],
            ms=5,
            capsize=3,
            lw=1.2,
            label=f"{LABELS[bc]}, mean ± {conf}% CI",
        )
        lo_data, hi_data = min(lo_data, float(np.min(mean - ci))), max(hi_data, float(np.max(mean + ci)))
    ref = c.get("reference_bounds", {}).get(measure)
    notes = []
    if ref:
        lo, hi = ref["hashin_shtrikman"]
        ax.axhspan(lo, hi, color="tab:green", alpha=0.10, lw=0)
        ax.axhline(lo, color="tab:green", lw=1.0, label=f"Hashin–Shtrikman (f = {ref['fraction']:.3f})")
        ax.axhline(hi, color="tab:green", lw=1.0)
        span = max(hi_data - lo_data, 1e-12 * max(abs(hi_data), 1.0))
        ylo, yhi = lo_data - 0.6 * span, hi_data + 0.6 * span
        for name, val, style in (("Voigt", ref["voigt"], ":"), ("Reuss", ref["reuss"], "-.")):
            if ylo <= val <= yhi:
                ax.axhline(val, color="gray", ls=style, lw=1.0, label=name)
            else:
                notes.append(f"{name} = {val:.4g}")
        for name, val in (("HS lower", lo), ("HS upper", hi)):
            if not (ylo <= val <= yhi):
                notes.append(f"{name} = {val:.4g}")
        ax.set_ylim(ylo, yhi)
    if notes:
        ax.text(
            0.02, 0.02, "off scale: " + ", ".join(notes), transform=ax.transAxes, fontsize=7.5, color="gray"
        )
    _size_axis(ax, sizes)
    ax.set_ylabel(YLABELS.get(measure, measure))
    ax.set_title(
        f"{case}: apparent {measure} vs RVE size ({summary['physics']}, {summary['dim']}D)", fontsize=10
    )
    ax.legend(fontsize=7.5, loc="best")
    ax.grid(alpha=0.3)
    if has_gap:
        ax2 = axes[0, 1]
        g = [e["gap"][measure]["relative"] for e in rows]
        mean = np.array([x["mean"] for x in g])
        ci = np.array([x["ci"] for x in g])
        ok = mean > 0
        lower = np.minimum(ci, 0.95 * mean)  # keep the lower whisker above 0 on log axes
        ax2.errorbar(
            np.array(sizes)[ok],
            mean[ok],
            yerr=[lower[ok], ci[ok]],
            color="tab:purple",
            marker="s",
            ms=5,
            capsize=3,
            lw=1.2,
            label=f"(KUBC − TUBC) / periodic, mean ± {conf}% CI",
        )
        fit = c["fits"]["relative_gap"].get(measure)
        if fit:
            _fit_line(
                ax2,
                sizes,
                fit,
                "tab:purple",
                f"fit ∝ (L/ℓ)^-β, β = {fit['exponent']:.2f} ± {fit['stderr']:.2f}",
            )
        tol = summary["tolerances"]["gap"]
        ax2.axhline(tol, color="gray", ls=":", lw=1.0, label=f"tolerance {tol:g}")
        ax2.set_yscale("log")
        _size_axis(ax2, sizes)
        ax2.set_ylabel("relative gap [-] (log scale)")
        ax2.set_title(f"{case}: KUBC − TUBC gap ({measure})", fontsize=10)
        ax2.legend(fontsize=7.5)
        ax2.grid(alpha=0.3, which="both")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def plot_variance(summary: dict, case: str, measure: str, path: Path) -> Path | None:
    """Var over realizations vs L/ℓ, log-log, with chi-square error bars and fitted slopes."""
    from scipy import stats

    c = summary["cases"][case]
    rows = [e for e in c["sizes"] if "stats" in e]
    if len(rows) < 2:
        return None
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.2, 4.6), dpi=110)
    sizes = np.array([e["size"] for e in rows])
    drawn = False
    for bc in summary["boundary_conditions"]:
        var = np.array([e["stats"][bc][measure]["std"] ** 2 for e in rows])
        n = np.array([e["stats"][bc][measure]["n"] for e in rows])
        ok = var > 0
        if not np.any(ok):
            continue
        nu = n - 1
        lo = nu * var / stats.chi2.ppf(0.975, nu)
        hi = nu * var / stats.chi2.ppf(0.025, nu)
        ax.errorbar(
            sizes[ok] * OFFSETS[bc],
            var[ok],
            yerr=[(var - lo)[ok], (hi - var)[ok]],
            color=COLORS[bc],
            marker=MARKERS[bc],
            ms=5,
            capsize=3,
            lw=0,
            elinewidth=1.0,
            label=LABELS[bc],
        )
        fit = c["fits"]["variance"][bc].get(measure)
        if fit:
            _fit_line(ax, sizes, fit, COLORS[bc], f"{bc}: γ = {fit['exponent']:.2f} ± {fit['stderr']:.2f}")
        drawn = True
    if not drawn:
        plt.close(fig)
        return None
    d = summary["dim"]
    ref = summary["reference_bc"]
    var_ref = np.array([e["stats"][ref][measure]["std"] ** 2 for e in rows])
    if np.all(var_ref > 0):
        x = np.geomspace(sizes.min(), sizes.max(), 20)
        anchor = np.exp(np.mean(np.log(var_ref)) + d * np.mean(np.log(sizes)))
        ax.plot(x, 0.5 * anchor * x ** (-float(d)), ":", color="gray", label=f"slope −{d} (γ = d)")
    ax.set_yscale("log")
    _size_axis(ax, list(sizes))
    ax.set_ylabel(f"Var[{measure}] over realizations [(units of {measure})²] (log scale)")
    ax.set_title(f"{case}: variance vs RVE size, Var ∝ (L/ℓ)^-γ", fontsize=10)
    ax.legend(fontsize=7.5)
    ax.grid(alpha=0.3, which="both")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def plot_contrast(summary: dict, measure: str, path: Path) -> Path | None:
    """Relative KUBC−TUBC gap vs phase contrast, one line per size (pores at the left)."""
    entries = summary.get("contrast", {}).get(measure)
    if not entries:
        return None
    ratios = [e["ratio"] for e in entries if e["ratio"] > 0]
    if not ratios:
        return None
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.4, 4.6), dpi=110)
    x_pores = min(ratios) / 10.0
    sizes = sorted({float(s) for e in entries for s in e["relative_gap"]})
    cmap = plt.get_cmap("viridis")
    floor = 1e-8  # a homogeneous cell (ratio 1) has a round-off gap: not drawn on log axes
    for k, s in enumerate(sizes):
        color = cmap(k / max(1, len(sizes) - 1))
        xs, ys, es = [], [], []
        pore = None
        for e in entries:
            g = e["relative_gap"].get(str(s))
            if g is None or g["mean"] <= floor:
                continue
            if e["ratio"] > 0:
                xs.append(e["ratio"])
                ys.append(g["mean"])
                es.append(min(g["ci"], 0.95 * g["mean"]))
            else:
                pore = g
        if xs:
            order = np.argsort(xs)
            ax.errorbar(
                np.array(xs)[order],
                np.array(ys)[order],
                yerr=np.array(es)[order],
                marker="o",
                ms=4,
                capsize=3,
                color=color,
                label=f"L/ℓ = {s:g}",
            )
        if pore is not None:  # pores: a separate point, not joined to the finite contrasts
            ax.errorbar(
                [x_pores],
                [pore["mean"]],
                yerr=[min(pore["ci"], 0.95 * pore["mean"])],
                marker="s",
                ms=5,
                capsize=3,
                color=color,
                ls="none",
                label=None if xs else f"L/ℓ = {s:g}",
            )
    ax.set_xscale("log")
    ax.set_yscale("log")
    ticks = sorted(set(ratios))
    labels = [f"{r:g}" for r in ticks]
    if any(e["ratio"] == 0 for e in entries):
        ax.axvline(x_pores * 3.0, color="gray", lw=0.8, ls=":")
        ticks, labels = [x_pores, *ticks], ["pores", *labels]
    from matplotlib.ticker import FixedLocator, NullLocator

    ax.xaxis.set_major_locator(FixedLocator(ticks))
    ax.xaxis.set_minor_locator(NullLocator())
    ax.set_xticklabels(labels)
    ax.set_xlabel("phase contrast (inclusion / matrix property) [-] (log scale)")
    ax.set_ylabel(f"relative gap (KUBC − TUBC) / periodic, {measure} [-] (log scale)")
    ax.set_title("gap vs contrast (ratio 1: no gap, not drawn)", fontsize=10)
    ax.legend(fontsize=7.5)
    ax.grid(alpha=0.3, which="both")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def draw_all(summary: dict, out: Path) -> list[str]:
    """Every figure of the main case and the contrast sweep; returns the file names written."""
    out = Path(out)
    written = []
    for m in summary["measures"]:
        for fn, name in ((plot_bounds, f"bounds_{m}.png"), (plot_variance, f"variance_{m}.png")):
            if fn(summary, "main", m, out / name) is not None:
                written.append(name)
        if plot_contrast(summary, m, out / f"contrast_{m}.png") is not None:
            written.append(f"contrast_{m}.png")
    return written
