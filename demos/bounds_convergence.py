# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # How large must an RVE be? KUBC, periodic and TUBC versus RVE size
#
# A fibre composite seen in its cross-section: stiff circular fibres (E_f / E_m = 10,
# volume fraction 0.3) placed at random, without overlap, in a soft matrix (2D,
# plane strain). For RVEs of growing size L/ℓ (ℓ = fibre diameter) we draw several
# random realizations and compute each one's apparent stiffness under the three
# classical boundary conditions:
#
# * **KUBC** (kinematic uniform) — stiffer than the material: an upper estimate,
# * **periodic** — in between, and the fastest to converge,
# * **TUBC** (uniform traction) — softer: a lower estimate.
#
# In every realization KUBC ⪰ periodic ⪰ TUBC. As L/ℓ grows, the KUBC−TUBC gap
# closes (like ℓ/L: a boundary layer) and the scatter over realizations shrinks
# (the variance like (L/ℓ)^-d for short-range correlation). The study reports,
# per size, the mean and a 95 % confidence interval of the bulk and shear moduli,
# fits both decay rates, and says which size meets a tolerance. A contrast sweep
# (E_f / E_m = 1 and 100 with the matrix's Poisson ratio, and pores) shows the gap growing with contrast.
#
# Run it with `mpirun -n 2 python demos/bounds_convergence.py --out out/bounds`
# (the realizations are shared out over the ranks; `--quick` is the small version
# used by the smoke tests). Rerunning with the same `--out` resumes: finished
# realizations are read back, not recomputed. The same study from the command
# line: `fe2 bounds demos/configs/bounds/random_disks_elastic.toml --out DIR`.

# %%
import argparse
import os
from pathlib import Path

from mpi4py import MPI

import fe2  # noqa: F401  (imports dolfinx_solver before dolfinx where installed)
from fe2.apps.bounds import run_bounds_study
from fe2.config import BoundsConfig

parser = argparse.ArgumentParser(description=__doc__)
parser.add_argument("--out", default="out/bounds_convergence")
parser.add_argument("--quick", action="store_true", default=bool(os.environ.get("CI")))
args, _ = parser.parse_known_args()
comm = MPI.COMM_WORLD
out = Path(args.out)


def say(*msg):
    if comm.rank == 0:
        print(*msg, flush=True)


# %% [markdown]
# ## The study
# The same keys as a `fe2 bounds` TOML file (docs/config.md). The inclusion radius
# is r = 0.5, so ℓ = 2r = 1 and the box edge L equals L/ℓ. With `exact_fraction`
# the fibre radius of each size is adjusted by a few % so that a whole number of
# fibres gives exactly 30 %: only the RVE size changes from size to size.

# %%
if args.quick:
    sizes, realizations, epr = [2, 3, 4], 6, 3.0
    sweep = {"ratios": [1.0, 100.0], "pores": True, "sizes": [2, 4], "realizations": 4}
else:
    sizes, realizations, epr = [2, 3, 4, 6, 8], [40, 40, 30, 24, 16], 4.0
    sweep = {"ratios": [1.0, 3.0, 30.0, 100.0], "pores": True, "sizes": [2, 4, 8], "realizations": 12}
cfg = BoundsConfig.model_validate(
    {
        "physics": "elasticity",
        "dim": 2,
        "sizes": sizes,
        "realizations": realizations,
        "volume_fraction": 0.3,
        "radius": 0.5,
        "elements_per_radius": epr,
        "seed": 2024,
        "measures": ["bulk", "shear"],
        "materials": {
            "matrix": {"young": 1.0, "poisson": 0.3},
            "inclusion": {"young": 10.0, "poisson": 0.25},
        },
        "tolerances": {"gap": 0.05, "ci": 0.01},
        "contrast": sweep,
    }
)

# %% [markdown]
# ## Run (resumable) and read the report
# Each finished realization is appended to `OUT/realizations.rank<r>.jsonl` at
# once; the statistics, CSV tables and plots are written when all are done.
#
# ![apparent bulk modulus against RVE size, KUBC, periodic and TUBC](../../images/bounds_bulk.png)
#
# *The figure this demo draws (a quick-mode run, copied to docs/images/);
# this page shows the code, not executed.*

