"""POD bases and POD–Galerkin models of nonlinear transport–reaction systems.

Full model (the P1 system of :mod:`fe2.reduction.lti` with a nodal nonlinear reaction r)::

    M x' = A x + M_L r(x) + B u,   y = C x

Snapshots x(t_k) of a full simulation give the POD basis in the M inner product: with
X = [x_1 … x_K], the method of snapshots solves XᵀMX = W Λ Wᵀ and V = X W Λ^{-1/2} (VᵀMV = I);
modes are kept until the discarded energy fraction Σ_{k>r} λ_k / Σ λ_k ≤ ``tol``, and the
basis is re-orthonormalized (Cholesky of VᵀMV), since small λ_r amplify round-off. The
POD–Galerkin model is x ≈ V a, a' = VᵀAV a + VᵀM_L r(Va) + VᵀB u. The nonlinear term is
evaluated at full order (n nodal evaluations per step): the reduction removes the linear solves
of size n, not the nodal work — hyper-reduction (DEIM) of r is not done. Time stepping of both
models: backward Euler with Newton (dense), the same Δt, so their difference is the reduction
error. Units as in :mod:`fe2.reduction.lti`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from fe2.errors import ConfigError, ConvergenceError
from fe2.reduction.lti import LTISystem

#: a nodal reaction: r(x) and its derivative dr/dx (diagonal: one value per state)
Reaction = tuple[Callable[[np.ndarray], np.ndarray], Callable[[np.ndarray], np.ndarray]]


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
    r = int(np.argmax(discarded <= tol)) + 1
    V = X @ W[:, :r] / np.sqrt(lam[:r])
    # the method of snapshots loses M-orthonormality like ε λ₁/λ_r: restore it (Cholesky of VᵀMV)
    G = V.T @ M @ V
    V = np.linalg.solve(np.linalg.cholesky(0.5 * (G + G.T)), V.T).T
    return V, lam


@dataclass
class NonlinearModel:
    """M x' = A x + M_L r(x) + B u, y = C x (``lin`` holds M, A, B, C; ``lumped`` the diagonal of M_L)."""

    lin: LTISystem
    lumped: np.ndarray
    reaction: Reaction

    def _step(self, x: np.ndarray, ub: np.ndarray, dt: float, basis: np.ndarray | None) -> np.ndarray:
        """One backward-Euler step (full, or Galerkin in ``basis``) by Newton."""
        s = self.lin
        r, dr = self.reaction
        if basis is None:
            Mx, Ax, Bu = s.M, s.A, s.B @ ub
            a = x.copy()
            for _ in range(30):
                g = Mx @ (a - x) - dt * (Ax @ a + self.lumped * r(a) + Bu)
                Jm = Mx - dt * (Ax + np.diag(self.lumped * dr(a)))
                da = np.linalg.solve(Jm, g)
                a -= da
                if np.linalg.norm(da) <= 1e-12 * max(1.0, np.linalg.norm(a)):
                    return a
            raise ConvergenceError("POD: full-order Newton did not converge in 30 iterations")
        V = basis
        Ar, Br = V.T @ s.A @ V, V.T @ s.B @ ub
        a = x.copy()
        for _ in range(30):
            xf = V @ a
            g = (a - x) - dt * (Ar @ a + V.T @ (self.lumped * r(xf)) + Br)
            Jm = np.eye(a.size) - dt * (Ar + V.T @ ((self.lumped * dr(xf))[:, None] * V))
            da = np.linalg.solve(Jm, g)
            a -= da
            if np.linalg.norm(da) <= 1e-12 * max(1.0, np.linalg.norm(a)):
                return a
        raise ConvergenceError("POD: reduced Newton did not converge in 30 iterations")

    def simulate(self, u: Callable[[float], np.ndarray], t_end: float, dt: float, x0: np.ndarray,
                 basis: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Times, outputs ``(k+1, p)`` and states ``(n or r, k+1)`` (reduced coordinates with ``basis``).

        With ``basis`` (M-orthonormal) the start is the M-projection Vᵀ M x0.
        """
        steps = int(round(t_end / dt))
        if steps < 1:
            raise ConfigError(f"simulate: t_end = {t_end} must be at least dt = {dt}")
        t = np.linspace(0.0, steps * dt, steps + 1)
        x = np.asarray(x0, dtype=float).copy() if basis is None else basis.T @ (self.lin.M @ x0)
        states = [x.copy()]
        for k in range(steps):
            x = self._step(x, u(t[k + 1]), dt, basis)
            states.append(x.copy())
        X = np.array(states).T
        full = X if basis is None else basis @ X
        return t, (self.lin.C @ full).T, X


__all__ = ["NonlinearModel", "pod_basis"]
