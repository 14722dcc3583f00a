"""Batched stiff integrators for many independent node ODE systems ``dc/dt = S v(c)``.

Every node (quadrature point, vertex, cell) carries its own small system; the integrators
advance all of them at once with numpy, in a species-major layout ``(n_species, n_nodes)`` so
that each matrix entry is a contiguous vector. The small linear systems ``(I - a h J) x = b`` are
solved by a vectorized LU factorization with partial pivoting written out over the few species
(``(s, s, n)`` arrays, one loop over ``s``), which is much faster than ``np.linalg.solve`` on
``(n, s, s)`` stacks for ``s <= 8`` (larger systems use ``np.linalg.solve``).

Methods:
-------
``"be"``    backward Euler, full Newton (analytic Jacobian at every iterate),
            order 1, L-stable; local error estimate ``h/2 (f(c_{n+1}) - f(c_n))``.
``"ros2"``  two-stage Rosenbrock-W method ROS2 (Verwer, Spee, Blom & Hundsdorfer 1999),
            ``gamma = 1 + 1/sqrt(2)``, order 2 for any Jacobian approximation, L-stable; one
            Jacobian, one LU and two solves per step, no Newton iteration. Embedded order-1
            solution ``c_n + h k1`` gives the error estimate.
``"rodas4"`` six-stage Rodas4 (Hairer & Wanner; :mod:`.rosenbrock`), order 4 with an embedded
            order-3 solution for the error estimate, stiffly accurate and L-stable; one
            Jacobian, one LU and six solves per step. ``backend="c"`` runs it as a compiled
            loop per node (:mod:`.ckernel`: microseconds per step, no numpy per step),
            ``backend="numpy"`` batched over nodes like ROS2; ``"auto"`` (default) takes C where
            a compiler is available and the numpy path otherwise. ``be`` and ``ros2`` are numpy.

Both preserve every linear conserved moiety ``w^T c`` (``w^T S = 0``) up to round-off: ``w^T f = 0``
and ``w^T J = 0``, so each stage / Newton update has ``w^T (update) = 0`` exactly in exact arithmetic.

Step control: ``dt`` given -> fixed steps (all nodes together; order studies, benchmarks);
otherwise each node has its own step size chosen from ``rtol``/``atol`` (weighted RMS norm,
standard controller with safety 0.9, growth in [0.2, 5]), rejected nodes retry alone.
:func:`solve_ivp_reference` is the per-node ``scipy.integrate.solve_ivp`` (BDF/Radau) loop the
batched integrators are tested and benchmarked against.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Protocol

import numpy as np

from fe2.errors import ConfigError, ConvergenceError
from fe2.physics.reactions.batched_lu import LinearSolver as _Solver
from fe2.physics.reactions.network import CompiledNetwork, Network
from fe2.physics.reactions.rosenbrock import ERROR_EXPONENT, step_rodas4

GAMMA_ROS2 = 1.0 + 1.0 / np.sqrt(2.0)
METHODS = ("be", "ros2", "rodas4")
BACKENDS = ("auto", "numpy", "c")


# ------------------------------------------------------------------------------------------
# results
# ------------------------------------------------------------------------------------------
@dataclass
class IntegrationResult:
    """Outcome of :func:`integrate`. ``c`` has shape ``(n_nodes, n_species)`` at ``t_end``;
    ``c_eval`` shape ``(len(t_eval), n_nodes, n_species)`` when ``t_eval`` was given.
    """

    method: str
    t_end: float
    c: np.ndarray
    t_eval: np.ndarray | None = None
    c_eval: np.ndarray | None = None
    node_steps: int = 0  # accepted steps summed over nodes
    rejected: int = 0  # rejected node-steps
    sweeps: int = 0  # vectorized passes (fixed step: number of steps)
    moiety_drift: float = 0.0  # max_k,node |w_k.c - w_k.c0| / max(|w_k.c0|, tiny)
    wall_time: float = 0.0
    extra: dict = field(default_factory=dict)
    steps_by_node: np.ndarray | None = None  # (n_nodes,) accepted steps of each node
    rejected_by_node: np.ndarray | None = None  # (n_nodes,) rejected steps of each node

    def to_dict(self) -> dict:
        d = asdict(self)
        for per_node in ("c_eval", "steps_by_node", "rejected_by_node"):
            d.pop(per_node)
        d["c"] = self.c.tolist() if self.c.size <= 1000 else f"array{self.c.shape}"
        d["node_steps_per_second"] = self.node_steps / self.wall_time if self.wall_time else None
        return d


def moiety_drift(W: np.ndarray, c0: np.ndarray, c: np.ndarray) -> float:
    """Largest relative change of a conserved total ``w^T c`` over nodes and moieties."""
    if W.size == 0:
        return 0.0
    m0 = c0 @ W.T
    m1 = c @ W.T
    scale = np.maximum(np.abs(m0), np.abs(c0) @ np.abs(W).T)
    scale = np.where(scale > 0, scale, 1.0)
    return float(np.max(np.abs(m1 - m0) / scale))


# ------------------------------------------------------------------------------------------
# one step of each method on a batch (species-major)
# ------------------------------------------------------------------------------------------
def _pv_subset(pvals, idx, n):
    if idx is None:
        return pvals
    return [v[idx] if np.ndim(v) == 1 and np.shape(v)[0] == n else v for v in pvals]


class _SpeciesMajorODE(Protocol):
    """What one Rosenbrock step needs: a :class:`CompiledNetwork`, or hybrid's reduced ODE."""

    def rhs_T(self, cT: np.ndarray, pvals: list, /) -> np.ndarray: ...

    def jac_T(self, cT: np.ndarray, pvals: list, /) -> np.ndarray: ...


