"""POD bases and POD–Galerkin models of nonlinear transport–reaction systems.

Full model (the P1 system of :mod:`fe2.reduction.lti` with a nodal nonlinear reaction r)::

    M x' = A x + M_L r(x) + B u,   y = C x

Snapshots x(t_k) of a full simulation give the POD basis in the M inner product: with
X = [x_1 … x_K], the method of snapshots solves XᵀMX = W Λ Wᵀ and V = X W Λ^{-1/2} (VᵀMV = I);
modes are kept until the discarded energy fraction Σ_{k>r} λ_k / Σ λ_k ≤ ``tol`` (never beyond the
numerical rank: λ_k > 1e-13 λ₁), and the basis is re-orthonormalized (Cholesky of VᵀMV), since
small λ_r amplify round-off. The POD–Galerkin model is x ≈ V a, a' = VᵀAV a + VᵀM_L r(Va) + VᵀB u. The nonlinear term is
evaluated at full order (n nodal evaluations per step): the reduction removes the linear solves
of size n, not the nodal work — hyper-reduction (DEIM) of r is not done. Time stepping of both
models: the θ-method (backward Euler by default, Crank–Nicolson with θ = 1/2) with Newton — the full
model dense up to :data:`DENSE_FULL_MAX` states, sparse LU (SuperLU) above, the reduced one dense — at
the same Δt, so their difference is the reduction error. Units as in :mod:`fe2.reduction.lti`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sps
import scipy.sparse.linalg as spla

from fe2.errors import ConfigError, ConvergenceError
from fe2.reduction.lti import LTISystem

#: a nodal reaction: r(x) and its derivative dr/dx (diagonal: one value per state)
Reaction = tuple[Callable[[np.ndarray], np.ndarray], Callable[[np.ndarray], np.ndarray]]


#: eigenvalues of XᵀMX below this fraction of λ₁ are taken as round-off (the numerical rank)
NUMERICAL_RANK_RTOL = 1e-13


def pod_basis(snapshots: np.ndarray, M: np.ndarray, tol: float) -> tuple[np.ndarray, np.ndarray]:
    """(V, λ): the M-orthonormal POD basis (n × r) of the columns of ``snapshots`` and all eigenvalues λ."""
    if not 0 < tol < 1:
        raise ConfigError(f"POD energy tolerance must be in (0, 1), got {tol}")
    X = np.asarray(snapshots, dtype=float)
    corr = X.T @ M @ X
    lam, W = np.linalg.eigh(0.5 * (corr + corr.T))
    lam, W = lam[::-1], W[:, ::-1]
    lam = np.clip(lam, 0.0, None)
    total = lam.sum()
    if not total > 0:
        raise ConfigError("POD: the snapshots are all zero")
    discarded = 1.0 - np.cumsum(lam) / total
    below = np.nonzero(discarded <= tol)[0]
    r = int(below[0]) + 1 if below.size else lam.size
    # eigenvalues under ~ε λ₁ · K are round-off of the correlation matrix, not modes: never kept
    r = min(r, max(1, int(np.sum(lam > NUMERICAL_RANK_RTOL * lam[0]))))
    V = X @ W[:, :r] / np.sqrt(lam[:r])
    # the method of snapshots loses M-orthonormality like ε λ₁/λ_r: restore it (Cholesky of VᵀMV)
    G = V.T @ M @ V
    V = np.linalg.solve(np.linalg.cholesky(0.5 * (G + G.T)), V.T).T
    return V, lam


@dataclass
class PODGalerkinModel:
    """a' = A_r a + Vᵀ M_L r(V a) + B_r u, y = C_r a: the reduced operators formed once from the basis V."""

    basis: np.ndarray
    A_r: np.ndarray
    B_r: np.ndarray
    C_r: np.ndarray
    lumped: np.ndarray
    reaction: Reaction

    @property
    def order(self) -> int:
        return self.basis.shape[1]

    def _rhs(self, a: np.ndarray, u: np.ndarray) -> np.ndarray:
        return self.A_r @ a + self.basis.T @ (self.lumped * self.reaction[0](self.basis @ a)) + self.B_r @ u

    def simulate(self, u: Callable[[float], np.ndarray], t_end: float, dt: float, a0: np.ndarray,
                 theta: float = 1.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Times, outputs ``(k+1, p)`` and reduced states ``(r, k+1)`` by the θ-method with Newton."""
        V, ml = self.basis, self.lumped
        t = _times(t_end, dt)
        a, eye = np.asarray(a0, dtype=float).copy(), np.eye(self.order)
        states = [a.copy()]
        f_old = self._rhs(a, u(t[0]))
        for k in range(t.size - 1):
            u1, x = u(t[k + 1]), a
            known = x + dt * (1.0 - theta) * f_old
            a = x.copy()
            for _ in range(30):
                f_new = self._rhs(a, u1)
                g = a - known - dt * theta * f_new
                Jm = eye - dt * theta * (self.A_r + V.T @ ((ml * self.reaction[1](V @ a))[:, None] * V))
                da = np.linalg.solve(Jm, g)
                a = a - da
                if np.linalg.norm(da) <= NEWTON_RTOL * max(1.0, np.linalg.norm(a)):
                    break
            else:
                raise ConvergenceError(f"POD: reduced Newton did not converge in 30 iterations at t = {t[k + 1]:g} "
                                       "(the reduced model left the range it was trained in; more modes or a "
                                       "smaller dt)")
            f_old = self._rhs(a, u1)
            states.append(a.copy())
        A = np.array(states).T
        return t, (self.C_r @ A).T, A


def _times(t_end: float, dt: float) -> np.ndarray:
    steps = int(round(t_end / dt))
    if steps < 1 or not np.isclose(steps * dt, t_end, rtol=1e-12, atol=0.0):
        raise ConfigError(f"simulate: t_end = {t_end} must be a positive multiple of dt = {dt}")
    return np.linspace(0.0, steps * dt, steps + 1)


#: the full model's Newton solves are dense up to this many states, sparse (SuperLU) above: the faster of
#: the two (measured per solve of a P1 1D Jacobian: n = 120 dense 0.21 ms, sparse 0.32 ms; n = 250 dense
#: 1.8 ms, sparse 0.36 ms), so that the speed-up of a reduced model is against the faster full solve
DENSE_FULL_MAX = 200

#: Newton stops when the step is below this fraction of the state (max(1, ‖x‖))
NEWTON_RTOL = 1e-12


@dataclass
class NonlinearModel:
    """M x' = A x + M_L r(x) + B u, y = C x (``lin`` holds M, A, B, C; ``lumped`` the diagonal of M_L).

    Time stepping: the θ-method M(x₁ − x₀) = Δt[θ f(x₁, u₁) + (1 − θ) f(x₀, u₀)] with Newton, θ = 1
    backward Euler (default), θ = 1/2 Crank–Nicolson — with a linear r and θ = 1/2 the same scheme as
    :meth:`fe2.reduction.lti.LTISystem.simulate` (whose input is the mean of u₀ and u₁: identical).
    """

    lin: LTISystem
    lumped: np.ndarray
    reaction: Reaction

    def reduced(self, basis: np.ndarray) -> PODGalerkinModel:
        """The Galerkin model on the M-orthonormal ``basis`` (operators VᵀAV, VᵀB, CV formed once)."""
        s, V = self.lin, basis
        return PODGalerkinModel(V, V.T @ s.A @ V, V.T @ s.B, s.C @ V, self.lumped, self.reaction)

    def simulate(self, u: Callable[[float], np.ndarray], t_end: float, dt: float, x0: np.ndarray,
                 basis: np.ndarray | None = None, theta: float = 1.0,
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Times, outputs ``(k+1, p)`` and states ``(n or r, k+1)`` (reduced coordinates with ``basis``).

        With ``basis`` (M-orthonormal) the start is the M-projection Vᵀ M x0.
        """
        if not 0.5 <= theta <= 1.0:
            raise ConfigError(f"simulate: theta must be in [0.5, 1] (A-stable), got {theta}")
        if basis is not None:
            return self.reduced(basis).simulate(u, t_end, dt, basis.T @ (self.lin.M @ x0), theta)
        s, (r, dr) = self.lin, self.reaction
        dense = s.n <= DENSE_FULL_MAX
        M, A = (s.M, s.A) if dense else (sps.csr_matrix(s.M), sps.csr_matrix(s.A))

        def rhs(x: np.ndarray, u_now: np.ndarray) -> np.ndarray:
            return A @ x + self.lumped * r(x) + s.B @ u_now

        t = _times(t_end, dt)
        x = np.asarray(x0, dtype=float).copy()
        states = [x.copy()]
        f_old = rhs(x, u(t[0]))
        for k in range(t.size - 1):
            u1 = u(t[k + 1])
            known = M @ x + dt * (1.0 - theta) * f_old
            a = x.copy()
            for _ in range(30):
                f_new = rhs(a, u1)
                g = M @ a - known - dt * theta * f_new
                if dense:
                    da = np.linalg.solve(M - dt * theta * (A + np.diag(self.lumped * dr(a))), g)
                else:
                    da = spla.spsolve((M - dt * theta * (A + sps.diags(self.lumped * dr(a)))).tocsc(), g)
                a = a - da
                if np.linalg.norm(da) <= NEWTON_RTOL * max(1.0, np.linalg.norm(a)):
                    break
            else:
                raise ConvergenceError(f"POD: full-order Newton did not converge in 30 iterations at t = {t[k + 1]:g} "
                                       "(a blow-up of r(c), or dt too large for it)")
            x = a
            f_old = rhs(x, u1)
            states.append(x.copy())
        X = np.array(states).T
        return t, (s.C @ X).T, X


def projection_error(snapshots: np.ndarray, basis: np.ndarray, M: np.ndarray) -> float:
    """Σ_j ‖x_j − V Vᵀ M x_j‖²_M of the snapshot columns (= Σ_{k>r} λ_k for the POD basis V)."""
    X = np.asarray(snapshots, dtype=float)
    R = X - basis @ (basis.T @ (M @ X))
    return float(np.sum(R * (M @ R)))


__all__ = ["DENSE_FULL_MAX", "NEWTON_RTOL", "NUMERICAL_RANK_RTOL", "NonlinearModel", "PODGalerkinModel", "pod_basis",
           "projection_error"]
