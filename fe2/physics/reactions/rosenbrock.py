"""Rodas4: the 4th-order stiffly accurate Rosenbrock method of Hairer & Wanner, batched over nodes.

Coefficients: E. Hairer, G. Wanner, *Solving Ordinary Differential Equations II*, 2nd ed.,
Springer 1996, Sect. IV.7 (the RODAS code, ``METH = 1``). Six stages, ``gamma = 1/4``, one
Jacobian and one LU factorization per step; the last two stages make the method stiffly accurate
(the solution is the last stage value), and the 5th-stage value plus ``k5`` is an embedded
3rd-order solution whose difference from the 4th-order one (``k6``) is the error estimate.
L-stable. For an autonomous system ``y' = f(y)`` with Jacobian ``J`` each stage solves

    (I/(gamma h) - J) k_i = f(y + sum_j a_ij k_j) + sum_j c_ij k_j / h,

with ``y + sum_j a_6j k_j = (stage-5 argument) + k5`` (embedded solution) and ``y_new = embedded + k6``.

The same coefficients drive the compiled one-system loop (:mod:`.ckernel_source`), so both paths
compute the same method. The step size controller for an embedded pair of orders (4, 3) uses the
exponent ``-1/4``.
"""

from __future__ import annotations

import numpy as np

GAMMA = 0.25
A = {
    (2, 1): 1.544,
    (3, 1): 0.9466785280815826, (3, 2): 0.2557011698983284,
    (4, 1): 3.314825187068521, (4, 2): 2.896124015972201, (4, 3): 0.9986419139977817,
    (5, 1): 1.221224509226641, (5, 2): 6.019134481288629, (5, 3): 12.53708332932087,
    (5, 4): -0.6878860361058950,
}
C = {
    (2, 1): -5.6688,
    (3, 1): -2.430093356833875, (3, 2): -0.2063599157091915,
    (4, 1): -0.1073529058151375, (4, 2): -9.594562251023355, (4, 3): -20.47028614809616,
    (5, 1): 7.496443313967647, (5, 2): -10.24680431464352, (5, 3): -33.99990352819905,
    (5, 4): 11.70890893206160,
    (6, 1): 8.083246795921522, (6, 2): -7.981132988064893, (6, 3): -31.52159432874371,
    (6, 4): 16.31930543123136, (6, 5): -6.058818238834054,
}
ORDER = 4  # the solution; the embedded one is order 3
ERROR_EXPONENT = -1.0 / ORDER


def step_rodas4(cn, y, h, pv, solver, jac_finite):
    """One Rodas4 step of all nodes (species-major ``y``, shape ``(s, n)``; ``h`` scalar or ``(n,)``).

    ``solver(J, a)`` factors ``I - a J`` (the batched LU of :mod:`.integrators`); ``jac_finite``
    evaluates the Jacobian and raises on a non-finite entry. Returns ``(y_new, y_new - y_embedded,
    ok)`` like the other batched steps.
    """
    gh = GAMMA * h
    sol = solver(jac_finite(cn, y, pv, "rodas4"), gh)
    # (I/(gamma h) - J) k = r  <=>  k = gamma h (I - gamma h J)^{-1} r
    k = [sol.solve(cn.rhs_T(y, pv)) * gh]
    arg = y
    for i in range(2, 6):
        arg = y + sum(A[i, j] * k[j - 1] for j in range(1, i))
        r = cn.rhs_T(arg, pv) + sum(C[i, j] * k[j - 1] for j in range(1, i)) / h
        k.append(sol.solve(r) * gh)
    emb = arg + k[4]  # arg: the 5th-stage argument
    r = cn.rhs_T(emb, pv) + sum(C[6, j] * k[j - 1] for j in range(1, 6)) / h
    k6 = sol.solve(r) * gh
    ynew = emb + k6
    return ynew, k6, np.ones(y.shape[1], dtype=bool)
