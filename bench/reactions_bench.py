"""Batched node-ODE throughput: fe2's vectorized stiff integrators vs a per-node scipy loop.

Network: Robertson's 3-species stiff kinetics (A -> B, 2B -> B + C, B + C -> A + C; rate constants
0.04, 3e7, 1e4; stiffness ratio ~1e3-1e9), the same at every node, initial state (1, 0, 0) with a
per-node spread of +-10% in k1 so that nodes are not identical.

Measured in one run, on one core (numpy element-wise kernels are single-threaded):

* ``fixed_step`` — node-steps per second of ROS2 and backward Euler with a fixed dt on
  ``n_nodes`` nodes (1e6; quick: 1e5). Target >= 1e7 node-steps/s/core for ROS2.
* ``vs_scipy`` — the same integration interval [0, 1] with adaptive step control, batched ROS2
  (rtol 1e-5) over all nodes vs ``scipy.integrate.solve_ivp`` (BDF, rtol 1e-5, analytic Jacobian)
  looping over a sample of nodes; both compared with a tight solve_ivp reference. The ratio is
  per-node wall time (scipy / batched).

Run: ``python bench/reactions_bench.py [--quick] [--json bench/reactions.json]``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fe2.physics.reactions import Network, Reaction, Species, integrate, solve_ivp_reference  # noqa: E402


def robertson() -> Network:
    return Network(
        [Species("A", 1.0), Species("B"), Species("C")],
        [Reaction.parse("A -> B", k="k1"), Reaction.parse("2 B -> B + C", k="k2"),
         Reaction.parse("B + C -> A + C", k="k3")],
        {"k1": 0.04, "k2": 3e7, "k3": 1e4},
    )


def fixed_step(n_nodes: int, steps: int = 10, dt: float = 1e-3, repeats: int = 2) -> dict:
    net = robertson()
    cn = net.compile()
    rng = np.random.default_rng(0)
    k1 = 0.04 * rng.uniform(0.9, 1.1, n_nodes)
    c0 = np.tile(net.initial, (n_nodes, 1))
    out = {"n_nodes": n_nodes, "steps": steps, "dt": dt}
    for method in ("ros2", "be"):
        best = None
        for _ in range(repeats):
            r = integrate(cn, c0, (0.0, steps * dt), method=method, dt=dt, params={"k1": k1})
            if best is None or r.wall_time < best.wall_time:
                best = r
        out[method] = {"wall_s": best.wall_time, "node_steps": best.node_steps,
                       "node_steps_per_s": best.node_steps / best.wall_time,
                       "moiety_drift": best.moiety_drift}
    return out


def vs_scipy(n_nodes: int, n_scipy: int, rtol: float = 1e-5) -> dict:
    net = robertson()
    cn = net.compile()
    rng = np.random.default_rng(1)
    k1 = 0.04 * rng.uniform(0.9, 1.1, n_nodes)
    c0 = np.tile(net.initial, (n_nodes, 1))
    span = (0.0, 1.0)
    b = integrate(cn, c0, span, method="ros2", rtol=rtol, atol=1e-10, params={"k1": k1})
    sample = np.arange(n_scipy)
    s = solve_ivp_reference(cn, c0[sample], span, method="BDF", rtol=rtol, atol=1e-10,
                            params={"k1": k1[sample]})
    ref = solve_ivp_reference(cn, c0[sample], span, method="Radau", rtol=1e-11, atol=1e-14,
                              params={"k1": k1[sample]})
    err = lambda c: float(np.max(np.abs(c - ref.c) / (np.abs(ref.c) + 1e-6)))  # noqa: E731
    per_node_b = b.wall_time / n_nodes
    per_node_s = s.wall_time / n_scipy
    return {
        "n_nodes_batched": n_nodes, "n_nodes_scipy": n_scipy, "rtol": rtol, "t_span": span,
        "batched_ros2": {"wall_s": b.wall_time, "per_node_s": per_node_b, "node_steps": b.node_steps,
                         "rel_error_vs_reference": err(b.c[sample]), "moiety_drift": b.moiety_drift},
        "scipy_bdf_loop": {"wall_s": s.wall_time, "per_node_s": per_node_s,
                           "rel_error_vs_reference": err(s.c), "moiety_drift": s.moiety_drift},
        "speedup_per_node": per_node_s / per_node_b,
    }


def collect(quick: bool) -> dict:
    fs = fixed_step(100_000 if quick else 1_000_000)
    vs = vs_scipy(10_000 if quick else 100_000, 50 if quick else 200)
    rec = {"machine": platform.machine(), "python": platform.python_version(), "numpy": np.__version__,
           "quick": quick, "fixed_step": fs, "vs_scipy": vs,
           "target_node_steps_per_s_per_core": 1e7,
           "target_met": fs["ros2"]["node_steps_per_s"] >= 1e7}
    print(f"\nreaction-network benchmark (Robertson, 3 species, 1 core)\n"
          f"  fixed step, {fs['n_nodes']} nodes: ROS2 {fs['ros2']['node_steps_per_s']:.3g} node-steps/s, "
          f"BE {fs['be']['node_steps_per_s']:.3g} node-steps/s (target 1e7; moiety drift "
          f"{max(fs['ros2']['moiety_drift'], fs['be']['moiety_drift']):.1e})")
    print(f"  adaptive on [0, 1], rtol {vs['rtol']:g}: batched ROS2 "
          f"{vs['batched_ros2']['per_node_s'] * 1e6:.1f} µs/node "
          f"(error {vs['batched_ros2']['rel_error_vs_reference']:.1e}) vs solve_ivp BDF loop "
          f"{vs['scipy_bdf_loop']['per_node_s'] * 1e6:.0f} µs/node (error "
          f"{vs['scipy_bdf_loop']['rel_error_vs_reference']:.1e}) -> speed-up {vs['speedup_per_node']:.0f}x")
    return rec


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--json", default="bench/reactions.json")
    args = ap.parse_args()
    rec = collect(args.quick)
    Path(args.json).write_text(json.dumps(rec, indent=2, default=float) + "\n")


if __name__ == "__main__":
    main()
