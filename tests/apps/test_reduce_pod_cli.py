"""``fe2 reduce`` with ``[reduction] method = "pod"`` (POD–Galerkin of the ``[system]`` of balanced
truncation with a nodal reaction from TOML): the demo config (121 states, Michaelis–Menten uptake) and
a linear variant of the balanced-truncation demo, on 1 or 2 ranks (every rank reduces the same serial
system, rank 0 writes). Bad input: tests/test_bad_input.py (the demo is one of its bases)."""

from __future__ import annotations

import itertools
import json
import tomllib
from pathlib import Path

import numpy as np
import pytest
import scipy.linalg as sla
from mpi4py import MPI

from fe2.apps.reduce.balanced import build_system
from fe2.apps.reduce.runner import run_reduce
from fe2.cli import main
from fe2.config.base import parse_config
from fe2.config.reduce import ReduceConfig, load_reduce_config
from fe2.errors import ConfigError
from fe2.reduction import balanced_truncation
from fe2.reduction.pod_store import load_pod_model

CFG = Path(__file__).resolve().parents[2] / "demos" / "configs" / "reduce"
POD, BT = CFG / "reaction_diffusion_pod.toml", CFG / "reaction_diffusion_bt.toml"
TIMINGS = {"offline_s", "online_full_s", "online_reduced_s", "online_speedup"}


def _write(path: Path, text: str) -> Path:
    if MPI.COMM_WORLD.rank == 0:
        path.write_text(text)
    MPI.COMM_WORLD.Barrier()
    return path


def _linear_pod_of_the_bt_demo() -> str:
    """The BT demo's [system] with its decay −0.5 c moved from ``jacobian`` into a POD reaction formula."""
    pod = POD.read_text().split("\n[system]\n")[0].replace("pod_tol = 1e-8", "pod_tol = 1e-6")
    system = BT.read_text().split("\n[system]\n")[1].replace("jacobian = -0.5", "jacobian = 0.0")
    tail = POD.read_text().split("\n[time]\n")[1]
    return (f"{pod}\n[system]\n{system}\n[reaction]\nkind = \"expression\"\nexpression = \"-k*c\"\n"
            f"parameters = {{ k = 0.5 }}\n\n[time]\n{tail}")


def _cn_states(M, A, B, u, t) -> np.ndarray:
    """Crank–Nicolson states of M x' = A x + B u from rest (written here, not the code under test's)."""
    dt = t[1] - t[0]
    lu, rhs = sla.lu_factor(M - 0.5 * dt * A), M + 0.5 * dt * A
    X = [np.zeros(M.shape[0])]
    for k in range(t.size - 1):
        X.append(sla.lu_solve(lu, rhs @ X[-1] + dt * B @ (0.5 * (u(t[k]) + u(t[k + 1])))))
    return np.array(X).T


