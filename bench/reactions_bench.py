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
* ``vs_roadrunner`` — the same kinetics imported from SBML (``tests/data/sbml/robertson.xml``,
  :func:`~fe2.physics.reactions.sbml.load_sbml`) against libroadrunner's CVODE (LLVM-compiled
  model) on [0, 40]: (a) one node, fe2 ROS2 and backward Euler vs one ``simulate``, all at
  rtol 1e-6 / atol 1e-10; (b) ``n_nodes`` nodes with per-node k1 (+-10%), batched ROS2 vs a
  roadrunner ``reset`` + ``simulate`` loop over a sample of nodes, extrapolated per node. Errors
  are ``max |c - c_ref| / max_t |c_ref|`` over 9 log-spaced output times against roadrunner at
  rtol 1e-10 / atol 1e-14. Ratios are wall time roadrunner / fe2 (> 1: fe2 faster); load and
  compile times (sympy lambdify, LLVM JIT) are reported apart.
* ``hybrid_vs_ssa`` — the hybrid SSA/ODE solver vs the pure SSA (Gillespie direct method) on the
  telegraph gene of ``tests/physics/reactions/test_hybrid.py`` (one slowly switching gene copy, abundant mRNA and
  protein), same network, seed and number of trajectories, on [0, 5]. CPU time
  (``process_time``, robust to other jobs on the machine), after one untimed warm-up call each,
  repetitions interleaved, minimum of each; ratio SSA / hybrid (> 1: the hybrid is faster;
  measured 4-5). The work counts behind it (SSA events vs ODE steps + slow events) are what the
  test asserts.

* ``speed`` — :mod:`reactions_speed` (issue 13 targets): one system at rtol 1e-6 (MM, Robertson,
  repressilator), import + load + first run in a fresh process, and 1e5 (quick: 2e3) Robertson nodes at
  rtol 1e-4 / 1e-6, fe2's compiled Rodas4 vs libroadrunner side by side.

Run: ``python bench/reactions_bench.py [--quick] [--speed] [--json bench/reactions.json]``
(``--speed``: only the speed part).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fe2.physics.reactions import integrate, solve_ivp_reference  # noqa: E402
from fe2.physics.reactions.examples import robertson  # noqa: E402

sys.path.insert(0, str(ROOT / "bench"))
import reactions_speed  # noqa: E402


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


SBML_ROBERTSON = ROOT / "tests" / "data" / "sbml" / "robertson.xml"


def _rr(rtol: float, atol: float):
    import roadrunner

    r = roadrunner.RoadRunner(str(SBML_ROBERTSON))
    r.integrator.relative_tolerance = rtol
    r.integrator.absolute_tolerance = atol
    r.integrator.max_steps = 1_000_000
    return r


def _rr_run(r, times, k1=None):
    r.reset()
    if k1 is not None:
        r["k1"] = float(k1)
    return np.asarray(r.simulate(times=times))[:, 1:]


def _traj_err(c: np.ndarray, ref: np.ndarray) -> float:
    """max_{t,i} |c - ref| / max_t |ref_i| (``(n_times, n_species)`` arrays)."""
    scale = np.max(np.abs(ref), axis=0, keepdims=True)
    return float(np.max(np.abs(c - ref) / np.where(scale > 0, scale, 1.0)))