# %%
summary = run_bounds_study(cfg, comm, out, progress=lambda m: say("  " + m) if "records:" not in m else None)
main = summary["cases"]["main"]
for m in summary["measures"]:
    say(f"\n{m}: mean ± 95% CI over realizations, relative gap (KUBC − TUBC)/periodic")
    for e in main["sizes"]:
        s = e["stats"]
        say(
            f"  L/ℓ = {e['size']:>3g} (n = {e['n']:2d}):  "
            f"KUBC {s['kubc'][m]['mean']:.4f} ± {s['kubc'][m]['ci']:.4f}"
            f"   periodic {s['periodic'][m]['mean']:.4f} ± {s['periodic'][m]['ci']:.4f}"
            f"   TUBC {s['tubc'][m]['mean']:.4f} ± {s['tubc'][m]['ci']:.4f}"
            f"   gap {e['gap'][m]['relative']['mean']:.3f}"
        )
    hs = main["reference_bounds"][m]["hashin_shtrikman"]
    say(f"  Hashin–Shtrikman bounds: [{hs[0]:.4f}, {hs[1]:.4f}]")
    gfit, vfit = main["fits"]["relative_gap"][m], main["fits"]["variance"]["periodic"][m]
    say(
        f"  gap ∝ (L/ℓ)^-β, β = {gfit['exponent']:.2f} ± {gfit['stderr']:.2f};  "
        f"Var(periodic) ∝ (L/ℓ)^-γ, γ = {vfit['exponent']:.2f} ± {vfit['stderr']:.2f} (theory: d = 2)"
    )
    tol = main["tolerance"][m]
    ext = tol["gap"]["extrapolated_size"]
    say(
        f"  gap ≤ {tol['gap']['tolerance']}: smallest computed L/ℓ {tol['gap']['smallest_size']}"
        + (f", extrapolated from the fit: L/ℓ ≈ {ext:.3g}" if ext is not None else "")
    )
for m in summary["measures"]:
    say(f"\ngap vs contrast ({m}):")
    for c in summary["contrast"][m]:
        gaps = ", ".join(f"L/ℓ {float(k):g}: {v['mean']:.3g}" for k, v in c["relative_gap"].items())
        say(f"  {c['case']:10s} (E_f/E_m = {c['ratio']:g}): {gaps}")
say(
    f"\nreport: {out}/summary.json, statistics.csv, gaps.csv, fits.csv; "
    f"plots: {', '.join(summary['files']['figures'])}"
)

# %% [markdown]
# ## Checks (this demo is also a test)
# * every realization of every case satisfies KUBC ⪰ periodic ⪰ TUBC (smallest
#   eigenvalue of each difference ≥ −1e-10 of the tensor: round-off of a direct solve);
# * the periodic mean at the largest size lies inside the Hashin–Shtrikman bounds;
# * the relative gap shrinks from the smallest to the largest size, and grows with
#   contrast (ratio 1 has no gap at all, 100 more than 10);
# * the variance over realizations decreases with size (γ > 0).

# %%
for name, case in summary["cases"].items():
    assert case["ordering"]["violations"] == 0, (name, case["ordering"])
    assert min(case["ordering"]["min_relative_eigenvalue"].values()) > -1e-10
for m in summary["measures"]:
    assert main["reference_bounds"][m]["inside_hashin_shtrikman"], main["reference_bounds"][m]
    gaps = [e["gap"][m]["relative"]["mean"] for e in main["sizes"]]
    assert gaps[-1] < gaps[0], gaps
    assert main["fits"]["variance"]["periodic"][m]["exponent"] > 0.0
    by_case = {c["case"]: c["relative_gap"] for c in summary["contrast"][m]}
    largest = str(float(sweep["sizes"][-1]))
    assert abs(by_case["ratio_1"][largest]["mean"]) < 1e-10  # homogeneous: every BC gives the same tensor
    assert by_case["ratio_100"][largest]["mean"] > by_case["main"][largest]["mean"] > 0.0
say("demo checks passed")
