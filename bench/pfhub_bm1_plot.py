"""Plot PFHub benchmark 1 free-energy histories written by ``fe2 phasefield`` (PFHub CSV format).

Usage::

    python bench/pfhub_bm1_plot.py docs/data/pfhub_bm1/free_energy_1a.csv [more CSVs] \
        --out docs/data/pfhub_bm1/free_energy_bm1.png

Each CSV has the header ``time,free_energy``; the label is the file stem. For comparison the
plot carries the PRISMS-PF 1a values published on PFHub (``_data/simulations/prismspf_1a/meta.yaml``
in github.com/usnistgov/pfhub: explicit FE, 128 × 128 linear quads, S. DeWitt, 2017), which are
also printed next to ours at the same times.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

#: PRISMS-PF, PFHub benchmark 1a (periodic), time → total free energy
PRISMS_1A = {0.0: 319.0337102, 1.0: 318.8273928, 5.0: 316.9902126, 10.0: 304.1771795, 20.0: 203.3234468,
             100.0: 115.6166174, 200.0: 102.5245412, 500.0: 84.678672, 1000.0: 70.35382018,
             2000.0: 59.92824777, 3000.0: 52.50633843, 10000.0: 40.81065093}


def load(path: Path) -> tuple[np.ndarray, np.ndarray]:
    data = np.loadtxt(path, delimiter=",", skiprows=1, ndmin=2)
    return data[:, 0], data[:, 1]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("csv", nargs="+", type=Path)
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args(argv)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 4))
    for p in args.csv:
        t, F = load(p)
        ax.loglog(np.maximum(t, 1e-2), F, "-", lw=1.5, label=p.stem)
        print(f"{p.stem}: {len(t) - 1} steps to t = {t[-1]:g}")
        for tt, ref in PRISMS_1A.items():
            if tt <= t[-1] * (1 + 1e-12):
                i = int(np.argmin(np.abs(t - tt)))
                print(f"  t = {t[i]:8g}  F = {F[i]:10.4f}   PRISMS-PF 1a {ref:10.4f}   "
                      f"ratio {F[i] / ref:.4f}")
    ts = np.array(list(PRISMS_1A))
    ax.loglog(np.maximum(ts, 1e-2), list(PRISMS_1A.values()), "ko", ms=4, label="PRISMS-PF 1a (PFHub)")
    ax.set_xlabel("time t (dimensionless, PFHub units)")
    ax.set_ylabel("total free energy F (dimensionless)")
    ax.set_title("PFHub benchmark 1")
    ax.legend(fontsize=8)
    fig.tight_layout()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=120)
    plt.close(fig)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
