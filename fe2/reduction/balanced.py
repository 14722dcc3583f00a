"""Square-root balanced truncation of a stable LTI system, with Hankel singular values and the H∞ bound.

For M x' = A x + B u, y = C x + D u (M = L Lᵀ symmetric positive definite) the change of variables
z = Lᵀ x gives the standard system z' = Ã z + B̃ u, y = C̃ z + D u with Ã = L⁻¹AL⁻ᵀ, B̃ = L⁻¹B,
C̃ = CL⁻ᵀ. Its Gramians solve the Lyapunov equations

    Ã P + P Ãᵀ + B̃B̃ᵀ = 0   (controllability),     ÃᵀQ + QÃ + C̃ᵀC̃ = 0   (observability);

the Hankel singular values σ₁ ≥ σ₂ ≥ … are the square roots of the eigenvalues of PQ and do not
depend on coordinates. Square-root algorithm (Laub et al. 1987; Antoulas 2005, *Approximation of
Large-Scale Dynamical Systems*, §7.3): factors P = S Sᵀ, Q = R Rᵀ, the SVD Rᵀ S = U Σ Vᵀ, and the
projections T_r = S V_r Σ_r^{-1/2}, W_r = R U_r Σ_r^{-1/2} (W_rᵀ T_r = I) give the reduced model
A_r = W_rᵀ Ã T_r, B_r = W_rᵀ B̃, C_r = C̃ T_r, D_r = D — balanced (both Gramians equal Σ_r), stable,
with the a-priori bound

    σ_{r+1} ≤ ‖G − G_r‖_H∞ ≤ 2 Σ_{k>r} σ_k

(the upper bound: Enns 1984 / Glover 1984; the lower bound holds for any order-r model). The
factors come from symmetric eigen-decompositions of the Gramians with negative round-off
eigenvalues clipped (Gramians of diffusion operators are numerically rank-deficient: their
eigenvalues decay fast, which is why a few modes suffice). Dense: n ≤
:data:`fe2.reduction.lti.MAX_DENSE_STATES`; scipy's Bartels–Stewart Lyapunov solver.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import scipy.linalg as sla

from fe2.errors import ConfigError
from fe2.reduction.lti import LTISystem, _check_size


def _standard(sys: LTISystem) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(L, Ã, B̃, C̃) of the module docstring."""
    try:
        L = np.linalg.cholesky(sys.M)
    except np.linalg.LinAlgError as err:
        raise ConfigError("balanced truncation: the mass matrix M is not symmetric positive definite") from err
    At = sla.solve_triangular(L, sla.solve_triangular(L, sys.A, lower=True).T, lower=True).T
    Bt = sla.solve_triangular(L, sys.B, lower=True)
    Ct = sla.solve_triangular(L, sys.C.T, lower=True).T
    return L, At, Bt, Ct


def _factor(G: np.ndarray) -> np.ndarray:
    """S with G ≈ S Sᵀ (symmetric eigen-decomposition; round-off negatives clipped)."""
    w, V = np.linalg.eigh(0.5 * (G + G.T))
    w = np.clip(w, 0.0, None)
    return V * np.sqrt(w)


def gramians(sys: LTISystem) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(P, Q, Ã, B̃, C̃) in the standard coordinates z = Lᵀx; refuses an unstable system (one line)."""
    _check_size(sys.n)
    _, At, Bt, Ct = _standard(sys)
    lam = np.linalg.eigvals(At)
    # a marginal eigenvalue (a closed, decay-free system has λ = 0) comes out of eigvals as ±1e-16·|λ|max:
    # anything above −1e-10·|λ|max is not asymptotically stable for this purpose (Lyapunov ill-posed)
    margin = -1e-10 * max(float(np.max(np.abs(lam))), 1e-300)
    if np.max(lam.real) >= margin:
        raise ConfigError(f"balanced truncation needs a stable system: the largest eigenvalue has real part "
                          f"{np.max(lam.real):.3g} >= {margin:.3g} (-1e-10 |λ|max; add decay, or a "
                          f"Robin/Dirichlet boundary)")
    P = sla.solve_continuous_lyapunov(At, -Bt @ Bt.T)
    Q = sla.solve_continuous_lyapunov(At.T, -Ct.T @ Ct)
    return P, Q, At, Bt, Ct


@dataclass
class ReducedLTI:
    """A reduced model x_r' = A_r x_r + B_r u, y = C_r x_r + D u, with its provenance."""

    A: np.ndarray
    B: np.ndarray
    C: np.ndarray
    D: np.ndarray
    hankel_singular_values: np.ndarray
    bound: float  # 2 Σ_{k>r} σ_k: ‖G − G_r‖_H∞ ≤ bound
    full_states: int
    input_names: list[str] = field(default_factory=list)
    output_names: list[str] = field(default_factory=list)

    @property
    def order(self) -> int:
        return self.A.shape[0]

    def as_system(self) -> LTISystem:
        """The reduced model as an :class:`LTISystem` (M = I) for simulation and transfer functions."""
        return LTISystem(np.eye(self.order), self.A, self.B, self.C, self.D, list(self.input_names),
                         list(self.output_names))


def balanced_truncation(sys: LTISystem, order: int | None = None, tol: float | None = None) -> ReducedLTI:
    """Reduce ``sys`` to ``order`` states, or to the smallest order whose bound 2Σ_{k>r}σ_k ≤ ``tol``."""
    if (order is None) == (tol is None):
        raise ConfigError("balanced_truncation: give exactly one of order or tol")
    P, Q, At, Bt, Ct = gramians(sys)
    S, R = _factor(P), _factor(Q)
    U, sig, Vt = np.linalg.svd(R.T @ S)
    tails = 2.0 * np.concatenate([np.cumsum(sig[::-1])[::-1], [0.0]])  # tails[r] = 2 Σ_{k>=r} σ_k (0-based)
    if order is None:
        assert tol is not None
        if not tol > 0:
            raise ConfigError(f"balanced truncation tol must be > 0, got {tol}")
        order = int(np.argmax(tails <= tol))
        order = max(order, 1)
    if not 1 <= order <= sys.n:
        raise ConfigError(f"balanced truncation order must be in 1..{sys.n}, got {order}")
    if sig[order - 1] <= 1e-14 * sig[0]:
        raise ConfigError(f"balanced truncation order {order} keeps Hankel singular values at round-off "
                          f"(σ_{order}/σ_1 = {sig[order - 1] / sig[0]:.1e}): choose a smaller order")
    scale = 1.0 / np.sqrt(sig[:order])
    T = S @ Vt[:order].T * scale
    W = R @ U[:, :order] * scale
    D = sys.D if sys.D is not None else np.zeros((sys.C.shape[0], sys.B.shape[1]))
    return ReducedLTI(W.T @ At @ T, W.T @ Bt, Ct @ T, D.copy(), sig, float(tails[order]), sys.n,
                      list(sys.input_names), list(sys.output_names))


def hinf_error_on_grid(sys: LTISystem, red: ReducedLTI, omega: np.ndarray) -> float:
    """max over ω of the largest singular value of G(iω) − G_r(iω) (a lower estimate of the H∞ norm)."""
    diff = sys.transfer(omega) - red.as_system().transfer(omega)
    return float(max(np.linalg.svd(d, compute_uv=False)[0] for d in diff))


__all__ = ["ReducedLTI", "balanced_truncation", "gramians", "hinf_error_on_grid"]
