# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # Enzyme kinetics: full model, sQSSA, tQSSA, batched stiff integration and the SSA
#
# The Michaelis–Menten mechanism E + S ⇌ C → E + P is the textbook case of model reduction.
# We
#
# * integrate the full mass-action model and its two quasi-steady-state reductions — the
#   standard one (sQSSA, valid when Segel–Slemrod's ε_SS = E0/(S0 + K_M) is small) and the
#   total one (tQSSA, valid when Borghans et al.'s ε_BdBS = K E0/(K_M + E0 + S0)² is small) —
#   in a case with little enzyme (both hold) and with as much enzyme as substrate (sQSSA fails);
# * advance many independent copies of the full network at once (one per "node", each with its
#   own binding rate) with fe2's batched Rosenbrock integrator, checking the conserved moieties
#   E + C and S + C + P;
# * sample the dimerization 2A ⇌ B with Gillespie's SSA and compare the histogram with the exact
#   chemical master equation.
#
# Run it with `python demos/reaction_network.py --out out/reactions` (add `--quick` for the
# smaller sample sizes used by the smoke tests); under `mpirun -n 2` every rank computes the same
# seeded results and rank 0 prints and draws.

# %%
import argparse
import os
from pathlib import Path

import numpy as np
from mpi4py import MPI

import fe2  # noqa: F401  (imports dolfinx_solver before dolfinx where installed)
from fe2.io.results import write_json_atomic
from fe2.physics.reactions import (
    EnzymeKinetics,
    Network,
    Reaction,
    Species,
    cme_generator,
    compare_qssa,
    full_model,
    gillespie,
    integrate,
    sqssa,
    time_scales,
    tqssa,
)

parser = argparse.ArgumentParser(description=__doc__)
parser.add_argument("--out", default="out/reaction_network")
parser.add_argument("--quick", action="store_true", default=bool(os.environ.get("CI")))
args, _ = parser.parse_known_args()
comm = MPI.COMM_WORLD
out = Path(args.out)
if comm.rank == 0:
    out.mkdir(parents=True, exist_ok=True)
comm.Barrier()


def say(*msg):
    if comm.rank == 0:
        print(*msg, flush=True)


# %% [markdown]
# ## Full model vs sQSSA vs tQSSA
# k1 = km1 = k2 = 1 (so K_M = 2, K = 1), S0 = 10. With E0 = 0.01 the enzyme is scarce;
# with E0 = 10 a large part of the substrate is bound in the complex within the first instants,
# which sQSSA ignores (it lets all of S0 react at the Michaelis–Menten rate): its product curve is
# off by a sizeable fraction of S0, while tQSSA, written for the total substrate S + C, stays close.

# %%
cases = {"E0 = 0.01": EnzymeKinetics(k1=1.0, km1=1.0, k2=1.0, E0=0.01, S0=10.0),
         "E0 = 10": EnzymeKinetics(k1=1.0, km1=1.0, k2=1.0, E0=10.0, S0=10.0)}
qssa = {}
curves = {}
for name, p in cases.items():
    qssa[name] = compare_qssa(p)
    t = np.linspace(0.0, 3.0 * p.t_S, 300)
    curves[name] = (t, full_model(p, t)["P"], sqssa(p, t)["P"], tqssa(p, t)["P"])
    say(f"{name:10s} " + qssa[name].summary())

# %% [markdown]
# ## Many nodes at once: batched Rosenbrock (ROS2) with per-node step control
# Each node has its own binding rate k1 ∈ [1, 100] (stiffness varies over nodes); the time-scale
# analysis at t = 0 shows the stiffness ratio of the fastest node.

# %%
p = EnzymeKinetics(k1=10.0, km1=1.0, k2=2.0, E0=0.5, S0=2.0)
net = p.network()
rng = np.random.default_rng(0)
n_nodes = 5_000 if args.quick else 200_000
k1 = rng.uniform(1.0, 100.0, n_nodes)
c0 = np.tile(net.initial, (n_nodes, 1))
res = integrate(net, c0, (0.0, 5.0), method="ros2", rtol=1e-4, atol=1e-8, params={"k1": k1})
ts = time_scales(net, [0.5, 2.0, 0.0, 0.0], params={"k1": 100.0})
say(f"\nbatched ROS2: {n_nodes} nodes, {res.node_steps} node-steps in {res.wall_time:.2f} s "
    f"({res.node_steps / res.wall_time:.3g} node-steps/s), moiety drift {res.moiety_drift:.1e} "
    f"(moieties {', '.join(net.moiety_names())}); stiffness ratio at k1 = 100: {ts['stiffness_ratio']:.3g}")

