"""PNGs of a study (rank 0 draws): index bars with their confidence intervals, the variance split vs size."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _atomic_save(fig, path: Path) -> str:
    tmp = path.with_name(path.stem + ".tmp.png")
    fig.savefig(tmp, dpi=110, bbox_inches="tight")
    tmp.replace(path)
    return path.name


def index_bars(method: str, analysis: dict, out: Path) -> list[str]:
    """One PNG per QoI: S1 and ST of each input (Sobol', PCE) or mu* (Morris), with their intervals."""
    plt = _plt()
    written = []
    for name, rec in analysis["qoi"].items():
        table = rec["indices"]
        keys = list(table)
        x = np.arange(len(keys))
        fig, ax = plt.subplots(figsize=(1.2 + 1.1 * len(keys), 3.4))
        if method == "morris":
            ax.bar(x, [table[k]["mu_star"] for k in keys], yerr=[table[k]["mu_star_ci"] for k in keys], capsize=4)
            ax.set_ylabel(f"Morris mu* of {name}")
        else:
            for off, idx, label in ((-0.2, "S1", "first order S1"), (0.2, "ST", "total ST")):
                err = [table[k].get(idx + "_ci", 0.0) for k in keys] if method == "sobol" else None
                ax.bar(x + off, [table[k][idx] for k in keys], width=0.4, yerr=err, capsize=4, label=label)
            ax.set_ylabel(f"Sobol' index of {name}")
            ax.axhline(0.0, color="k", lw=0.6)
            ax.legend(fontsize=8)
        ax.set_xticks(x, keys, rotation=20, ha="right", fontsize=8)
        ci = analysis["conventions"].get("confidence")
        ax.set_title(f"{method}: {name}" + (f" ({ci:.0%} intervals)" if method != "pce" and ci else ""), fontsize=9)
        written.append(_atomic_save(fig, out / f"{method}_{name}.png"))
        plt.close(fig)
    return written


def split_vs_size(analysis: dict, out: Path) -> list[str]:
    """One PNG per QoI: aleatory and epistemic parts (with intervals) against the scanned size, log-log."""
    plt = _plt()
    written = []
    for name, rec in analysis["qoi"].items():
        rows = rec.get("by_scan")
        if not rows or "size" not in rows[0]:
            continue
        L = np.array([r["size"] for r in rows])
        fig, ax = plt.subplots(figsize=(4.6, 3.4))
        for part, marker in (("aleatory", "o"), ("epistemic", "s")):
            v = np.array([r[part] for r in rows])
            ci = np.array([r[part + "_ci"] for r in rows])
            ok = v > 0
            err = np.abs(np.vstack([v - ci[:, 0], ci[:, 1] - v]))
            p = rec.get(f"exponent_{part}")
            label = f"{part}" + (f" (slope {p:.2f})" if p is not None else "")
            ax.errorbar(L[ok], v[ok], yerr=err[:, ok], marker=marker, capsize=3, label=label)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xticks(L, [f"{v:g}" for v in L])
        ax.xaxis.set_minor_formatter(plt.NullFormatter())
        ax.set_xlabel("size L")
        ax.set_ylabel(f"variance of {name}")
        ax.legend(fontsize=8)
        ax.set_title("E[Var(Y|θ)] (aleatory) and Var(E[Y|θ]) (epistemic)", fontsize=9)
        written.append(_atomic_save(fig, out / f"split_{name}.png"))
        plt.close(fig)
    return written


__all__ = ["index_bars", "split_vs_size"]