def test_linear_reaction_pod_path_matches_the_lti_path_and_the_energy_identity(shared_tmp_path, capsys):
    """r(c) = −0.5 c as a POD formula on the BT demo's system with jacobian 0: (i) the full-model test
    trajectory of the POD path (Newton on the θ = 1/2 scheme, step tolerance 1e-12) equals balanced
    truncation's LTISystem.simulate (Crank–Nicolson, decay in the Jacobian) on the same input to 1e-10
    of max |y| (a linear problem: Newton converges in one step to round-off; measured ~1e-14);
    (ii) the POD energy identity in the M inner product: Σ_j ‖x_j − V Vᵀ M x_j‖²_M = Σ_{k>r} λ_k for the
    training snapshots (recomputed here by an independent CN loop), asked to 1e-11 of Σ λ (round-off of
    the eigen-decomposition of the 201 × 201 correlation matrix, ~ε K ≈ 5e-14 of Σ λ, with margin), and
    the discarded fraction is ≤ pod_tol while one mode fewer would exceed it (the smallest r)."""
    out = shared_tmp_path / "lin"
    cfg_path = _write(shared_tmp_path / "lin.toml", _linear_pod_of_the_bt_demo())
    assert main(["reduce", str(cfg_path), "--out", str(out)]) == 0
    MPI.COMM_WORLD.Barrier()
    res = json.loads((out / "result.json").read_text())
    z = np.load(out / "reduced_model.npz")
    cfg, bt = load_reduce_config(cfg_path), build_system(load_reduce_config(BT).system)
    tm = cfg.time

    def u_test(t):
        return np.array([cfg.test_input["influx"](t)])

    def u_train(t):
        return np.array([cfg.training_input["influx"](t)])

    t, y_bt = bt.simulate(u_test, tm.t_end, tm.dt)
    assert np.allclose(z["test_times"], t, rtol=0, atol=1e-12)
    assert np.max(np.abs(z["test_outputs_full"] - y_bt)) <= 1e-10 * np.max(np.abs(y_bt)), res
    X = _cn_states(bt.M, bt.A, bt.B, u_train, t)
    V, lam, r = z["basis"], z["eigenvalues"], res["n_modes"]
    R = X - V @ (V.T @ (bt.M @ X))
    measured, total = float(np.sum(R * (bt.M @ R))), float(np.sum(X * (bt.M @ X)))
    assert abs(total - lam.sum()) <= 1e-11 * total  # trace(XᵀMX) = Σ λ
    assert abs(measured - lam[r:].sum()) <= 1e-11 * total, (measured / total, lam[r:].sum() / total)
    assert lam[r:].sum() / total <= cfg.reduction.pod_tol < lam[r - 1:].sum() / total, res
    assert np.allclose(V.T @ bt.M @ V, np.eye(r), atol=1e-10)
    # (iii) frequency: the reported H∞ error of the linearization is that of the BT path's system against
    # the POD model (C_r, VᵀAV − 0.5 VᵀM_L V, B_r) recomputed here (1e-10), and, like any order-r model's,
    # at least σ_{r+1} (measured 1.6e-2 against σ_7 = 3.2e-6: POD trained on one input is far from optimal
    # in H∞, which balanced truncation is by construction)
    omega = np.concatenate([[0.0], np.logspace(-4, 4, cfg.system.frequencies)])
    Ar = z["A_r"] - 0.5 * V.T @ (z["lumped"][:, None] * V)
    g = [np.linalg.svd(gf - z["C_r"] @ np.linalg.solve(1j * w * np.eye(r) - Ar, z["B_r"]), compute_uv=False)[0]
         for w, gf in zip(omega, bt.transfer(omega), strict=True)]
    assert abs(max(g) - res["linearized_hinf_error_grid"]) <= 1e-10 * max(g), (max(g), res)
    assert res["linearized_hinf_error_grid"] >= balanced_truncation(bt, order=r).hankel_singular_values[r]


def _demo_with(**reduction) -> dict:
    data = tomllib.loads(POD.read_text())
    data["reduction"].update(reduction)
    return data


