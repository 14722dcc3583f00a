"""SBML events: an imported network plus its events, simulated by stop-and-restart BDF.

:func:`load_sbml_model` (or :func:`sbml_model_from_string`) imports an SBML document whose
events :func:`~fe2.physics.reactions.sbml.load_sbml` refuses (a :class:`Network` has none) and
returns an :class:`SbmlModel`: the network — every event target (species, parameter,
compartment) a state, held constant between events by a zero-rate "reaction" unless something
else drives it — and its :class:`SbmlEvent` list. :meth:`SbmlModel.simulate` integrates it.

Semantics (SBML Level 3 Version 2, section 4.12; Level 2 documents get libsbml's defaults:
``initialValue`` and ``persistent`` true, values from the trigger time):

* an event *fires* when its trigger goes from false to true; the trigger's value just before
  the start is ``initialValue`` (so a trigger true at t0 with ``initialValue="false"`` fires at
  t0);
* a fired event *executes* after its delay (evaluated when it fires; none: at once). With
  ``useValuesFromTriggerTime`` the assigned values are computed when it fires, else when it
  executes. A non-persistent event whose trigger goes false before it executes is dropped;
* of the events due at one instant, the one with the highest priority (evaluated then)
  executes first; after each execution every trigger is re-evaluated (cascades at one instant).
  Events due together whose order is not fixed by priorities and whose effects interact (one
  writes what another writes or reads) raise a one-line ConfigError: SBML leaves that order
  random, and any one answer could be the wrong one;
* an assignment to a species with ``hasOnlySubstanceUnits`` sets its amount (the state,
  a concentration, becomes amount / size); assigning a compartment size keeps the amounts of
  its species (concentrations scale by V_old / V_new) unless the same event assigns them.

Integration: scipy's BDF stepper (analytic Jacobian), one accepted step at a time. After each
step every trigger is evaluated exactly at the step's end; where one changed, the first instant
it holds its new value is bisected on the step's dense output to adjacent floating-point
numbers, the step is cut there, events run and the integration restarts from the new state.
Delayed executions are integration end points. The step is capped at the output spacing so a
trigger pulse longer than that is never stepped over. A trigger that is an equality (``==``)
is refused: a continuous solution crosses it only by chance.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from pathlib import Path

import libsbml
import numpy as np
import sympy as sp

from fe2.errors import ConfigError, ConvergenceError
from fe2.physics.reactions.network import Network
from fe2.physics.reactions.sbml import _Importer
from fe2.physics.reactions.sbml_delay import DelayedValues, History, inner_before_start
from fe2.physics.reactions.sbml_math import _bool, _num, _sym

__all__ = ["SbmlEvent", "SbmlModel", "load_sbml_model", "sbml_model_from_string"]

# the time argument of every event function: a plain symbol (a Dummy makes lambdify rewrite
# every expression, minutes for 200 events); a model id of that name is refused
_T = sp.Symbol("t__event", real=True)
_MAX_PER_INSTANT = 10_000  # executions at one instant before a cascade counts as endless
_SAMPLES = 3  # interior points of each step where the relations are checked (short pulses)


@dataclass(frozen=True)
class EventAssignment:
    """``target := value`` (``kind``: species, compartment or parameter); ``amount``: the value
    is an amount (a species with ``hasOnlySubstanceUnits``), stored as amount / size of
    ``compartment``.
    """

    target: str
    value: sp.Expr
    kind: str = "parameter"
    amount: bool = False
    compartment: str = ""


@dataclass(frozen=True)
class SbmlEvent:
    """One SBML event, its math in the symbols of the network (time: the dummy ``_T``)."""

    name: str
    trigger: sp.Basic
    assignments: tuple[EventAssignment, ...]
    initial_value: bool = True
    persistent: bool = True
    values_at_trigger: bool = True
    delay: sp.Expr | None = None
    priority: sp.Expr | None = None


@dataclass
class SbmlModel:
    """A network, its events and where its species live (for compartment resizes)."""

    network: Network
    events: list[SbmlEvent]
    compartment_of: dict[str, str]  # state species -> compartment
    constants: dict[str, float]  # values of the non-state symbols event math may read
    source: str = "<SBML>"
    importer: _Importer | None = field(default=None, repr=False)
    delays: dict[str, tuple[sp.Expr, sp.Expr, sp.Expr]] = field(default_factory=dict)  # sbml_delay.py
    delayed: DelayedValues | None = field(default=None, repr=False)  # after simulate: history
    steps: int = 0  # accepted BDF steps of the last simulate

    def simulate(self, t_eval, *, rtol: float = 1e-10, atol: float = 1e-12) -> np.ndarray:
        """States (concentrations; parameter / size values) at the times ``t_eval``
        (increasing, the first the start time), shape ``(len(t_eval), n_states)``; a value at
        an event time is the one after the events there.
        """
        return _Simulation(self, rtol, atol).run(np.asarray(t_eval, dtype=float))


def load_sbml_model(path: str | Path) -> SbmlModel:
    """Read an SBML file, events included (see the module docstring)."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"SBML file not found: {p}")
    return model_from_document(libsbml.readSBMLFromFile(str(p)), str(p))


