"""Stochastic simulation of a reaction network in molecule counts.

* :func:`gillespie` — Gillespie's direct method (exact SSA), vectorized over an ensemble of
  independent trajectories (one numpy pass = one event in every unfinished trajectory);
* :func:`tau_leaping` — explicit tau-leaping with Poisson channel counts; a leap that would make
  a count negative is rejected and retried with half the step for that trajectory only.

Propensities (counts, unit volume): a mass-action channel with rate constant ``k`` and reactant
multiplicities ``nu_i`` has ``a = k * prod_i binom(x_i, nu_i)`` (so ``2 A -> B`` has
``k x (x-1) / 2``; the rate constants are the *stochastic* ones); a reversible mass-action
reaction gives two channels; any other law is evaluated at the count vector and must be >= 0.
Randomness comes from ``numpy.random.default_rng(seed)``: a given seed gives the same
trajectories on every run and every MPI rank.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import sympy as sp

from fe2.errors import ConfigError
from fe2.physics.reactions.network import Network, Reaction, Species, _value, rate_expression


@dataclass
class StochasticResult:
    """Counts ``x`` of shape ``(len(t_eval), n_traj, n_species)`` at the times ``t_eval``."""

    method: str
    t_eval: np.ndarray
    x: np.ndarray
    species: list[str]
    events: int  # reaction events (SSA) or accepted leaps (tau-leaping), summed over trajectories
    wall_time: float

    def histogram(self, species: str | int, time_index: int = -1) -> tuple[np.ndarray, np.ndarray]:
        """Empirical distribution of one species: (values 0..max, probabilities)."""
        i = self.species.index(species) if isinstance(species, str) else species
        v = self.x[time_index, :, i].astype(np.int64)
        p = np.bincount(v) / v.size
        return np.arange(p.size), p

    def to_dict(self) -> dict:
        return {"method": self.method, "t_eval": self.t_eval.tolist(), "n_traj": int(self.x.shape[1]),
                "species": self.species, "events": self.events, "wall_time": self.wall_time,
                "mean": self.x.mean(axis=1).tolist(), "variance": self.x.var(axis=1).tolist()}


class _Channels:
    """Propensity function (vectorized over trajectories) and state-change vectors."""

    def __init__(self, network: Network, params: dict | None = None):
        for rx in network.reactions:
            if rx.continuous:
                raise ConfigError(f"stochastic simulation: {rx.name!r} is a continuous rate equation (an SBML rate "
                                  "rule or the time state), not a reaction event; SSA, tau-leaping and the hybrid "
                                  "method do not apply (integrate the ODEs)")
        ssym, psym = network.symbols
        S = network.stoichiometry
        props, changes = [], []
        for j, rx in enumerate(network.reactions):
            if rx.law == "mass_action":
                sides = [(rx.params["k"], rx.reactants, S[:, j])]
                if rx.reversible:
                    sides.append((rx.params["k_reverse"], rx.products, -S[:, j]))
                for k, reac, change in sides:
                    a = _value(k, psym, f"reaction {rx.name!r}", "k")
                    for s, nu in reac.items():
                        for m in range(nu):
                            a = a * (ssym[s] - m)
                        a = a / sp.factorial(nu)
                    props.append(a)
                    changes.append(change)
            else:
                props.append(rate_expression(rx, ssym, psym))
                changes.append(S[:, j])
        pvals = dict(network.parameters)
        if params:
            if unknown := set(params) - set(pvals):
                raise ConfigError(f"unknown parameter(s): {', '.join(sorted(unknown))}")
            pvals.update(params)
        self._f = sp.lambdify([*ssym.values(), *psym.values()], props, modules="numpy", cse=True)
        self._p = [float(pvals[n]) for n in psym]
        self.change = np.array(changes, dtype=np.int64)  # (n_channels, n_species)
        self.n = len(props)
        self.expressions = props  # sympy propensities (species and parameter symbols), per channel
        self.parameter_values = self._p  # in the order of network.symbols[1]

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """Propensities, shape ``(n_traj, n_channels)``; negative values (count below the
        multiplicity in a falling factorial cannot occur; user laws can) are an error.
        """
        out = np.empty((x.shape[0], self.n))
        for c, v in enumerate(self._f(*x.T.astype(float), *self._p)):
            out[:, c] = v
        if np.any(out < 0):
            raise ConfigError("a propensity is negative: stochastic rate laws must be >= 0 for counts >= 0")
        return out


def _start(network: Network, x0, n_traj):
    if x0 is None:
        x0 = network.initial
    x0 = np.asarray(x0)
    if not np.allclose(x0, np.round(x0)) or np.any(x0 < 0):
        raise ConfigError("x0: molecule counts must be nonnegative integers")
    x0 = np.round(x0).astype(np.int64)
    if x0.ndim == 1:
        x0 = np.tile(x0, (int(n_traj), 1))
    if x0.shape[1] != network.n_species:
        raise ConfigError(f"x0 has {x0.shape[1]} species, the network {network.n_species}")
    return x0



def _prepare(network, params, x0, n_traj, t_eval, seed):
    """Common set-up of the samplers: RNG, checked output times, channels, initial counts,
    output array (n_times, n_traj, n_species), clocks and next-output indices.
    """
    rng = np.random.default_rng(seed)
    t_eval = np.atleast_1d(np.asarray(t_eval, dtype=float))
    if np.any(np.diff(t_eval) <= 0) or t_eval[0] < 0:
        raise ConfigError("t_eval: must be >= 0 and strictly increasing")
    ch = _Channels(network, params)
    x = _start(network, x0, n_traj)
    out = np.empty((t_eval.size, x.shape[0], network.n_species), dtype=np.int64)
    return rng, t_eval, ch, x, out, np.zeros(x.shape[0]), np.zeros(x.shape[0], dtype=np.int64)

def gillespie(
    network: Network,
    t_eval,
    *,
    x0=None,
    n_traj: int = 1,
    seed: int | None = 0,
    params: dict | None = None,
    max_events: int = 100_000_000,
) -> StochasticResult:
    """Gillespie's direct method: exact sample paths recorded at the times ``t_eval`` (from 0).

    ``x0``: counts ``(n_species,)`` for every trajectory or ``(n_traj, n_species)``; default the
    network's initial values (rounded). Every unfinished trajectory fires one event per pass.
    """
    tic = time.perf_counter()
    rng, t_eval, ch, x, out, t, nxt = _prepare(network, params, x0, n_traj, t_eval, seed)
    n, m = x.shape[0], t_eval.size  # next output index per trajectory
    act = np.arange(n)
    events = 0
    while act.size:
        xa = x[act]
        a = ch(xa)
        a0 = a.sum(axis=1)
        u = rng.random((act.size, 2))
        with np.errstate(divide="ignore"):
            tau = np.where(a0 > 0, -np.log1p(-u[:, 0]) / np.where(a0 > 0, a0, 1.0), np.inf)
        t_next = t[act] + tau
        # record the current state at every output time passed by this waiting time
        while True:
            j = nxt[act]
            rec = (j < m) & (t_eval[np.minimum(j, m - 1)] < t_next)
            if not rec.any():
                break
            out[j[rec], act[rec]] = xa[rec]
            nxt[act[rec]] += 1
        fire = (nxt[act] < m)
        cum = np.cumsum(a, axis=1)
        r = u[:, 1] * a0
        c = np.minimum((cum < r[:, None]).sum(axis=1), ch.n - 1)
        idx = act[fire]
        x[idx] += ch.change[c[fire]]
        t[idx] = t_next[fire]
        events += int(fire.sum())
        if events > max_events:
            raise ConfigError(f"more than max_events = {max_events} events; "
                              "shorten t_eval or use tau_leaping")
        act = idx
    return StochasticResult("gillespie", t_eval, out, network.species_names, events,
                            time.perf_counter() - tic)


def tau_leaping(
    network: Network,
    t_eval,
    tau: float,
    *,
    x0=None,
    n_traj: int = 1,
    seed: int | None = 0,
    params: dict | None = None,
    max_halvings: int = 30,
) -> StochasticResult:
    """Explicit tau-leaping with fixed leap ``tau`` (shortened to land on the ``t_eval`` times).

    Channel counts are Poisson(a_j * h); a leap giving a negative count is rejected and that
    trajectory retries with half the step (at most ``max_halvings`` times in a row). The
    leap error is O(tau): e.g. a birth–death process' stationary variance comes out as
    ``lambda / (1 - gamma*tau/2)`` instead of ``lambda``.
    """
    tic = time.perf_counter()
    if not tau > 0:
        raise ConfigError("tau: must be > 0")
    rng, t_eval, ch, x, out, t, nxt = _prepare(network, params, x0, n_traj, t_eval, seed)
    n, m = x.shape[0], t_eval.size
    halv = np.zeros(n, dtype=np.int64)
    leaps = 0
    # outputs at t = 0
    at0 = t_eval <= 0
    out[at0] = x[None]
    nxt[:] = at0.sum()
    act = np.nonzero(nxt < m)[0]
    while act.size:
        target = t_eval[nxt[act]]
        h = np.minimum(tau * 0.5 ** halv[act], target - t[act])
        a = ch(x[act])
        K = rng.poisson(a * h[:, None])
        xn = x[act] + K @ ch.change
        ok = np.all(xn >= 0, axis=1)
        good = act[ok]
        x[good] = xn[ok]
        t[good] += h[ok]
        halv[good] = 0
        halv[act[~ok]] += 1
        if np.any(halv > max_halvings):
            raise ConfigError("tau_leaping: counts keep going negative; reduce tau")
        leaps += int(ok.sum())
        reached = good[np.isclose(t[good], t_eval[nxt[good]], rtol=1e-12, atol=1e-12 * max(1.0, t_eval[-1]))]
        t[reached] = t_eval[nxt[reached]]
        out[nxt[reached], reached] = x[reached]
        nxt[reached] += 1
        act = np.nonzero(nxt < m)[0] if reached.size else act
    return StochasticResult("tau_leaping", t_eval, out, network.species_names, leaps,
                            time.perf_counter() - tic)


def cme_generator(network: Network, states: np.ndarray, params: dict | None = None):
    """Sparse generator ``Q`` (``dp/dt = Q p``) of the chemical master equation on a finite list
    of states (rows of ``states``, counts). Transitions leaving the list are dropped from the
    gains but kept in the losses (probability leaks out: the truncation error is measurable as
    ``1 - sum(p)``).
    """
    from scipy.sparse import csr_matrix

    ch = _Channels(network, params)
    states = np.asarray(states, dtype=np.int64)
    index = {tuple(s): i for i, s in enumerate(states)}
    a = ch(states)
    rows, cols, vals = [], [], []
    for i, s in enumerate(states):
        for c in range(ch.n):
            if a[i, c] == 0:
                continue
            rows.append(i)
            cols.append(i)
            vals.append(-a[i, c])
            j = index.get(tuple(s + ch.change[c]))
            if j is not None:
                rows.append(j)
                cols.append(i)
                vals.append(a[i, c])
    N = len(states)
    return csr_matrix((vals, (rows, cols)), shape=(N, N))


def counts_network(network: Network, omega: float) -> Network:
    """The network in molecule counts for a system of size ``omega`` (volume x Avogadro's number
    in the units of the concentrations): the input for :func:`gillespie`, :func:`tau_leaping`
    and the hybrid method when ``network`` is written in concentrations.

    Initial counts ``round(omega c0)``. A mass-action channel of order ``m = sum nu_i`` with
    deterministic rate ``k prod c_i^nu_i`` gets the stochastic constant
    ``k omega^(1 - m) prod nu_i!`` (so that ``k prod binom(x_i, nu_i)`` tends to
    ``omega * rate(x / omega)`` for large counts); every other law becomes the expression
    ``omega * rate(x / omega)``. Parameters of mass-action constants are resolved to numbers.
    """
    if not (np.isfinite(omega) and omega > 0):
        raise ConfigError(f"omega: the system size must be > 0 (got {omega})")
    ssym, psym = network.symbols
    pvals = network.parameters
    rxs = []
    for rx in network.reactions:
        where = f"reaction {rx.name!r}"
        if rx.law == "mass_action":
            def scaled(key, side, rx=rx, where=where):
                k = float(_value(rx.params[key], psym, where, key).subs(
                    {psym[n]: v for n, v in pvals.items()}))
                m = sum(side.values())
                return k * omega ** (1 - m) * float(np.prod([sp.factorial(nu) for nu in side.values()]))
            params = {"k": scaled("k", rx.reactants)}
            if rx.reversible:
                params["k_reverse"] = scaled("k_reverse", rx.products)
            rxs.append(Reaction(dict(rx.reactants), dict(rx.products), "mass_action", params, rx.name,
                                continuous=rx.continuous))
        else:
            rate = rate_expression(rx, ssym, psym)
            prop = sp.Float(omega) * rate.subs({s: s / omega for s in ssym.values()}, simultaneous=True)
            rxs.append(Reaction(dict(rx.reactants), dict(rx.products), "expression",
                                {"rate": prop}, rx.name, continuous=rx.continuous))  # sympy rate: no string round trip
    species = [Species(s.name, float(np.round(omega * s.initial))) for s in network.species]
    return Network(species, rxs, dict(network.parameters))