def vs_roadrunner(n_nodes: int, n_rr: int, rtols=(1e-6, 1e-4), atol: float = 1e-10) -> dict:
    try:
        import roadrunner
    except ImportError:
        return {"skipped": "libroadrunner is not installed (pip install -e '.[test]')"}
    import time

    from fe2.physics.reactions.sbml import load_sbml

    tic = time.perf_counter()
    net = load_sbml(SBML_ROBERTSON)
    cn = net.compile()
    t_import = time.perf_counter() - tic
    sel = ["time"] + [f"[{s}]" for s in net.species_names]
    times = np.concatenate([[0.0], np.logspace(-4, np.log10(40.0), 8)])
    span = (0.0, float(times[-1]))
    tic = time.perf_counter()
    ref_r = _rr(1e-10, 1e-14)
    t_rr_load = time.perf_counter() - tic
    ref_r.timeCourseSelections = sel
    rng = np.random.default_rng(2)
    k1 = net.parameters["k1"] * rng.uniform(0.9, 1.1, n_nodes)
    c0 = np.tile(net.initial, (n_nodes, 1))
    sample = np.linspace(0, n_nodes - 1, n_rr).astype(int)
    ref_loop = np.stack([_rr_run(ref_r, times, k1[i]) for i in sample], axis=1)
    ref = _rr_run(ref_r, times, net.parameters["k1"])
    out = {"model": str(SBML_ROBERTSON.relative_to(ROOT)), "atol": atol, "t_span": span,
           "output_times": times.tolist(), "roadrunner_version": roadrunner.__version__,
           "fe2_import_and_compile_s": t_import, "roadrunner_load_and_jit_s": t_rr_load,
           "one_node": {}, "batched": {}}
    for rtol in rtols:
        r = _rr(rtol, atol)
        r.timeCourseSelections = sel
        # (a) one node: roadrunner best of 5 simulate calls, fe2 one call (tens of ms and up)
        t_rr, c_rr = np.inf, None
        for _ in range(5):
            tic = time.perf_counter()
            c_rr = _rr_run(r, times, net.parameters["k1"])
            t_rr = min(t_rr, time.perf_counter() - tic)
        one = {"roadrunner_cvode": {"wall_s": t_rr, "rel_error": _traj_err(c_rr, ref)}}
        for method in ("ros2", "be"):
            res = integrate(cn, net.initial, span, method=method, rtol=rtol, atol=atol, t_eval=times)
            one[f"fe2_{method}"] = {"wall_s": res.wall_time, "steps": res.node_steps,
                                    "rel_error": _traj_err(res.c_eval, ref),
                                    "time_ratio_roadrunner_over_fe2": t_rr / res.wall_time}
        out["one_node"][f"rtol={rtol:g}"] = one
        # (b) many nodes with per-node k1: batched ROS2 vs a reset + simulate loop on a sample
        b = integrate(cn, c0, span, method="ros2", rtol=rtol, atol=atol, t_eval=times, params={"k1": k1})
        tic = time.perf_counter()
        c_loop = np.stack([_rr_run(r, times, k1[i]) for i in sample], axis=1)
        t_loop = time.perf_counter() - tic
        per_b, per_rr = b.wall_time / n_nodes, t_loop / n_rr
        out["batched"][f"rtol={rtol:g}"] = {
            "n_nodes_fe2": n_nodes, "n_nodes_roadrunner": n_rr,
            "fe2_ros2": {"wall_s": b.wall_time, "per_node_s": per_b, "node_steps": b.node_steps,
                         "max_rel_error_on_sample": max(_traj_err(b.c_eval[:, i], ref_loop[:, j])
                                                        for j, i in enumerate(sample))},
            "roadrunner_loop": {"wall_s": t_loop, "per_node_s": per_rr,
                                "extrapolated_wall_s": per_rr * n_nodes,
                                "max_rel_error_on_sample": max(_traj_err(c_loop[:, j], ref_loop[:, j])
                                                               for j in range(n_rr))},
            "time_ratio_roadrunner_over_fe2": per_rr / per_b,
        }
    return out


def _telegraph():
    """The telegraph gene of tests/physics/reactions/test_hybrid.py.

    k_on = k_off = 0.5, k_m = 500, g = 1, k_p = 2, g_p = 1.
    """
    from fe2.physics.reactions import Network, Reaction, Species

    return Network(
        [Species("Goff", 1), Species("Gon", 0), Species("M", 0), Species("P", 0)],
        [Reaction.parse("Goff -> Gon", k="kon"), Reaction.parse("Gon -> Goff", k="koff"),
         Reaction.parse("Gon -> Gon + M", k="km"), Reaction.parse("M ->", k="g"),
         Reaction.parse("M -> M + P", k="kp"), Reaction.parse("P ->", k="gp")],
        {"kon": 0.5, "koff": 0.5, "km": 500.0, "g": 1.0, "kp": 2.0, "gp": 1.0},
    )


def hybrid_vs_ssa(n_traj: int, t_end: float = 5.0, repeats: int = 3) -> dict:
    """CPU time of the hybrid SSA/ODE solver vs the pure SSA on the telegraph gene, measured side by side."""
    import time

    from fe2.physics.reactions import gillespie
    from fe2.physics.reactions.hybrid import hybrid

    net = _telegraph()
    hybrid(net, [t_end], n_traj=2, seed=0, threshold=50.0, rtol=1e-3)  # warm-up: compile the network once
    gillespie(net, [t_end], n_traj=2, seed=0)
    t_h, t_s = [], []
    for _ in range(repeats):  # interleaved: both see the same machine state
        c0 = time.process_time()
        h = hybrid(net, [t_end], n_traj=n_traj, seed=1, threshold=50.0, rtol=1e-3)
        t_h.append(time.process_time() - c0)
        c0 = time.process_time()
        s = gillespie(net, [t_end], n_traj=n_traj, seed=1)
        t_s.append(time.process_time() - c0)
    return {
        "network": "telegraph gene (tests/physics/reactions/test_hybrid.py)", "n_traj": n_traj, "t_end": t_end,
        "repeats": repeats,
        "partition": {"discrete": h.partition.discrete, "continuous": h.partition.continuous},
        "hybrid": {"cpu_s": min(t_h), "ode_steps_per_traj": h.ode_steps / n_traj,
                   "slow_events_per_traj": h.events / n_traj},
        "ssa": {"cpu_s": min(t_s), "events_per_traj": s.events / n_traj},
        "work_ratio_ssa_over_hybrid": s.events / (h.ode_steps + h.events),
        "time_ratio_ssa_over_hybrid": min(t_s) / min(t_h),
    }