def sbml_model_from_string(text: str, source: str = "<SBML string>") -> SbmlModel:
    """Like :func:`load_sbml_model` for SBML given as a string."""
    return model_from_document(libsbml.readSBMLFromString(text), source)


def model_from_document(doc: libsbml.SBMLDocument, source: str) -> SbmlModel:
    imp = _Importer(doc, source, events=True)
    net = imp.network()
    states = set(net.species_names)
    events = [_translate(imp, e, i) for i in range(imp.m.getNumEvents())
              if (tr := (e := imp.m.getEvent(i)).getTrigger()) is not None and tr.isSetMath()]
    # (L3V2: an event without trigger math, like an assignment without math, has no effect)
    compartment_of = {s: imp.species[s][0].getCompartment() for s in net.species_names
                      if s in imp.species}
    for ev in events:  # a resize keeps amounts: only states can follow it
        for a in ev.assignments:
            if a.kind == "compartment":
                fixed = [s for s, (sp_, _) in imp.species.items()
                         if sp_.getCompartment() == a.target and s not in states
                         and s not in imp.assign]
                if fixed:
                    imp.unsupported(f"event {ev.name!r} resizes compartment {a.target!r}, which "
                                    f"holds the boundary or constant species {fixed[0]!r}", a.target)
    constants = {**{k: float(v) for k, v in imp.values.items() if k not in states},
                 **imp.local_values, **net.parameters}
    for name in imp.delay_terms:  # not constants: the simulation evaluates them from history
        constants.pop(name, None)
    delays = {}
    for name, (raw, tau) in imp.delay_terms.items():  # rateOf in x: the network's rates
        inner = imp.resolve(raw, f"delay {name!r}")
        if any(s.name in imp.delay_terms for s in inner.free_symbols):
            imp.unsupported("delay of a rate that reads a delay (nested delays)", name)
        delays[name] = (inner, tau, inner_before_start(imp, raw))
    return SbmlModel(net, events, compartment_of, constants, source, imp, delays)


def _translate(imp: _Importer, e: libsbml.Event, i: int) -> SbmlEvent:
    name = e.getId() or e.getName() or f"event {i}"
    where = f"event {name!r}"
    tr = e.getTrigger()
    tsub = {_sym(imp.time_name): _T}

    def num(ast, what):
        return imp.resolve(_num(imp.expr(ast, f"{what} of {where}"))).xreplace(tsub)

    trigger = imp.resolve(_bool(imp.expr(tr.getMath(), f"trigger of {where}"))).xreplace(tsub)
    if trigger.atoms(sp.Eq, sp.Ne):
        imp.unsupported(f"trigger with '==' or '!=' in {where} (a continuous solution crosses "
                        f"an equality only by chance)", name)
    assignments = []
    for j in range(e.getNumEventAssignments()):
        ea = e.getEventAssignment(j)
        var = ea.getVariable()
        if not ea.isSetMath():
            continue
        value = num(ea.getMath(), f"assignment to {var!r}")
        if var in imp.species:
            s = imp.species[var][0]
            assignments.append(EventAssignment(var, value, "species", s.getHasOnlySubstanceUnits(),
                                               s.getCompartment()))
        else:
            kind = "compartment" if var in imp.compartments else "parameter"
            assignments.append(EventAssignment(var, value, kind))
    delay = num(e.getDelay().getMath(), "delay") if e.isSetDelay() and e.getDelay().isSetMath() else None
    prio = (num(e.getPriority().getMath(), "priority")
            if e.isSetPriority() and e.getPriority().isSetMath() else None)
    init = tr.getInitialValue() if tr.isSetInitialValue() else True
    persistent = tr.getPersistent() if tr.isSetPersistent() else True
    uvftt = e.getUseValuesFromTriggerTime() if e.isSetUseValuesFromTriggerTime() else True
    return SbmlEvent(name, trigger, tuple(assignments), bool(init), bool(persistent), bool(uvftt),
                     delay, prio)


