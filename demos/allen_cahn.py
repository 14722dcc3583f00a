# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # A shrinking grain with Allen–Cahn: motion by curvature
#
# A circular grain (c = 1 inside, c = 0 outside) in the double well f = W c²(1−c)² shrinks
# under Allen–Cahn dynamics ∂c/∂t = −L(f'(c) − κΔc). For an interface much thinner than the
# radius, the normal velocity is L κ times the curvature, so the grain area decreases at the
# constant rate dA/dt = −2π L κ whatever the radius. We simulate a quarter of the grain
# (no-flux symmetry planes), measure A(t) = ∫c (×4) and compare its slope with −2πLκ.
# The time scheme (secant Crank–Nicolson, second order) makes the free-energy change per step an
# exact dissipation identity, so the energy never increases; we check it too.
#
# Run it with `mpirun -n 2 python demos/allen_cahn.py --out out/allen_cahn` (`--quick` in CI).

# %%
import argparse
import os
from pathlib import Path

import numpy as np
from mpi4py import MPI

import fe2  # noqa: F401  (imports dolfinx_solver before dolfinx where installed)

# isort: split
from dolfinx import io, mesh

from fe2.io.results import write_csv_atomic, write_json_atomic
from fe2.physics.phasefield import AllenCahn, DoubleWell, TimeStepping

parser = argparse.ArgumentParser(description=__doc__)
parser.add_argument("--out", default="out/allen_cahn")
parser.add_argument("--quick", action="store_true", default=bool(os.environ.get("CI")))
args, _ = parser.parse_known_args()
comm = MPI.COMM_WORLD
out = Path(args.out)


def say(*msg):
    if comm.rank == 0:
        print(*msg, flush=True)


# %% [markdown]
# ## Setup: W = 1, κ = 2 (interface width ~ √(2κ/W) = 2), L = 1, R0 = 30

# %%
W, kappa, Lmob, R0, size = 1.0, 2.0, 1.0, 30.0, 50.0
n, t_end = (50, 10.0) if args.quick else (150, 100.0)
domain = mesh.create_rectangle(comm, [[0.0, 0.0], [size, size]], [n, n])
ac = AllenCahn(domain, DoubleWell(W, 0.0, 1.0), kappa=kappa, mobility=Lmob)
width = np.sqrt(2 * kappa / W)
ac.set_initial_condition(lambda x: 0.5 * (1 - np.tanh((np.hypot(x[0], x[1]) - R0) / (2 * width / 2))))
if comm.rank == 0:
    out.mkdir(parents=True, exist_ok=True)
comm.Barrier()
xdmf = io.XDMFFile(comm, str(out / "grain.xdmf"), "w")
xdmf.write_mesh(domain)


def write_output(solver, rec):
    if rec.step % 100 == 0:
        xdmf.write_function(solver.concentration(), rec.t)


# %% [markdown]
# ## Run: a short relaxation of the initial profile, then measure the area rate

# %%
# Δt is capped at 0.025: the secant-CN time error is then negligible next to the model and mesh
# errors below (the first-order convex split, `scheme="split_euler"`, would slow the dynamics by
# ≈ Δt L |f_e''| ≈ 2.5 % at this Δt; an energy-stable step is not by itself an accurate one).
history = ac.run(t_end, TimeStepping(dt=0.025, dt_max=0.025), callback=write_output)
xdmf.close()
t = np.array([r.t for r in history])
E = np.array([r.energy for r in history])
A = 4 * np.array([r.mass for r in history])
late = t >= 0.2 * t_end  # skip the initial relaxation of the tanh profile
slope = np.polyfit(t[late], A[late], 1)[0]
theory = -2 * np.pi * Lmob * kappa
say(f"{'step':>5} {'t':>8} {'dt':>6} {'energy':>12} {'area':>10} {'its':>4}")
for r in history[:: max(1, len(history) // 10)]:
    say(f"{r.step:5d} {r.t:8.2f} {r.dt:6.2f} {r.energy:12.5f} {4 * r.mass:10.2f} {r.newton_its:4d}")
say(f"dA/dt measured {slope:.4f}, theory −2πLκ = {theory:.4f} ({abs(slope / theory - 1):.1%} off)")
write_csv_atomic(
    out / "area_energy.csv",
    ["time", "area", "free_energy"],
    [[a, b, c] for a, b, c in zip(t, A, E, strict=False)],
    comm=comm,
)
write_json_atomic(
    out / "summary.json", {"dA_dt": slope, "theory": theory, "history": [r.to_dict() for r in history]}, comm=comm
)

# %% [markdown]
# ## Checks
# * energy never increases (energy-stable scheme);
# * the area rate is within 8 % of −2πLκ (quick mode: 6.0 %): O(width/R) corrections to the
#   sharp-interface law and the mesh (h = 1 ~ the interface width) set this; the time error at
#   Δt = 0.025 is negligible with secant CN (the old split-Euler default gave 3.4 %, its
#   ≈ 2.5 % slow-down partly cancelling the other errors).

# %%
assert np.all(np.diff(E) <= 1e-11 * abs(E[0])), np.diff(E).max()
assert abs(slope / theory - 1) < 0.08, (slope, theory)
say("checks passed")
