"""``fe2 reduce`` with ``[reduction] method = "pod"``: POD–Galerkin of the ``[system]`` of balanced
truncation (one species) with the nodal reaction of ``[reaction]`` (:mod:`fe2.reduction.pod`).

Full model M x' = A x + M_L r(x) + B u, y = C x from rest (x = 0), A and B, C exactly those of
balanced truncation's ``[system]`` (``system.jacobian`` is the linear part of the reaction, r the
rest). Offline: the full model is simulated on ``[training_input]`` over ``[time]`` (θ-method with
Newton, Crank–Nicolson by default); its states at every time step are the snapshots; the
M-orthonormal POD basis keeps the modes until the discarded energy fraction is ≤ ``reduction.pod_tol``
(at most ``reduction.max_modes``). Online check: full and reduced models on ``[test_input]`` (which
must differ from the training input), timed side by side (the best of 3 interleaved runs each);
the error of each output is max_t |y − y_r| / max_t |y|, the worse output reported. Frequency check:
the H∞ error of the models linearized at the rest state c = 0 on the grid of balanced truncation.

Dense and serial by design, like balanced truncation: every rank builds and reduces the same system;
the wall times are rank 0's (broadcast), rank 0 writes ``OUT/reduced_model.npz``,
``OUT/reduced_model.json`` (the model with its provenance and range), ``OUT/pod.png`` and, last,
``OUT/result.json``.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
from mpi4py import MPI

from fe2.apps.reduce.balanced import build_system
from fe2.collective import on_root
from fe2.config.reduce import ReduceConfig
from fe2.config.reduce_pod import InputSignal
from fe2.io.results import write_json_atomic
from fe2.reduction import LTISystem, NonlinearModel, PODGalerkinModel, pod_basis, projection_error
from fe2.reduction.nodal_reaction import law_expression, numeric_reaction
from fe2.reduction.pod_store import save_pod_model
from fe2.reduction.store import JSON, NPZ

PNG = "pod.png"
REPEATS = 3  # interleaved timing runs of the full and the reduced model on the test input


def _signal(table: dict[str, InputSignal], names: list[str]):
    signals = [table[n] for n in names]
    return lambda t: np.array([s(t) for s in signals])


def _relative_errors(y: np.ndarray, yr: np.ndarray) -> list[float]:
    """max_t |y_k − y_r,k| / max_t |y_k| per output k (inf where the full output is identically 0 and y_r is not)."""
    num, den = np.max(np.abs(y - yr), axis=0), np.max(np.abs(y), axis=0)
    return [float(a / b) if b > 0 else (0.0 if a == 0 else float("inf")) for a, b in zip(num, den, strict=True)]


def _linearized_hinf(full: NonlinearModel, rom: PODGalerkinModel, omega: np.ndarray) -> float | None:
    """Grid H∞ error of the models linearized at x = 0 (None where the linearization is singular on the grid)."""
    s, V = full.lin, rom.basis
    dr0 = full.lumped * full.reaction[1](np.zeros(s.n))
    lin_full = LTISystem(s.M, s.A + np.diag(dr0), s.B, s.C)
    lin_red = LTISystem(np.eye(rom.order), rom.A_r + V.T @ (dr0[:, None] * V), rom.B_r, rom.C_r)
    try:
        diff = lin_full.transfer(omega) - lin_red.transfer(omega)
    except np.linalg.LinAlgError:
        return None
    return float(max(np.linalg.svd(d, compute_uv=False)[0] for d in diff))


def _figure(out: Path, lam: np.ndarray, order: int, tol: float, t: np.ndarray, y: np.ndarray, yr: np.ndarray,
            names: list[str]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    k = min(lam.size, max(4 * order, 30))
    tail = np.cumsum(lam[::-1])[::-1] / lam.sum()  # tail[r] = Σ_{j>r} λ_j / Σ λ_j, without cancellation
    fig, ax = plt.subplots(1, 3, figsize=(15, 4))
    ax[0].semilogy(np.arange(1, k + 1), np.maximum(lam[:k] / lam[0], 1e-300), "o-", ms=3, label="λ_k / λ_1")
    ax[0].semilogy(np.arange(1, k), np.maximum(tail[1:k], 1e-300), "s--", ms=3,
                   label="discarded energy Σ_{j>r} λ_j / Σ λ_j (at r)")
    ax[0].axhline(tol, color="k", lw=0.8, ls=":", label=f"pod_tol = {tol:g}")
    ax[0].axvline(order, color="r", lw=0.8, label=f"r = {order}")
    ax[0].set_xlabel("k  /  number of modes r")
    ax[0].set_ylabel("1 (relative)")
    ax[0].set_title("POD eigenvalues (training snapshots, M inner product)")
    ax[0].legend(fontsize=7)
    for j, name in enumerate(names):
        line, = ax[1].plot(t, y[:, j], label=f"{name}: full")
        ax[1].plot(t, yr[:, j], "--", color=line.get_color(), label=f"{name}: POD r = {order}")
        err = np.abs(y[1:, j] - yr[1:, j])  # t = 0: both at rest, no error to draw on a log scale
        ax[2].semilogy(t[1:], np.where(err > 0, err, np.nan), color=line.get_color(), label=name)
    ax[1].set_xlabel("t  (time unit of the diffusivity)")
    ax[1].set_ylabel("output  (concentration)")
    ax[1].set_title("test input (not trained on)")
    ax[1].legend(fontsize=7)
    ax[2].set_xlabel("t  (time unit of the diffusivity)")
    ax[2].set_ylabel("|y − y_r|  (concentration)")
    ax[2].set_title("output error on the test input")
    ax[2].legend(fontsize=7)
    fig.tight_layout()
    tmp = out / "pod.tmp.png"
    fig.savefig(tmp, dpi=90)
    plt.close(fig)
    tmp.replace(out / PNG)


def run_pod(cfg: ReduceConfig, comm: MPI.Comm, out_dir: str | Path, *, progress=None) -> dict:
    """Train, test and store the POD–Galerkin model of ``cfg``; returns the result written to OUT/result.json."""
    assert cfg.system is not None and cfg.reaction is not None and cfg.time is not None
    say = progress or (lambda msg: None)
    out, tm, rx, red = Path(out_dir), cfg.time, cfg.reaction, cfg.reduction
    t0 = time.perf_counter()
    lin = build_system(cfg.system)
    expr = law_expression(rx.kind, rx.parameters, rx.expression)
    full = NonlinearModel(lin, lin.M.sum(axis=1), numeric_reaction(expr))  # lumped mass: row sums of M
    x0 = np.zeros(lin.n)
    u_train, u_test = _signal(cfg.training_input, lin.input_names), _signal(cfg.test_input, lin.input_names)
    say(f"POD: training run of the {lin.n}-state model, {tm.steps} steps of dt = {tm.dt:g} ({tm.scheme})")
    t, y_train, X = full.simulate(u_train, tm.t_end, tm.dt, x0, theta=tm.theta)
    V, lam = pod_basis(X, lin.M, red.pod_tol)
    if red.max_modes is not None:
        V = V[:, :red.max_modes]  # the re-orthonormalization is triangular: the first columns span the first modes
    r, total = V.shape[1], float(lam.sum())
    rom = full.reduced(V)
    offline_s = time.perf_counter() - t0
    _, y_train_r, _ = rom.simulate(u_train, tm.t_end, tm.dt, V.T @ (lin.M @ x0), tm.theta)
    full_s, red_s = [], []
    for _ in range(REPEATS):
        s0 = time.perf_counter()
        t, y_test, _ = full.simulate(u_test, tm.t_end, tm.dt, x0, theta=tm.theta)
        s1 = time.perf_counter()
        _, y_test_r, _ = rom.simulate(u_test, tm.t_end, tm.dt, V.T @ (lin.M @ x0), tm.theta)
        full_s.append(s1 - s0)
        red_s.append(time.perf_counter() - s1)
    wall = comm.bcast({"offline_s": offline_s, "online_full_s": min(full_s), "online_reduced_s": min(red_s)}, root=0)
    omega = np.concatenate([[0.0], np.logspace(-4, 4, cfg.system.frequencies)])
    test_err, train_err = _relative_errors(y_test, y_test_r), _relative_errors(y_train, y_train_r)
    numbers = {
        "full_states": lin.n, "n_modes": r, "n_snapshots": int(X.shape[1]), "pod_tol": red.pod_tol,
        "energy_discarded_fraction": float(lam[r:].sum() / total),
        "projection_error_fraction": projection_error(X, V, lin.M) / total,
        "eigenvalues": lam[:min(lam.size, 50)].tolist(),
        "test_max_relative_output_error": max(test_err), "test_relative_output_errors": test_err,
        "training_max_relative_output_error": max(train_err),
        "linearized_hinf_error_grid": _linearized_hinf(full, rom, omega),
        "online_speedup": wall["online_full_s"] / wall["online_reduced_s"], **wall,
    }
    units = {"outputs": "concentration", "t": "time unit of the diffusivity", "inputs": "flux or source density",
             "errors": "1 (relative to max_t |y|, per output)", "energy": "1 (fraction of Σ λ)",
             "linearized_hinf": "output unit / input unit", "offline_s": "s", "online_s": "s"}
    u_seen = np.array([u_train(tk) for tk in t])
    rng = {"snapshot_concentration": [float(X.min()), float(X.max())],
           "training_input": {n: [float(u_seen[:, i].min()), float(u_seen[:, i].max())]
                              for i, n in enumerate(lin.input_names)}}
    result = {"command": "reduce", "method": "pod", **numbers, "inputs": lin.input_names,
              "outputs": lin.output_names, "reaction": str(expr), "range": rng, "units": units,
              "files": {"model": NPZ, "provenance": JSON, "figure": PNG}}
    system = cfg.system  # narrowed above; the closure below runs on rank 0 through on_root

    def write() -> None:
        meta = {"method": "POD-Galerkin (method of snapshots, M inner product)", "full_states": lin.n,
                "inputs": lin.input_names, "outputs": lin.output_names,
                "reaction": {**rx.model_dump(), "rate": str(expr)}, "range": rng, "units": units,
                "provenance": {"system": system.model_dump(), "reduction": red.model_dump(),
                               "time": tm.model_dump(), "training_input": {k: v.model_dump() for k, v in
                                                                           cfg.training_input.items()},
                               "test_input": {k: v.model_dump() for k, v in cfg.test_input.items()},
                               "reaction": rx.model_dump(), **numbers}}
        save_pod_model(out, rom, lam, {"test_times": t, "test_outputs_full": y_test, "test_outputs_reduced": y_test_r},
                       meta)
        _figure(out, lam, r, red.pod_tol, t, y_test, y_test_r, lin.output_names)

    on_root(comm, write, f"writing the reduced model to {out}")
    say(f"{r} modes (discarded energy {numbers['energy_discarded_fraction']:.2e} <= {red.pod_tol:g}); test output "
        f"error {max(test_err):.2e}, online speed-up {numbers['online_speedup']:.1f}x")
    write_json_atomic(out / "result.json", result, comm)
    return result


__all__ = ["run_pod"]
