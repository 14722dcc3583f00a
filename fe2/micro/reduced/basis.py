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
quadrature point p. The integrands of all training snapshots (the reduced forces G_pᵀ σ_p and the
micro stresses σ_p whose average is the macro stress, each block scaled per snapshot by
:func:`fe2.micro.reduced.offline.training_integrands`, and the constant 1) form a matrix J
(n_qp × n_f); a thin SVD √V ⊙ J = U S Wᵀ, truncated at the relative Frobenius tolerance
``svd_tol``, gives the basis G = S Uᵀ/√V (scaled by the singular values: Gᵀ(V − ω) carries the
integration error of the training integrands themselves) with exact integrals b = G V. The weights
solve min ‖Gω − b‖, ω ≥ 0, by a Lawson–Hanson active set (:func:`greedy_nnls`): each step adds the
point whose (normalized) column is most positively aligned with the current residual, the least
squares on the selected points is updated through one QR column insertion (a negative weight:
the Lawson–Hanson step back, the point leaves), until ‖b − Gω‖ ≤ ``tol`` ‖b‖. The number of points
then follows the content of the integrands at ``tol``, not the rank of their basis: a direction
of J with a small singular value needs no point of its own. The volume Σ ω = |Y| is a penalty row
plus a final rescaling (exact to round-off).

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
from scipy.linalg import qr, qr_delete, qr_insert, solve_triangular

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
    #: relative integration error ‖b − Gω‖/‖b‖ of the truncated integrand basis (scaled by its singular
    #: values unless ``weighted=False``: then the error of the given integrands themselves)
    residual: float
    #: rank of the integrand basis the points integrate
    n_integrands: int


