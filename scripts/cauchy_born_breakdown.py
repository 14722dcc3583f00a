"""Where the Cauchy–Born rule breaks down in the plate demo: a PNG of the ellipticity indicator.

Runs ``fe2 run demos/configs/run/cauchy_born_plate_breakdown.toml`` into OUT (default
out/cauchy_born_breakdown), reads the stress series back (``fe2.io.open_results``) and draws, at the
first load factor where the flag fired and at the last one, the smallest acoustic-tensor eigenvalue
per cell (ε/σ², the demo's units) with the cells where strong ellipticity is lost outlined in black.

    python scripts/cauchy_born_breakdown.py [--out OUT] [--png docs/images/cauchy_born_breakdown.png]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fe2 import _compat  # noqa: E402,F401  (dolfinx_solver before dolfinx / petsc4py)

# isort: split

import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import matplotlib.tri as mtri  # noqa: E402
import numpy as np  # noqa: E402

from fe2.cli import main as fe2_main  # noqa: E402
from fe2.io import open_results  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=ROOT / "out" / "cauchy_born_breakdown")
    ap.add_argument("--png", type=Path, default=ROOT / "docs" / "images" / "cauchy_born_breakdown.png")
    args = ap.parse_args()
    cfg = ROOT / "demos" / "configs" / "run" / "cauchy_born_plate_breakdown.toml"
    if fe2_main(["run", str(cfg), "--out", str(args.out)]) != 0:
        raise SystemExit("the demo run failed")
    res = open_results(args.out)
    times = res.times("stress")
    flagged = [s.get("flagged_points", {}).get("cb_ellipticity_lost_flag", 0) for s in res.result["steps"]]
    first = next((k for k, n in enumerate(flagged) if n), len(times) - 1)
    frames = sorted({first, len(times) - 1})
    fig, axes = plt.subplots(1, len(frames), figsize=(5.6 * len(frames), 5.2), squeeze=False)
    fields = [res.field("stress", k) for k in frames]
    lam_all = np.concatenate([f.cell_data["cb_ellipticity"] for f in fields])
    vmax = float(np.max(np.abs(lam_all)))
    for ax, k, g in zip(axes[0], frames, fields, strict=True):
        # the cells as triangles of their corner nodes (VTK 5, or 69: Lagrange triangles of the curved mesh)
        corners = next(c[:, :3] for t, c in g.cells_dict.items() if int(t) in (5, 69))
        tri = mtri.Triangulation(g.points[:, 0], g.points[:, 1], corners)
        lam = g.cell_data["cb_ellipticity"]
        pc = ax.tripcolor(tri, facecolors=lam, cmap="RdBu", vmin=-vmax, vmax=vmax, edgecolors="none")
        lost = np.flatnonzero(g.cell_data["cb_ellipticity_lost_flag"] > 0.5)
        for c in lost:
            xy = g.points[tri.triangles[c], :2]
            ax.fill(xy[:, 0], xy[:, 1], facecolor="none", edgecolor="black", linewidth=1.2)
        ax.set_aspect("equal")
        ax.set_xlabel("x₁ [length of the config]")
        ax.set_ylabel("x₂ [length of the config]")
        ax.set_title(f"load factor {times[k]:g}: {lost.size} cell(s) with λ_min ≤ 0 (outlined)")
        fig.colorbar(pc, ax=ax, label="λ_min of the acoustic tensor [ε/σ²]")
    fig.suptitle("Cauchy–Born breakdown: triangular LJ crystal, plate with a hole stretched to 5 % in x₁\n"
                 "(λ_min ≤ 0: strong ellipticity lost; diverging map centred on 0)")
    fig.tight_layout()
    args.png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.png, dpi=110)
    print(f"flagged cells per step {flagged} at load factors {times}; wrote {args.png}")


if __name__ == "__main__":
    main()
