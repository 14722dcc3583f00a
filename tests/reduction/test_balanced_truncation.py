"""Balanced truncation and POD of a 1D diffusion–decay chain (fe2.reduction).

The system: c_t = D c_xx − k c on [0, 1] (P1, 120 cells), influx u through x = 0, a Robin
outflow −D c_x = α c at x = 1; outputs the mean of c and its value at x = 1. Checks against
theory that does not use the code under test: Hankel singular values are invariants, computed
here from scipy's Lyapunov solver on the system in other coordinates (x' = M⁻¹A x + M⁻¹B u);
the a-priori band σ_{r+1} ≤ ‖G − G_r‖_H∞ ≤ 2Σ_{k>r}σ_k; the L2 → L2 bound in time.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import scipy.linalg as sla
from dolfinx import mesh
from mpi4py import MPI

from fe2.errors import ConfigError
from fe2.reduction import (
    AverageOutput,
    FluxInput,
    NonlinearModel,
    SensorOutput,
    assemble_diffusion_reaction,
    balanced_truncation,
    hinf_error_on_grid,
    load_reduced,
    pod_basis,
    save_reduced,
)

pytestmark = pytest.mark.serial  # dense, serial by design (COMM_SELF)

D_, K_DECAY, ALPHA, N = 1e-2, 0.5, 0.1, 120


def _chain(n=N, decay=K_DECAY):
    m = mesh.create_interval(MPI.COMM_SELF, n, [0.0, 1.0])
    left = mesh.locate_entities_boundary(m, 0, lambda x: np.isclose(x[0], 0.0))
    right = mesh.locate_entities_boundary(m, 0, lambda x: np.isclose(x[0], 1.0))
    idx = np.concatenate([left, right])
    tags = np.concatenate([np.full(left.size, 1), np.full(right.size, 2)]).astype(np.int32)
    order = np.argsort(idx)
    ft = mesh.meshtags(m, 0, idx[order], tags[order])
    sys_ = assemble_diffusion_reaction(m, [D_], -decay, [FluxInput("influx", 1)],
                                       [AverageOutput("mean"), SensorOutput("outlet", (1.0,))],
                                       facet_tags=ft, robin={2: ALPHA})
    return m, sys_


def test_hankel_singular_values_and_the_hinf_band():
    """HSVs equal the invariant √eig(PQ) of the system in other coordinates (x' = M⁻¹Ax + M⁻¹Bu,
    scipy's Lyapunov solver, a non-symmetric eigenproblem) to 1e-8 relative or 1e-10 σ₁ absolute
    for the first 6 (σ₁ ≈ 1.0, σ₆ ≈ 1.9e-5; the reference's accuracy is absolute, ~ε‖P‖‖Q‖/σ:
    measured differences 3e-16 … 1.7e-12); for r = 1…4
    the frequency-grid H∞ error lies in [σ_{r+1}, 2Σ_{k>r}σ_k] (grid: ω = 0 and 400 log points in
    [1e-4, 1e4]; the lower bound is asked with 2 % slack for the grid)."""
    _, sys_ = _chain()
    red = balanced_truncation(sys_, order=4)
    Minv = np.linalg.inv(sys_.M)
    Af, Bf = Minv @ sys_.A, Minv @ sys_.B
    P = sla.solve_continuous_lyapunov(Af, -Bf @ Bf.T)
    Q = sla.solve_continuous_lyapunov(Af.T, -sys_.C.T @ sys_.C)
    ref = np.sort(np.sqrt(np.abs(np.linalg.eigvals(P @ Q).real)))[::-1]
    sig = red.hankel_singular_values
    assert np.allclose(sig[:6], ref[:6], rtol=1e-8, atol=1e-10 * sig[0]), (sig[:6], ref[:6])
    omega = np.concatenate([[0.0], np.logspace(-4, 4, 400)])
    for r in (1, 2, 3, 4):
        red_r = balanced_truncation(sys_, order=r)
        err = hinf_error_on_grid(sys_, red_r, omega)
        assert 0.98 * sig[r] <= err <= red_r.bound, (r, err, sig[r], red_r.bound)
    # order by tolerance: the smallest r whose bound is below it
    by_tol = balanced_truncation(sys_, tol=1e-3)
    assert by_tol.bound <= 1e-3 and 2 * sig[by_tol.order - 1:].sum() > 1e-3


def test_time_domain_error_is_within_the_l2_bound():
    """Sinusoidal influx u = sin(2t) + 0.5 for t ∈ [0, 20] from rest, full and reduced models
    (r = 3) by Crank–Nicolson with Δt = 0.01: ‖y − y_r‖_L2 ≤ 2Σ_{k>r}σ_k ‖u‖_L2 (the bound of
    the continuous systems; the discretization error of CN at this Δt is ~1e-6 of it)."""
    _, sys_ = _chain()
    red = balanced_truncation(sys_, order=3)

    def u(t):
        return np.array([np.sin(2 * t) + 0.5])

    t, y = sys_.simulate(u, 20.0, 0.01)
    _, yr = red.as_system().simulate(u, 20.0, 0.01)
    dt = t[1] - t[0]
    err = np.sqrt(np.sum(np.linalg.norm(y - yr, axis=1) ** 2) * dt)
    unorm = np.sqrt(np.sum([np.sum(u(tk) ** 2) for tk in t]) * dt)
    assert err <= red.bound * unorm
    assert err > 0.0 and np.max(np.abs(y[:, 0])) > 0.1  # a real response, not a trivial pass


def test_pod_galerkin_of_michaelis_menten_uptake():
    """c_t = D c_xx − V c/(Km + c) (V = 2, Km = 0.2; no linear decay), pulsed influx; POD of the
    full trajectory's snapshots in the M inner product: the POD–Galerkin output error falls as
    the energy tolerance tightens (measured: tolerance 1e-2, 1e-4, 1e-6, 1e-8 → 2, 3, 5, 8 modes;
    relative max output errors 6.5e-2, 1.0e-2, 1.0e-3, 6.1e-5) — asked: more modes and a smaller
    error at every level, the tightest < 2e-4 (3× the measured 6.1e-5)."""
    _, lin = _chain(n=80, decay=0.0)
    lumped = lin.M.sum(axis=1)
    vmax, km = 2.0, 0.2
    react = (lambda x: -vmax * x / (km + x), lambda x: -vmax * km / (km + x) ** 2)
    model = NonlinearModel(lin, lumped, react)

    def u(t):
        return np.array([1.0 + np.sin(t)])

    x0 = np.zeros(lin.n)
    _, y, X = model.simulate(u, 10.0, 0.05, x0)
    scale = np.max(np.abs(y))
    errors, orders = [], []
    for tol in (1e-2, 1e-4, 1e-6, 1e-8):
        V, _ = pod_basis(X, lin.M, tol)
        assert np.allclose(V.T @ lin.M @ V, np.eye(V.shape[1]), atol=1e-9)
        _, yr, _ = model.simulate(u, 10.0, 0.05, x0, basis=V)
        errors.append(np.max(np.abs(y - yr)) / scale)
        orders.append(V.shape[1])
    assert all(a < b for a, b in itertools.pairwise(orders)), orders
    assert all(a > b for a, b in itertools.pairwise(errors)) and errors[-1] < 2e-4, (orders, errors)


def test_reduced_model_file_round_trip_and_range(tmp_path):
    """Written atomically with its provenance; reloaded identical; refused (one line naming the key)
    for another mesh size or coefficient; an unstable operator (pure no-flux diffusion has the
    constant mode at eigenvalue 0) is refused before any Lyapunov solve."""
    _, sys_ = _chain()
    red = balanced_truncation(sys_, order=3)
    prov = {"physics": "diffusion-decay", "cells": N, "diffusivity": D_, "decay": K_DECAY}
    save_reduced(tmp_path / "rom", red, prov)
    back, meta = load_reduced(tmp_path / "rom", {"physics": "diffusion-decay", "cells": N, "diffusivity": D_})
    assert np.array_equal(back.A, red.A) and back.bound == red.bound and meta["order"] == 3
    with pytest.raises(ConfigError, match="built for cells = 120, not 60"):
        load_reduced(tmp_path / "rom", {"cells": 60})
    with pytest.raises(ConfigError, match="diffusivity"):
        load_reduced(tmp_path / "rom", {"diffusivity": 2e-2})
    m = mesh.create_interval(MPI.COMM_SELF, 20, [0.0, 1.0])
    closed = assemble_diffusion_reaction(m, [D_], 0.0, [], [AverageOutput("mean")])
    closed.B = np.ones((closed.n, 1))
    with pytest.raises(ConfigError, match="stable system"):
        balanced_truncation(closed, order=1)
