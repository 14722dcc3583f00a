# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # A reduced RVE for FE²: train it, then use it on the plate with a hole
#
# The FE² plate of `demos/fe2_plate_with_hole.py` solves a full nonlinear RVE (J2 matrix,
# elastic fibres) at every macro point and Newton iteration. Here the same RVE is first
# reduced offline — snapshots of the full RVE along Sobol strain paths, a POD basis, an
# empirical cubature (docs/reduced_rve.md) — and the FE² problem is then solved twice,
# with the full RVE and with the reduced one (the full RVE as fallback beyond the trained
# amplitude), and the load–displacement curves are compared.
#
# Run: `mpirun -n 2 python demos/reduced_rve_fe2.py --out out/reduced_fe2` (`--quick`, or
# `CI=1`, for the coarse meshes of the smoke tests). The same with the CLI:
# `fe2 reduce demos/configs/reduce/fibre_j2_rve.toml --out rom/`, then `fe2 run` of
# `demos/configs/run/fe2_plate_j2.toml` with `[rve] reduced = "rom"`.

# %%
import argparse
import os
from pathlib import Path

import numpy as np
from mpi4py import MPI

import fe2  # noqa: F401  (imports dolfinx_solver before dolfinx where installed)
from fe2.apps.reduce.runner import run_reduce
from fe2.apps.run.runner import run_fe2
from fe2.config.reduce import load_reduce_config
from fe2.config.run import load_run_config

parser = argparse.ArgumentParser()
parser.add_argument("--out", default="out/reduced_fe2")
parser.add_argument("--quick", action="store_true", default=bool(os.environ.get("CI")))
args, _ = parser.parse_known_args()
comm = MPI.COMM_WORLD
here = Path(__file__).resolve().parent
out = Path(args.out)


def say(msg):
    if comm.rank == 0:
        print(msg, flush=True)


# %% [markdown]
# ## Offline: train the reduced RVE
# `demos/configs/reduce/fibre_j2_rve.toml` holds the RVE of the run config and the training
# design; the training paths are shared out over the ranks. The quick mode coarsens the RVE
# and trains fewer, shorter paths. The amplitude is raised to 0.08 so that the points at the
# hole stay (almost all) inside the trained range.

# %%
rve_mesh = 0.3 if args.quick else 0.15
red_cfg = load_reduce_config(here / "configs" / "reduce" / "fibre_j2_rve.toml")
geometry = red_cfg.rve.geometry.model_copy(update={"mesh_size": rve_mesh})
red_cfg = red_cfg.model_copy(update={
    "rve": red_cfg.rve.model_copy(update={"geometry": geometry}),
    "training": red_cfg.training.model_copy(update={"max_amplitude": 0.08,
                                                    **({"n_directions": 8, "n_steps": 4} if args.quick else {})}),
    "reduction": red_cfg.reduction.model_copy(update={"ecm_tol": 1e-3})})
trained = run_reduce(red_cfg, comm, out / "rom", progress=say)
say(f"reduced RVE: {trained['n_modes']} modes, {trained['ecm']['n_points']} of {trained['n_quadrature_points']} "
    f"points; validation stress error {trained['validation_max_relative_stress_error']:.2e}; "
    f"offline {trained['wall_s']:.1f} s")

# %% [markdown]
# ## Online: FE² with the full and with the reduced RVE

# %%
cfg = load_run_config(here / "configs" / "run" / "fe2_plate_j2.toml")
macro = cfg.macro
if args.quick:
    macro = macro.model_copy(update={"domain": macro.domain.model_copy(update={"mesh_size": 0.35})})
full_rve = cfg.rve.model_copy(update={"geometry": geometry})
runs = {}
for name, rve in (("full", full_rve), ("reduced", full_rve.model_copy(update={"reduced": str(out / "rom")}))):
    say(f"\nFE² with the {name} RVE")
    output = cfg.output.model_copy(update={"micro_points": []})
    case = cfg.model_copy(update={"macro": macro, "rve": rve, "output": output})
    runs[name] = run_fe2(case, comm, out / name, progress=say)

# %% [markdown]
# ## Comparison

# %%
r_full = np.array([s["reaction"] for s in runs["full"]["steps"]])
r_red = np.array([s["reaction"] for s in runs["reduced"]["steps"]])
rel = np.abs(r_red - r_full) / np.abs(r_full)
say("\nload factor   reaction full   reduced     rel. diff")
for s, a, b, e in zip(runs["full"]["steps"], r_full, r_red, rel, strict=True):
    say(f"{s['load_factor']:11.3f}   {a:12.6f}   {b:9.6f}   {e:9.2e}")
split = runs["reduced"]["micro"]["reduced"]
t_full, t_red = (max(runs[k]["micro"]["time_per_rank_s"]) for k in ("full", "reduced"))
say(f"reduced solves {split['reduced_solves']}, full fallbacks {split['full_solves']} "
    f"({split['out_of_range']} out of range); micro time (slowest rank) full {t_full:.2f} s, reduced {t_red:.2f} s")

# %% [markdown]
# ![reaction force of the plate, full vs reduced RVE](../../images/reduced_fe2_reaction.png)
#
# *The figure this demo draws (a quick-mode run, copied to docs/images/).*

# %%
if comm.rank == 0:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    u = [0.0] + [s["load_factor"] for s in runs["full"]["steps"]]
    fig, ax = plt.subplots(figsize=(5.0, 3.6))
    ax.plot(u, [0.0, *r_full], "k-o", label="FE², full RVE")
    ax.plot(u, [0.0, *r_red], "r--s", mfc="none", label="FE², reduced RVE (POD + ECM)")
    ax.set_xlabel("load factor (prescribed displacement / its final value) [-]")
    ax.set_ylabel("reaction force per unit thickness [config units]")
    ax.set_title(f"max relative difference {rel.max():.1e}")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / "reduced_fe2_reaction.png", dpi=120)
    plt.close(fig)
    say(f"picture: {out / 'reduced_fe2_reaction.png'}")

# %% [markdown]
# ## Checks (this demo is also a test)
# The reduced FE² reaction must stay within 1 % of the full FE² one at every step (the
# issue's target; measured ≤ 7.4e-4 in quick mode on 1 and 2 ranks), the reduced model must answer at
# least 90 % of the solves, and its Hill–Mandel residual must stay at round-off.

# %%
assert np.all(rel < 1e-2), rel
assert split["reduced_solves"] >= 0.9 * (split["reduced_solves"] + split["full_solves"])
assert runs["reduced"]["micro"]["hill_mandel_max"] < 1e-8
say("demo checks passed")
