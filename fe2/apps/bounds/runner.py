"""``fe2 bounds``: run (or resume) a bound-convergence study over the ranks of a communicator.

Plan the tasks (:mod:`.plan`), skip the records already in the store
(:mod:`.store`), solve the rest (:mod:`.solve`) as scheduled (:mod:`.schedule`),
then, on rank 0, summarize (:mod:`.summary`) and write the report (:mod:`.report`).
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from pathlib import Path

from mpi4py import MPI

from fe2 import config as cfgmod
from fe2.apps.bounds.plan import Task, build_cases, build_tasks, case_label
from fe2.apps.bounds.report import write_report
from fe2.apps.bounds.schedule import Progress, assign_tasks, idle_wait, split_whole_comm
from fe2.apps.bounds.solve import PHASE_TAGS, solve_task
from fe2.apps.bounds.store import RECORD_GLOB, RecordWriter, read_records
from fe2.apps.bounds.summary import summarize
from fe2.errors import Fe2Error
from fe2.micro.forms import FormKey, RVEForms

__all__ = ["StudyInterrupted", "run_bounds_study"]


class StudyInterrupted(Fe2Error):
    """The study stopped on purpose before finishing (``stop_after``); rerun to resume."""

    exit_code = 4



def run_bounds_study(
    cfg: cfgmod.BoundsConfig,
    comm: MPI.Comm,
    out_dir: str | Path,
    *,
    progress: Callable[[str], None] | None = None,
    stop_after: int | None = None,
    fresh: bool = False,
) -> dict:
    """Run (or resume) a bound-convergence study and write its report (collective over ``comm``).

    Args:
        cfg: the validated study configuration.
        comm: the communicator whose ranks share the work.
        out_dir: output folder; finished records found there are reused.
        progress: called with one-line messages (rank 0 calls it; pass a no-op elsewhere).
        stop_after: stop every rank after it has solved this many records in this
            run and raise :class:`StudyInterrupted` (simulates a killed run; for tests).
        fresh: delete the records of earlier runs first.

    Returns:
        The summary dict (the content of ``summary.json``), on every rank.

    Raises:
        StudyInterrupted: ``stop_after`` was reached (the records solved so far are on disk).
        Fe2Error: a realization failed (e.g. the packing jammed); raised on every rank
            after the other ranks finished their tasks, so their records are kept.
    """
    say = progress or (lambda msg: None)
    t_start = time.perf_counter()
    out = Path(out_dir)
    if comm.rank == 0:
        out.mkdir(parents=True, exist_ok=True)
        if fresh:
            for p in out.glob(RECORD_GLOB):
                p.unlink()
        (out / "summary.json").unlink(missing_ok=True)
    cases = build_cases(cfg)
    tasks = build_tasks(cfg, cases)
    done_keys = set(read_records(out)) if comm.rank == 0 else None
    done_keys = comm.bcast(done_keys, root=0)
    n_records = sum(len(t.items) for t in tasks)
    pending: list[Task] = []
    for t in tasks:
        items = [(k, s) for k, s in t.items if k not in done_keys]
        if items:
            pending.append(Task(t.size, t.realization, t.seed, t.geometry, t.geometry_key, items, t.cost))
    n_pending = sum(len(t.items) for t in pending)
    say(
        f"bounds study: {cfg.physics} {cfg.dim}D, {len(cases)} case(s), sizes L/ℓ {list(cases[0].sizes)}, "
        f"{n_records} records (one per realization and material case): {n_records - n_pending} already "
        f"on disk, {n_pending} to solve; {comm.size} rank(s)"
    )

    whole, local = split_whole_comm(pending, cfg.parallel.whole_comm_min_size)
    mine = assign_tasks(local, comm.size)[comm.rank]

    writer = RecordWriter(out / f"realizations.rank{comm.rank}.jsonl")
    forms_cache: dict[FormKey, RVEForms] = {}
    n_whole = sum(len(t.items) for t in whole)
    n_mine = sum(len(t.items) for t in mine)
    solved = 0
    busy = 0.0
    error: tuple[type, str] | None = None

    def limit_reached() -> bool:
        return stop_after is not None and solved >= stop_after

    pcomm = comm.Dup()  # progress messages travel on their own communicator
    try:
        prog = Progress(pcomm, n_pending, say)
        # 1. large RVEs: one after the other, each distributed over the whole communicator
        for t in whole:
            if limit_reached():
                break
            for rec in solve_task(t, comm, cfg, forms_cache, comm.rank):
                if comm.rank == 0:
                    writer.append(rec)
                solved += 1
                secs = rec.timings.total
                busy += secs
                prog.record(
                    (t.size, t.realization, case_label(rec.spec, cases), "all", secs), collective=True
                )
            gc.collect()
        solved_whole = solved
        # 2. everything else: independent tasks on COMM_SELF; only progress messages are sent
        try:
            for t in mine:
                if limit_reached():
                    break
                for rec in solve_task(t, MPI.COMM_SELF, cfg, forms_cache, comm.rank):
                    writer.append(rec)
                    solved += 1
                    secs = rec.timings.total
                    busy += secs
                    prog.record((t.size, t.realization, case_label(rec.spec, cases), comm.rank, secs))
                    if limit_reached():
                        break
        except Exception as exc:  # noqa: BLE001 -- any failure is reported on every rank below, once the others have finished
            error = (
                type(exc) if isinstance(exc, Fe2Error) else RuntimeError,
                f"rank {comm.rank}, L/ℓ = {t.size:g}, realization {t.realization}: {exc}",
            )
        prog.finish()
    finally:
        pcomm.Free()
    failed = [e for e in comm.allgather(error) if e is not None]
    if failed:
        raise failed[0][0](failed[0][1])
    unfinished = (n_whole - solved_whole) + (n_mine - (solved - solved_whole))
    if comm.allreduce(unfinished, op=MPI.SUM):
        raise StudyInterrupted(f"stopped after {stop_after} record(s) per rank; rerun to resume")
    busy_all = comm.gather(busy, root=0)
    # a whole-communicator record is solved by every rank together: count it once, not once per rank
    solved_all = comm.allreduce(solved - solved_whole) + solved_whole
    summary = None
    if comm.rank == 0:
        records = read_records(out)
        summary = summarize(cfg, records, cases)
        summary["phase_tags"] = dict(PHASE_TAGS)  # which cell tag of the realizations is which phase
        summary["run"] = {
            "wall_s": time.perf_counter() - t_start,  # setup + solves; the report adds report_s
            "ranks": comm.size,
            "records_solved": solved_all,
            "records_total": n_records,
            "busy_s_per_rank": busy_all,
            "whole_comm_tasks": len(whole),
        }
        write_report(summary, records, cfg, cases, out)
    idle_wait(comm)  # the other ranks sleep while rank 0 writes the report (no busy MPI wait)
    summary = comm.bcast(summary, root=0)
    say(
        f"bounds study done: {solved_all} record(s) solved in {time.perf_counter() - t_start:.1f} s, "
        f"{n_records - n_pending} reused from disk, {n_records} in the study; report in {out}"
    )
    return summary
