"""Load stepping for a macro solver: cut-back on divergence, checkpoints, outputs.

``run_load_steps`` advances the load factor through the requested targets.
A step whose Newton fails is rolled back (the committed state never changed)
and retried with half the increment, at most ``max_cuts`` times in a row; if
that fails the run stops with :class:`~fe2.errors.ConvergenceError` after the
checkpoint and outputs of every converged step are on disk.

Files in ``out_dir``:

* ``displacement.xdmf`` — u at every converged step (time = load factor);
* ``stress.xdmf`` — cell averages of the macro stress (the DG0 vector field ``stress_voigt``:
  σ in Voigt order 11 22 12 / 11 22 33 23 13 12, shear components unscaled; at finite strain
  ``first_piola``: P row-major, P11 P12 P21 P22 ...) and of the material's scalar history fields, e.g.
  ``eq_plastic_strain`` (for an RVE: its volume average);
* ``series/`` — the frames behind those two index files and ``micro_point<k>.xdmf``
  (:class:`fe2.io.series.FieldSeries`: one closed XDMF/HDF5 pair per step);
* ``load_displacement.csv`` / ``.png`` — load factor, the displacement of the monitored boundary
  (its mean, in the monitored component) and the reaction force on it (force per unit thickness
  in 2D); the plot draws force against displacement, with units, the load factor on a top axis;
* ``energy_balance.csv`` — per step the energy audit (:mod:`fe2.macro.energy_audit`): external
  work, macro and micro stress power, stored energy, physical and numerical dissipation, the
  relative residuals between them and the minimum dissipation increments (models that declare
  ``energy_increment`` only); the same numbers are in each step record (``energy``);
* ``steps.json`` — the records of the converged steps;
* ``checkpoint/`` — the last converged step (displacement dofs and committed
  micro states per rank; step, load factor, the step records and every rank's
  micro statistics so far in the manifest), written by :class:`fe2.solvers.RankCheckpoint` and read by
  ``restart=True``.

Order of the writes of a converged step: its frames, then the checkpoint (the
commit), then the index files and ``steps.json`` (both rewritten atomically). A
run killed anywhere restarts from the checkpoint: frames newer than it are
removed, the index files are rebuilt, and the resumed run computes the same
numbers as one that was not killed (same rank count).
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import ufl
from dolfinx import fem
from mpi4py import MPI

from fe2.errors import ConfigError, ConvergenceError
from fe2.faults import fault_point
from fe2.io.progress import progress_bar
from fe2.io.results import write_csv_atomic
from fe2.io.series import FieldSeries, truncate_all
from fe2.macro import energy_audit
from fe2.macro.energy_audit import EnergyAudit
from fe2.macro.small_strain import QuasiStaticMacroProblem
from fe2.materials.contract import MicroStatistics
from fe2.solvers import RankCheckpoint
from fe2.tensors import mandel_scale


@dataclass(frozen=True)
class Monitor:
    """Reaction force to record: sum of internal forces on boundary ``tag``, ``component``."""

    tag: int
    component: int


class Checkpoint:
    """The displacement dofs and committed micro states of a macro problem (same rank count to restart).

    Arrays per rank: ``u`` (local dofs with ghosts) and ``state__<field>`` (the
    :class:`~fe2.materials.state.StateStore`'s committed state); the manifest's
    metadata holds ``step``, ``factor``, ``records`` (of the steps so far),
    ``segments`` (runs that wrote the path so far), ``cuts`` (halvings in force for the
    next trial), ``fingerprint`` and
    ``micro_statistics`` (one :class:`MicroStatistics` dict per rank, summed over
    the segments).
    """

    def __init__(self, folder: Path, comm) -> None:
        self.folder = folder
        self.comm = comm
        self.files = RankCheckpoint(folder, comm)

    def save(self, solver: QuasiStaticMacroProblem, step: int, factor: float,
             statistics: MicroStatistics | None = None, segments: int = 1, fingerprint: str = "",
             records: list[dict] | None = None, cuts: int = 0) -> None:
        arrays = {"u": solver.u.x.array, **{f"state__{k}": v for k, v in solver.store.to_arrays().items()}}
        per_rank = self.comm.gather(dataclasses.asdict(statistics or MicroStatistics()), root=0)
        self.files.save(arrays, {"step": int(step), "factor": float(factor), "segments": int(segments),
                                 "micro_statistics": per_rank, "fingerprint": fingerprint,
                                 "records": records or [], "cuts": int(cuts)})

    def load(self, solver: QuasiStaticMacroProblem) -> tuple[int, float, dict[str, Any]]:
        """Restore u and the committed state; returns ``(step, factor, meta)``."""
        arrays, meta = self.files.load()
        bad = arrays["u"].shape != solver.u.x.array.shape
        if any(self.comm.allgather(bad)):
            raise ConfigError("checkpoint does not match this mesh/partition (was the input changed?)")
        solver.u.x.array[:] = arrays["u"]
        solver.u.x.scatter_forward()
        solver.store.from_arrays({k[len("state__"):]: v for k, v in arrays.items() if k.startswith("state__")})
        return int(meta["step"]), float(meta["factor"]), meta


def add_statistics(a: MicroStatistics, b: MicroStatistics) -> MicroStatistics:
    """Counters and times summed, ``hill_mandel_max`` the larger: two segments of one run as one."""
    return MicroStatistics(
        solves=a.solves + b.solves, iterations=a.iterations + b.iterations, time_s=a.time_s + b.time_s,
        hill_mandel_max=max(a.hill_mandel_max, b.hill_mandel_max), factorizations=a.factorizations + b.factorizations,
        factorizations_reused=a.factorizations_reused + b.factorizations_reused,
        points_lent=a.points_lent + b.points_lent)


class StepRecords(list):
    """The records of the converged steps (a list of dicts), with what earlier segments of the run did.

    Attributes:
        statistics_before: this rank's micro statistics of the segments before a restart
            (zero for a run that did not restart); add :meth:`MicroModel.statistics` for the whole run.
        segments: the number of runs (1 + restarts) that produced the load path.
    """

    statistics_before: MicroStatistics = MicroStatistics()
    segments: int = 1


def run_load_steps(
    solver: QuasiStaticMacroProblem,
    targets: Sequence[float],
    out_dir: str | Path,
    *,
    monitor: Monitor | None = None,
    restart: bool = False,
    max_cuts: int = 5,
    log: Callable[[str], None] | None = None,
    micro_points: Sequence[Sequence[float]] = (),
    fingerprint: str = "",
    progress: Callable[[str], None] | None = None,
) -> StepRecords:
    """Advance through the load factors ``targets`` (increasing); returns one record per converged step.

    ``micro_points``: macro coordinates whose RVE fields are written after every converged step to
    ``micro_point<k>.xdmf`` by the rank owning the cell (materials with ``write_point_fields`` only).
    ``restart``: continue from ``out_dir/checkpoint`` (see the module docstring).
    ``progress``: where the bar of the load path goes (:func:`fe2.io.progress.progress_bar`; ``log``
    prints the line of every step).
    ``fingerprint``: a digest of the inputs a restart must not change (saved with the checkpoint; a
    restart with another one is a :class:`~fe2.errors.ConfigError`); empty: not checked.
    """
    out = Path(out_dir)
    comm = solver.comm
    say = log or (lambda msg: None)
    ckpt = Checkpoint(out / "checkpoint", comm)
    records = StepRecords()
    factor, step, resume_cuts = 0.0, 0, 0
    rec_file = out / "steps.json"
    if comm.rank == 0:
        out.mkdir(parents=True, exist_ok=True)
    comm.Barrier()
    if not restart:
        ckpt.files.discard()  # a new run: an older run's checkpoint must not be resumed later
    if restart and not ckpt.files.exists():
        say(f"--restart: no checkpoint in {ckpt.folder} yet (killed before its first step?): starting at step 0")
        restart = False
    if restart:
        step, factor, meta = ckpt.load(solver)
        if fingerprint and (meta.get("fingerprint") or fingerprint) != fingerprint:
            raise ConfigError(f"--restart: the config is not the one of the run that wrote {ckpt.folder} (only "
                              "[loading] and [output] may change on a restart); run without --restart to start anew")
        saved = meta.get("micro_statistics")
        if saved:
            records.statistics_before = MicroStatistics(**saved[comm.rank])
        records.segments = int(meta.get("segments", 1)) + 1
        records.extend(meta.get("records", [])[:step])
        resume_cuts = int(meta.get("cuts", 0))
        say(f"restarted from step {step} (load factor {factor:.4g})")
    audit = EnergyAudit(solver)  # from the committed state (the checkpoint's after a restart)
    final = max(max(targets, default=1.0), 1e-300)
    bar = progress_bar(progress, "load path", final, start=factor, of="of the load path", lines=False)
    # frames newer than the checkpoint (or all, for a new run) belong to a run that did not commit them
    truncate_all(out, step, comm)
    series_u = FieldSeries(out, "displacement", comm)
    series_s = FieldSeries(out, "stress", comm)
    Q0 = fem.functionspace(solver.mesh, ("DG", 0, (solver.m,)))
    if solver.kinematics.kind == "small_strain":  # output notation is Voigt: stress shears are not scaled
        stress = fem.Function(Q0, name="stress_voigt")
        to_voigt = ufl.as_vector([solver.quad.flux[i] / w for i, w in enumerate(mandel_scale(solver.dim))])
    else:
        stress = fem.Function(Q0, name="first_piola")
        to_voigt = solver.quad.flux
    stress_expr = fem.Expression(to_voigt, Q0.element.interpolation_points)
    Qs = fem.functionspace(solver.mesh, ("DG", 0))
    scalars: dict[str, fem.Function] = {}
    probes = _locate_points(solver, micro_points) if solver.material.writes_point_fields else []
    point_series = {k: FieldSeries(out, f"micro_point{k}", MPI.COMM_SELF) for k, _ in probes}
    for target in targets:
        if target <= factor + 1e-14:
            continue
        # the halvings in force carry over a restart (a step between two targets resumes the same path)
        cuts, resume_cuts = resume_cuts, 0
        while factor < target - 1e-14:
            trial = min(target, factor + (target - factor) / 2**cuts)
            fault_point("macro.step")  # between steps (or, with #n, before the n-th solve)
            try:
                rep = solver.solve_step(trial, log=say)
            except ConvergenceError as err:
                solver.rollback()
                cuts += 1
                say(f"step to {trial:.4g} failed ({err}); cutting the increment (cut {cuts}/{max_cuts})")
                if cuts > max_cuts:
                    raise ConvergenceError(
                        f"load step to {trial:.4g} failed after {max_cuts} cuts; results up to load factor"
                        f" {factor:.4g} are in {out}"
                    ) from err
                continue
            factor, step = trial, step + 1
            reaction = (
                solver.reaction(solver.dirichlet_dofs_for(monitor.tag), monitor.component) if monitor else None
            )
            displacement = (solver.boundary_displacement(solver.dirichlet_dofs_for(monitor.tag), monitor.component)
                            if monitor else None)
            records.append({"step": step, "load_factor": factor, "newton_iterations": rep.iterations,
                            "residuals": rep.residuals, "reaction": reaction, "displacement": displacement,
                            "time_s": rep.time_s,
                            "energy": audit.step()})
            # 1. this step's frames (closed files of their own)
            stress.interpolate(stress_expr)
            fields = [stress]
            point_fields = _point_fields(solver)
            # diagnostics named *_flag (1 where they fire) are counted over all points into the record
            records[-1]["flagged_points"] = {name: int(comm.allreduce(int(np.count_nonzero(v > 0))))
                                             for name, v in sorted(point_fields.items()) if name.endswith("_flag")}
            for name, values in point_fields.items():
                scalars.setdefault(name, fem.Function(Qs, name=name))
                f = scalars[name]
                f.x.array[Qs.dofmap.list[solver.quad.owned_cells, 0]] = (
                    values.reshape(-1, solver.quad.n_qp).mean(axis=1))
                f.x.scatter_forward()
                fields.append(f)
            series_u.write(step, solver.mesh, [solver.u], factor)
            series_s.write(step, solver.mesh, fields, factor)
            if probes:
                drivers = solver.quad.evaluate(solver.strain_expr)
                for k, point in probes:
                    solver.material.write_point_fields(point_series[k].frame_path(step), drivers[point],
                                                       solver.state, point, factor, append=False,
                                                       vtk_path=point_series[k].vtk_frame_path(step))
            # 2. the commit (with the halvings the next trial of this target uses)
            cuts = max(cuts - 1, 0)
            ckpt.save(solver, step, factor, add_statistics(records.statistics_before, solver.material.statistics()),
                      records.segments, fingerprint, records=list(records),
                      cuts=cuts if factor < target - 1e-14 else 0)
            # 3. what indexes the committed steps
            series_u.commit(step)
            series_s.commit(step)
            for ps in point_series.values():
                ps.commit(step)
            if comm.rank == 0:
                tmp = rec_file.with_suffix(".tmp")
                tmp.write_text(json.dumps(list(records), indent=1))
                os.replace(tmp, rec_file)
            comm.Barrier()
            say(f"step {step}: load factor {factor:.4g} converged in {rep.iterations} Newton iterations"
                + (f", reaction {reaction:.6g}" if reaction is not None else "")
                + f"  [{bar.eta(factor)}]")
            bar.update(factor)
    bar.close()
    if audit.available:
        rows = [[r["step"], r["load_factor"], *(r["energy"][c] for c in energy_audit.COLUMNS)] for r in records
                if r.get("energy")]
        write_csv_atomic(out / "energy_balance.csv", energy_audit.csv_header(solver.dim), rows, comm)
    if monitor is not None:
        rows = [[r["step"], r["load_factor"], r.get("displacement"), r["reaction"]] for r in records]
        header = ["step", "load_factor", "displacement [length]",
                  "reaction_force [force" + (" per unit thickness]" if solver.dim == 2 else "]")]
        write_csv_atomic(out / "load_displacement.csv", header, rows, comm)
        if comm.rank == 0 and rows:
            fig = load_displacement_figure(rows, header, monitor.component)
            fig.savefig(out / "load_displacement.png")
            import matplotlib.pyplot as plt

            plt.close(fig)
    return records


def _locate_points(solver: QuasiStaticMacroProblem, coords) -> list[tuple[int, int]]:
    """(k, local quadrature point index) for each requested coordinate owned by this rank: the first
    quadrature point of the owned cell that contains it. A coordinate outside the domain is an error.
    """
    from dolfinx import geometry

    msh = solver.mesh
    if not coords:
        return []
    pts = np.zeros((len(coords), 3))
    pts[:, : len(coords[0])] = np.asarray(coords, dtype=float)
    tree = geometry.bb_tree(msh, msh.topology.dim, entities=np.arange(solver.quad.owned_cells.size, dtype=np.int32))
    cand = geometry.compute_collisions_points(tree, pts)
    hits = geometry.compute_colliding_cells(msh, cand, pts)
    found = []
    for k in range(len(coords)):
        cells = hits.links(k)
        found.append((k, int(cells[0]) * solver.quad.n_qp) if len(cells) else None)
    owners = solver.comm.allreduce([k for k, f in enumerate(found) if f is not None])
    missing = sorted(set(range(len(coords))) - set(owners))
    if missing:
        raise ConfigError(f"micro output point(s) {[list(coords[k]) for k in missing]} lie outside the macro domain")
    # a point on a cell boundary may be found by two ranks: the lowest rank writes it
    first_owner: dict[int, int] = {}  # point index -> lowest rank that found it
    for rank, ks in enumerate(solver.comm.allgather([k for k, f in enumerate(found) if f is not None])):
        for k in ks:
            first_owner.setdefault(k, rank)
    return [f for k, f in enumerate(found) if f is not None and first_owner[k] == solver.comm.rank]


def _point_fields(solver: QuasiStaticMacroProblem) -> dict[str, np.ndarray]:
    """Scalar history per owned quadrature point from the material, if it offers any (e.g. ε̄p)."""
    return solver.material.point_fields(solver.state)


def load_displacement_figure(rows, header: list[str], component: int):
    """Reaction force against the displacement of the monitored boundary (both with units, from 0,
    the origin included: the axes do not start at the first step), the load factor on a top axis.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    arr = np.array([[r[1], np.nan if r[2] is None else r[2], r[3]] for r in rows], dtype=float)
    fig, ax = plt.subplots(figsize=(5, 4), dpi=120)
    u = np.concatenate([[0.0], arr[:, 1]])
    ax.plot(u, np.concatenate([[0.0], arr[:, 2]]), "o-")
    ax.set_xlabel(f"displacement u{component + 1} of the monitored boundary "
                  f"{header[2].removeprefix('displacement ')}")
    ax.set_ylabel("reaction " + header[3].removeprefix("reaction_"))
    ax.set_xlim(left=min(0.0, float(np.nanmin(u))))
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(5))  # readable tick labels
    lo, hi = ax.get_ylim()
    ax.set_ylim(min(lo, 0.0), max(hi, 0.0))
    ax.grid(alpha=0.3)
    factors = arr[:, 0]
    if np.all(np.isfinite(arr[:, 1])) and abs(arr[-1, 1]) > 0:  # u = factor * prescribed value
        per = arr[-1, 1] / factors[-1]
        top = ax.secondary_xaxis("top", functions=(lambda x: x / per, lambda f: f * per))
        top.set_xlabel("load factor")
    fig.tight_layout()
    return fig