def _insert(q: np.ndarray, r: np.ndarray, col: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Full QR of [A_P, col] from that of A_P (a fresh one for the first column)."""
    if r.shape[1] == 0:
        return qr(col[:, None])
    return qr_insert(q, r, col, r.shape[1], which="col")


def _delete(q: np.ndarray, r: np.ndarray, i: int) -> tuple[np.ndarray, np.ndarray]:
    if r.shape[1] == 1:
        return np.eye(q.shape[0]), np.zeros((q.shape[0], 0))
    return qr_delete(q, r, i, which="col")


def _qr_solve(q: np.ndarray, r: np.ndarray, rhs: np.ndarray) -> np.ndarray:
    p = r.shape[1]
    return solve_triangular(r[:p, :p], q[:, :p].T @ rhs)


def greedy_nnls(A: np.ndarray, b: np.ndarray, tol_abs: float, max_points: int) -> tuple[np.ndarray, np.ndarray]:
    """Lawson–Hanson active-set NNLS min ‖Aω − b‖, ω ≥ 0, stopped as soon as ‖b − Aω‖ ≤ ``tol_abs``.

    Each outer step adds the column of largest gradient Aᵀ(b − Aω) (the ECM's "most positively aligned
    point"); the least-squares problem on the selected columns is solved through a QR factorization
    updated by one column insertion/deletion (O(rows²) per change, no fresh NNLS per point), and a
    negative weight is handled by the Lawson–Hanson step back to the feasible boundary, so the
    residual decreases monotonically and the loop cannot cycle.
    """
    m, n = A.shape
    passive: list[int] = []
    x = np.zeros(0)
    q = np.eye(m)
    r = np.zeros((m, 0))
    res = b.copy()
    excluded = np.zeros(n, bool)
    for _ in range(3 * n):
        if np.linalg.norm(res) <= tol_abs or len(passive) >= min(max_points, m):  # m columns: b reached
            break
        grad = A.T @ res
        grad[passive] = -np.inf
        grad[excluded] = -np.inf
        j = int(np.argmax(grad))
        if not np.isfinite(grad[j]) or grad[j] <= 1e-14 * np.linalg.norm(A[:, j]) * np.linalg.norm(res):
            break
        q, r = _insert(q, r, A[:, j])
        passive.append(j)
        x = np.append(x, 0.0)
        while True:
            z = _qr_solve(q, r, b)
            if np.all(z > 0.0):
                x = z
                break
            if z[-1] <= 0.0 and x[-1] == 0.0:  # the new column does not help (round-off): drop it for good
                excluded[j] = True
                q, r = _delete(q, r, len(passive) - 1)
                passive.pop()
                x = x[:-1]
                break
            neg = z <= 0.0
            alpha = float(np.min(x[neg] / (x[neg] - z[neg])))
            x = x + alpha * (z - x)
            for i in sorted(np.flatnonzero(x <= 1e-15 * np.abs(x).max()), reverse=True):
                q, r = _delete(q, r, int(i))
                passive.pop(int(i))
                x = np.delete(x, i)
        res = b - A[:, passive] @ x
    return np.asarray(passive, dtype=np.int64), x


def empirical_cubature(integrands: np.ndarray, volumes: np.ndarray, *, tol: float = 1e-8,
                       svd_tol: float = 1e-8, max_points: int | None = None, weighted: bool = True) -> CubatureRule:
    """ECM of integrands ``(n_qp, n_f)`` with full-order weights ``volumes (n_qp,)`` (module docstring).

    The constant 1 is appended to the integrands and its integral Σ ω = Σ V is imposed by a penalized
    row of the NNLS and a final rescaling of the weights (exact to round-off). ``weighted`` (default):
    the basis vectors are scaled by their singular values, so the stopping test ‖b − Gω‖ ≤ tol ‖b‖
    bounds the integration error of the given integrands themselves (Euclidean norm over the columns,
    up to the truncation at ``svd_tol``) and a direction of small content needs few points.
    ``weighted=False``: every orthonormal basis function is integrated to ``tol``, so the number of
    points follows the rank r whatever the content.
    """
    vol = np.asarray(volumes, float)
    # the constant column with unit √V-norm, like the (scaled) integrand blocks: its weight in the SVD and
    # in the stopping test must not depend on the RVE's length unit (|Y| = 1e6 in µm would dominate b)
    J = np.column_stack([np.asarray(integrands, float), np.full(vol.size, 1.0 / np.sqrt(vol.sum()))])
    sq = np.sqrt(vol)
    u, s, _ = np.linalg.svd(sq[:, None] * J, full_matrices=False)
    s2 = s**2
    r = _kept(s2, svd_tol**2)
    r = min(r, int(np.sum(s > 1e-13 * s[0])))
    G = (u[:, :r] / sq[:, None]).T  # (r, n_qp): orthonormal basis values at the points
    if weighted:
        G = s[:r, None] * G / s[0]
    b = G @ vol
    total = float(vol.sum())
    # volume row: weight 1e3 (relative to b) keeps |Σω − |Y||/|Y| ≤ 1e-3 tol without swamping the gradient
    # with the row's round-off (a 1e6 row stalled the active set at residuals ~4 tol); the final rescaling
    # to the exact volume then changes the integrals by ≤ 1e-3 tol relative
    penalty = 1e3 * np.linalg.norm(b) / total
    norms = np.linalg.norm(G, axis=0)
    norms[norms == 0.0] = 1.0
    A = np.vstack([G, penalty * np.ones((1, vol.size))]) / norms
    limit = max_points or vol.size
    chosen, scaled = greedy_nnls(A, np.append(b, penalty * total), tol * float(np.linalg.norm(b)), limit)
    weights = scaled / norms[chosen]
    weights *= total / weights.sum()
    res = b - G[:, chosen] @ weights
    order = np.argsort(chosen)
    return CubatureRule(chosen[order], weights[order], float(np.linalg.norm(res) / np.linalg.norm(b)), r)


__all__ = ["CubatureRule", "PODBasis", "empirical_cubature", "greedy_nnls", "pod_basis"]
