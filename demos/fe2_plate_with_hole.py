# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # FE²: a plate with a hole made of an elastoplastic fibre composite
#
# A quarter plate with a central hole is pulled along x1 by a prescribed edge
# displacement. There is no macroscopic constitutive law: at every macro
# quadrature point an RVE — elastic fibres in a von Mises (J2) matrix with
# isotropic hardening, periodic conditions — is solved for the local macro
# strain, and returns the homogenized stress and its consistent tangent
# (static condensation with the converged micro factorization). The micro
# plastic history is committed only when the macro step converges.
#
# Run: `mpirun -n 2 python demos/fe2_plate_with_hole.py --out out/fe2_plate`
# (`--quick` for the coarse meshes of the smoke tests). The same problem is
# `fe2 run demos/configs/run/fe2_plate_j2.toml --out DIR`.

# %%
import argparse
import os
from pathlib import Path

import numpy as np
from mpi4py import MPI

import fe2  # noqa: F401  (imports dolfinx_solver before dolfinx where installed)
from fe2.apps.run.runner import run_fe2
from fe2.config.run import load_run_config

parser = argparse.ArgumentParser()
parser.add_argument("--out", default="out/fe2_plate")
parser.add_argument("--quick", action="store_true", default=bool(os.environ.get("CI")))
args, _ = parser.parse_known_args()
comm = MPI.COMM_WORLD
here = Path(__file__).resolve().parent


def say(msg):
    if comm.rank == 0:
        print(msg, flush=True)


# %% [markdown]
# ## The problem
# Everything is in `demos/configs/run/fe2_plate_j2.toml`: macro domain and loads,
# load steps, and the RVE (geometry and phase laws). The quick mode coarsens both meshes.

# %%
cfg = load_run_config(here / "configs" / "run" / "fe2_plate_j2.toml")
if args.quick:
    macro = cfg.macro.model_copy(update={"domain": cfg.macro.domain.model_copy(update={"mesh_size": 0.35})})
    rve = cfg.rve.model_copy(update={"geometry": cfg.rve.geometry.model_copy(update={"mesh_size": 0.3})})
    cfg = cfg.model_copy(update={"macro": macro, "rve": rve})

# %% [markdown]
# ## Solve
# Rank 0 prints, for each load step and Newton iteration, the residual and the
# number of micro solves so far; the residual falls quadratically because the
# macro tangent is the consistent one.

# %%
result = run_fe2(cfg, comm, args.out, progress=say)

# %% [markdown]
# ## Load–displacement curve and micro statistics
# `load_displacement.png` shows the reaction on the pulled edge against the
# load factor: linear at first, then softer once the matrix yields around the hole.
#
# ![reaction against load factor](../../images/fe2_plate_load_displacement.png)
#
# *The figure this demo draws (a quick-mode run, copied to docs/images/);
# this page shows the code, not executed.*

# %%
steps = result["steps"]
reactions = np.array([s["reaction"] for s in steps])
factors = np.array([s["load_factor"] for s in steps])
say("\nload factor   reaction     Newton its")
for s in steps:
    say(f"{s['load_factor']:11.3f}   {s['reaction']:10.5f}   {s['newton_iterations']:3d}")
micro = result["micro"]
say(f"\nmicro solves {micro['solves']}, Hill–Mandel max {micro['hill_mandel_max']:.1e}, "
    f"micro time per rank min/mean/max {micro['load_balance']['min']:.2f}/"
    f"{micro['load_balance']['mean']:.2f}/{micro['load_balance']['max']:.2f} s")
say(f"ParaView: {args.out}/displacement.xdmf, {args.out}/stress.xdmf; curve: {args.out}/load_displacement.png")

# %% [markdown]
# ## Checks (this demo is also a test)

# %%
secant = reactions / factors
assert np.all(np.diff(reactions) > 0), "the reaction must grow with the load"
assert secant[-1] < 0.95 * secant[0], "plasticity must soften the response"
assert micro["hill_mandel_max"] < 1e-8
last = steps[-1]["residuals"]
assert last[-1] < 1e-10 * last[0] and len(last) <= 8, "macro Newton must converge fast (consistent tangent)"
say("demo checks passed")
