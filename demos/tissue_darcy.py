# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # Interstitial flow in a tumour: permeability from micro Stokes cells, Starling exchange, audit
#
# A 2D tumour (radius 5 mm) sits in host tissue (radius 15 mm). Fluid leaks out of the
# microvessels by Starling's law, $J_v = L_p S/V\,(p_v - p - \sigma(\pi_v-\pi_i))$, drains into
# the lymphatics of the host, and moves through the interstitium by Darcy's law
# $u = -K\nabla p$. The hydraulic conductivity $K = k/\mu$ is not a tissue constant here:
# at every macro quadrature point it comes from a periodic **Stokes cell** of fibres whose
# solid fraction $c$ is 0.1 in the tumour and falls from 0.3 to 0.15 across the host.
# $k(c) = a^2\,\kappa(c)$ with $\kappa = K/a^2$ of the cell: the scaling in the fibre radius
# $a$ is exact, $\kappa(c)$ is interpolated from 7 cell solves (its error is measured).
#
# Run: `mpirun -n 2 python demos/tissue_darcy.py --out out/tissue` (add `--quick` for a
# coarse smoke run). Open `fields.bp` in ParaView (p, u, fibre_fraction, K_xx, c).

# %%
from __future__ import annotations

import argparse
import os
from pathlib import Path

from mpi4py import MPI

from fe2.apps.darcy.runner import run_darcy
from fe2.config.darcy import load_darcy_config
from fe2.physics.darcy import units

ap = argparse.ArgumentParser()
ap.add_argument("--quick", action="store_true", default=bool(os.environ.get("CI")),
                help="coarse meshes (smoke test; the default when CI is set)")
ap.add_argument("--out", default="out/tissue_darcy")
args = ap.parse_args()
comm = MPI.COMM_WORLD
ROOT = Path(__file__).resolve().parent


def say(msg: str) -> None:
    if comm.rank == 0:
        print(msg, flush=True)


# %% [markdown]
# ## The tumour with micro-scale permeability
# The study is the shipped config `demos/configs/darcy/tumour_micro_k.toml` (SI units);
# quick mode coarsens the macro mesh and the Stokes cells.
#
# ![interstitial pressure against radius](../../images/darcy_tumour_profile.png)
#
# *The profile `run_darcy` draws (`OUT/tumour/profile.png`; a quick-mode run, copied to
# docs/images/); this page shows the code, not executed.*

# %%
cfg = load_darcy_config(ROOT / "configs" / "darcy" / "tumour_micro_k.toml")
if args.quick:  # configs are frozen: copies with updates
    cfg = cfg.model_copy(update={
        "domain": cfg.domain.model_copy(update={"mesh_size": 2.5e-3, "tumour_mesh_size": 1.25e-3}),
        "permeability": cfg.permeability.model_copy(update={"cell_mesh_size": 0.1}),
        "solute": cfg.solute.model_copy(update={"n_steps": 3}),
    })
res = run_darcy(cfg, comm, Path(args.out) / "tumour", progress=say)

# %% [markdown]
# ## Audit table
# Every solve closes the fluid balance: Starling inflow − lymphatic drainage − boundary
# outflow = 0. The mixed (Raviart–Thomas) formulation does so to round-off globally and in
# every cell; the solute balance is audited at every step.

# %%
a = res["darcy"]["audit"]
perm = res["permeability"]
rows = [
    ("Starling inflow [m²/s per m depth]", f"{a['starling_inflow']:.4e}"),
    ("lymphatic drainage", f"{a['lymphatic_drainage']:.4e}"),
    ("boundary outflow", f"{a['boundary_outflow']:.4e}"),
    ("relative residual (global)", f"{a['relative_residual']:.1e}"),
    ("max cell residual", f"{a['cell_residual_max']:.1e}"),
    ("centre pressure [mmHg]", f"{res['radial_profile']['p_center_mmHg']:.3f}"),
    ("micro Stokes cells solved", f"{perm['cell_solves']}"),
    ("interpolation error of K(c)", f"{perm['interpolation_max_rel_error']:.1e}"),
    ("K tumour / host (mean) [m²/(Pa s)]", (f"{perm['K_mean_per_region']['tumour'][0][0]:.3e} / "
                                           f"{perm['K_mean_per_region']['host'][0][0]:.3e}")),
    ("solute balance residual (max)", f"{res['solute']['max_relative_residual']:.1e}"),
]
say("\n".join(f"  {k:38s} {v}" for k, v in rows))

# %% [markdown]
# ## Verification: an isolated uniform tumour against Baxter & Jain (1989)
# Same machinery, one region with the tumour data, $p = 0$ on its surface: the analytic
# profile $p/p_e = 1 - I_0(\alpha r/R)/I_0(\alpha)$ (disk analogue of the sphere's sinh form).

# %%
bj_cfg = load_darcy_config(ROOT / "configs" / "darcy" / "isolated_tumour.toml")
if args.quick:
    bj_cfg = bj_cfg.model_copy(update={"domain": bj_cfg.domain.model_copy(update={"mesh_size": 1e-4})})
bj = run_darcy(bj_cfg, comm, Path(args.out) / "isolated", progress=say)["baxter_jain"]
say(f"  Baxter-Jain alpha = {bj['alpha']:.3f}, p_e = {bj['p_e_Pa'] / units.MMHG:.2f} mmHg, "
    f"relative L2 error of p = {bj['pressure_L2_rel_error']:.2e}")

# %% [markdown]
# ## Checks

# %%
p_e_tumour = res["tissue"]["tumour"]["p_e"]
assert a["relative_residual"] <= 1e-10 and a["cell_residual_max"] <= 1e-10, a
assert 0.0 < res["radial_profile"]["p_center_Pa"] <= p_e_tumour  # maximum principle: below the source level
assert perm["interpolation_max_rel_error"] < 2e-2, perm["interpolation_max_rel_error"]
assert res["solute"]["max_relative_residual"] <= 1e-10
# DG0 pressure: O(h) in L2, 5.3e-2 at R/h = 10 (quick), 2.7e-2 at R/h = 20
assert bj["pressure_L2_rel_error"] < (8e-2 if args.quick else 4e-2), bj
say("checks passed")
