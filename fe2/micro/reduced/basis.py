"""POD of the fluctuation snapshots and the Empirical Cubature Method (ECM).

POD. The snapshot matrix W = [w_1 … w_N] (columns: fluctuation dofs of the full RVE) is
decomposed by a thin SVD W = U Σ Vᵀ; the basis Φ = U[:, :k] keeps the fewest modes with

    1 − Σ_{i≤k} σ_i² / Σ_i σ_i²  ≤  tol                              (the *energy fraction* criterion)

in the Euclidean inner product of the dofs (the RVE meshes are quasi-uniform, where it is
equivalent to the L² one up to the mesh-size ratio; Φ is orthonormal, so a full-order
fluctuation projects as q = Φᵀ w). Every column of W satisfies the periodic (or KUBC)
constraints, hence so does every mode: Φ q is admissible for every q.

ECM (Hernández, Caicedo, Ferrer 2017, CMAME 313). The reduced internal force is an integral
over the RVE, r(q) = ∫ Φᵀ Bᵀ σ dY ≈ Σ_p V_p f_p with one integrand f_p ∈ R^k per micro
quadrature point p. The integrands of all training snapshots (the reduced forces G_pᵀ σ_p, the
micro stresses σ_p whose average is the macro stress, and the constant 1) form a matrix J
(n_qp × n_f); an SVD of √V ⊙ J truncated at the relative Frobenius tolerance ``svd_tol`` gives an
orthonormal basis whose exact integrals are b. A greedy loop then adds, one at a time, the point
whose basis values are most positively aligned with the current integration residual and re-solves
a non-negative least-squares problem for the weights (points with zero weight are dropped),
until ‖b − Gω‖ ≤ ``tol`` ‖b‖. The volume is an equality constraint, imposed by a penalty row in
the NNLS (Σ ω = |Y| to ~1e-12 relative).

Why ECM and not DEIM: DEIM interpolates the force vector from a few *rows* (dofs) of its own POD
basis, so the online cost still involves every quadrature point of the elements sharing those
dofs, the interpolated tangent loses symmetry and the reduced tangent need not be positive
definite, and its weights can be negative (an unstable "integration"). ECM selects *points* with
non-negative weights: the reduced problem is a genuine quadrature of the original one, so the
reduced tangent stays symmetric (positive definite where the laws are), the history lives only
at the selected points, Hill–Mandel holds for the reduced problem exactly, and the cost is
O(#points · k²), independent of the RVE mesh.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import nnls

from fe2.errors import ConfigError


def _kept(s2: np.ndarray, tol: float) -> int:
    """Fewest leading modes with 1 − Σ_kept σ²/Σ σ² ≤ tol (all of them when round-off never gets there)."""
    lost = 1.0 - np.cumsum(s2) / s2.sum()
    ok = np.flatnonzero(lost <= tol)
    return int(ok[0]) + 1 if ok.size else int(s2.size)


@dataclass(frozen=True)
class PODBasis:
    """Orthonormal modes ``(n_w, k)``, all singular values and the truncation tolerance."""

    modes: np.ndarray
    singular_values: np.ndarray
    tol: float

    @property
    def n_modes(self) -> int:
        return int(self.modes.shape[1])

    @property
    def truncation_error(self) -> float:
        """1 − Σ_kept σ² / Σ σ² of the kept modes."""
        s2 = self.singular_values**2
        return float(1.0 - s2[: self.n_modes].sum() / s2.sum()) if s2.sum() > 0 else 0.0


def pod_basis(fluctuations: np.ndarray, tol: float, max_modes: int | None = None) -> PODBasis:
    """POD of snapshots ``(n_snap, n_w)`` (rows) truncated at the energy fraction ``tol`` (module docstring)."""
    if not (0.0 <= tol < 1.0):
        raise ConfigError(f"POD energy tolerance must be in [0, 1), got {tol}")
    u, s, _ = np.linalg.svd(np.asarray(fluctuations, float).T, full_matrices=False)
    s2 = s**2
    total = s2.sum()
    if total == 0.0:
        raise ConfigError("all fluctuation snapshots are zero: nothing to reduce")
    k = _kept(s2, tol)
    # modes at round-off level are noise, never basis functions (1e-12 of the largest singular value)
    k = min(k, int(np.sum(s > 1e-12 * s[0])))
    if max_modes is not None:
        k = min(k, max_modes)
    return PODBasis(u[:, :k].copy(), s, tol)


@dataclass(frozen=True)
class CubatureRule:
    """Selected points (indices into the RVE's quadrature points) and their non-negative weights."""

    points: np.ndarray
    weights: np.ndarray
    #: relative integration error ‖b − Gω‖/‖b‖ of the truncated integrand basis
    residual: float
    #: rank of the integrand basis the points integrate
    n_integrands: int


def empirical_cubature(integrands: np.ndarray, volumes: np.ndarray, *, tol: float = 1e-8,
                       svd_tol: float = 1e-8, max_points: int | None = None) -> CubatureRule:
    """ECM of integrands ``(n_qp, n_f)`` with full-order weights ``volumes (n_qp,)`` (module docstring).

    The constant 1 is appended to the integrands and its integral Σ ω = Σ V is imposed as a penalized
    equality row of the NNLS.
    """
    vol = np.asarray(volumes, float)
    J = np.column_stack([np.asarray(integrands, float), np.ones(vol.size)])
    sq = np.sqrt(vol)
    u, s, _ = np.linalg.svd(sq[:, None] * J, full_matrices=False)
    s2 = s**2
    r = _kept(s2, svd_tol**2)
    r = min(r, int(np.sum(s > 1e-13 * s[0])))
    G = (u[:, :r] / sq[:, None]).T  # (r, n_qp): orthonormal basis values at the points
    b = G @ vol
    total = float(vol.sum())
    penalty = 1e6 * np.linalg.norm(b) / total
    norms = np.linalg.norm(G, axis=0)
    limit = max_points or vol.size
    chosen: list[int] = []
    weights = np.zeros(0)
    res = b.copy()
    for _ in range(4 * vol.size):  # points leave when NNLS zeroes them: bound the sweeps, not the points
        if np.linalg.norm(res) <= tol * np.linalg.norm(b) or len(chosen) >= limit:
            break
        score = (G.T @ res) / norms
        score[chosen] = -np.inf
        best = int(np.argmax(score))
        if not np.isfinite(score[best]) or score[best] <= 0.0:
            break
        chosen.append(best)
        A = np.vstack([G[:, chosen], penalty * np.ones((1, len(chosen)))])
        weights, _ = nnls(A, np.append(b, penalty * total), maxiter=50 * A.shape[1])
        keep = weights > 0.0
        chosen = [c for c, k in zip(chosen, keep, strict=True) if k]
        weights = weights[keep]
        res = b - G[:, chosen] @ weights
    order = np.argsort(chosen)
    pts = np.asarray(chosen, dtype=np.int64)[order]
    return CubatureRule(pts, np.asarray(weights)[order], float(np.linalg.norm(res) / np.linalg.norm(b)), r)


__all__ = ["CubatureRule", "PODBasis", "empirical_cubature", "pod_basis"]