def collect(quick: bool) -> dict:
    fs = fixed_step(100_000 if quick else 1_000_000)
    vs = vs_scipy(10_000 if quick else 100_000, 50 if quick else 200)
    rr = vs_roadrunner(2_000 if quick else 20_000, 50 if quick else 200)  # > 2 chunks of 8192
    hy = hybrid_vs_ssa(50 if quick else 200)
    sp = reactions_speed.collect(2_000 if quick else 100_000, 50 if quick else 300)
    rec = {"machine": platform.machine(), "python": platform.python_version(), "numpy": np.__version__,
           "quick": quick, "fixed_step": fs, "vs_scipy": vs, "vs_roadrunner": rr, "hybrid_vs_ssa": hy, "speed": sp,
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
    if "skipped" in rr:
        print(f"  SBML vs libroadrunner: skipped ({rr['skipped']})")
    else:
        print(f"  SBML Robertson ({rr['model']}) on [0, 40] vs libroadrunner CVODE:")
        for key, o in rr["one_node"].items():
            bt = rr["batched"][key]
            print(f"    {key}, one node: roadrunner {o['roadrunner_cvode']['wall_s'] * 1e3:.2f} ms "
                  f"(error {o['roadrunner_cvode']['rel_error']:.1e}), fe2 ROS2 "
                  f"{o['fe2_ros2']['wall_s'] * 1e3:.0f} ms (error {o['fe2_ros2']['rel_error']:.1e}), "
                  f"BE {o['fe2_be']['wall_s'] * 1e3:.0f} ms (error {o['fe2_be']['rel_error']:.1e})")
            print(f"    {key}, {bt['n_nodes_fe2']} nodes: fe2 batched ROS2 "
                  f"{bt['fe2_ros2']['per_node_s'] * 1e6:.1f} µs/node (error "
                  f"{bt['fe2_ros2']['max_rel_error_on_sample']:.1e}) vs roadrunner loop "
                  f"{bt['roadrunner_loop']['per_node_s'] * 1e6:.0f} µs/node (error "
                  f"{bt['roadrunner_loop']['max_rel_error_on_sample']:.1e}): time ratio "
                  f"roadrunner/fe2 {bt['time_ratio_roadrunner_over_fe2']:.2g}")
    print(f"  hybrid SSA/ODE vs SSA, {hy['network']}, {hy['n_traj']} trajectories on [0, {hy['t_end']:g}]: "
          f"SSA {hy['ssa']['cpu_s']:.2f} s CPU ({hy['ssa']['events_per_traj']:.0f} events/trajectory), "
          f"hybrid {hy['hybrid']['cpu_s']:.2f} s ({hy['hybrid']['ode_steps_per_traj']:.0f} ODE steps, "
          f"{hy['hybrid']['slow_events_per_traj']:.1f} slow events/trajectory): time ratio SSA/hybrid "
          f"{hy['time_ratio_ssa_over_hybrid']:.1f} (work ratio {hy['work_ratio_ssa_over_hybrid']:.1f})")
    reactions_speed.report(sp)
    return rec


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--json", default="bench/reactions.json")
    ap.add_argument("--speed", action="store_true", help="only the speed comparison with libroadrunner")
    args = ap.parse_args()
    if args.speed:
        sp = reactions_speed.collect(2_000 if args.quick else 100_000, 50 if args.quick else 300)
        print("\nreaction-network speed vs libroadrunner (fe2 Rodas4, compiled)")
        reactions_speed.report(sp)
        Path(args.json).write_text(json.dumps({"quick": args.quick, "speed": sp}, indent=2, default=float) + "\n")
        return
    rec = collect(args.quick)
    Path(args.json).write_text(json.dumps(rec, indent=2, default=float) + "\n")


if __name__ == "__main__":
    main()
