"""Balanced truncation on a 2D reaction–diffusion case with a few thousand states: online speed-up,
output error and the H∞ error against the bound 2 Σ_{k>r} σ_k, at r = 5, 10, 20.

System (fe2.reduction.lti): unit square, P1 on an ``--n`` x ``--n`` triangle mesh ((n+1)² states, 2601
for n = 50), one species, D = 1e-2, first-order decay k = 0.5, an influx density u(t) through the left
edge, Robin −D∇c·n = 0.1 c on the right edge, no flux elsewhere. Outputs: the domain average and the
value at the vertex (1, 0.5) (a sensor).

Offline: square-root balanced truncation (dense Bartels–Stewart Lyapunov solves; timed). Online:
Crank–Nicolson, Δt = 0.05 to t = 50 (1000 steps) with u(t) = 1 + sin(0.3 t) (a smooth, not trained
input; the reduced model is input-independent). The full model is stepped with a sparse LU of
M − Δt/2 A (scipy splu: the fair full-order baseline), the reduced model with a dense LU; the times
are measured side by side in this process and the ratio is what to read. Output error:
max_t |y − y_r| / max_t |y| per output (the worse of the two). H∞ error: the largest singular value of
G(iω) − G_r(iω) on ω = 0 and 200 log points in [1e-4, 1e3] (sparse solves for G): a lower estimate
of the H∞ norm, to compare with σ_{r+1} ≤ ‖G − G_r‖_∞ ≤ 2 Σ_{k>r} σ_k.

Run: ``OMP_NUM_THREADS=1 python bench/balanced_truncation_bench.py [--n 50] [--json out.json]``.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
from mpi4py import MPI

import fe2  # noqa: F401  (dolfinx_solver before dolfinx / petsc4py)

# isort: split
import scipy.linalg as sla
import scipy.sparse as sp
import scipy.sparse.linalg as spla
from dolfinx import mesh

from fe2.reduction import AverageOutput, FluxInput, SensorOutput, assemble_diffusion_reaction, balanced_truncation


def square_system(n: int):
    m = mesh.create_unit_square(MPI.COMM_SELF, n, n)
    fdim = 1
    m.topology.create_connectivity(fdim, 2)
    left = mesh.locate_entities_boundary(m, fdim, lambda x: np.isclose(x[0], 0.0))
    right = mesh.locate_entities_boundary(m, fdim, lambda x: np.isclose(x[0], 1.0))
    idx = np.concatenate([left, right])
    tags = np.concatenate([np.full(left.size, 1), np.full(right.size, 2)]).astype(np.int32)
    order = np.argsort(idx)
    ft = mesh.meshtags(m, fdim, idx[order], tags[order])
    return assemble_diffusion_reaction(m, [1e-2], -0.5, [FluxInput("influx", 1)],
                                       [AverageOutput("mean"), SensorOutput("sensor", (1.0, 0.5))],
                                       facet_tags=ft, robin={2: 0.1})


def simulate_sparse(M, A, B, C, u, dt, steps):
    """Crank–Nicolson with a sparse LU (the full model)."""
    lu = spla.splu((M - 0.5 * dt * A).tocsc())
    rhs = (M + 0.5 * dt * A).tocsr()
    x = np.zeros(M.shape[0])
    ys = [C @ x]
    for k in range(steps):
        x = lu.solve(rhs @ x + dt * (B @ (0.5 * (u(k * dt) + u((k + 1) * dt)))))
        ys.append(C @ x)
    return np.array(ys)


def simulate_dense(M, A, B, C, u, dt, steps):
    lu = sla.lu_factor(M - 0.5 * dt * A)
    rhs = M + 0.5 * dt * A
    x = np.zeros(M.shape[0])
    ys = [C @ x]
    for k in range(steps):
        x = sla.lu_solve(lu, rhs @ x + dt * (B @ (0.5 * (u(k * dt) + u((k + 1) * dt)))))
        ys.append(C @ x)
    return np.array(ys)


def collect(n: int = 50, orders=(5, 10, 20)) -> dict:
    sys_ = square_system(n)
    Ms, As = sp.csr_matrix(sys_.M), sp.csr_matrix(sys_.A)
    dt, steps = 0.05, 1000

    def u(t):
        return np.array([1.0 + np.sin(0.3 * t)])

    omega = np.concatenate([[0.0], np.logspace(-4, 3, 200)])
    G = np.array([sys_.C @ spla.splu((1j * w * Ms - As).tocsc()).solve(sys_.B.astype(complex)) for w in omega])
    t0 = time.perf_counter()
    y_full = simulate_sparse(Ms, As, sys_.B, sys_.C, u, dt, steps)
    t_full = time.perf_counter() - t0
    rec: dict = {"states": sys_.n, "dt": dt, "steps": steps, "full_online_s": t_full, "orders": []}
    for r in orders:
        t0 = time.perf_counter()
        red = balanced_truncation(sys_, order=r)
        offline = time.perf_counter() - t0
        rs = red.as_system()
        t0 = time.perf_counter()
        y_red = simulate_dense(rs.M, rs.A, rs.B, rs.C, u, dt, steps)
        t_red = time.perf_counter() - t0
        err = float(np.max(np.max(np.abs(y_red - y_full), axis=0) / np.max(np.abs(y_full), axis=0)))
        Gr = np.array([rs.C @ np.linalg.solve(1j * w * rs.M - rs.A, rs.B) for w in omega])
        hinf = float(max(np.linalg.svd(d, compute_uv=False)[0] for d in G - Gr))
        sig = red.hankel_singular_values
        row = {"r": r, "offline_s": offline, "online_s": t_red, "speedup": t_full / t_red, "output_rel_error": err,
               "hinf_error_grid": hinf, "sigma_r_plus_1": float(sig[r]), "bound_2_sum_tail": red.bound,
               "within_bound": bool(sig[r] * 0.98 <= hinf <= red.bound)}
        rec["orders"].append(row)
        rec["hankel_singular_values_first_30"] = sig[:30].tolist()
    return rec


def report(rec: dict) -> None:
    print(f"{rec['states']} states; full online (sparse LU CN, {rec['steps']} steps) {rec['full_online_s']:.3f} s")
    print(f"{'r':>3} {'offline s':>9} {'online s':>9} {'speed-up':>8} {'out err':>9} {'Hinf grid':>10} "
          f"{'sigma_r+1':>10} {'2 sum tail':>10} ok")
    for o in rec["orders"]:
        print(f"{o['r']:3d} {o['offline_s']:9.1f} {o['online_s']:9.4f} {o['speedup']:8.1f} "
              f"{o['output_rel_error']:9.2e} "
              f"{o['hinf_error_grid']:10.3e} {o['sigma_r_plus_1']:10.3e} {o['bound_2_sum_tail']:10.3e} "
              f"{o['within_bound']}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=50)
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    rec = collect(args.n)
    report(rec)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(rec, fh, indent=2)


if __name__ == "__main__":
    main()
