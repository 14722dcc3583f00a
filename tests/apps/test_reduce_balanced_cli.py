"""``fe2 reduce`` with ``[reduction] method = "balanced_truncation"`` (TOML front end of
fe2.reduction): the demo config (1D reaction–diffusion, 121 states) reduced to order 6 on 1 or 2 ranks
(every rank reduces the same serial system; rank 0 writes). Bad input is one line naming the key."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from mpi4py import MPI

from fe2.apps.reduce.balanced import build_system
from fe2.cli import main
from fe2.config.reduce import load_reduce_config

DEMO = Path(__file__).resolve().parents[2] / "demos" / "configs" / "reduce" / "reaction_diffusion_bt.toml"
D, K, ALPHA = 0.01, 0.5, 0.1  # the demo's diffusivity, decay and Robin coefficient


def _steady_outputs() -> np.ndarray:
    """Analytic steady state of D c'' = k c, −D c'(0) = 1, −D c'(1) = α c(1): (mean, c(1))."""
    lam = np.sqrt(K / D)
    b = -1.0 / (D * lam)
    a = -b * (ALPHA * np.sinh(lam) + D * lam * np.cosh(lam)) / (D * lam * np.sinh(lam) + ALPHA * np.cosh(lam))
    return np.array([(a * np.sinh(lam) + b * (np.cosh(lam) - 1.0)) / lam, a * np.cosh(lam) + b * np.sinh(lam)])


def test_fe2_reduce_balanced_truncation_from_toml(shared_tmp_path, capsys):
    """The written model: H∞ error on the grid between σ_{r+1} (2 % slack for the grid) and the bound
    2Σ_{k>r}σ_k (measured 5.8e-6 ≤ 7.6e-6); its DC gain −C_r A_r⁻¹ B_r (i) closes the steady mass balance
    1 = k·mean + α·c(1) exactly for the P1 system (lumped reaction mass sums to ∫c_h), so to the BT
    error: asked 1e-4; (ii) equals the full P1 system's DC gain within the H∞ bound (a theorem: |G(0) −
    G_r(0)| ≤ ‖G − G_r‖_∞); (iii) its mean matches the analytic steady state to 1e-4 relative (P1 error
    O((λh)²) for λ = √(k/D), h = 1/120, plus BT ≤ 1e-5; measured 1.4e-6). The outlet value c(1) ≈ 0.01
    = e^{−λ}-small differs from the analytic one by 1.4e-3 relative (P1 with lumped reaction at the end
    node): not asserted against the analytic value, only (i) and (ii)."""
    comm = MPI.COMM_WORLD
    out = shared_tmp_path / "bt"
    assert main(["reduce", str(DEMO), "--out", str(out)]) == 0
    comm.Barrier()
    res = json.loads((out / "result.json").read_text())
    assert res["method"] == "balanced_truncation" and res["order"] == 6 and res["full_states"] == 121
    assert 0.98 * res["hinf_lower_bound"] <= res["hinf_error_grid"] <= res["hinf_bound"], res
    assert (out / "hsv.png").stat().st_size > 0
    meta = json.loads((out / "reduced_model.json").read_text())
    assert meta["provenance"]["system"]["domain"]["n"] == 120 and meta["order"] == 6
    z = np.load(out / "reduced_model.npz")
    dc = -(z["C"] @ np.linalg.solve(z["A"], z["B"]))[:, 0]
    assert abs(K * dc[0] + ALPHA * dc[1] - 1.0) < 1e-4, dc
    sys_ = build_system(load_reduce_config(DEMO).system)
    full_dc = -(sys_.C @ np.linalg.solve(sys_.A, sys_.B))[:, 0]
    assert np.all(np.abs(dc - full_dc) <= res["hinf_bound"]), (dc, full_dc)
    ref = _steady_outputs()
    assert abs(dc[0] - ref[0]) <= 1e-4 * ref[0], (dc, ref)


def test_fe2_reduce_balanced_truncation_bad_input_is_one_line(shared_tmp_path, capsys):
    """order out of range, a missing [system], an unknown boundary: exit 2, one line naming the key."""
    comm = MPI.COMM_WORLD
    text = DEMO.read_text()
    cases = {"order": text.replace("order = 6", "order = 0"),
             "system": text.split("[system]")[0],
             "robin": text.replace("robin = { right = 0.1 }", "robin = { top = 0.1 }")}
    for key, body in cases.items():
        cfg = shared_tmp_path / f"bad_{key}.toml"
        if comm.rank == 0:
            cfg.write_text(body)
        comm.Barrier()
        capsys.readouterr()
        assert main(["reduce", str(cfg), "--out", str(shared_tmp_path / f"o_{key}")]) == 2, key
        err = capsys.readouterr().err.strip()
        if comm.rank == 0:
            assert len(err.splitlines()) == 1 and key in err, (key, err)


def test_fe2_reduce_balanced_truncation_keeping_every_state(shared_tmp_path, capsys):
    """order = n (3 states, order 3): every Hankel singular value kept, so the reduced model is the full
    one in balanced coordinates: H∞ error at round-off (asked ≤ 1e-10 of the DC gain), bound 0 and no
    σ_{r+1} (reported 0); it crashed with an IndexError before."""
    comm = MPI.COMM_WORLD
    cfg = shared_tmp_path / "bt_full.toml"
    if comm.rank == 0:
        cfg.write_text(DEMO.read_text().replace("n = 120", "n = 2").replace("order = 6 ", "order = 3 "))
    comm.Barrier()
    out = shared_tmp_path / "bt_full"
    assert main(["reduce", str(cfg), "--out", str(out)]) == 0
    comm.Barrier()
    res = json.loads((out / "result.json").read_text())
    assert res["order"] == res["full_states"] == 3 and res["hinf_lower_bound"] == 0.0
    z = np.load(out / "reduced_model.npz")
    dc = np.abs(-(z["C"] @ np.linalg.solve(z["A"], z["B"]))).max()
    assert res["hinf_error_grid"] <= 1e-10 * dc, res