# %% [markdown]
# ## Stochastic dimerization vs the chemical master equation
# 2A ⇌ B with 30 molecules of A: since A + 2B = 30 the CME lives on B = 0..15 exactly and is solved
# with `expm_multiply`; the SSA histogram at t = 1 must match it up to sampling noise.

# %%
from scipy.sparse.linalg import expm_multiply  # noqa: E402

N = 30
dimer = Network([Species("A", N), Species("B", 0)], [Reaction.parse("2 A <-> B", k="k1", k_reverse="k2")],
                {"k1": 0.1, "k2": 1.0})
states = np.array([[N - 2 * b, b] for b in range(N // 2 + 1)])
p0 = np.zeros(len(states))
p0[0] = 1.0
p_cme = expm_multiply(cme_generator(dimer, states) * 1.0, p0)
n_traj = 5_000 if args.quick else 50_000
ssa = gillespie(dimer, [1.0], n_traj=n_traj, seed=1)
v, p_hist = ssa.histogram("B")
p_ssa = np.zeros(len(states))
p_ssa[: v.size] = p_hist
tv = 0.5 * np.abs(p_ssa - p_cme).sum()
tv_noise = 0.5 * np.sum(np.sqrt(2 * p_cme * (1 - p_cme) / (np.pi * n_traj)))
say(f"SSA ({n_traj} trajectories, {ssa.events} events, {ssa.wall_time:.2f} s): TV distance to the CME "
    f"{tv:.4f}, expected from sampling alone {tv_noise:.4f}")

# %% [markdown]
# ## Figure and results
#
# ![QSSA against the full model, SSA against the CME](../../images/reaction_network.png)
#
# *The figure this demo draws (a quick-mode run, copied to docs/images/);
# this page shows the code, not executed.*

# %%
if comm.rank == 0:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(14, 4))
    for ax, (name, (t, pf, ps, pt)) in zip(axes[:2], curves.items(), strict=False):
        ax.plot(t, pf, "k-", lw=2, label="full model")
        ax.plot(t, ps, "C0--", label="sQSSA")
        ax.plot(t, pt, "C1:", lw=2, label="tQSSA")
        c = qssa[name].criteria
        ax.set_title(f"{name}, S0 = 10: ε_SS = {c['eps_SS']:.2g}, ε_BdBS = {c['eps_BdBS']:.2g}")
        ax.set_xlabel("t")
        ax.set_ylabel("product P")
        ax.legend()
    b = np.arange(len(states))
    axes[2].bar(b, p_ssa, width=0.8, alpha=0.6, label=f"SSA, {n_traj} runs")
    axes[2].plot(b, p_cme, "ko-", label="CME (exact)")
    axes[2].set_xlabel("number of dimers B at t = 1")
    axes[2].set_ylabel("probability")
    axes[2].set_title(f"2A ⇌ B: TV distance {tv:.3f}")
    axes[2].legend()
    fig.tight_layout()
    fig.savefig(out / "reaction_network.png", dpi=120)
    plt.close(fig)

write_json_atomic(out / "result.json", {
    "qssa": {k: v.to_dict() for k, v in qssa.items()},
    "batched": res.to_dict(),
    "ssa_dimerization": {"tv": tv, "tv_sampling": tv_noise, "p_ssa": p_ssa, "p_cme": p_cme, "n_traj": n_traj},
}, comm)
say(f"wrote {out / 'result.json'} and {out / 'reaction_network.png'}")

# %% [markdown]
# ## Checks (this demo is also a test)

# %%
small, equal = qssa["E0 = 0.01"], qssa["E0 = 10"]
assert small.error_sqssa <= 2.5 * small.criteria["eps_SS"]  # sQSSA good when eps_SS small
# E0 = S0: sQSSA fails, tQSSA holds
assert equal.error_sqssa > 0.2 and equal.error_tqssa <= 2.5 * equal.criteria["eps_BdBS"]
assert res.moiety_drift <= 1e-10  # implicit integrators conserve E + C and S + C + P to round-off
assert tv <= 3.0 * tv_noise  # SSA matches the CME up to sampling noise
say("demo checks passed")
