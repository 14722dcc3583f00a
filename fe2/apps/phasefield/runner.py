"""``fe2 phasefield``: run a Cahn–Hilliard / Allen–Cahn problem from a validated config.

Writes into ``out``: ``concentration.xdmf`` (time series: an index over ``series/``, one closed
XDMF/HDF5 pair per output step, see :mod:`fe2.io.series`; a restarted run continues it),
``free_energy.csv`` (time,free_energy — the PFHub
upload format), ``history.csv`` (every monitor), ``free_energy.png`` and ``result.json``;
``checkpoint/`` holds the state for ``--restart``: a :class:`~fe2.solvers.RankCheckpoint` (one ``.npz``
per rank with cⁿ and cⁿ⁻¹ as local dof arrays, and ``manifest.json`` with t, step, the proposed Δt,
Δt_prev and the history, committed last), so a restart needs the same number of ranks; a
mismatch is a :class:`~fe2.errors.ConfigError`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
from dolfinx import mesh
from mpi4py import MPI

from fe2.config.phasefield import PhaseFieldConfig
from fe2.errors import ConfigError
from fe2.faults import fault_point
from fe2.io.progress import progress_bar
from fe2.io.results import write_csv_atomic, write_json_atomic
from fe2.io.series import FieldSeries, truncate_all
from fe2.physics.phasefield import (
    AllenCahn,
    CahnHilliard,
    ConstantMobility,
    DoubleWell,
    FloryHuggins,
    QuadraticMobility,
    StepRecord,
    TimeStepping,
    pfhub_bm1_energy,
    pfhub_bm1_initial_condition,
    smooth_noise,
)
from fe2.solvers import RankCheckpoint


def phasefield_units(dim: int) -> dict[str, str]:
    """The unit of every quantity of result.json, history.csv and free_energy.csv (fe2 converts none)."""
    vol = "length^2 (per unit thickness)" if dim == 2 else "length^3"
    return {"convention": "as given in the config (fe2 does not convert units; PFHub BM1 is nondimensional)",
            "length": "length of domain.length", "t": "time of the mobility M (c' = div(M grad mu))",
            "dt": "time", "c": "concentration (the config's c, e.g. c0)",
            "energy": f"free-energy density (of f and kappa |grad c|^2) * {vol}",
            "mass": f"concentration * {vol}", "newton_its": "1", "rejected": "1"}


def _energy(cfg: PhaseFieldConfig):
    e = cfg.energy
    if e.kind == "pfhub_bm1":
        return pfhub_bm1_energy()
    if e.kind == "double_well":
        return DoubleWell(e.rho, e.c_alpha, e.c_beta)
    return FloryHuggins(e.chi, e.n_a, e.n_b, e.scale)


def _initial(cfg: PhaseFieldConfig):
    i = cfg.initial
    if i.kind == "pfhub_bm1":
        return pfhub_bm1_initial_condition(i.c0, i.amplitude)
    if i.kind == "noise":
        return smooth_noise(i.c0, i.amplitude, min(cfg.domain.length), seed=i.seed)
    return i.c0


def _mobility(cfg: PhaseFieldConfig):
    """A number stays a number (the solver's fem.Constant path); a table becomes a mobility object."""
    m = cfg.mobility
    if isinstance(m, float):
        return m
    if m.kind == "constant":
        return ConstantMobility(m.value)
    return QuadraticMobility(m.m0, m.c_min, m.c_max, m.floor)


def build_solver(cfg: PhaseFieldConfig, comm: MPI.Comm):
    d = cfg.domain
    if len(d.length) == 2:
        m = mesh.create_rectangle(comm, [[0.0, 0.0], list(d.length)], list(d.cells))
    else:
        m = mesh.create_box(comm, [[0.0, 0.0, 0.0], list(d.length)], list(d.cells))
    if cfg.model == "cahn_hilliard":
        return CahnHilliard(m, _energy(cfg), cfg.kappa, _mobility(cfg), boundary=cfg.boundary,
                            degree=cfg.degree, scheme=cfg.time.scheme,
                            sav_stabilization=cfg.time.sav_stabilization, sav_relaxation=cfg.time.sav_relaxation)
    return AllenCahn(m, _energy(cfg), cfg.kappa, _mobility(cfg), boundary=cfg.boundary, degree=cfg.degree,
                     scheme=cfg.time.scheme)


def _save_checkpoint(solver, dt_next: float, history: list[StepRecord], ckpt: Path, comm: MPI.Comm) -> None:
    """Commit cⁿ, cⁿ⁻¹ (per rank) with t, step, the proposed Δt, Δt_prev and the history as one checkpoint.

    A :class:`~fe2.solvers.RankCheckpoint`: the manifest, written last, names the arrays, so a run
    killed while saving resumes from the previous checkpoint, never a state with another time.
    """
    arrays = {"u": solver.u0.x.array, "u_prev": solver.u_prev.x.array}
    meta = {"t": solver.t, "step": solver.step_count, "dt_next": dt_next, "dt_prev": solver.dt_prev,
            "history": [r.to_dict() for r in history], "seam_energy": solver.seam_energy,
            "initial_energy": solver.initial_energy}
    sav = getattr(solver, "_sav", None)
    if sav is not None:  # the SAV scheme's scalar variable rⁿ, rⁿ⁻¹ is part of the state
        meta["sav_r"], meta["sav_r_prev"] = sav.r, sav.r_prev
    newton = getattr(solver, "_periodic", None)
    if newton is not None:  # the lagged LU of the periodic Newton: a resume factorizes the same matrix
        values, refactor = newton.lag_state()
        arrays["lagged_jacobian"] = values
        meta["lag_refactor"] = bool(comm.allreduce(int(refactor), op=MPI.MAX))
    RankCheckpoint(ckpt, comm).save(arrays, meta)


def _load_checkpoint(solver, ckpt: Path, comm: MPI.Comm):
    """Restore the state of the committed checkpoint; returns ``(dt_next, history)``.

    Raises:
        ConfigError: (on every rank) no checkpoint, another rank count, a damaged file, or arrays
            that do not fit this mesh/partition.
    """
    arrays, meta = RankCheckpoint(ckpt, comm).load()
    arr = arrays["u"]
    fits = arr.shape == solver.u0.x.array.shape and arrays["u_prev"].shape == arr.shape
    if comm.allreduce(int(not fits), op=MPI.MAX):
        raise ConfigError("--restart: checkpoint does not match this mesh/partition (config changed?)")
    solver.u0.x.array[:] = arr
    solver.u.x.array[:] = arr
    # the second-order scheme and the error estimate need the level before
    solver.u_prev.x.array[:] = arrays["u_prev"]
    solver.dt_prev = meta["dt_prev"]
    newton = getattr(solver, "_periodic", None)
    if newton is not None and "lagged_jacobian" in arrays:
        try:
            newton.restore_lag(arrays["lagged_jacobian"], meta.get("lag_refactor", True))
            bad = 0
        except ValueError:
            bad = 1
        if comm.allreduce(bad, op=MPI.MAX):
            raise ConfigError("--restart: checkpoint does not match this mesh/partition (config changed?)")
    sav = getattr(solver, "_sav", None)
    if sav is not None:
        if meta.get("sav_r") is None:
            raise ConfigError("--restart: the checkpoint holds no SAV scalar variable (written by another scheme?)")
        sav.set_r(meta["sav_r"], meta.get("sav_r_prev"))
    solver.t = float(meta["t"])
    solver.step_count = int(meta["step"])
    solver.seam_energy = meta.get("seam_energy")  # what the periodic closure at t = 0 added
    solver.initial_energy = meta.get("initial_energy")
    return float(meta["dt_next"]), [StepRecord(**r) for r in meta["history"]]


def _finished(cfg: PhaseFieldConfig, out: Path, comm: MPI.Comm) -> dict | None:
    """The result of a finished run in ``out`` (checkpoint at t_end and result.json there), or None."""
    t_end = cfg.time.t_end
    return RankCheckpoint(out / "checkpoint", comm).finished_result(
        out / "result.json", lambda meta: float(meta["t"]) >= t_end - 1e-12 * max(1.0, t_end))


def run_phasefield(cfg: PhaseFieldConfig, comm: MPI.Comm, out: str | Path, *, restart: bool = False,
                   progress: Callable[[str], None] | None = None) -> dict:
    """Run the configured problem; return the result dict also written to ``result.json``.

    ``restart``: continue from ``out/checkpoint`` (a finished run: nothing to do, its result is
    returned; no checkpoint yet: start at t = 0). Frames of ``concentration.xdmf`` newer than the
    checkpoint are removed first, so the series holds every output time once.
    """
    say = progress or (lambda msg: None)
    out = Path(out)
    ckpt = out / "checkpoint"
    if restart:
        done = _finished(cfg, out, comm)
        if done is not None:
            say(f"--restart: the run in {out} is finished (t = {cfg.time.t_end:g}); result.json left as it is")
            return {**done, "_finished_before": True}
        if not RankCheckpoint(ckpt, comm).exists():
            say(f"--restart: no checkpoint in {ckpt} yet (killed before the first one?): starting at t = 0")
            restart = False
    solver = build_solver(cfg, comm)
    ts = cfg.time
    history: list[StepRecord] = []
    dt0 = ts.dt
    if restart:
        dt0, history = _load_checkpoint(solver, ckpt, comm)
        say(f"restart from step {solver.step_count}, t = {solver.t:g}")
    else:
        RankCheckpoint(ckpt, comm).discard()  # an older run's checkpoint must not be resumed later
        solver.set_initial_condition(_initial(cfg))
    if comm.rank == 0:
        out.mkdir(parents=True, exist_ok=True)
    comm.Barrier()
    # frames after the checkpoint were written by a run that did not commit them
    truncate_all(out, solver.step_count, comm)
    series = FieldSeries(out, "concentration", comm)

    snap_tol = 1e-9 * max(1.0, ts.t_end)

    frames = series.frames() if comm.rank == 0 else None
    last_frame = [comm.bcast(frames[-1] if frames else None, root=0)]  # step of the last frame: written once

    bar = progress_bar(progress, "t", cfg.time.t_end, start=solver.t, of="of t_end")

    def callback(s, rec: StepRecord):
        fault_point("phasefield.step")  # a step taken, its outputs not yet written
        if rec.step % cfg.output.every == 0 or any(abs(rec.t - t) <= snap_tol for t in cfg.output.times):
            series.write(rec.step, s.mesh, [s.concentration()], rec.t)
            series.commit(rec.step)
            last_frame[0] = rec.step
        if rec.step > 0 and rec.step % cfg.output.checkpoint_every == 0:
            _save_checkpoint(s, s.dt_next, history + new, ckpt, comm)
        bar.update(rec.t, f"step {rec.step:5d}  t = {rec.t:10.4g}  dt = {rec.dt:9.3g}  F = {rec.energy:.8g}  "
                          f"mass = {rec.mass:.12g}  newton {rec.newton_its}  [{bar.eta(rec.t)}]",
                   force=rec.step % cfg.output.every == 0)

    new: list[StepRecord] = []

    def collect(s, rec):
        new.append(rec)
        callback(s, rec)

    stepping = TimeStepping(dt=min(max(dt0, ts.dt_min), ts.dt_max), dt_min=ts.dt_min, dt_max=ts.dt_max,
                            adaptive=ts.adaptive, energy_rtol=ts.energy_rtol, error_tol=ts.error_tol,
                            safety=ts.safety, ratio_min=ts.ratio_min, ratio_max=ts.ratio_max,
                            energy_increase_rtol=ts.energy_increase_rtol)
    homogenization = None
    if cfg.homogenize is None:
        solver.run(ts.t_end, stepping, callback=collect, t_stops=cfg.output.times)
    else:  # split the run at the homogenization times (fe2.apps.phasefield.rve_link)
        from fe2.apps.phasefield.rve_link import run_and_homogenize

        homogenization = run_and_homogenize(solver, cfg.homogenize, ts.t_end, stepping, collect, out, say,
                                            t_stops=cfg.output.times)
    bar.close()
    if last_frame[0] != solver.step_count:
        series.write(solver.step_count, solver.mesh, [solver.concentration()], solver.t)
    history = history + new
    _save_checkpoint(solver, solver.dt_next, history, ckpt, comm)
    series.commit(solver.step_count)

    E = np.array([r.energy for r in history])
    mass = np.array([r.mass for r in history])
    write_csv_atomic(out / "free_energy.csv", ["time", "free_energy"], [[r.t, r.energy] for r in history], comm=comm)
    write_csv_atomic(out / "history.csv", list(StepRecord.__dataclass_fields__),
                     [list(r.to_dict().values()) for r in history], comm=comm)
    dim = len(cfg.domain.length)
    result = {
        "model": cfg.model,
        "units": phasefield_units(dim),
        "notation": "c: the conserved concentration (scalar field 'c' of concentration.xdmf/.pvd); "
                    "free_energy F = integral of f(c) + kappa/2 |grad c|^2 over the domain; "
                    "mass = integral of c",
        "config": cfg.model_dump(mode="json"),
        "ranks": comm.size,
        "steps": len(history) - 1,
        "t": solver.t,
        "energy_initial": float(E[0]),
        "energy_final": float(E[-1]),
        "max_energy_increase": float(np.diff(E).max()) if len(E) > 1 else 0.0,
        "mass_relative_drift": float(np.max(np.abs(mass - mass[0])) / max(abs(mass[0]), 1e-300)),
        # F of the initial field as prescribed (before a periodic closure: what converges to the
        # continuum value, e.g. PFHub BM1a's 319.0433) and what the closure added; energy_initial
        # is their sum, the state the run starts from (docs/phasefield.md, "F(0) on periodic lattices")
        "energy_initial_prescribed": solver.initial_energy,
        "seam_energy": solver.seam_energy,
        "history": [r.to_dict() for r in history],
    }
    if homogenization is not None:
        result["homogenization"] = homogenization
    write_json_atomic(out / "result.json", result, comm=comm)
    if comm.rank == 0:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(5, 3.5))
        ax.plot([r.t for r in history], E, "o-", ms=2)
        units = phasefield_units(dim)  # the same units as result.json states
        ax.set_xlabel("time t [time of the mobility]")
        ax.set_ylabel("free energy F\n[" + units["energy"] + "]", fontsize=8)
        ax.set_title(cfg.model.replace("_", "–"))
        fig.tight_layout()
        fig.savefig(out / "free_energy.png", dpi=120)
        plt.close(fig)
    solver.close()
    return result
