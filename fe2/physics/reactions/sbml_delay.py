"""SBML ``delay(x, tau)``: translation (importer side) and the solution history (simulation side).

Translation: every distinct ``delay(x, tau)`` in the math becomes a symbol ``sbml_delay_<k>``
(a network parameter whose value the simulation sets at every right-hand-side call) and the
pair ``(x, tau)`` is recorded. ``delay(x, 0)`` is ``x``. Refused in one line: a delay inside
the first argument of another delay, ``rateOf`` inside a delay, and (in the simulation) a
delay time that reads a state (a state-dependent delay).

History (SBML L3V2 section 3.4.7): ``delay(x, tau)`` at time ``t`` is ``x`` evaluated at
``t - tau``; before the start the states hold their initial values, while ``time`` itself (and
rules of time) take their values at ``t - tau``, negative included (suite case 00937). After the
start the states are read from the integrator's dense output of every accepted step (BDF: an
interpolant of the step's order), kept for the whole run. The step is capped at the smallest
delay time, so ``t - tau`` always lies in the accepted history (method of steps), and the
integration restarts at ``t0 + k tau`` and at ``t_event + tau``, where the delayed values have
kinks or jumps.
"""

from __future__ import annotations

import bisect

import numpy as np
import sympy as sp

from fe2.physics.reactions.sbml_math import RATE_OF, _sym

DELAY_PREFIX = "sbml_delay_"


class DelayMixin:
    """Importer side: ``delay(x, tau)`` -> a symbol; the importer provides ``unsupported``."""

    delay_terms: dict[str, tuple[sp.Expr, sp.Expr]]
    delay_where: dict[str, str]  # "first": where the first delay was read (for refusals)

    def _delay(self, inner: sp.Expr, tau: sp.Expr, where: str) -> sp.Expr:
        if tau.has(RATE_OF):
            self.unsupported(f"rateOf in the delay time in the math of {where}")  # type: ignore[attr-defined]
        if any(s.name.startswith(DELAY_PREFIX) for s in
               (inner.free_symbols | tau.free_symbols) if s.name in self.delay_terms):
            self.unsupported(f"delay nested inside delay in the math of {where}")  # type: ignore[attr-defined]
        if tau.is_Number:
            if not tau >= 0:
                self.fail(f"{where}: delay time {tau} (needs >= 0)")  # type: ignore[attr-defined]
            if tau == 0:
                return inner
        for name, term in self.delay_terms.items():
            if term == (inner, tau):
                return _sym(name)
        taken = {*self.species, *self.compartments, *self.params, *self.stoich}  # type: ignore[attr-defined]
        k = len(self.delay_terms)
        name = f"{DELAY_PREFIX}{k}"
        while name in taken:
            name += "_"
        self.delay_terms[name] = (inner, tau)
        self.delay_where.setdefault("first", where)
        return _sym(name)


    def _delay_initial(self, vals: dict[str, float]) -> bool:
        """Give each delay symbol its value at time 0 (``x`` at ``-tau``: the initial states,
        ``time`` = ``-tau``) once what it reads has a value; True when one got its value.
        """
        t = _sym(self.time_name)  # type: ignore[attr-defined]
        progress = False
        for name, (inner, tau) in self.delay_terms.items():
            need = {s.name for s in (inner.free_symbols | tau.free_symbols)} - {t.name}
            if name in vals or not need <= set(vals) or inner.has(RATE_OF) or t in tau.free_symbols:
                continue  # (a delay time of time is refused by the simulation)
            sub = {_sym(k): vals[k] for k in need}
            tv = float(tau.subs(sub))
            vals[name] = float(inner.subs(sub).subs(t, -tv))
            progress = True
        return progress


def inner_before_start(imp, inner: sp.Expr) -> sp.Expr:
    """``x`` of ``delay(x, tau)`` where ``t - tau`` is before the start: nothing changes there
    (``rateOf`` is 0), except what an initial assignment of ``time`` defines, which "has been"
    that function of time (suite cases 00938, 00941).
    """
    t = _sym(imp.time_name)
    sub = {}
    for x in inner.free_symbols:
        e = imp.initial_exprs.get(x.name)
        if e is None or t not in e.free_symbols:
            continue
        if x.name in imp.species and imp.species[x.name][0].getHasOnlySubstanceUnits():
            e = e / _sym(imp.species[x.name][0].getCompartment())  # an amount -> c
        sub[x] = e
    out = inner.xreplace(sub) if sub else inner
    return out.replace(RATE_OF, lambda *_: sp.Integer(0)) if out.has(RATE_OF) else out