def _jac_finite(cn, y, pv, method: str):
    J = cn.jac_T(y, pv)
    if not np.isfinite(J).all():
        _raise_nonfinite(cn, y, pv, method, "in a step")
        raise ConvergenceError(f"{method}: non-finite Jacobian in a step")
    return J


def _step_ros2(cn: _SpeciesMajorODE, y, h, pv):
    f0 = cn.rhs_T(y, pv)
    sol = _Solver(_jac_finite(cn, y, pv, "ros2"), GAMMA_ROS2 * h)
    k1 = sol.solve(f0)
    y1 = y + h * k1
    k2 = sol.solve(cn.rhs_T(y1, pv) - 2.0 * k1)
    ynew = y1 + 0.5 * h * (k1 + k2)  # = y + 3/2 h k1 + 1/2 h k2
    return ynew, ynew - y1, True


def _step_rodas4(cn: _SpeciesMajorODE, y, h, pv):
    return step_rodas4(cn, y, h, pv, _Solver, _jac_finite)


def _step(method, cn, y, h, pv, newton_tol, max_newton, scale):
    if method == "ros2":
        return _step_ros2(cn, y, h, pv)
    if method == "rodas4":
        return _step_rodas4(cn, y, h, pv)
    return _step_be(cn, y, h, pv, newton_tol, max_newton, scale)


def _step_be(cn: CompiledNetwork, y, h, pv, newton_tol, max_newton, scale):
    f0 = cn.rhs_T(y, pv)
    z = y.copy()
    ok = np.zeros(y.shape[1], dtype=bool)
    for _ in range(max_newton):
        r = z - y - h * cn.rhs_T(z, pv)
        dz = _Solver(_jac_finite(cn, z, pv, "be"), h).solve(-r)
        z += dz
        ok = np.max(np.abs(dz) / scale(z), axis=0) <= newton_tol
        if ok.all():
            break
    est = 0.5 * h * (cn.rhs_T(z, pv) - f0)
    return z, est, ok


def _raise_nonfinite(cn, y, pv, method: str, when: str) -> None:
    """Raise a one-line ConvergenceError naming the non-finite rate or Jacobian entry at the
    states ``y`` (species-major), if there is one; return otherwise.
    """
    if isinstance(cn, CompiledNetwork) and (msg := cn.nonfinite_report(y, pv)) is not None:
        raise ConvergenceError(f"{method}: {msg} ({when})")


