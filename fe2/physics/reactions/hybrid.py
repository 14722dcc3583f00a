"""Hybrid stochastic–deterministic simulation: exact SSA for low-copy species, ODEs for the rest.

Method (Haseltine & Rawlings 2002, J. Chem. Phys. 117:6959; Salis & Kaznessis 2005, J. Chem.
Phys. 122:054103), as a piecewise-deterministic Markov process:

* species are *discrete* (integer counts, changed only by random events) or *continuous*
  (copy numbers following the reaction-rate equations between events);
* a channel (a reaction direction, as in :mod:`.stochastic`) is **slow** if it changes a
  discrete species, **fast** otherwise. Fast channels drive the ODE
  ``dx/dt = sum_fast nu_j a_j(x)`` in copy numbers, with the same propensities ``a_j`` as the SSA
  (``k prod binom(x_i, nu_i)`` for mass action, evaluated at real ``x``: the reaction-rate
  equations of the network in counts, i.e. system size ``omega`` already applied, see
  :func:`~fe2.physics.reactions.stochastic.counts_network`). A fast channel may *depend* on a
  discrete species (a gene that is on or off) but never change it;
* slow events: the ODE is integrated together with ``G(t) = int a_0^slow(x(s)) ds`` from the last
  event; the next event happens when ``G`` reaches an independent ``Exp(1)`` variable ``xi``
  (the random time change that makes the SSA exact for time-dependent propensities). The
  crossing time is located by regula falsi (Illinois) on ``G`` over the step that crossed, each
  trial value a full integrator step from the step's start, to ``|G - xi| <= event_tol``; the
  firing channel is drawn with probabilities ``a_j / a_0`` at the event state.

The ODE part is advanced by the L-stable ROS2 step of :mod:`.integrators` (stiff fast channels
are fine), every trajectory with its own step size (``rtol``/``atol`` on the continuous counts
and on ``G``), all trajectories together in one numpy pass. With every species discrete the
method *is* the SSA (``a_0`` constant between events, ``G`` linear, located exactly); with every
species continuous it is the deterministic RRE.

Partition: ``discrete`` names the exact species; by default a species is discrete when its
largest value on the deterministic trajectory (RRE in counts from ``x0`` over the simulated
interval) stays below ``threshold`` copies. What the hybrid neglects: the intrinsic (Poisson)
noise of the continuous species, e.g. for a gene switching slowly and driving abundant mRNA the
hybrid mRNA variance is the switching part ``k_m^2 p (1-p) / (g (g + k_on + k_off))`` alone,
while the full CME adds the Poisson part (the mean ``k_m p / g``); means of linear networks are
exact.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field

import numpy as np
import sympy as sp

from fe2.errors import ConfigError, ConvergenceError
from fe2.physics.reactions.integrators import _step_ros2
from fe2.physics.reactions.network import Network
from fe2.physics.reactions.stochastic import StochasticResult, _Channels, _prepare


@dataclass
class HybridPartition:
    """Which species are exact (discrete) and which channels are slow (SSA events)."""

    discrete: list[str]
    continuous: list[str]
    slow_channels: list[int]  # channel indices (a reversible mass-action reaction has two)
    fast_channels: list[int]
    threshold: float | None
    pilot_max: dict[str, float] = field(default_factory=dict)  # largest RRE count per species

    def to_dict(self) -> dict:
        return asdict(self)


def partition(network: Network, t_end: float, *, x0=None, threshold: float = 100.0,
              discrete: list[str] | None = None, params: dict | None = None) -> HybridPartition:
    """Split species into discrete / continuous and channels into slow / fast.

    ``discrete`` given: those species are exact. Otherwise a species is discrete when its largest
    value on the RRE trajectory in counts (propensity ODE of all channels from ``x0``, default the
    network's initial values, over ``[0, t_end]``) is below ``threshold``.
    """
    ch = _Channels(network, params)
    names = network.species_names
    x0 = network.initial if x0 is None else np.asarray(x0, dtype=float)
    if x0.ndim != 1 or x0.size != len(names):
        raise ConfigError(f"x0: expected {len(names)} counts for the partition")
    pilot: dict[str, float] = {}
    used_threshold: float | None = threshold  # None when the partition is given
    if discrete is None:
        if not threshold > 0:
            raise ConfigError(f"threshold: must be > 0 (got {threshold})")
        pilot = _pilot_max(ch, x0, t_end, names)
        discrete = [n for n in names if pilot[n] < threshold]
    else:
        unknown = set(discrete) - set(names)
        if unknown:
            raise ConfigError(f"discrete: unknown species {', '.join(sorted(unknown))}")
        used_threshold = None
    dmask = np.array([n in discrete for n in names])
    slow = [c for c in range(ch.n) if np.any(ch.change[c, dmask] != 0)]
    fast = [c for c in range(ch.n) if c not in slow]
    return HybridPartition([n for n in names if n in discrete], [n for n in names if n not in discrete],
                           slow, fast, used_threshold, pilot)


def _pilot_max(ch: _Channels, x0: np.ndarray, t_end: float, names: list[str]) -> dict[str, float]:
    """Largest value of each species on the deterministic trajectory in counts."""
    from scipy.integrate import solve_ivp

    change = ch.change.T.astype(float)  # (s, channels)

    def f(_t, y):
        return change @ ch(np.maximum(y, 0.0)[None, :])[0]

    sol = solve_ivp(f, (0.0, float(t_end)), x0, method="LSODA", rtol=1e-4, atol=1e-6, dense_output=False)
    if not sol.success:
        raise ConvergenceError(f"hybrid partition: deterministic pilot run failed: {sol.message}")
    return {n: float(v) for n, v in zip(names, sol.y.max(axis=1), strict=False)}


class _HybridODE:
    """``y = (x_continuous, G)``: fast-channel RRE of the continuous species and
    ``dG/dt = a_0^slow(x)``, with the discrete counts (constant between events) passed as
    per-trajectory arguments ahead of the parameters: ``pv = [*discrete_arrays, *params]``.
    Species-major ``rhs_T``/``jac_T`` as the batched ROS2 step expects; the implicit systems are
    ``(n_continuous + 1)``-square, the discrete species never enter them.
    """

    def __init__(self, network: Network, ch: _Channels, part: HybridPartition):
        ssym, psym = network.symbols
        names = network.species_names
        self.ci = [i for i, nm in enumerate(names) if nm in part.continuous]
        self.di = [i for i, nm in enumerate(names) if nm not in part.continuous]
        xc = [ssym[names[i]] for i in self.ci]
        args = [*xc, *(ssym[names[i]] for i in self.di), *psym.values()]
        f = [sum((int(ch.change[c, i]) * ch.expressions[c] for c in part.fast_channels if ch.change[c, i]),
                 sp.Integer(0)) for i in self.ci]
        f.append(sum((ch.expressions[c] for c in part.slow_channels), sp.Integer(0)))
        self.n_species = len(f)
        self._rhs = sp.lambdify(args, f, modules="numpy", cse=True)
        J = [[sp.diff(fi, xj) for xj in xc] for fi in f]
        self._nz = [(i, j) for i in range(len(f)) for j in range(len(xc)) if J[i][j] != 0]
        self._jac = sp.lambdify(args, [J[i][j] for i, j in self._nz] or [sp.Integer(0)], modules="numpy", cse=True)
        slow_props = [ch.expressions[c] for c in part.slow_channels] or [sp.Integer(0)]
        self._slow = sp.lambdify(args, slow_props, modules="numpy", cse=True)
        self.slow_change = ch.change[part.slow_channels].astype(float)  # (n_slow, s)

    @staticmethod
    def _fill(vals, rows, n):
        out = np.empty((rows, n))
        for k, v in enumerate(vals):
            out[k] = v
        return out

    def rhs_T(self, y, pv):
        return self._fill(self._rhs(*y[:-1], *pv), self.n_species, y.shape[1])

    def jac_T(self, y, pv):
        s1, n = y.shape
        out = np.zeros((s1, s1, n))
        if self._nz:
            for (i, j), v in zip(self._nz, self._jac(*y[:-1], *pv), strict=False):
                out[i, j] = v
        return out

    def slow_propensities(self, y, pv):
        """``(n_slow, n)`` propensities of the slow channels."""
        return self._fill(self._slow(*y[:-1], *pv), max(len(self.slow_change), 1), y.shape[1])


@dataclass
class HybridResult(StochasticResult):
    """As :class:`~.stochastic.StochasticResult`; ``x`` is float (continuous species are real
    copy numbers), ``events`` counts slow (SSA) events.
    """

    partition: HybridPartition | None = None
    ode_steps: int = 0  # accepted ROS2 steps summed over trajectories (event-location steps included)
    rejected: int = 0

    def to_dict(self) -> dict:
        d = super().to_dict()
        d.update(partition=self.partition.to_dict() if self.partition else None,
                 ode_steps=self.ode_steps, rejected=self.rejected)
        return d


def hybrid(
    network: Network,
    t_eval,
    *,
    x0=None,
    n_traj: int = 1,
    seed: int | None = 0,
    params: dict | None = None,
    threshold: float = 100.0,
    discrete: list[str] | None = None,
    rtol: float = 1e-4,
    atol: float = 1e-6,
    event_tol: float = 1e-10,
    max_passes: int = 10_000_000,
) -> HybridResult:
    """Hybrid SSA/ODE sample paths recorded at ``t_eval`` (from t = 0), network in counts.

    ``threshold`` / ``discrete``: the partition (:func:`partition`). ``rtol``/``atol``: step
    control of the ODE part (copy numbers and ``G``). ``event_tol``: tolerance on
    ``G(t_event) = xi`` (absolute, ``xi ~ 1``). Randomness from ``default_rng(seed)``.
    """
    tic = time.perf_counter()
    rng, t_eval, ch, x_int, _, t, nxt = _prepare(network, params, x0, n_traj, t_eval, seed)
    if not (rtol > 0 and atol > 0 and event_tol > 0):
        raise ConfigError("rtol, atol, event_tol: must be > 0")
    part = partition(network, float(t_eval[-1]), x0=x_int[0].astype(float), threshold=threshold,
                     discrete=discrete, params=params)
    ode = _HybridODE(network, ch, part)
    params_v = list(ch.parameter_values)
    ci, di = ode.ci, ode.di
    s = network.n_species
    n, m = x_int.shape[0], t_eval.size
    X = x_int.T.astype(float)  # (s, n) counts; continuous rows are real copy numbers
    G = np.zeros(n)  # integrated slow propensity since the last event
    out = np.empty((m, n, s))
    xi = rng.exponential(size=n)
    span = float(t_eval[-1])
    h = np.full(n, 1e-3 * max(span, 1e-300))
    at0 = t_eval <= 0.0
    out[at0] = X.T[None]
    nxt[:] = at0.sum()
    res = HybridResult("hybrid", t_eval, out, network.species_names, 0, 0.0, part)

    act = np.nonzero(nxt < m)[0]
    passes = 0
    while act.size:
        passes += 1
        if passes > max_passes:
            raise ConvergenceError(f"hybrid: more than {max_passes} passes before t = {span:g}")
        ya = np.vstack([X[ci][:, act], G[act][None]])
        pva = [X[d, act] for d in di] + params_v
        target = t_eval[nxt[act]]
        ha = np.minimum(h[act], target - t[act])
        yn, est, _ = _step_ros2(ode, ya, ha, pva)
        w = atol + rtol * np.maximum(np.abs(ya), np.abs(yn))
        err = np.sqrt(np.mean((est / w) ** 2, axis=0))
        err = np.where(np.isfinite(err) & np.all(np.isfinite(yn), axis=0), err, np.inf)
        acc = err <= 1.0
        fac = np.clip(np.where(np.isfinite(err), 0.9 * np.maximum(err, 1e-10) ** -0.5, 0.25), 0.2, 5.0)
        h[act] = ha * np.where(acc, fac, np.minimum(fac, 0.5))
        if np.any(~acc & (h[act] < 1e-14 * span)):  # (steps cut short by an output time may be tiny)
            raise ConvergenceError(f"hybrid: step size underflow before t = {span:g}")
        res.rejected += int((~acc).sum())
        cross = acc & (yn[-1] >= xi[act])
        plain = acc & ~cross
        # accepted steps without a slow event
        idx = act[plain]
        X[np.ix_(ci, idx)] = yn[:-1, plain]
        G[idx] = yn[-1, plain]
        t[idx] += ha[plain]
        res.ode_steps += int(plain.sum())
        # steps in which G reached xi: locate the event, fire a slow channel
        if cross.any():
            idx = act[cross]
            pvc = [X[d, idx] for d in di] + params_v
            hs, ys = _locate(ode, pvc, ya[:, cross], ha[cross], yn[:, cross], xi[idx], event_tol)
            res.ode_steps += int(cross.sum())
            a = ode.slow_propensities(ys, pvc)  # (n_slow, k) at the event state
            a0 = a.sum(axis=0)
            cum = np.cumsum(a, axis=0)
            r = rng.random(idx.size) * a0
            c = np.minimum((cum < r[None, :]).sum(axis=0), a.shape[0] - 1)
            X[np.ix_(ci, idx)] = ys[:-1]
            fire = a0 > 0  # a0 = 0 at the event state: G crossed by round-off only, no channel
            X[:, idx[fire]] += ode.slow_change[c[fire]].T
            G[idx] = ys[-1] - xi[idx]  # the (tiny) residual starts the next waiting variable
            t[idx] += hs
            xi[idx] = rng.exponential(size=idx.size)
            res.events += int(fire.sum())
        # record the outputs reached
        reached = act[np.isclose(t[act], target, rtol=1e-12, atol=1e-12 * max(1.0, span))]
        if reached.size:
            t[reached] = t_eval[nxt[reached]]
            out[nxt[reached], reached] = X[:, reached].T
            nxt[reached] += 1
            act = np.nonzero(nxt < m)[0]
    res.x = out
    res.wall_time = time.perf_counter() - tic
    return res


def _locate(ode, pv, y0, hmax, y1, xi, tol, max_iter=60):
    """Step sizes ``hs`` in ``(0, hmax]`` with ``G(y0 -> hs) = xi`` (Illinois regula falsi on
    full ROS2 steps from ``y0``; ``G`` is the last row) and the states there.
    ``G(0) = y0[-1] < xi <= y1[-1] = G(hmax)``; ``pv`` holds per-trajectory arrays.
    """
    lo = np.zeros_like(hmax)
    hi = hmax.copy()
    glo = y0[-1] - xi
    ghi = y1[-1] - xi
    hs = hmax.copy()
    ys = y1.copy()
    todo = np.abs(ghi) > tol
    side = np.zeros(hmax.size, dtype=int)
    for _ in range(max_iter):
        if not todo.any():
            break
        k = np.nonzero(todo)[0]
        hk = lo[k] - glo[k] * (hi[k] - lo[k]) / (ghi[k] - glo[k])
        hk = np.clip(hk, lo[k] + 1e-3 * (hi[k] - lo[k]), hi[k] - 1e-3 * (hi[k] - lo[k]))
        pk = [v[k] if np.ndim(v) else v for v in pv]
        yk, _, _ = _step_ros2(ode, y0[:, k], hk, pk)
        gk = yk[-1] - xi[k]
        hs[k] = hk
        ys[:, k] = yk
        up = gk < 0  # the crossing lies above hk
        # Illinois: halve the kept end's value when the same end moves twice in a row
        glo[k] = np.where(up, gk, np.where(side[k] == -1, 0.5 * glo[k], glo[k]))
        ghi[k] = np.where(up, np.where(side[k] == 1, 0.5 * ghi[k], ghi[k]), gk)
        lo[k] = np.where(up, hk, lo[k])
        hi[k] = np.where(up, hi[k], hk)
        side[k] = np.where(up, 1, -1)
        todo[k] = np.abs(gk) > tol
    if todo.any():
        raise ConvergenceError("hybrid: event location did not converge (G(t) = xi)")
    return hs, ys