class History:
    """States at any past time: the initial state before ``t0``, then accepted steps' dense
    outputs (each on ``(lo, hi]``; at an event time the value before the event).
    """

    def __init__(self, t0: float, y0: np.ndarray):
        self.t0, self.y0 = t0, np.array(y0, dtype=float)
        self.his: list[float] = []
        self.dense: list = []
        self.last = self.y0.copy()

    def add(self, lo: float, hi: float, dense, y_hi: np.ndarray) -> None:
        if hi > lo:
            self.his.append(hi)
            self.dense.append(dense)
        self.last = np.array(y_hi, dtype=float)

    def __call__(self, s: float) -> np.ndarray:
        if s <= self.t0 or not self.his:
            return self.y0
        i = bisect.bisect_left(self.his, s)
        if i == len(self.his):  # beyond the history: only a trial step-size probe asks this
            return self.last
        return self.dense[i](s)


class DelayedValues:
    """The values of the model's delay symbols at time ``t`` from a :class:`History`."""

    def __init__(self, terms: dict[str, tuple[sp.Expr, sp.Expr, sp.Expr]], t_sym: sp.Symbol,
                 time_name: str, states: list[str], constants: dict[str, float], source: str):
        """``terms``: name -> (x, tau, x before the start)."""
        from fe2.errors import ConfigError

        self.names = list(terms)
        cnames = sorted(constants)
        args = [t_sym, *map(_sym, states), *map(_sym, cnames)]
        cvals = [constants[n] for n in cnames]
        known = set(states) | set(cnames)
        tsub = {_sym(time_name): t_sym}
        self.t0 = 0.0  # the start (set by the simulation)
        self.fns: list = []
        self.taus: list[float] = []
        for inner, tau, pre in terms.values():
            if tau.free_symbols - {_sym(n) for n in cnames if n != time_name}:
                raise ConfigError(f"{source}: unsupported SBML construct: delay whose delay time "
                                  f"{tau} is not a constant (time- or state-dependent delay)")
            inner, tau, pre = inner.xreplace(tsub), tau.xreplace(tsub), pre.xreplace(tsub)
            t = float(tau.subs({_sym(n): constants[n] for n in cnames}))
            if not t >= 0.0:
                raise ConfigError(f"{source}: delay time {t:g} (needs >= 0)")
            for e in (inner, pre):
                missing = sorted({s.name for s in e.free_symbols if s != t_sym} - known)
                if missing:
                    raise ConfigError(f"{source}: delay of {e} needs {missing[0]!r}, which has no value")
            f, g = (sp.lambdify(args, e, modules="numpy") for e in (inner, pre))
            self.fns.append(lambda s, y, f=f, g=g: float((f if s >= self.t0 else g)(s, *y, *cvals)))
            self.taus.append(t)
        self.history: History | None = None

    @property
    def min_tau(self) -> float:
        pos = [t for t in self.taus if t > 0.0]
        return min(pos) if pos else np.inf

    def at(self, t: float, y: np.ndarray | None = None) -> list[float]:
        """The delay symbols at ``t``; ``y``: the current state (a zero delay time reads it, not the
        history, whose last accepted step lags behind the integrator's trial states).
        """
        h = self.history
        assert h is not None
        return [f(t, y) if tau == 0.0 and y is not None else f(t - tau, h(t - tau))
                for f, tau in zip(self.fns, self.taus, strict=True)]

    def columns(self, name: str, times: np.ndarray) -> np.ndarray:
        """The delay symbol ``name`` at each of ``times`` (after a run)."""
        k = self.names.index(name)
        assert self.history is not None
        return np.array([self.fns[k](t - self.taus[k], self.history(t - self.taus[k]))
                         for t in times])

    def breakpoints(self, t_from: float, t1: float, per_delay: int = 8) -> list[float]:
        """``t_from + k tau`` in ``(t_from, t1)``, at most ``per_delay`` per delay time."""
        out = set()
        for tau in set(self.taus):
            if tau > 0.0:
                out |= {t_from + k * tau for k in range(1, per_delay + 1) if t_from + k * tau < t1}
        return sorted(out)
