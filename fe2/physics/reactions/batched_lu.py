"""Batched small dense linear algebra in the species-major layout ``A[i, j, node]`` of the batched
stiff integrators (:mod:`fe2.physics.reactions.integrators`): one LU with partial pivoting per node,
vectorized over the nodes; systems with more than 8 species go to numpy's batched solve.
"""

from __future__ import annotations

import numpy as np

__all__ = ["LinearSolver", "lu_factor_batched", "lu_solve_batched"]


def lu_factor_batched(A: np.ndarray):
    """LU with partial pivoting of ``n`` matrices stored as ``A[i, j, node]`` (copied).

    Row swaps are whole-row (as LAPACK getrf) and recorded as ``(k, i, mask)``.
    """
    A = np.array(A, dtype=float, copy=True)
    s = A.shape[0]
    swaps = []
    for k in range(s):
        for i in range(k + 1, s):
            m = np.abs(A[i, k]) > np.abs(A[k, k])
            if m.any():
                rk = A[k].copy()
                A[k] = np.where(m, A[i], rk)
                A[i] = np.where(m, rk, A[i])
                swaps.append((k, i, m))
        inv = 1.0 / A[k, k]
        for i in range(k + 1, s):
            li = A[i, k] * inv
            A[i, k] = li
            A[i, k + 1:] -= li * A[k, k + 1:]
    return A, swaps


def lu_solve_batched(lu, b: np.ndarray) -> np.ndarray:
    """Solve with the factors of :func:`lu_factor_batched`; ``b`` has shape ``(s, n)``."""
    A, swaps = lu
    x = np.array(b, dtype=float, copy=True)
    for k, i, m in swaps:
        xk = x[k].copy()
        x[k] = np.where(m, x[i], xk)
        x[i] = np.where(m, xk, x[i])
    s = A.shape[0]
    for i in range(1, s):
        for k in range(i):
            x[i] -= A[i, k] * x[k]
    for i in range(s - 1, -1, -1):
        for k in range(i + 1, s):
            x[i] -= A[i, k] * x[k]
        x[i] /= A[i, i]
    return x


class LinearSolver:
    """Factor once, solve many right-hand sides: ``(I - a J)`` with ``J`` of shape ``(s, s, n)``."""

    def __init__(self, J: np.ndarray, a):
        s = J.shape[0]
        M = -a * J
        for i in range(s):
            M[i, i] += 1.0
        self.small = s <= 8
        if self.small:
            self.lu = lu_factor_batched(M)
        else:
            self.M = np.moveaxis(M, 2, 0)

    def solve(self, b):
        if self.small:
            return lu_solve_batched(self.lu, b)
        return np.linalg.solve(self.M, b.T[..., None])[..., 0].T
