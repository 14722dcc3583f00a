"""``fe2 uq``: an uncertainty study over any fe2 command (or a Python function).

Output layout of ``OUT``::

    OUT/study.json              fingerprint of the study (its config and the base config), for --restart
    OUT/samples/rank<r>.jsonl   finished samples, append-only, one line each (fe2.apps.uq.store)
    OUT/samples/<id>/           each run's own files, only with keep_sample_outputs = true
    OUT/<method>_<qoi>.png      index bars with intervals; split_<qoi>.png: the split vs size
    OUT/result.json             indices / surrogate / split with their conventions, written last

The design is fixed by the seed before any run (:mod:`fe2.apps.uq.designs`); the samples are
dealt over the ranks, each run on COMM_SELF (:mod:`fe2.apps.uq.ensemble`); the analysis runs on
rank 0 once every sample is finished, so ``-n 1`` and ``-n 2`` give the same numbers, and a
killed study restarted with ``--restart`` runs only the samples it had not finished.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from mpi4py import MPI

from fe2.apps.uq.bases import Base
from fe2.apps.uq.batched import batched_reactions
from fe2.apps.uq.designs import make_design
from fe2.apps.uq.ensemble import run_ensemble
from fe2.apps.uq.store import SampleStore
from fe2.config.uq import UQConfig
from fe2.errors import Fe2Error
from fe2.io.results import write_json_atomic


def _analyse(cfg: UQConfig, design, done: dict) -> dict:
    if cfg.method == "sobol":
        from fe2.apps.uq.sensitivity import sobol_indices

        return sobol_indices(cfg, design, done)
    if cfg.method == "morris":
        from fe2.apps.uq.sensitivity import morris_screening

        return morris_screening(cfg, design, done)
    if cfg.method == "mc":
        from fe2.apps.uq.sensitivity import monte_carlo

        return monte_carlo(cfg, design, done)
    if cfg.method == "pce":
        from fe2.apps.uq.pce import pce_analysis

        return pce_analysis(cfg, design, done)
    from fe2.apps.uq.split import split_analysis

    return split_analysis(cfg, design, done)


def _agreed(build, comm: MPI.Comm):
    """``build()`` on every rank; when it fails on any rank, every rank raises that rank's error."""
    value, failure = None, None
    try:
        value = build()
    except Fe2Error as err:
        failure = (type(err), str(err))
    found = comm.allgather(failure)
    first = next((f for f in found if f is not None), None)
    if first is not None:
        agreed = first[0](first[1])
        agreed.collective = True
        raise agreed
    return value


def run_uq(cfg: UQConfig, study_path: str | Path, comm: MPI.Comm, out_dir: str | Path, *, restart: bool = False,
           progress: Callable[[str], None] | None = None) -> dict:
    """Run (or resume) the study and write OUT (collective over ``comm``); the result dict on every rank."""
    say = progress or (lambda msg: None)
    out = Path(out_dir)
    if comm.rank == 0:
        (out / "result.json").unlink(missing_ok=True)
    base = _agreed(lambda: Base(cfg, Path(study_path), out, comm), comm)
    fallback = base.agree_backend(comm)  # collective; a reactions base's C kernel: one backend on every rank
    if fallback is not None:
        say(f"samples: Rodas4 runs numpy on every rank ({fallback})")
    design = make_design(cfg)
    store = SampleStore(out, {"study": cfg.model_dump(mode="json"), **base.fingerprint()}, comm, restart)
    batched, how = _agreed(lambda: batched_reactions(cfg, base), comm)
    say(f"samples: {how}")
    done, timing = run_ensemble(cfg, design, base, store, comm, say, batched)
    result: dict | None = None
    failure: tuple | None = None
    if comm.rank == 0:
        try:
            analysis = _analyse(cfg, design, done)
            from fe2.apps.uq.plots import index_bars, split_vs_size

            figures = split_vs_size(analysis, out) if cfg.method == "split" else (
                [] if cfg.method == "mc" else index_bars(cfg.method, analysis, out))
            result = {
                "command": "uq", "method": cfg.method, "base": cfg.base, "seed": cfg.seed,
                "inputs": [i.model_dump(exclude_none=True) for i in cfg.inputs],
                "qoi_definitions": [q.model_dump(exclude_none=True) for q in cfg.qoi],
                "samples": {"count": design.size, "files": "samples/rank<r>.jsonl", "ran_on_ranks": comm.size,
                            "ran_now": timing["ran"], "ensemble_wall_s": timing["wall_s"], "path": how},
                cfg.method: analysis,
                "figures": figures,
                "units": "QoIs and variances in the units of the base command's result (fe2 converts none)",
            }
            write_json_atomic(out / "result.json", result)
        except Fe2Error as err:
            failure = (type(err), str(err))
    failure = comm.bcast(failure, root=0)
    if failure is not None:
        agreed = failure[0](failure[1])
        agreed.collective = True
        raise agreed
    return comm.bcast(result, root=0)


__all__ = ["run_uq"]