# ------------------------------------------------------------------------------------------
# driver
# ------------------------------------------------------------------------------------------
def integrate(
    network: Network | CompiledNetwork,
    c0,
    t_span: tuple[float, float],
    *,
    method: str = "ros2",
    dt: float | None = None,
    rtol: float = 1e-6,
    atol: float = 1e-10,
    h0: float | None = None,
    t_eval=None,
    params: dict | None = None,
    newton_tol: float = 1e-3,
    max_newton: int = 10,
    max_sweeps: int = 1_000_000,
    chunk: int = 8192,
    backend: str = "auto",
    comm=None,
) -> IntegrationResult:
    """Integrate ``n_nodes`` independent copies of the network from ``t_span[0]`` to ``t_span[1]``.

    ``c0``: shape ``(n_nodes, n_species)`` (or ``(n_species,)``). ``dt``: fixed step (the
    interval must be a whole number of steps up to 1e-9); else adaptive per node with
    ``rtol``/``atol``. ``params``: parameter overrides, scalars or per-node arrays ``(n_nodes,)``.
    Newton (``"be"``) stops when every component's update is below ``newton_tol`` times the
    error weight ``atol + rtol |c|``; a node that fails rejects its step (adaptive) or raises
    :class:`~fe2.errors.ConvergenceError` (fixed step).
    ``chunk``: nodes are integrated in independent blocks of this size, so that the
    temporaries of one block stay in cache (several times faster than whole-array passes over
    millions of nodes, and memory stays bounded); the result does not depend on it.
    ``backend``: for ``"rodas4"``, ``"c"`` (compiled per-node loop, :mod:`.ckernel`; raises a
    ConfigError naming the reason where it cannot be built), ``"numpy"`` (batched) or ``"auto"``
    (C when it can be built, else numpy; ``res.extra["backend"]`` says which ran).
    ``comm``: the communicator of the integration (each rank integrating its own nodes): with
    several ranks, the C kernel is compiled once per kernel cache and the backend agreed
    collectively (:func:`~.ckernel.resolve_backend`), so every rank of ``comm`` must call this
    function; None (default): this process alone.
    """
    if method not in METHODS:
        raise ConfigError(f"method: unknown integrator {method!r} (one of {', '.join(METHODS)})")
    if backend not in BACKENDS:
        raise ConfigError(f"backend: unknown backend {backend!r} (one of {', '.join(BACKENDS)})")
    if backend == "c" and method != "rodas4":
        raise ConfigError(f"backend: 'c' is for method = 'rodas4' (got {method!r})")
    cn = network if isinstance(network, CompiledNetwork) else network.compile()
    c0 = np.asarray(c0, dtype=float)
    one = c0.ndim == 1
    C0 = np.atleast_2d(c0)
    n, s = C0.shape
    if s != cn.n_species:
        raise ConfigError(f"c0 has {s} species, the network {cn.n_species}")
    t0, t1 = map(float, t_span)
    if not t1 > t0:
        raise ConfigError("t_span: need t_end > t_start")
    pv = cn._pvals(params)
    pv = [np.asarray(v, dtype=float) if np.ndim(v) else float(v) for v in pv]
    for v in pv:
        if np.ndim(v) and np.shape(v) != (n,):
            raise ConfigError(f"params: per-node arrays need shape ({n},), got {np.shape(v)}")
    outs = np.asarray(t_eval, dtype=float) if t_eval is not None else None
    if outs is not None and (np.any(np.diff(outs) <= 0) or outs[0] < t0 or outs[-1] > t1):
        raise ConfigError("t_eval: must increase strictly and lie inside t_span")

    def scale(y):
        return atol + rtol * np.abs(y)

    tic = time.perf_counter()
    res = IntegrationResult(method=method, t_end=t1, c=C0)
    stops = [t for t in (outs if outs is not None else []) if t > t0]
    if outs is None or outs[-1] < t1:
        stops.append(t1)
    if dt is not None:
        counts = []
        t_prev = t0
        for stop in stops:
            k = int(round((stop - t_prev) / dt))
            if k < 1 or abs((stop - t_prev) / dt - k) > 1e-9 * max(1, k):
                raise ConfigError(f"dt = {dt:g} does not divide the interval [{t_prev:g}, {stop:g}]")
            counts.append(k)
            t_prev = stop
    if method == "rodas4" and backend != "numpy" and isinstance(cn, CompiledNetwork):
        from fe2.physics.reactions.ckernel import integrate_compiled

        if integrate_compiled(cn, C0, pv, np.array([t0, *stops]), outs, one=one, dt=dt, rtol=rtol, atol=atol,
                              h0=h0, max_steps=max_sweeps, strict=backend == "c", res=res, comm=comm):
            res.moiety_drift = moiety_drift(cn.W, C0, np.atleast_2d(res.c))
            res.wall_time = time.perf_counter() - tic
            return res
    res.extra["backend"] = "numpy"
    Y = np.empty((s, n))
    snaps = np.empty((len(outs), s, n)) if outs is not None else None
    first_snap = 0
    if outs is not None and outs[0] == t0:
        assert snaps is not None  # allocated whenever outs is given
        snaps[0] = C0.T
        first_snap = 1
    chunk = max(1, int(chunk))
    res.steps_by_node = np.zeros(n, dtype=np.int64)
    res.rejected_by_node = np.zeros(n, dtype=np.int64)
    for lo in range(0, n, chunk):
        sl = slice(lo, min(n, lo + chunk))
        m = sl.stop - sl.start
        y = np.ascontiguousarray(C0[sl].T)
        pb = [v[sl] if np.ndim(v) else v for v in pv]
        h_node = np.full(m, float(h0) if h0 else 0.0)
        t_cur = t0
        for j, stop in enumerate(stops):
            if dt is not None:
                y_prev = y
                for _ in range(counts[j]):
                    y, _, ok = _step(method, cn, y, dt, pb, newton_tol, max_newton, scale)
                    if method == "be":
                        if not np.all(ok):
                            raise ConvergenceError(
                                f"backward Euler: Newton did not converge at {np.sum(~ok)} node(s) "
                                f"with dt = {dt:g}; reduce dt")
                    if not np.isfinite(y).all():
                        _raise_nonfinite(cn, y_prev, pb, method, f"with dt = {dt:g}")
                        # finite rates and Jacobian at the old state, a non-finite new one: the step blew up
                        bad = int(np.sum(~np.isfinite(y).all(axis=0)))
                        raise ConvergenceError(f"{method}: the state became non-finite at {bad} node(s) "
                                               f"with the fixed dt = {dt:g} (t = {t_cur:g} .. {stop:g}); reduce dt")
                    y_prev = y
                    res.sweeps += 1
                    res.node_steps += m
                    res.steps_by_node[sl] += 1
            else:
                y, h_node = _adaptive(cn, y, t_cur, stop, h_node, method, rtol, atol, pb, newton_tol,
                                      max_newton, scale, res, max_sweeps,
                                      (res.steps_by_node[sl], res.rejected_by_node[sl]))
            t_cur = stop
            if outs is not None and j + first_snap < len(outs):
                assert snaps is not None  # allocated whenever outs is given
                snaps[j + first_snap][:, sl] = y
        Y[:, sl] = y
    y = Y
    res.c = y.T.copy()
    if one:
        res.c = res.c[0]
    if outs is not None:
        assert snaps is not None  # allocated whenever outs is given
        res.t_eval = outs
        res.c_eval = np.moveaxis(snaps, 1, 2).copy()
        if one:
            res.c_eval = res.c_eval[:, 0]
    res.wall_time = time.perf_counter() - tic
    res.moiety_drift = moiety_drift(cn.W, C0, y.T)
    return res