@dataclass
class _Due:
    """A fired event waiting to execute."""

    when: float
    seq: int  # firing order: ties in the heap
    event: int
    values: list[float] | None  # computed at the trigger time, or None: at execution

    def __lt__(self, other: _Due) -> bool:
        return (self.when, self.seq) < (other.when, other.seq)


class _Simulation:
    def __init__(self, model: SbmlModel, rtol: float, atol: float):
        self.model, self.rtol, self.atol = model, rtol, atol
        self.state: list[bool] = []  # each trigger's value (before the start: initialValue)
        self.due: list[_Due] = []  # heap of fired events waiting to execute
        self.seq = 0
        net = model.network
        self.cn = net.compile()
        self.pv = self.cn._pvals(None)
        self.names = net.species_names
        self.index = {n: i for i, n in enumerate(self.names)}
        self.dv = DelayedValues(model.delays, _T, model.importer.time_name if model.importer
                                else "sbml_time", self.names, model.constants, model.source)
        model.delayed = self.dv
        self._dpos = [self.cn._pnames.index(n) for n in self.dv.names if n in self.cn._pnames]
        self._dsel = [k for k, n in enumerate(self.dv.names) if n in self.cn._pnames]
        args = [_T, *[_sym(n) for n in self.names], *[_sym(n) for n in self.dv.names]]
        const_names = sorted(model.constants)
        args += [_sym(n) for n in const_names]
        self.cvals = [model.constants[n] for n in const_names]
        known = {a.name for a in args[1:]}
        if _T.name in known:
            raise ConfigError(f"{model.source}: id {_T.name!r} clashes with the name fe2 gives "
                              f"the time in event math")

        def check(expr, what):
            missing = sorted({s.name for s in expr.free_symbols if s != _T} - known)
            if missing:
                raise ConfigError(f"{model.source}: {what} needs {missing[0]!r}, which has no value")
            return expr

        def fn(expr, what):
            return sp.lambdify(args, check(expr, what), modules="numpy")

        atoms = sorted({r for ev in model.events for r in ev.trigger.atoms(sp.Rel)}, key=sp.srepr)
        # every relation of every trigger, then the triggers: a step is cut where any changes
        self._sig = sp.lambdify(args, [*atoms, *[ev.trigger for ev in model.events]],
                                modules="numpy") if model.events else None
        self.assign, self.delay, self.prio = [], [], []
        self.reads: list[set[str]] = []
        self.writes: list[set[str]] = []
        for ev in model.events:
            w = f"event {ev.name!r}"
            check(ev.trigger, f"the trigger of {w}")  # evaluated in the signature
            self.assign.append([fn(a.value, f"{w}") for a in ev.assignments])
            self.delay.append(fn(ev.delay, f"the delay of {w}") if ev.delay is not None else None)
            self.prio.append(fn(ev.priority, f"the priority of {w}") if ev.priority is not None else None)
            reads = {s.name for s in ev.trigger.free_symbols if s != _T}
            if not ev.values_at_trigger:
                reads |= {s.name for a in ev.assignments for s in a.value.free_symbols if s != _T}
            if ev.priority is not None:
                reads |= {s.name for s in ev.priority.free_symbols if s != _T}
            writes = {a.target for a in ev.assignments}
            writes |= {s for s, c in model.compartment_of.items() if c in writes}
            self.reads.append(reads)
            self.writes.append(writes)

    # -- event functions at (t, y) ----------------------------------------------------------
    def _call(self, f, t, y) -> float:
        return float(f(t, *y, *self.dv.at(t, y), *self.cvals))

    def _signature(self, t, y) -> tuple[bool, ...]:
        return tuple(bool(v) for v in self._sig(t, *y, *self.dv.at(t, y), *self.cvals)) if self._sig else ()

    def _values(self, k, t, y) -> list[float]:
        return [self._call(f, t, y) for f in self.assign[k]]

    def _execute(self, due: _Due, t, y) -> np.ndarray:
        ev = self.model.events[due.event]
        vals = due.values if due.values is not None else self._values(due.event, t, y)
        y = y.copy()
        for a, v in zip(ev.assignments, vals, strict=True):  # species first, at the old sizes
            if a.kind == "compartment":
                continue
            i = self.index[a.target]
            if a.amount:
                c = a.compartment
                y[i] = v / (y[self.index[c]] if c in self.index else self.model.constants[c])
            else:
                y[i] = v
        for a, v in zip(ev.assignments, vals, strict=True):  # then resizes: amounts are kept
            if a.kind == "compartment":
                if not v > 0.0:
                    raise ConfigError(f"{self.model.source}: event {ev.name!r} sets the size of "
                                      f"compartment {a.target!r} to {v:g} at t = {t:g} (needs > 0)")
                old = y[self.index[a.target]]
                for s, c in self.model.compartment_of.items():
                    if c == a.target:
                        y[self.index[s]] *= old / v
                y[self.index[a.target]] = v
        if not np.isfinite(y).all():
            raise ConvergenceError(f"{self.model.source}: event {ev.name!r} at t = {t:g} made a "
                                   f"state non-finite")
        return y

    # -- one instant: fire, cancel, execute by priority, cascade ---------------------------
    def _instant(self, t, y):
        n = len(self.model.events)
        for _ in range(_MAX_PER_INSTANT):
            sig = self._signature(t, y)
            for k in range(n):
                now = sig[len(sig) - n + k]
                if now and not self.state[k]:
                    self._fire(k, t, y)
                elif not now and self.state[k] and not self.model.events[k].persistent:
                    self.due = [d for d in self.due if d.event != k]
                    heapq.heapify(self.due)
                self.state[k] = now
            ready = [d for d in self.due if d.when <= t]
            if not ready:
                return y
            d = self._choose(ready, t, y)
            self.due.remove(d)
            heapq.heapify(self.due)
            y = self._execute(d, t, y)
        raise ConvergenceError(f"{self.model.source}: events keep firing at t = {t:g} "
                               f"({_MAX_PER_INSTANT} executions at one instant)")

    def _fire(self, k, t, y):
        delay = 0.0 if self.delay[k] is None else self._call(self.delay[k], t, y)
        if not delay >= 0.0:
            raise ConfigError(f"{self.model.source}: event {self.model.events[k].name!r}: delay "
                              f"{delay:g} at t = {t:g} (needs >= 0)")
        vals = self._values(k, t, y) if self.model.events[k].values_at_trigger else None
        self.seq += 1
        heapq.heappush(self.due, _Due(t + delay, self.seq, k, vals))

    def _choose(self, ready: list[_Due], t, y) -> _Due:
        if len(ready) == 1:
            return ready[0]
        prio = {id(d): (self._call(self.prio[d.event], t, y) if self.prio[d.event] is not None
                        else None) for d in ready}
        ranked = [p for p in prio.values() if p is not None]
        top = max(ranked) if ranked else None
        cands = [d for d in ready if prio[id(d)] is None or prio[id(d)] == top]
        if len(cands) > 1:  # order not fixed by SBML: allowed only when it cannot matter
            for i, a in enumerate(cands):
                for b in cands[i + 1:]:
                    if a.event == b.event and a.values == b.values:
                        continue  # one event due twice, the same operation: order is moot
                    if a.event == b.event or self.writes[a.event] & (
                            self.writes[b.event] | self.reads[b.event]) or (
                            self.writes[b.event] & self.reads[a.event]):
                        ea, eb = (self.model.events[x.event].name for x in (a, b))
                        raise ConfigError(
                            f"{self.model.source}: unsupported SBML construct: events {ea!r} and "
                            f"{eb!r} execute together at t = {t:g} in an order SBML leaves random "
                            f"(no distinct priorities) and their assignments interact")
        return min(cands, key=lambda d: d.seq)

    # -- the time loop --------------------------------------------------------------------
    def _first_change(self, dense, lo, hi, ref) -> tuple[float, np.ndarray] | None:
        """The first instant in (lo, hi] where a relation or trigger differs from ``ref`` (its
        values at lo), on _SAMPLES points of the step then bisected to adjacent floats; None
        when none differs there.
        """
        a = lo
        for s in np.linspace(lo, hi, _SAMPLES + 2)[1:]:
            b = hi if s >= hi else float(s)
            if self._signature(b, dense(b)) != ref:
                break
            a = b
        else:
            return None
        while True:
            mid = 0.5 * (a + b)
            if not a < mid < b:
                return b, dense(b)
            if self._signature(mid, dense(mid)) != ref:
                b = mid
            else:
                a = mid

    def run(self, t_eval: np.ndarray) -> np.ndarray:
        from scipy.integrate import BDF

        t0, t1 = float(t_eval[0]), float(t_eval[-1])
        out = np.full((t_eval.size, len(self.names)), np.nan)
        max_step = (t1 - t0) / max(t_eval.size - 1, 1) if t1 > t0 else np.inf
        if t1 > t0 and self.dv.min_tau < 1e-6 * (t1 - t0):
            raise ConfigError(f"{self.model.source}: delay time {self.dv.min_tau:g} is below 1e-6 of the "
                              f"simulated span {t1 - t0:g} (the method of steps would need > 1e6 steps); "
                              "use delay time 0 or a longer delay")
        max_step = min(max_step, self.dv.min_tau)  # method of steps: t - tau in the history
        self.state = [ev.initial_value for ev in self.model.events]
        self.due = []
        self.seq = 0
        t, y = t0, self.model.network.initial.astype(float)
        self.model.steps = 0
        hist = self.dv.history = History(t0, y)
        self.dv.t0 = t0
        breaks = self.dv.breakpoints(t0, t1)  # kinks of the delayed values
        y = self._instant(t, y)
        k_out = 0

        def set_delays(tt, yy):
            if self._dpos:
                vals = self.dv.at(tt, yy)
                for i, k in zip(self._dpos, self._dsel, strict=True):
                    self.pv[i] = vals[k]

        def f(_t, yy):
            set_delays(_t, yy)
            return self.cn.rhs_T(yy[:, None], self.pv)[:, 0]

        def jac(_t, yy):
            set_delays(_t, yy)
            return self.cn.jac_T(yy[:, None], self.pv)[:, :, 0]

        while True:
            t_stop = min([t1, *[d.when for d in self.due], *[b for b in breaks if b > t]])
            if t_stop > t:
                ref = self._signature(t, y)
                solver = BDF(f, t, y, t_stop, rtol=self.rtol, atol=self.atol, jac=jac,
                             max_step=max_step)
                while solver.status == "running":
                    msg = solver.step()
                    if solver.status == "failed":
                        raise ConvergenceError(f"{self.model.source}: BDF failed at t = "
                                               f"{solver.t:g}: {msg}")
                    dense = solver.dense_output()
                    lo, hi = solver.t_old, solver.t
                    cut = self._first_change(dense, lo, hi, ref)
                    changed = cut is not None
                    t_end, y_end = cut if cut is not None else (hi, solver.y.copy())
                    hist.add(lo, t_end, dense, y_end)
                    self.model.steps += 1
                    ref = self._signature(t_end, y_end)
                    while k_out < t_eval.size and t_eval[k_out] < t_end:
                        out[k_out] = dense(t_eval[k_out])
                        k_out += 1
                    if changed:
                        break
                t, y = t_end, y_end
            y_before = y
            y = self._instant(t, y)
            if self.dv.names and t > t0 and not np.array_equal(y, y_before):
                breaks = sorted({*breaks, *self.dv.breakpoints(t, t1, 1)})  # its echo
            if t >= t1:
                break
        out[k_out:] = y
        return out