def test_michaelis_menten_error_falls_with_the_pod_tolerance(shared_tmp_path, capsys):
    """The demo (Michaelis–Menten uptake, test input ≠ training input) at pod_tol 1e-4, 1e-6, 1e-8:
    more modes and a smaller test-input output error at every level (measured 3, 5, 10 modes; max
    relative errors 1.3e-1, 2.0e-2, 1.25e-3 — the outlet sensor, whose values carry little of the
    state's energy; the domain mean 1.1e-2, 4.2e-4, 7.3e-6). Bounds at the tightest level: 2× the
    measured (2.5e-3 outlet, 1.5e-5 mean); the discarded energy ≤ pod_tol at every level; the figure,
    the provenance (training set, energy, modes, errors, units) written; the stored model reloaded."""
    modes, errors, means = [], [], []
    for tol in (1e-4, 1e-6, 1e-8):
        out = shared_tmp_path / f"mm_{tol:g}"
        cfg = _write(shared_tmp_path / f"mm_{tol:g}.toml", POD.read_text().replace("pod_tol = 1e-8",
                                                                                    f"pod_tol = {tol:g}"))
        assert main(["reduce", str(cfg), "--out", str(out)]) == 0
        MPI.COMM_WORLD.Barrier()
        res = json.loads((out / "result.json").read_text())
        assert res["method"] == "pod" and res["energy_discarded_fraction"] <= tol, res
        modes.append(res["n_modes"])
        errors.append(res["test_max_relative_output_error"])
        means.append(res["test_relative_output_errors"][0])
    assert all(a < b for a, b in itertools.pairwise(modes)), modes
    assert all(a > b for a, b in itertools.pairwise(errors)), (modes, errors)
    assert errors[-1] < 2.5e-3 and means[-1] < 1.5e-5, (modes, errors, means)
    assert res["online_full_s"] > 0 and res["online_reduced_s"] > 0 and res["online_speedup"] > 0
    meta = json.loads((out / "reduced_model.json").read_text())
    prov = meta["provenance"]
    assert meta["order"] == modes[-1] and prov["training_input"]["influx"]["offset"] == 1.0
    assert prov["energy_discarded_fraction"] == res["energy_discarded_fraction"] and "units" in meta
    assert meta["reaction"]["kind"] == "michaelis_menten" and (out / "pod.png").stat().st_size > 0
    # the apply path: the stored model, reloaded for the system and the rate it was trained on, replays its
    # test outputs bit for bit; for another mesh or another vmax it is refused with one line naming the key
    cfg = load_reduce_config(POD)
    rom, _ = load_pod_model(out, {"system": cfg.system.model_dump(), "reaction": cfg.reaction.model_dump()})
    z = np.load(out / "reduced_model.npz")
    _, y_r, _ = rom.simulate(lambda t: np.array([cfg.test_input["influx"](t)]), cfg.time.t_end, cfg.time.dt,
                             np.zeros(rom.order), cfg.time.theta)
    assert np.array_equal(y_r, z["test_outputs_reduced"])
    other = cfg.system.model_copy(update={"domain": cfg.system.domain.model_copy(update={"n": 60})})
    faster = cfg.reaction.model_copy(update={"parameters": {"vmax": 2.0, "km": 0.5}})
    for key, value in (("system", other.model_dump()), ("reaction", faster.model_dump())):
        with pytest.raises(ConfigError) as info:
            load_pod_model(out, {key: value})
        assert f"trained for {key} = " in str(info.value) and len(str(info.value).splitlines()) == 1


def test_two_ranks_give_the_numbers_of_one_rank(shared_tmp_path, capsys):
    """run_reduce on COMM_WORLD (2 ranks under mpirun) and on COMM_SELF (rank 0 alone): the same
    numbers in result.json and the same arrays in reduced_model.npz, bit for bit (the same serial
    dense computation; wall times excluded), and every rank returns the same numbers, bit for bit (the
    same BLAS calls on every rank; wall times are rank 0's, broadcast)."""
    comm = MPI.COMM_WORLD
    cfg = parse_config(_demo_with(pod_tol=1e-6), ReduceConfig)
    world = run_reduce(cfg, comm, shared_tmp_path / "world")
    numbers = {k: v for k, v in world.items() if k not in TIMINGS}
    assert all(other == numbers for other in comm.allgather(numbers))
    comm.Barrier()
    if comm.rank == 0:
        run_reduce(cfg, MPI.COMM_SELF, shared_tmp_path / "self")
        a, b = (json.loads((shared_tmp_path / d / "result.json").read_text()) for d in ("world", "self"))
        assert {k: v for k, v in a.items() if k not in TIMINGS} == {k: v for k, v in b.items() if k not in TIMINGS}
        za, zb = (np.load(shared_tmp_path / d / "reduced_model.npz") for d in ("world", "self"))
        assert za.files == zb.files and all(np.array_equal(za[k], zb[k]) for k in za.files)
    comm.Barrier()