def _adaptive(cn, y, t0, t1, h, method, rtol, atol, pv, newton_tol, max_newton, scale, res, max_sweeps, counts):
    """Advance the nodes of ``y`` from ``t0`` to ``t1``; ``counts``: (accepted, rejected) steps per node,
    views into the result's per-node arrays, incremented in place.
    """
    n = y.shape[1]
    steps, rejections = counts
    t = np.full(n, t0)
    span = t1 - t0
    if not np.all(h > 0):
        # initial step from the rhs size: h = 0.01 ||y|| / ||f|| in the error norm
        # (Hairer's rule, simplified)
        f = cn.rhs_T(y, pv)
        d0 = np.sqrt(np.mean((y / scale(y)) ** 2, axis=0))
        d1 = np.sqrt(np.mean((f / scale(y)) ** 2, axis=0))
        h = np.where((d0 > 1e-5) & (d1 > 1e-5), 0.01 * d0 / np.maximum(d1, 1e-300), 1e-6 * span)
        h = np.minimum(h, span)
    h = np.minimum(h, span)
    expo = ERROR_EXPONENT if method == "rodas4" else -0.5  # -1/(embedded order + 1)
    sweeps = 0
    while True:
        active = t < t1 - 1e-12 * max(abs(t1), span)
        if not active.any():
            break
        sweeps += 1
        if sweeps > max_sweeps:
            raise ConvergenceError(f"{method}: more than {max_sweeps} sweeps before t = {t1:g}")
        full = active.all()
        idx = None if full else np.nonzero(active)[0]
        ya = y if full else y[:, idx]
        ha = np.minimum(h if full else h[idx], t1 - (t if full else t[idx]))
        pa = _pv_subset(pv, idx, n)
        yn, est, ok = _step(method, cn, ya, ha, pa, newton_tol, max_newton, scale)
        w = atol + rtol * np.maximum(np.abs(ya), np.abs(yn))
        err = np.sqrt(np.mean((est / w) ** 2, axis=0))
        err = np.where(np.isfinite(err) & ok & np.all(np.isfinite(yn), axis=0), err, np.inf)
        acc = err <= 1.0
        fac = np.where(np.isfinite(err), 0.9 * np.maximum(err, 1e-10) ** expo, 0.25)
        fac = np.clip(fac, 0.2, 5.0)
        fac = np.where(acc, fac, np.minimum(fac, 0.5))
        hn = ha * fac
        if full:
            y = np.where(acc, yn, y)
            t = np.where(acc, t + ha, t)
            h = hn
        else:
            y[:, idx] = np.where(acc, yn, ya)
            t[idx] = np.where(acc, t[idx] + ha, t[idx])
            h[idx] = hn
        res.node_steps += int(acc.sum())
        res.rejected += int((~acc).sum())
        if full:
            steps += acc
            rejections += ~acc
        else:
            steps[idx] += acc
            rejections[idx] += ~acc
        if np.any(hn < 1e-14 * span):
            tiny = np.nonzero(hn < 1e-14 * span)[0]
            _raise_nonfinite(cn, ya[:, tiny], _pv_subset(pa, tiny, ya.shape[1]), method,
                             f"before t = {t1:g}")
            raise ConvergenceError(f"{method}: step size underflow before t = {t1:g}")
    res.sweeps += sweeps
    return y, h


