"""Speed of fe2's compiled Rodas4 against libroadrunner, side by side in one run (issue 13 targets).

Called by ``bench/reactions_bench.py`` (``--speed`` runs only this part); three measurements:

* ``per_system`` — one well-mixed system at rtol 1e-6 / atol 1e-10 (Michaelis–Menten, Robertson,
  the repressilator: ``tests/data/sbml/*.xml``): wall time of one ``integrate`` call (fe2
  Rodas4, compiled C, best of ``repeats`` after a first call that loads the kernel) against one
  ``reset`` + ``simulate`` of libroadrunner's CVODE (best of ``repeats``), same output times.
  Errors ``max |c - c_ref| / max_t |c_ref|`` against a tight reference, libroadrunner at
  rtol 1e-12 / atol 1e-16, confirmed by fe2 Rodas4 at rtol 1e-12 (their distance is printed).
  Target: time ratio fe2 / roadrunner <= 3 with error no worse.
* ``startup`` — import + load + first run in a fresh interpreter (``subprocess``), wall time of
  the whole child process, for fe2 (with the kernel in the disk cache, and with an empty cache:
  compile included) and for libroadrunner (import, load with LLVM JIT, simulate). Target <= 2 s.
* ``many_nodes`` — ``n`` independent Robertson nodes with per-node k1 (+-10%) on [0, 40],
  fe2 Rodas4 (compiled loop over nodes, per-node step control) over all nodes vs a libroadrunner
  ``reset`` + ``simulate`` loop over a sample, extrapolated per node, at rtol 1e-4 and 1e-6.
  Errors on the sample against libroadrunner at rtol 1e-12. Target: >= 3x faster, error no worse.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data" / "sbml"
MODELS = {  # name: (file, output times)
    "michaelis_menten": ("enzyme_mm.xml", np.linspace(0.0, 20.0, 21)),
    "robertson": ("robertson.xml", np.concatenate([[0.0], np.logspace(-4, np.log10(40.0), 8)])),
    "repressilator": ("repressilator.xml", np.linspace(0.0, 50.0, 51)),
}
ATOL = 1e-10


def _err(c: np.ndarray, ref: np.ndarray) -> float:
    scale = np.max(np.abs(ref), axis=0, keepdims=True)
    return float(np.max(np.abs(c - ref) / np.where(scale > 0, scale, 1.0)))


def _rr(path: Path, rtol: float, atol: float, species: list[str]):
    import roadrunner

    r = roadrunner.RoadRunner(str(path))
    r.integrator.relative_tolerance = rtol
    r.integrator.absolute_tolerance = atol
    r.integrator.max_steps = 1_000_000
    r.timeCourseSelections = ["time"] + [f"[{s}]" for s in species]
    return r


def _rr_run(r, times, params=None):
    r.reset()
    for k, v in (params or {}).items():
        r[k] = float(v)
    return np.asarray(r.simulate(times=times))[:, 1:]


def _best(fn, repeats):
    best, out = np.inf, None
    for _ in range(repeats):
        tic = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - tic)
    return best, out


def per_system(rtol: float = 1e-6, repeats: int = 7) -> dict:
    from fe2.physics.reactions import integrate, load_sbml

    out = {}
    for name, (fname, times) in MODELS.items():
        net = load_sbml(DATA / fname)
        species = net.species_names
        ref = _rr_run(_rr(DATA / fname, 1e-12, 1e-16, species), times)
        span = (0.0, float(times[-1]))
        fe2_ref = integrate(net, net.initial, span, method="rodas4", rtol=1e-12, atol=1e-16, t_eval=times)
        r = _rr(DATA / fname, rtol, ATOL, species)
        t_rr, c_rr = _best(lambda r=r, times=times: _rr_run(r, times), repeats)

        def run(net=net, span=span, times=times):
            return integrate(net, net.initial, span, method="rodas4", rtol=rtol, atol=ATOL, t_eval=times)

        tic = time.perf_counter()
        first = run()
        t_first = time.perf_counter() - tic
        t_fe2, res = _best(run, repeats)
        out[name] = {
            "n_species": net.n_species, "t_end": span[1], "n_out": len(times), "rtol": rtol, "atol": ATOL,
            "reference_distance_rr_vs_fe2": _err(fe2_ref.c_eval, ref),
            "roadrunner": {"wall_s": t_rr, "rel_error": _err(c_rr, ref)},
            "fe2_rodas4": {"wall_s": t_fe2, "first_call_s": t_first, "steps": res.node_steps,
                           "rejected": res.rejected, "backend": res.extra.get("backend"),
                           "rel_error": _err(res.c_eval, ref)},
            "time_ratio_fe2_over_roadrunner": t_fe2 / t_rr,
        }
        assert first.extra.get("backend") == "c", first.extra
    return out


_FE2_CHILD = """
import time; t = time.perf_counter()
from fe2.physics.reactions import integrate, load_sbml
net = load_sbml({path!r})
import numpy as np
r = integrate(net, net.initial, (0.0, 40.0), method="rodas4", rtol=1e-6, atol=1e-10)
print(time.perf_counter() - t, r.extra["backend"])
"""
_RR_CHILD = """
import time; t = time.perf_counter()
import roadrunner
r = roadrunner.RoadRunner({path!r})
r.integrator.relative_tolerance = 1e-6
r.integrator.absolute_tolerance = 1e-10
r.simulate(0.0, 40.0, 9)
print(time.perf_counter() - t, "cvode")
"""


def _child(code: str, env: dict) -> dict:
    tic = time.perf_counter()
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT,
                       timeout=300, check=True)
    wall = time.perf_counter() - tic
    inside, backend = p.stdout.split()[-2:]
    return {"process_wall_s": wall, "inside_s": float(inside), "backend": backend}


def startup(repeats: int = 3) -> dict:
    path = str(DATA / "robertson.xml")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    out: dict = {"model": "robertson.xml, [0, 40], rtol 1e-6"}
    with tempfile.TemporaryDirectory() as cold_dir:
        cold = [_child(_FE2_CHILD.format(path=path), {**env, "FE2_KERNEL_CACHE": f"{cold_dir}/{i}"})
                for i in range(repeats)]
    warm = [_child(_FE2_CHILD.format(path=path), env) for _ in range(repeats)]
    rr = [_child(_RR_CHILD.format(path=path), env) for _ in range(repeats)]
    for key, runs in (("fe2_cold_cache", cold), ("fe2_warm_cache", warm), ("roadrunner", rr)):
        out[key] = min(runs, key=lambda d: d["process_wall_s"])
    return out


def many_nodes(n_nodes: int, n_rr: int, rtols=(1e-4, 1e-6)) -> dict:
    from fe2.physics.reactions import integrate, load_sbml

    fname, times = MODELS["robertson"]
    net = load_sbml(DATA / fname)
    rng = np.random.default_rng(2)
    k1 = net.parameters["k1"] * rng.uniform(0.9, 1.1, n_nodes)
    c0 = np.tile(net.initial, (n_nodes, 1))
    span = (0.0, float(times[-1]))
    sample = np.linspace(0, n_nodes - 1, n_rr).astype(int)
    ref_r = _rr(DATA / fname, 1e-12, 1e-16, net.species_names)
    ref = np.stack([_rr_run(ref_r, times, {"k1": k1[i]}) for i in sample], axis=1)
    out = {"n_nodes_fe2": n_nodes, "n_nodes_roadrunner": n_rr, "t_span": span}
    integrate(net, c0[:2], span, method="rodas4", rtol=1e-4, atol=ATOL, params={"k1": k1[:2]})  # load kernel
    for rtol in rtols:
        b = integrate(net, c0, span, method="rodas4", rtol=rtol, atol=ATOL, t_eval=times, params={"k1": k1})
        r = _rr(DATA / fname, rtol, ATOL, net.species_names)
        tic = time.perf_counter()
        loop = np.stack([_rr_run(r, times, {"k1": k1[i]}) for i in sample], axis=1)
        t_loop = time.perf_counter() - tic
        per_b, per_rr = b.wall_time / n_nodes, t_loop / n_rr
        out[f"rtol={rtol:g}"] = {
            "fe2_rodas4": {"wall_s": b.wall_time, "per_node_s": per_b, "node_steps": b.node_steps,
                           "backend": b.extra.get("backend"),
                           "max_rel_error_on_sample": max(_err(b.c_eval[:, i], ref[:, j])
                                                          for j, i in enumerate(sample))},
            "roadrunner_loop": {"wall_s": t_loop, "per_node_s": per_rr, "extrapolated_wall_s": per_rr * n_nodes,
                                "max_rel_error_on_sample": max(_err(loop[:, j], ref[:, j]) for j in range(n_rr))},
            "time_ratio_roadrunner_over_fe2": per_rr / per_b,
        }
    return out


def collect(n_nodes: int, n_rr: int) -> dict:
    try:
        import roadrunner  # noqa: F401
    except ImportError:
        return {"skipped": "libroadrunner is not installed (pip install -e '.[test]')"}
    return {"per_system": per_system(), "startup": startup(), "many_nodes": many_nodes(n_nodes, n_rr)}


def report(sp: dict) -> None:
    if "skipped" in sp:
        print(f"  speed vs libroadrunner: skipped ({sp['skipped']})")
        return
    print("  one system, rtol 1e-6 (fe2 Rodas4 compiled vs libroadrunner CVODE; error vs rtol-1e-12 reference):")
    for name, o in sp["per_system"].items():
        f, r = o["fe2_rodas4"], o["roadrunner"]
        print(f"    {name:17s} fe2 {f['wall_s'] * 1e3:7.3f} ms (error {f['rel_error']:.1e}, {f['steps']} steps) "
              f"roadrunner {r['wall_s'] * 1e3:7.3f} ms (error {r['rel_error']:.1e}): fe2/roadrunner "
              f"{o['time_ratio_fe2_over_roadrunner']:.2f} (target <= 3); references agree to "
              f"{o['reference_distance_rr_vs_fe2']:.0e}")
    st = sp["startup"]
    print(f"  import + load + first run ({st['model']}, fresh process): fe2 "
          f"{st['fe2_warm_cache']['process_wall_s']:.2f} s (kernel cached), "
          f"{st['fe2_cold_cache']['process_wall_s']:.2f} s (empty cache, C compile included); "
          f"roadrunner {st['roadrunner']['process_wall_s']:.2f} s (target <= 2 s)")
    mn = sp["many_nodes"]
    for key in [k for k in mn if k.startswith("rtol=")]:
        o = mn[key]
        print(f"    {mn['n_nodes_fe2']} Robertson nodes, {key}: fe2 Rodas4 {o['fe2_rodas4']['per_node_s'] * 1e6:.1f} "
              f"µs/node (error {o['fe2_rodas4']['max_rel_error_on_sample']:.1e}) vs roadrunner loop "
              f"{o['roadrunner_loop']['per_node_s'] * 1e6:.1f} µs/node (error "
              f"{o['roadrunner_loop']['max_rel_error_on_sample']:.1e}): roadrunner/fe2 "
              f"{o['time_ratio_roadrunner_over_fe2']:.2f} (target >= 3)")
