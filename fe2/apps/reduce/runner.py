"""``fe2 reduce``: the training paths shared out over the ranks, POD + ECM, a validation path, the files.

Every rank runs its share of the training paths (path k on rank k mod size) on its own copy of the
full RVE (COMM_SELF); the snapshots are gathered on every rank (one collective, reached by all ranks
also when a solve failed: the failure is raised everywhere), POD and ECM run identically on every
rank, and rank 0 writes ``OUT/reduced_rve.npz``, ``OUT/reduced_rve.json`` and, last,
``OUT/result.json`` (:func:`fe2.collective.on_root`: a write error is the same one-line OutputError on
every rank). The validation path (a random direction not in the training set: ramp to 0.8 of
the maximum amplitude, turn to another direction) compares the reduced and the full macro stress;
its error is stored with the provenance.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import cast

import numpy as np
from mpi4py import MPI

from fe2.collective import on_root
from fe2.config.reduce import ReduceConfig
from fe2.config.run import RunConfig
from fe2.errors import ConfigError, Fe2Error
from fe2.io.progress import progress_bar
from fe2.io.results import write_json_atomic
from fe2.micro.nonlinear_rve import NonlinearRVEMaterial
from fe2.micro.reduced import ReducedRVEMaterial, Snapshots, TrainingDesign, build_reduced_rve, training_paths
from fe2.micro.reduced.training import collect_snapshots, driver_origin, run_path


def validation_path(max_amplitude: float, m: int, seed: int, kind: str = "small_strain") -> np.ndarray:
    """Ramp to 0.8·max along a random direction in 5 steps, then turn to 0.6·max along another in 5
    (from the undeformed driver: 0, or I at finite strain).
    """
    rng = np.random.default_rng(10_000 + seed)
    d1, d2 = (v / np.linalg.norm(v) for v in rng.normal(size=(2, m)))
    a, b = 0.8 * max_amplitude, 0.6 * max_amplitude
    return driver_origin(kind, m) + np.concatenate([np.linspace(0, a, 6)[1:, None] * d1,
                                                    a * d1 + np.linspace(0, 1, 6)[1:, None] * (b * d2 - a * d1)])


def _gather_snapshots(comm: MPI.Comm, full: NonlinearRVEMaterial, paths: list[np.ndarray],
                      progress=None) -> Snapshots:
    mine = list(range(comm.rank, len(paths), comm.size))
    local, error = None, None
    bar = progress_bar(progress, "training paths", max(len(mine), 1))
    try:
        local = collect_snapshots(full, [paths[k] for k in mine], on_path=lambda k: bar.update(
            k, f"training: path {k}/{len(mine)} of rank 0 [{bar.eta(k)}]"))
    except Fe2Error as exc:
        error = f"{type(exc).__name__}: {exc}"
    finally:
        bar.close()
    everything = comm.allgather((mine, local, error))
    errors = [e for _, _, e in everything if e is not None]
    if errors:
        raise ConfigError(f"training: a full RVE solve failed ({errors[0]}); lower training.max_amplitude")
    parts: dict[int, tuple] = {}
    for ks, snap, _ in everything:
        offset = 0
        for k in ks:
            n = len(paths[k])
            parts[k] = (snap.fluctuations[offset:offset + n], snap.micro_flux[offset:offset + n],
                        snap.macro_flux[offset:offset + n])
            offset += n
    order = range(len(paths))
    return Snapshots(
        drivers=np.concatenate(paths), fluctuations=np.concatenate([parts[k][0] for k in order]),
        micro_flux=np.concatenate([parts[k][1] for k in order]),
        macro_flux=np.concatenate([parts[k][2] for k in order]),
        path_index=np.concatenate([np.full(len(p), k) for k, p in enumerate(paths)]),
        time_s=float(comm.allreduce(local.time_s if local is not None else 0.0, op=MPI.MAX)))


def run_reduce(cfg: ReduceConfig, comm: MPI.Comm, out_dir: str | Path, *, progress=None) -> dict:
    """Train, validate and store the reduced RVE; returns the result dict written to OUT/result.json."""
    from fe2.apps.run.runner import build_law, build_rve_material

    if cfg.reduction.method == "balanced_truncation":
        from fe2.apps.reduce.balanced import run_balanced_truncation

        return run_balanced_truncation(cfg, comm, out_dir, progress=progress)
    if cfg.reduction.method == "pod":
        from fe2.apps.reduce.pod import run_pod

        return run_pod(cfg, comm, out_dir, progress=progress)
    assert cfg.rve is not None
    say = progress or (lambda msg: None)
    out = Path(out_dir)
    t0 = time.perf_counter()
    full, rve = build_rve_material(cast(RunConfig, cfg))  # reads cfg.rve only
    if not isinstance(full, NonlinearRVEMaterial):
        # all phases elastic: fe2 run would use C_hom; the reduced RVE is trained on the nonlinear RVE
        full = NonlinearRVEMaterial(rve, {k: build_law(s, rve.dim) for k, s in cfg.rve.materials.items()},
                                    bc=cfg.rve.bc)
    t = cfg.training
    design = TrainingDesign(t.n_directions, t.max_amplitude, t.n_steps, t.reversal_fraction, t.seed)
    paths = training_paths(design, full.m, full.kind)
    say(f"training: {len(paths)} paths x {len(paths[0])} steps on a {full.n_w}-dof RVE, {comm.size} rank(s)")
    snaps = _gather_snapshots(comm, full, paths, progress)
    r = cfg.reduction
    data = build_reduced_rve(full, design, snapshots=snaps, pod_tol=r.pod_tol, max_modes=r.max_modes,
                             hyper_reduction=r.hyper_reduction, ecm_tol=r.ecm_tol)
    path = validation_path(t.max_amplitude, full.m, t.seed, full.kind)
    ref, _, _ = run_path(full, path)
    red = ReducedRVEMaterial(data, full.laws)
    state, got = red.initial_state(1), []
    t_red = time.perf_counter()
    for E in path:
        s, _, state = red.evaluate(E[None, :], state, guess=state)
        got.append(s[0])
    t_red = (time.perf_counter() - t_red) / len(path)
    err = float(np.max(np.linalg.norm(np.asarray(got) - ref, axis=1)) / np.max(np.linalg.norm(ref, axis=1)))
    data.meta["validation"] = {"path": path.tolist(), "max_relative_stress_error": err,
                               "reduced_time_per_point_s": t_red}
    say(f"{data.n_modes} modes, {data.weights.size} of {full.point_volume.size} points; validation stress error "
        f"{err:.2e}")
    result = {
        "command": "reduce", "reduced_rve": {"npz": "reduced_rve.npz", "json": "reduced_rve.json"},
        "n_dofs": full.n_w, "n_quadrature_points": int(full.point_volume.size), "n_modes": data.n_modes,
        "pod_truncation_error": data.meta["pod"]["truncation_error"], "ecm": data.meta["ecm"],
        "n_snapshots": int(snaps.drivers.shape[0]), "validation_max_relative_stress_error": err,
        "wall_s": time.perf_counter() - t0, "units": {"stress_error": "1 (relative)", "wall_s": "s"},
    }

    def write() -> None:  # rank 0 only; a write error (unwritable folder, full disk) raised on every rank
        data.save(out)
        write_json_atomic(out / "result.json", result)

    on_root(comm, write, f"writing the reduced RVE to {out}")
    return result


__all__ = ["run_reduce", "validation_path"]
