"""``fe2 reactions``: run a validated reactions config (well-mixed, stochastic or spatial).

Files written into ``out`` (atomically, on rank 0; XDMF/VTX collectively):

* ``well_mixed``: ``timeseries.csv`` (``time,<species>...``; with several nodes
  ``time,node,<species>...`` or, for a sweep, ``time,node,<parameter>,<species>...``),
  ``trajectories.png``, ``result.json`` (moiety drift,
  steps, time scales and stiffness ratio at t = 0 and t_end, units of the CSV columns);
* ``stochastic``: ``timeseries.csv`` (``time,<species>_mean,<species>_std...``),
  ``trajectories.png`` (mean ± std and a few sample paths), ``histogram_<species>.png`` (at
  t_end, with the exact CME distribution when ``cme = true``), ``result.json``;
* ``spatial``: ``species.xdmf`` (or ``species.bp``) with one field per species at every output
  step, ``integrals.csv`` (``time,<species>...`` of ``int c dx``), ``integrals.png``,
  ``result.json`` (moiety totals and drift, min/max per species).

MPI: well-mixed nodes and stochastic trajectory blocks are split over the ranks and gathered
(results do not depend on the number of ranks: per-node step control, one seeded block of
trajectories per ``SeedSequence(seed).spawn`` child); the spatial problem is distributed with
the mesh. Rodas4's C kernel is compiled once per kernel cache and its backend agreed over ``comm``
(also by ranks with no node), so every rank runs the same backend (``backend`` in result.json).
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from mpi4py import MPI

from fe2.config.reactions import ReactionsConfig, initial_function, sbml_model
from fe2.errors import ConfigError
from fe2.io.progress import progress_bar
from fe2.io.results import write_csv_atomic, write_json_atomic
from fe2.physics.reactions.ckernel import resolve_backend
from fe2.physics.reactions.integrators import integrate, moiety_drift, solve_ivp_reference
from fe2.physics.reactions.network import Network
from fe2.physics.reactions.timescales import time_scales


def run_reactions(cfg: ReactionsConfig, network: Network, comm: MPI.Comm, out: str | Path,
                  progress: Callable[[str], None] | None = None) -> dict:
    """Run ``cfg`` on ``network``; return the result dict also written to ``out/result.json``."""
    say = progress or (lambda msg: None)
    out = Path(out)
    if comm.rank == 0:
        out.mkdir(parents=True, exist_ok=True)
    comm.Barrier()
    runner = {"well_mixed": _well_mixed, "stochastic": _stochastic, "spatial": _spatial}[cfg.mode]
    tic = time.perf_counter()
    result = runner(cfg, network, comm, out, say)
    result.update(mode=cfg.mode, ranks=comm.size, wall_time=time.perf_counter() - tic,
                  species=network.species_names, moieties=network.moiety_names(),
                  units=reaction_units(cfg), notation=NOTATION[cfg.mode],
                  config=cfg.model_dump(mode="json"))
    write_json_atomic(out / "result.json", result, comm=comm)
    return comm.bcast(result if comm.rank == 0 else None, root=0)


# ------------------------------------------------------------------------------------------
# helpers
# ------------------------------------------------------------------------------------------
def _save_png(fig, path: Path) -> None:
    """Atomic PNG: draw to ``path.tmp`` then rename."""
    tmp = path.with_name(path.name + ".tmp")
    fig.savefig(tmp, format="png", dpi=120)
    os.replace(tmp, path)


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


NOTATION = {
    "well_mixed": "species concentrations c (one column per species); rates k of mass action in amount^(1-order)/time",
    "stochastic": "copy numbers (molecules) per trajectory; propensities in 1/time",
    "spatial": "concentration fields c(x, t) on the rectangle; integrals are integrals of c over it",
}


def reaction_units(cfg: ReactionsConfig) -> dict[str, str]:
    """The units of result.json's quantities, from the config's ``[units]`` (fe2 converts none)."""
    t, a = cfg.units.time, cfg.units.amount
    return {"convention": "as named in the config's [units] (fe2 does not convert units)",
            "time": t, "t_end": t, "dt": t, "wall_time": "s (wall clock)",
            "concentration": "molecules" if cfg.mode == "stochastic" else a,
            "time_scales": t, "stiffness_ratio": "1",
            "diffusivity": "length^2/" + t, "integrals": f"{a} * area",
            "moiety_totals": f"{a} * area" if cfg.mode == "spatial" else a}


def _units(cfg: ReactionsConfig, columns: list[str], species: list[str]) -> dict:
    """Unit label of every CSV column: time, amount for species, '-' for node / parameter."""
    u = cfg.units
    return {c: (u.time if c == "time" else u.amount if c in species else "-") for c in columns}


def _scales(network: Network, c, params) -> dict:
    ts = time_scales(network, c, params)
    return {"time_scales": ts["time_scales"].tolist(), "stiffness_ratio": ts["stiffness_ratio"],
            "n_zero_modes": ts["n_zero_modes"]}


# ------------------------------------------------------------------------------------------
# well mixed
# ------------------------------------------------------------------------------------------
def _well_mixed(cfg, network, comm, out, say) -> dict:
    wm = cfg.well_mixed
    cn = network.compile()
    names = network.species_names
    if wm.sweep is not None:
        n = len(wm.sweep.values)
        pvals = np.asarray(wm.sweep.values, dtype=float)
    else:
        n = wm.nodes
        pvals = None
    mine = np.array_split(np.arange(n), comm.size)[comm.rank]
    times = np.linspace(0.0, wm.t_end, wm.n_out)
    say(f"well_mixed: {n} node(s), {wm.method}, t_end = {wm.t_end:g}, {network.n_species} species, "
        f"{network.n_reactions} reactions; moieties: {', '.join(network.moiety_names()) or 'none'}")
    local = np.empty((wm.n_out, 0, network.n_species))
    stats = {"node_steps": 0, "rejected": 0, "moiety_drift": 0.0}
    model = sbml_model(cfg.sbml) if cfg.sbml is not None else None
    if model is not None and not (model.events or model.delays):
        model = None
    backend, fallback = wm.backend, None
    if model is None and wm.method == "rodas4":  # on every rank, also one without nodes: collective
        backend, fallback = resolve_backend(cn, wm.backend, comm)
    if model is not None and mine.size:  # events / delays: stop-and-restart BDF, one node
        c = model.simulate(times, rtol=wm.rtol, atol=wm.atol)  # identical copies: run once
        local = np.repeat(c[:, None, :], mine.size, axis=1)
        stats = {"node_steps": model.steps * mine.size, "rejected": 0,  # drift: event jumps too
                 "moiety_drift": moiety_drift(cn.W, c[:1], c)}
    elif mine.size:
        c0 = np.tile(network.initial, (mine.size, 1))
        params = {wm.sweep.parameter: pvals[mine]} if pvals is not None else None
        if wm.method in ("ros2", "be", "rodas4"):
            r = integrate(cn, c0, (0.0, wm.t_end), method=wm.method, dt=wm.dt, rtol=wm.rtol, atol=wm.atol,
                          t_eval=times, params=params, backend=backend)
        else:
            r = solve_ivp_reference(cn, c0, (0.0, wm.t_end), method=wm.method.upper() if wm.method == "bdf"
                                    else "Radau", rtol=wm.rtol, atol=wm.atol, t_eval=times, params=params)
        assert r.c_eval is not None  # t_eval was given
        local = r.c_eval
        stats = {"node_steps": r.node_steps, "rejected": r.rejected, "moiety_drift": r.moiety_drift}
    parts = comm.gather(local, root=0)
    node_steps = comm.allreduce(stats["node_steps"], op=MPI.SUM)
    rejected = comm.allreduce(stats["rejected"], op=MPI.SUM)
    drift = comm.allreduce(stats["moiety_drift"], op=MPI.MAX)
    res = {"method": wm.method, "n_nodes": n, "t_end": wm.t_end, "node_steps": node_steps,
           "rejected": rejected, "moiety_drift": drift}
    if model is None and wm.method == "rodas4":  # the backend that ran (the same on every rank)
        res["backend"] = backend
        if fallback is not None:
            res["backend_fallback"] = fallback
    if comm.rank != 0:
        return res
    C = np.concatenate(parts, axis=1)  # (n_out, n, s)
    p0 = {wm.sweep.parameter: float(pvals[0])} if pvals is not None else None
    pend = {wm.sweep.parameter: float(pvals[-1])} if pvals is not None else None
    res["time_scales"] = {"initial": _scales(network, C[0, 0], p0), "final": _scales(network, C[-1, 0], p0)}
    if pvals is not None:
        res["time_scales"]["final_last_node"] = _scales(network, C[-1, -1], pend)
        res["sweep"] = {"parameter": wm.sweep.parameter, "values": pvals.tolist()}
    res["final"] = {nm: C[-1, :, i].tolist() for i, nm in enumerate(names)}
    if n == 1:
        header = ["time", *names]
        rows = [[t, *C[k, 0]] for k, t in enumerate(times)]
    elif pvals is None:  # identical copies
        header = ["time", "node", *names]
        rows = [[t, j, *C[k, j]] for j in range(n) for k, t in enumerate(times)]
    else:
        header = ["time", "node", wm.sweep.parameter, *names]
        rows = [[t, j, pvals[j], *C[k, j]] for j in range(n) for k, t in enumerate(times)]
    write_csv_atomic(out / "timeseries.csv", header, rows)
    res["timeseries"] = {"file": "timeseries.csv", "columns": header, "units": _units(cfg, header, names)}
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for i, nm in enumerate(names):
        line, = ax.plot(times, C[:, 0, i], label=nm)
        for j in range(1, n):
            ax.plot(times, C[:, j, i], color=line.get_color(), lw=0.6, alpha=0.5)
    ax.set_xlabel(f"time [{cfg.units.time}]")
    ax.set_ylabel(f"concentration [{cfg.units.amount}]")
    ax.set_title(f"well mixed, {wm.method}" + (f", sweep over {wm.sweep.parameter} (thin: other nodes)"
                                                if pvals is not None and n > 1 else ""))
    ax.legend(fontsize=8)
    fig.tight_layout()
    _save_png(fig, out / "trajectories.png")
    plt.close(fig)
    res["files"] = ["timeseries.csv", "trajectories.png", "result.json"]
    say(f"well_mixed: {node_steps} node-steps, moiety drift {drift:.1e}, "
        f"stiffness ratio at t = 0: {res['time_scales']['initial']['stiffness_ratio']:.3g}")
    return res


# ------------------------------------------------------------------------------------------
# stochastic
# ------------------------------------------------------------------------------------------
def _stochastic(cfg, network, comm, out, say) -> dict:
    from fe2.physics.reactions.stochastic import counts_network, gillespie, tau_leaping

    st = cfg.stochastic
    net = counts_network(network, st.omega) if st.omega is not None else network
    names = net.species_names
    times = np.linspace(0.0, st.t_end, st.n_out)
    n_blocks = math.ceil(st.n_trajectories / st.block_size)
    seeds = np.random.SeedSequence(st.seed).spawn(n_blocks)
    sizes = [min(st.block_size, st.n_trajectories - b * st.block_size) for b in range(n_blocks)]
    say(f"stochastic: {st.method}, {st.n_trajectories} trajectories in {n_blocks} block(s), "
        f"t_end = {st.t_end:g}" + (f", omega = {st.omega:g}" if st.omega else ""))
    extra: dict[str, Any]  # a JSON record: the hybrid partition and step count
    blocks, events, extra = {}, 0, {}
    my_blocks = range(comm.rank, n_blocks, comm.size)
    bar = progress_bar(say, "trajectory blocks", max(len(my_blocks), 1))
    for count, b in enumerate(my_blocks, start=1):
        kw = {"n_traj": sizes[b], "seed": seeds[b]}
        if st.method == "ssa":
            r = gillespie(net, times, **kw)
        elif st.method == "tau_leap":
            r = tau_leaping(net, times, st.tau, **kw)
        else:
            from fe2.physics.reactions.hybrid import hybrid

            r = hybrid(net, times, threshold=st.threshold, discrete=st.discrete, rtol=st.rtol,
                       atol=st.atol, **kw)
            assert r.partition is not None  # hybrid() always sets it
            extra = {"partition": r.partition.to_dict(), "ode_steps": extra.get("ode_steps", 0) + r.ode_steps}
        blocks[b] = r.x.astype(float)
        events += r.events
        bar.update(count, f"  block {b + 1}/{n_blocks} done ({r.events} "
                          f"{'leaps' if st.method == 'tau_leap' else 'events'})  [rank 0: {bar.eta(count)}]",
                   force=True)
    bar.close()
    gathered = comm.gather(blocks, root=0)
    events = comm.allreduce(events, op=MPI.SUM)
    extras = comm.gather(extra, root=0)
    res = {"method": st.method, "n_trajectories": st.n_trajectories, "t_end": st.t_end, "seed": st.seed,
           "events" if st.method != "tau_leap" else "leaps": events, "omega": st.omega}
    if comm.rank != 0:
        return res
    allb = {}
    for g in gathered:
        allb.update(g)
    X = np.concatenate([allb[b] for b in range(n_blocks)], axis=1)  # (n_out, n_traj, s)
    if st.method == "hybrid":
        part = next(e["partition"] for e in extras if e)
        res["hybrid"] = {"partition": part, "ode_steps": sum(e.get("ode_steps", 0) for e in extras)}
    mean, std = X.mean(axis=1), X.std(axis=1)
    header = ["time"] + [f"{nm}_{q}" for nm in names for q in ("mean", "std")]
    rows = [[t] + [v for i in range(len(names)) for v in (mean[k, i], std[k, i])] for k, t in enumerate(times)]
    write_csv_atomic(out / "timeseries.csv", header, rows)
    units = {c: (cfg.units.time if c == "time" else "molecules") for c in header}
    res["timeseries"] = {"file": "timeseries.csv", "columns": header, "units": units}
    res["final"] = {nm: {"mean": float(mean[-1, i]), "variance": float(X[-1, :, i].var())}
                    for i, nm in enumerate(names)}
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for i, nm in enumerate(names):
        line, = ax.plot(times, mean[:, i], label=f"{nm} mean")
        ax.fill_between(times, mean[:, i] - std[:, i], mean[:, i] + std[:, i], color=line.get_color(), alpha=0.15)
        for j in range(min(st.plot_trajectories, X.shape[1])):
            ax.plot(times, X[:, j, i], color=line.get_color(), lw=0.5, alpha=0.6)
    ax.set_xlabel(f"time [{cfg.units.time}]")
    ax.set_ylabel("molecules")
    ax.set_title(f"{st.method}: mean ± std of {st.n_trajectories} trajectories, thin: sample paths at the output times")
    ax.legend(fontsize=8)
    fig.tight_layout()
    _save_png(fig, out / "trajectories.png")
    plt.close(fig)
    files = ["timeseries.csv", "trajectories.png"]
    if st.histogram:
        exact = _cme_marginals(net, st, st.histogram) if st.cme else {}
        res["histograms"] = {}
        for sp_name in st.histogram:
            i = names.index(sp_name)
            v = np.maximum(np.rint(X[-1, :, i]), 0).astype(np.int64)
            p = np.bincount(v) / v.size
            h = {"values": np.arange(p.size).tolist(), "probability": p.tolist(),
                 "mean": float(X[-1, :, i].mean()), "variance": float(X[-1, :, i].var())}
            fig, ax = plt.subplots(figsize=(6, 4))
            ax.bar(np.arange(p.size), p, width=1.0, alpha=0.6, label=f"{st.method}, {v.size} samples")
            if sp_name in exact:
                q, leak = exact[sp_name]
                pp = np.zeros(max(q.size, p.size))
                pp[: p.size] = p
                qq = np.zeros_like(pp)
                qq[: q.size] = q
                tv = 0.5 * float(np.abs(pp - qq).sum())
                tv_exp = 0.5 * float(np.sum(np.sqrt(2.0 * qq * (1.0 - qq) / (np.pi * v.size))))
                h["cme"] = {"probability": q.tolist(), "tv_distance": tv, "tv_sampling_expected": tv_exp,
                            "truncation_leak": leak, "max_count": st.cme_max_count}
                ax.plot(np.arange(q.size), q, "k.-", lw=0.8, ms=3, label="exact (CME)")
                ax.set_title(f"{sp_name} at t = {st.t_end:g}: TV = {tv:.3g} (sampling ~{tv_exp:.2g})")
                say(f"  {sp_name}: TV(sample, CME) = {tv:.4f}, expected from sampling {tv_exp:.4f}, "
                    f"CME truncation leak {leak:.1e}")
            else:
                ax.set_title(f"{sp_name} at t = {st.t_end:g}")
            ax.set_xlabel(f"{sp_name} [molecules]")
            ax.set_ylabel("probability")
            ax.legend(fontsize=8)
            fig.tight_layout()
            _save_png(fig, out / f"histogram_{sp_name}.png")
            plt.close(fig)
            files.append(f"histogram_{sp_name}.png")
            res["histograms"][sp_name] = h
    res["files"] = [*files, "result.json"]
    return res


def _cme_marginals(net: Network, st, species: list[str]) -> dict[str, tuple[np.ndarray, float]]:
    """Exact marginals at t_end from the chemical master equation on the box of states
    ``0..cme_max_count`` per species (every state of the box, reachable or not); the
    probability that leaves the box is reported as the truncation leak.
    """
    from scipy.sparse.linalg import expm_multiply

    from fe2.physics.reactions.stochastic import cme_generator

    m = st.cme_max_count + 1
    s = net.n_species
    if m**s > 200_000:
        raise ConfigError(f"stochastic.cme: the CME box has {m}^{s} states (> 200000); "
                          "lower cme_max_count or drop cme")
    grids = np.meshgrid(*[np.arange(m)] * s, indexing="ij")
    states = np.stack([g.ravel() for g in grids], axis=1)
    x0 = np.round(net.initial).astype(np.int64)
    if np.any(x0 >= m):
        raise ConfigError(f"stochastic.cme_max_count = {st.cme_max_count} is below an initial count")
    p0 = np.zeros(len(states))
    p0[np.ravel_multi_index(tuple(x0), (m,) * s)] = 1.0
    p = expm_multiply(cme_generator(net, states) * st.t_end, p0)
    leak = float(1.0 - p.sum())
    P = np.maximum(p.reshape((m,) * s), 0.0)
    out = {}
    for nm in species:
        i = net.species_names.index(nm)
        out[nm] = (P.sum(axis=tuple(a for a in range(s) if a != i)), leak)
    return out


# ------------------------------------------------------------------------------------------
# spatial
# ------------------------------------------------------------------------------------------
def _spatial(cfg, network, comm, out, say) -> dict:
    from dolfinx import io, mesh

    from fe2.physics.reactions.diffusion import ReactionDiffusion

    sp_ = cfg.spatial
    names = network.species_names
    msh = mesh.create_rectangle(comm, [[0.0, 0.0], list(sp_.mesh.length)], list(sp_.mesh.cells))
    rd = ReactionDiffusion(msh, network, dict(sp_.diffusivity), theta=sp_.theta,
                           reaction_substeps=sp_.reaction_substeps)
    try:
        init = {k: (initial_function(v, f"spatial.initial.{k}") if isinstance(v, str) else float(v))
                for k, v in sp_.initial.items()}
        rd.set_initial(init)
        n_steps = int(round(sp_.t_end / sp_.dt))
        n_dofs = rd.V.dofmap.index_map.size_global
        say(f"spatial: {sp_.mesh.cells[0]}x{sp_.mesh.cells[1]} cells, {n_dofs} dofs per species, "
            f"{n_steps} steps of dt = {sp_.dt:g} ({sp_.scheme}), {comm.size} rank(s)")
        # every species also goes to one VTK time series (species.pvd: what pyvista reads, all species in one file)
        vtk_writer = io.VTKFile(comm, str(out / "species.pvd"), "w")
        if sp_.format == "xdmf":
            writer = io.XDMFFile(comm, str(out / "species.xdmf"), "w")
            writer.write_mesh(msh)

            def write(t):
                for f in rd.c:
                    writer.write_function(f, t)
                vtk_writer.write_function(list(rd.c), t)
        else:
            writer = io.VTXWriter(comm, str(out / "species.bp"), rd.c, engine="BP4")

            def write(t):
                writer.write(t)
                vtk_writer.write_function(list(rd.c), t)

        m0 = rd.moiety_totals()
        history = [[0.0, *rd.integrals()]]
        write(0.0)
        bar = progress_bar(say, "t", sp_.t_end, of="of t_end")
        for k in range(1, n_steps + 1):
            rd.step(sp_.dt, sp_.scheme)
            t = k * sp_.dt
            if k % sp_.output_every == 0 or k == n_steps:
                write(t)
                history.append([t, *rd.integrals()])  # collective: on every rank, not inside a bar line
                bar.update(t, f"  step {k}/{n_steps}  t = {t:.6g}  integrals " +
                           ", ".join(f"{nm} {v:.6g}" for nm, v in zip(names, history[-1][1:], strict=False))
                           + f"  [{bar.eta(t)}]", force=True)
            else:
                bar.update(t, f"  step {k}/{n_steps}  t = {t:.6g}  [{bar.eta(t)}]")
        bar.close()
        writer.close()
        vtk_writer.close()
        m1 = rd.moiety_totals()
        vals = rd.values()
        vmin, vmax = np.empty(len(names)), np.empty(len(names))
        comm.Allreduce(vals.min(axis=0) if vals.size else np.full(len(names), np.inf), vmin, op=MPI.MIN)
        comm.Allreduce(vals.max(axis=0) if vals.size else np.full(len(names), -np.inf), vmax, op=MPI.MAX)
    finally:
        rd.close()
    scale = np.maximum(np.abs(m0), 1e-300)
    drift = float(np.max(np.abs(m1 - m0) / scale)) if m0.size else 0.0
    header = ["time", *names]
    write_csv_atomic(out / "integrals.csv", header, history, comm=comm)
    field_file = "species.xdmf" if sp_.format == "xdmf" else "species.bp"
    res = {"scheme": sp_.scheme, "dt": sp_.dt, "t_end": sp_.t_end, "steps": n_steps, "n_dofs": n_dofs,
           "moiety_totals_initial": m0.tolist(), "moiety_totals_final": m1.tolist(), "moiety_drift": drift,
           "integrals_final": dict(zip(names, history[-1][1:], strict=False)),
           "min": dict(zip(names, vmin.tolist(), strict=False)), "max": dict(zip(names, vmax.tolist(), strict=False)),
           "integrals": {"file": "integrals.csv", "columns": header,
                         "units": {c: (cfg.units.time if c == "time" else f"{cfg.units.amount} * area")
                                   for c in header}},
           "files": [field_file, "species.pvd", "integrals.csv", "integrals.png", "result.json"]}
    if comm.rank == 0:
        plt = _pyplot()
        H = np.array(history)
        fig, ax = plt.subplots(figsize=(7, 4.5))
        for i, nm in enumerate(names):
            ax.plot(H[:, 0], H[:, 1 + i], label=nm)
        ax.set_xlabel(f"time [{cfg.units.time}]")
        ax.set_ylabel(f"integral of c [{cfg.units.amount} * area]")
        ax.set_title(f"reaction–diffusion ({sp_.scheme}), moiety drift {drift:.1e}")
        ax.legend(fontsize=8)
        fig.tight_layout()
        _save_png(fig, out / "integrals.png")
        plt.close(fig)
    say(f"spatial: moiety drift {drift:.1e}")
    return res