# ------------------------------------------------------------------------------------------
# per-node scipy reference
# ------------------------------------------------------------------------------------------
def solve_ivp_reference(
    network: Network | CompiledNetwork,
    c0,
    t_span: tuple[float, float],
    *,
    method: str = "BDF",
    rtol: float = 1e-10,
    atol: float = 1e-12,
    t_eval=None,
    params: dict | None = None,
) -> IntegrationResult:
    """Loop over nodes with ``scipy.integrate.solve_ivp`` (BDF or Radau, analytic Jacobian).

    The per-node baseline: accurate with tight tolerances, slow (Python call per node).
    """
    from scipy.integrate import solve_ivp

    cn = network if isinstance(network, CompiledNetwork) else network.compile()
    c0 = np.asarray(c0, dtype=float)
    one = c0.ndim == 1
    C0 = np.atleast_2d(c0)
    n = C0.shape[0]
    base = cn._pvals(params)
    tic = time.perf_counter()
    out = np.empty_like(C0)
    evals = []
    steps = 0
    for i in range(n):
        pv = [float(v[i]) if np.ndim(v) else float(v) for v in base]

        def f(_t, y, pv=pv):
            return cn.rhs_T(y[:, None], pv)[:, 0]

        def jac(t, y, pv=pv, i=i):
            out = cn.jac_T(y[:, None], pv)[:, :, 0]
            if not np.isfinite(out).all():
                _raise_nonfinite(cn, y[:, None], pv, method, f"node {i}, t = {t:g}")
            return out

        sol = solve_ivp(f, t_span, C0[i], method=method, jac=jac, rtol=rtol, atol=atol, t_eval=t_eval)
        if not sol.success:
            _raise_nonfinite(cn, sol.y[:, -1:], pv, method, f"node {i}, t = {sol.t[-1]:g}")
            raise ConvergenceError(f"solve_ivp ({method}) failed at node {i}: {sol.message}")
        out[i] = sol.y[:, -1]
        steps += sol.t.size - 1 if t_eval is None else sol.nfev
        if t_eval is not None:
            evals.append(sol.y.T)
    res = IntegrationResult(method=f"solve_ivp-{method}", t_end=float(t_span[1]), c=out[0] if one else out)
    if t_eval is not None:
        res.t_eval = np.asarray(t_eval, dtype=float)
        ce = np.stack(evals, axis=1)
        res.c_eval = ce[:, 0] if one else ce
    res.node_steps = steps
    res.wall_time = time.perf_counter() - tic
    res.moiety_drift = moiety_drift(cn.W, C0, out)
    return res
