"""Running a design over the ranks: each rank runs its share of the unfinished samples on COMM_SELF.

The unfinished ids are dealt round-robin (rank r runs the r-th, (r + size)-th, ... of them), so
every rank has the same number of samples to within one; no collective is called while a rank
runs its share. A rank that fails (bad QoI path, a failed solve) stops and leaves a ``STOP`` file
in ``OUT/samples/`` that the other ranks look for before each sample; after their loops the ranks
agree (one allgather) and all raise the first failed rank's error. A realization that
cannot be built (a jammed packing, a periodic mesh gmsh cannot match) is redrawn with derived
seeds first, as ``fe2 bounds`` does (``redraws`` and ``used`` in its line). Rank 0 prints progress
with the time left (:func:`fe2.io.progress.progress_bar`, extrapolated from its own share).

A reaction-network study on the batched path (:mod:`fe2.apps.uq.batched`) runs a rank's share in
blocks of ``batch.samples``, each block the nodes of one integration; its lines are appended
together (one write, fsync'ed) once the whole block is finished, so a kill loses at most the block
that was running. A block whose batch fails is rerun one sample at a time, so the failing sample is
named (and the ones before it kept) exactly as on the per-sample path.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np
from mpi4py import MPI

from fe2.apps.uq.bases import Base
from fe2.apps.uq.batched import BatchedReactions
from fe2.apps.uq.designs import Design
from fe2.apps.uq.distributions import input_value
from fe2.apps.uq.store import SampleStore
from fe2.config.uq import UQConfig
from fe2.errors import ConfigError, Fe2Error, GeometryError, MeshError
from fe2.faults import fault_point
from fe2.io.progress import progress_bar


def _check_resumed(design: Design, done: dict[int, dict]) -> None:
    """The finished samples found must be rows of this design (same inputs, to round-off)."""
    for i, rec in done.items():
        if i >= design.size or not np.allclose(rec["x"], design.x[i], rtol=1e-12, atol=0.0):
            raise ConfigError(f"--restart: finished sample {i} does not belong to this study's design; "
                              "run without --restart to start over")


def run_ensemble(cfg: UQConfig, design: Design, base: Base, store: SampleStore, comm: MPI.Comm,
                 say: Callable[[str], None], batched: BatchedReactions | None = None) -> tuple[dict[int, dict], dict]:
    """Run every unfinished sample of ``design`` (``batched``: a reaction-network study's batched path).

    Returns every finished sample by id, and ``{"ran": samples run now, "wall_s": the slowest rank's
    time}``, on every rank.
    """
    done = store.finished()
    _check_resumed(design, done)
    pending = [i for i in range(design.size) if i not in done]
    mine = pending[comm.rank::comm.size]
    say(f"{design.size} samples, {len(done)} finished before, {len(pending)} to run on {comm.size} rank(s)")
    scan_values = cfg.split.scan.values if cfg.method == "split" and cfg.split.scan is not None else None

    def inputs_of(i: int) -> tuple[dict, Any]:
        values = {inp.key: input_value(inp, design.x[i, k]) for k, inp in enumerate(cfg.inputs)}
        scan = None if design.scan is None else int(design.scan[i])
        return values, None if scan is None or scan_values is None else scan_values[scan]

    def record(i: int, qoi: dict, wall_s: float) -> dict:
        return {"id": i, "x": design.x[i].tolist(), "scan": None if design.scan is None else int(design.scan[i]),
                "qoi": qoi, "wall_s": wall_s}

    def run_one(i: int) -> None:
        values, scan_value = inputs_of(i)
        t0 = time.perf_counter()
        qoi, used, redraws = _evaluate_with_redraws(cfg, base, i, values, scan_value)
        rec = record(i, qoi, time.perf_counter() - t0)
        if redraws:
            rec.update({"redraws": redraws, "used": used})
        store.append(rec)
        fault_point("uq.sample")  # this sample is on disk, the next not started

    bar = progress_bar(say if comm.rank == 0 else None, "samples", max(len(mine), 1))
    failure: Fe2Error | None = None
    t_start = time.perf_counter()
    # the batched path (reaction networks): blocks of samples as the nodes of one integration
    size = cfg.batch.samples if batched is not None else 1
    blocks = [mine[k:k + size] for k in range(0, len(mine), size)]
    count = 0
    for block in blocks:
        if store.stop_requested():
            break  # another rank failed: its error is raised below, after the agreement
        try:
            if batched is None or not _run_block(batched, block, inputs_of, record, store):
                for i in block:  # one run per sample; also a failed batch, to name the failing sample
                    if store.stop_requested():
                        break
                    run_one(i)
        except Fe2Error as err:
            failure = err
            store.signal_stop()
            break
        count += len(block)
        bar.update(count, f"rank 0: {count}/{len(mine)} of its samples, " + bar.eta(count))
    bar.close()
    store.close()
    wall = time.perf_counter() - t_start
    found = comm.allgather(None if failure is None else (type(failure), str(failure)))
    first = next((f for f in found if f is not None), None)
    if first is not None:
        cls, text = first
        agreed = cls(text)
        agreed.collective = True
        raise agreed
    walls = comm.allgather(wall)
    say(f"ran {len(pending)} samples in {max(walls):.1f} s (slowest rank)")
    return store.finished(), {"ran": len(pending), "wall_s": max(walls)}


def _run_block(batched: BatchedReactions, block: list[int], inputs_of, record, store: SampleStore) -> bool:
    """The samples of ``block`` as the nodes of one integration, their lines appended together once all
    are finished (``uq.batch`` fault point after them); False when the batch failed (nothing written).
    """
    t0 = time.perf_counter()
    pairs = [inputs_of(i) for i in block]
    try:
        qois = batched.evaluate(block, [v for v, _ in pairs], [s for _, s in pairs])
    except Exception:  # noqa: BLE001 -- any failure of the batch: rerun one sample at a time, which names it
        return False
    share = (time.perf_counter() - t0) / len(block)
    store.append_block([{**record(i, q, share), "batch": len(block)} for i, q in zip(block, qois, strict=True)])
    fault_point("uq.batch")  # this block is on disk, the next not started
    return True


#: how many times a sample whose seeds give an unusable realization is redrawn before the study stops
MAX_REDRAWS = 20


def _redrawn(cfg: UQConfig, values: dict, redraw: int) -> dict:
    """``values`` with every integer aleatory input (a seed) replaced by its ``redraw``-th derived value:
    ``low + SeedSequence([seed, redraw]) mod (high - low + 1)`` — deterministic, the same on every rank and
    in every rerun.
    """
    out = dict(values)
    for inp in cfg.inputs:
        if inp.integer and inp.kind == "aleatory":
            assert inp.low is not None and inp.high is not None
            state = int(np.random.SeedSequence([int(values[inp.key]), redraw]).generate_state(1)[0])
            out[inp.key] = int(inp.low) + state % (int(inp.high) - int(inp.low) + 1)
    return out


def _evaluate_with_redraws(cfg: UQConfig, base: Base, i: int, values: dict, scan_value):
    """(QoIs, the values used, redraws): a geometry or mesh failure of an aleatory realization (a packing
    that jams, a periodic mesh gmsh cannot match) is redrawn with derived seeds, as ``fe2 bounds`` does,
    so the study conditions on realizations that can be built; any other failure is raised, naming the
    sample and its inputs.
    """
    seeds = any(inp.integer and inp.kind == "aleatory" for inp in cfg.inputs)
    used = values
    for redraw in range(MAX_REDRAWS + 1):
        used = values if redraw == 0 else _redrawn(cfg, values, redraw)
        try:
            return base.evaluate(i, used, scan_value), used, redraw
        except (GeometryError, MeshError) as err:
            if not seeds or redraw == MAX_REDRAWS:
                more = f" (and {redraw} redraws of its seeds)" if redraw else ""
                raise type(err)(f"sample {i} ({_describe(values)}){more}: {err}") from None
        except Fe2Error as err:
            raise type(err)(f"sample {i} ({_describe(used)}): {err}") from None
    raise AssertionError("unreachable")


def _describe(values: dict) -> str:
    return ", ".join(f"{k} = {v:.6g}" if isinstance(v, float) else f"{k} = {v}" for k, v in values.items())


__all__ = ["run_ensemble"]
