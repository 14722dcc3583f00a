"""Structural identifiability of reaction-network parameters from observed outputs.

Two tests, both *local* (they decide whether the parameters are determined in a neighbourhood,
not whether a distant second parameter set gives the same output) and both *generic* (they hold
for almost all parameter values; a special point can be worse):

* :func:`local_rank_test` — the rank of the output sensitivity matrix
  ``M[(t_i, y_o), j] = dy_o(t_i)/d ln theta_j / sigma_o`` (forward sensitivities from
  :mod:`.sensitivity`) at several random parameter points drawn log-uniformly within the bounds.
  Singular values below ``rel_tol * s_max`` count as zero (default 1e-6: the sensitivities are
  accurate to about 1e-8 relative at the integrator's rtol = 1e-10, so a structural zero shows
  as ~1e-8 and a weak but genuine direction well above 1e-6 stays). The right singular vectors
  of the zero singular values are the non-identifiable directions in log coordinates; when they
  are the same at every point they are a scaling symmetry and the identifiable combinations are
  monomials (``k1*k2``). Uses the configured (known) initial concentrations and sampling times.
* :func:`symbolic_rank_test` — the observability rank condition of Hermann & Krener (1977)
  applied to the state augmented with the parameters (``p' = 0``), as in Sedoglavic's generic
  rank algorithm (2002) and STRIKE-GOLDSMITH: the Jacobian of the stacked Lie derivatives
  ``h, L_f h, L_f^2 h, ...`` with respect to ``z = (x, p)`` is evaluated exactly at random
  rational points (no expression swell in the rank: sympy's exact rank over Q). Derivatives are
  added one order (all outputs) at a time; when an order adds no rank, no later one can (the
  new derivatives are functions of the earlier ones, and so are their Lie derivatives), so the
  test is conclusive after at most ``dim z`` orders. A parameter is identifiable iff removing
  its column lowers the rank. Limits: the initial state is treated as unknown and generic (a
  known or special initial state, e.g. zero, can change the answer — the local test uses the
  configured one); local, not global; needs rational right-hand sides and outputs (mass action,
  Michaelis–Menten, Hill with integer n); a random point is a rank-deficient root with
  probability at most deg/|S| (Schwartz–Zippel), reduced further by taking several points.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np
import sympy as sp

from fe2.physics.reactions.network import Network, _integer_rows
from fe2.physics.reactions.sensitivity import SensitivityModel, observable_expressions
from fe2.physics.reactions.symbolic import derivative

#: projection of e_j on the null space above which parameter j is reported non-identifiable
NULL_PROJECTION_TOL = 1e-2


def _monomial(names: Sequence[str], exps: Sequence[int]) -> str:
    num = [f"{n}" if e == 1 else f"{n}**{e}" for n, e in zip(names, exps, strict=True) if e > 0]
    den = [f"{n}" if e == -1 else f"{n}**{-e}" for n, e in zip(names, exps, strict=True) if e < 0]
    text = "*".join(num) or "1"
    if den:
        text += "/" + (den[0] if len(den) == 1 else "(" + "*".join(den) + ")")
    return text


def _rational_rows(rows: np.ndarray, max_den: int = 12, tol: float = 1e-6) -> list[list[Fraction]] | None:
    """Reduced row echelon form of ``rows`` with every entry a small fraction, or None."""
    A = np.array(rows, dtype=float)
    r, c = A.shape
    piv = 0
    for col in range(c):
        if piv == r:
            break
        k = piv + int(np.argmax(np.abs(A[piv:, col])))
        if abs(A[k, col]) < 1e-9:
            continue
        A[[piv, k]] = A[[k, piv]]
        A[piv] /= A[piv, col]
        for i in range(r):
            if i != piv:
                A[i] -= A[i, col] * A[piv]
        piv += 1
    out = []
    for row in A[:piv]:
        fr = [Fraction(float(v)).limit_denominator(max_den) for v in row]
        if max(abs(float(f) - v) for f, v in zip(fr, row, strict=True)) > tol:
            return None
        out.append(fr)
    return out


def combinations(null_log: np.ndarray, names: Sequence[str]) -> list[str]:
    """Identifiable monomial combinations of the parameters that the null directions involve.

    ``null_log``: rows = null directions in log coordinates. The combinations ``prod p_j^a_j``
    with integer ``a`` orthogonal to every null direction (and ``a_j = 0`` for parameters not
    involved) are identifiable; returned as strings, or ``[]`` when the directions are not
    rational (then the symmetry is not a scaling).
    """
    if null_log.size == 0:
        return []
    involved = [j for j in range(null_log.shape[1]) if np.linalg.norm(null_log[:, j]) > NULL_PROJECTION_TOL]
    rr = _rational_rows(null_log[:, involved])
    if rr is None:
        return []
    comp = sp.Matrix([[sp.Rational(f.numerator, f.denominator) for f in row] for row in rr]).nullspace()
    if not comp:
        return []
    ints = _integer_rows([list(v) for v in comp]).astype(int)
    return [_monomial([names[j] for j in involved], row) for row in ints]


# --------------------------------------------------------------------------------------------
@dataclass
class LocalRankResult:
    """Rank test of the log-sensitivity matrix at random points (see module docstring)."""

    names: list[str]
    rel_tol: float
    points: list[list[float]]
    singular_values: list[list[float]]  # relative (s / s_max) at each point
    ranks: list[int]
    rank: int
    null_directions: list[list[float]]  # at the first point of generic rank, log coordinates
    null_directions_agree: bool  # the same null space at every point of generic rank
    identifiable: dict[str, bool]
    identifiable_combinations: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"method": "rank of the output sensitivity matrix dy/dln(theta) / sigma (SVD) at random points",
                "coordinates": "log (null directions are in d ln theta)",
                "relative_singular_value_threshold": self.rel_tol, "n_parameters": len(self.names),
                "rank": self.rank, "ranks": self.ranks, "points": self.points,
                "relative_singular_values": self.singular_values,
                "null_directions": self.null_directions, "null_directions_agree": self.null_directions_agree,
                "identifiable": self.identifiable,
                "identifiable_combinations": self.identifiable_combinations}


def random_points(lower: np.ndarray, upper: np.ndarray, n: int, seed: int) -> np.ndarray:
    """``n`` points log-uniform in ``[lower, upper]`` (where lower == upper: that value)."""
    rng = np.random.default_rng(seed)
    lo, hi = np.log(lower), np.log(upper)
    return np.exp(lo + (hi - lo) * rng.random((n, lo.size)))


def sensitivity_matrix(model: SensitivityModel, theta, times, sigma, **integrator) -> np.ndarray:
    """``dy/d ln theta / sigma`` stacked over times and observables: shape ``(n_t n_obs, n_theta)``."""
    sim = model.simulate(theta, times, sensitivities=True, **integrator)
    assert sim.dy is not None
    M = sim.dy * np.asarray(theta)[None, None, :] / np.asarray(sigma, dtype=float)[None, :, None]
    return M.reshape(-1, model.n_theta)


def local_rank_test(model: SensitivityModel, times, sigma, points: np.ndarray,
                    rel_tol: float = 1e-6, **integrator) -> LocalRankResult:
    """The rank test at every row of ``points`` (linear parameter values)."""
    sv, ranks, nulls = [], [], []
    for theta in points:
        M = sensitivity_matrix(model, theta, times, sigma, **integrator)
        _, s, vt = np.linalg.svd(M, full_matrices=True)
        s_full = np.zeros(model.n_theta)
        s_full[:s.size] = s
        rel = s_full / s_full[0] if s_full[0] > 0 else s_full
        r = int(np.sum(rel > rel_tol))
        sv.append(rel.tolist())
        ranks.append(r)
        nulls.append(vt[r:])
    rank = max(ranks)
    generic = [k for k, r in enumerate(ranks) if r == rank]
    N0 = nulls[generic[0]]
    agree = True
    for k in generic[1:]:
        Nk = nulls[k]
        if N0.size:  # the same subspace: projecting N0 onto span(Nk) changes nothing
            agree &= bool(np.linalg.norm(N0 - (N0 @ Nk.T) @ Nk) < 1e-3)
    names = model.theta_names
    ident = {nm: bool(N0.size == 0 or np.linalg.norm(N0[:, j]) <= NULL_PROJECTION_TOL) for j, nm in enumerate(names)}
    for k in generic[1:]:
        Nk = nulls[k]
        for j, nm in enumerate(names):
            ident[nm] &= bool(Nk.size == 0 or np.linalg.norm(Nk[:, j]) <= NULL_PROJECTION_TOL)
    combos = combinations(N0, names) if agree else []
    return LocalRankResult(list(names), rel_tol, np.asarray(points).tolist(), sv, ranks, rank,
                           N0.tolist(), agree, ident, combos)


# --------------------------------------------------------------------------------------------
@dataclass
class SymbolicRankResult:
    """Observability rank test of the parameter-augmented system (see module docstring)."""

    status: str  # "conclusive", "inconclusive" (max_order reached) or "skipped"
    reason: str
    unknowns: list[str]
    rank: int
    orders: int  # highest Lie derivative order used
    ranks_by_order: list[int]
    identifiable: dict[str, bool]
    null_directions: list[list[float]]  # exact, at the first point, log coordinates
    identifiable_combinations: list[str]

    def to_dict(self) -> dict:
        return {"method": "Hermann-Krener observability rank condition on the state augmented with the "
                          "parameters (p' = 0); generic rank of the Jacobian of stacked Lie derivatives "
                          "w.r.t. (x0, p), exact at random rational points (Sedoglavic-style)",
                "limits": "local (not global) and generic; initial state unknown and generic unless "
                          "known_initial lists the known values (Taylor series: only full rank is conclusive); "
                          "rational right-hand sides only",
                "status": self.status, "reason": self.reason, "unknowns": self.unknowns,
                "dimension": len(self.unknowns), "rank": self.rank, "lie_derivative_orders": self.orders,
                "rank_after_each_order": self.ranks_by_order, "identifiable": self.identifiable,
                "null_directions": self.null_directions,
                "identifiable_combinations": self.identifiable_combinations}


def _exact(v: float) -> sp.Rational:
    return sp.Rational(repr(float(v)))


def symbolic_rank_test(network: Network, parameters: Sequence[str],
                       observables: Mapping[str, str] | Sequence[str], seed: int = 0, n_points: int = 2,
                       max_order: int | None = None, max_ops: int = 200_000,
                       known_initial: Mapping[str, float] | None = None) -> SymbolicRankResult:
    """Generic observability rank of ``(x, parameters)`` from the observables (other parameters
    fixed at their network values, exactly as rationals). ``max_order``: cap on the Lie-derivative
    order (default ``dim z``, where the test is always conclusive); ``max_ops``: stop, inconclusive,
    when the next derivatives would exceed this many sympy operations (expression swell).

    ``known_initial`` (species -> value): the **Taylor-series** variant (Pohjanpalo 1978) — the
    Lie derivatives are the Taylor coefficients ``y^(k)(0)``, evaluated at these known initial
    values and differentiated only w.r.t. the unknowns (the other initial values and the
    parameters). Full rank proves local identifiability at that initial state; the stabilization
    argument does not hold there, so a rank deficit after ``max_order`` (default ``2 dim z``) is
    reported inconclusive, not as non-identifiability.
    """
    ssym, psym = network.symbols
    x = list(ssym.values())
    p = [psym[n] for n in parameters]
    z = x + p
    known = {ssym[s]: _exact(v) for s, v in (known_initial or {}).items()}
    cols = [zi for zi in z if zi not in known]  # the unknowns: Jacobian columns
    unknowns = [*(f"{s}(0)" for s in network.species_names if ssym[s] not in known), *parameters]
    fixed = {psym[n]: _exact(v) for n, v in network.parameters.items() if n not in parameters}

    def exact(e: sp.Expr) -> sp.Expr:  # fixed parameters and float literals as exact rationals
        e = sp.sympify(e).xreplace(fixed)
        return e.xreplace({fl: _exact(float(fl)) for fl in e.atoms(sp.Float)})

    f = [exact(e) for e in network.rhs_expressions]
    hs = [exact(e) for e in observable_expressions(network, observables).values()]
    bad = [e for e in [*f, *hs] if not e.is_rational_function(*z)]
    if bad:
        return SymbolicRankResult("skipped", f"not a rational function of the states and parameters: {bad[0]}",
                                  unknowns, 0, 0, [], {}, [], [])
    rng = np.random.default_rng(seed)
    pts = [{zi: known.get(zi, sp.Rational(int(rng.integers(1, 1000)), int(rng.integers(1, 100)))) for zi in z}
           for _ in range(n_points)]
    dim = len(cols)
    limit = (len(z) if not known else 2 * len(z)) if max_order is None else max_order
    rows: list[list[list[sp.Rational]]] = [[] for _ in pts]
    current = list(hs)
    ranks_by_order: list[int] = []
    status, reason, order = "inconclusive", (f"max_order = {limit} reached before the rank stabilized" if not known
                                             else f"rank deficient after {limit} orders of the Taylor series at the "
                                                  "known initial state (not a proof of non-identifiability)"), 0
    for order in range(limit + 1):
        for q, pt in enumerate(pts):
            for e in current:
                rows[q].append([derivative(e, zi).xreplace(pt) for zi in cols])
        rank = max(sp.Matrix(r).rank() for r in rows)
        if ranks_by_order and rank == ranks_by_order[-1] and not known:
            ranks_by_order.append(rank)
            status, reason = "conclusive", f"order {order} added no rank (the rank has stabilized)"
            break
        ranks_by_order.append(rank)
        if rank == dim:
            status, reason = "conclusive", "full rank"
            break
        if order < limit:  # next Lie derivatives (p' = 0: only the state directions)
            current = [sp.Add(*[derivative(e, xi) * fi for xi, fi in zip(x, f, strict=True)]) for e in current]
            ops = sum(sp.count_ops(e) for e in current)
            if ops > max_ops:  # expression swell: stop with what is known (the rank so far is a lower bound)
                status = "inconclusive"
                reason = (f"expression swell: the order-{order + 1} Lie derivatives have {ops} operations "
                          f"(> {max_ops}); the rank so far is a lower bound")
                break
    rank = ranks_by_order[-1]
    best = next(q for q in range(len(pts)) if sp.Matrix(rows[q]).rank() == rank)
    J = sp.Matrix(rows[best])
    ident = {}
    for j, nm in enumerate(unknowns):
        rest = J[:, [c for c in range(dim) if c != j]]
        ident[nm] = bool(rest.rank() == rank - 1)

    def null_log(q: int) -> np.ndarray:  # orthonormal null basis in log coordinates at point q
        vs = [[float(v[i] / pts[q][cols[i]]) for i in range(dim)] for v in sp.Matrix(rows[q]).nullspace()]
        if not vs:
            return np.zeros((0, dim))
        return np.linalg.qr(np.asarray(vs).T)[0].T

    N0 = null_log(best)
    agree = all(np.linalg.norm(N0 - (N0 @ Nq.T) @ Nq) < 1e-9 for q in range(len(pts))
                if q != best and (Nq := null_log(q)).shape == N0.shape)
    combos = combinations(N0, unknowns) if agree and N0.size else []
    return SymbolicRankResult(status, reason, unknowns, rank, order, ranks_by_order, ident, N0.tolist(), combos)
