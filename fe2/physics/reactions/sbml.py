"""Import an SBML model (python-libsbml) as a :class:`~fe2.physics.reactions.network.Network`.

Convention
----------
fe2 integrates **concentrations**: every species state is ``c = amount / V`` with ``V`` the size
of its compartment, whatever the species' ``hasOnlySubstanceUnits`` says. SBML kinetic laws
are reaction *extents* per time (amount / time), so a reaction that involves the species of
one compartment ``V`` becomes the fe2 rate ``v = kineticLaw / V`` and
``dc_i/dt = sum_j S_ij v_j`` (``S`` integer stoichiometry). Inside SBML math a species
symbol means its concentration, or its amount ``c V`` when ``hasOnlySubstanceUnits`` is true;
the importer substitutes accordingly.

Mapping
-------
* floating species (not ``boundaryCondition``, not ``constant``, no assignment rule) -> the
  network's species, in document order, with their initial concentration;
* boundary / constant species -> network parameters named by the species id, holding the
  (fixed) concentration; reactions do not change them;
* compartments -> parameters named by the compartment id holding the size (so a per-node
  override of a volume rescales every law consistently);
* global parameters -> parameters; local (kinetic-law) parameters -> parameters named
  ``<reaction id>_<parameter id>`` (a suffix is added if that name is taken);
* a reaction whose ``kineticLaw / V`` is exactly ``k prod(R^nu)`` (minus ``k_r prod(P^mu)``),
  ``k`` a parameter or a number, becomes a ``mass_action`` reaction, any other an
  ``expression`` reaction with the sympy rate;
* function definitions are inlined; assignment rules for parameters / species are substituted
  into every law that uses them (every rule is translated, used or not, so a refused construct
  in an unused rule is still refused); initial assignments are evaluated once (time = 0);
* a rate rule ``d x/dt = f`` for a parameter or a species that no reaction changes -> a state
  ``x`` of the network with one inflow reaction ``-> x`` of rate ``f`` (``f / V`` for a species
  with ``hasOnlySubstanceUnits``: the rule gives its amount);
* a reaction with a non-integer or variable stoichiometry (``stoichiometryMath``, a
  species-reference id set by an initial assignment, a rule or an event; the id read in math is
  the stoichiometry), with species of several compartments (transport) or with a conversion
  factor (the species' own, else the model's) enters species by species: one ``expression``
  "reaction" ``-> S_i`` of rate ``cf_i nu_i kineticLaw / V_i`` per floating species;
* a rate rule ``dV/dt = g`` for a compartment -> a state ``V``; its species keep their amounts,
  so each concentration state also gets ``-c g / V``; an assignment rule ``V = g(time,
  constants)`` (or an algebraic rule solved so) -> the rate rule ``dg/dt`` from ``V(0) = g(0)``;
* algebraic rules -> assignment rules, when sympy solves them uniquely and explicitly for the
  variables nothing else determines (sbml_algebraic.py);
* ``rateOf(x)`` -> the right-hand side of ``x`` in the network (of its amount for a species with
  ``hasOnlySubstanceUnits``; 0 for what nothing changes); a reaction id in math -> its law;
* a 0-D compartment without a size that no math reads -> size 1 (its species' values are
  amounts);
* a model in which nothing changes -> a zero-rate "reaction" holding its first species (or, with
  no species, the time state alone);
* event targets (events themselves: :mod:`.sbml_events`, ``load_sbml_model``) -> states held by
  a zero-rate "reaction" unless something else drives them;
* elements without math (L3V2: a rule, event assignment or trigger) have no effect;
* the ``time`` symbol -> a state ``sbml_time`` (``sbml_time_`` if the id is taken) with
  ``d sbml_time/dt = 1``, ``sbml_time(0) = 0``: the system stays autonomous; integrate from t = 0;
* ``piecewise``, relational and logical operators, ``min``/``max``, ``exp``/``ln``/``log``/
  ``root``/``abs``/``floor``/``ceiling`` and trigonometric functions are translated to sympy
  (sbml_math.py); a boolean used as a number is 1 or 0, a number used as a condition is true
  when nonzero; floor/ceiling have derivative 0 in the Jacobian.

Everything else the integrators could not honour raises a one-line
:class:`~fe2.errors.ConfigError` naming the construct and the element id: events (here; see
:mod:`.sbml_events`), algebraic rules without one explicit solution, assignment rules for
compartments that read a variable, rate rules for species that reactions change, ``delay``
(here; :mod:`.sbml_delay`, ``load_sbml_model`` simulates it),
``rateOf`` in initial assignments or of rule variables, fast reactions, reactions without a
kinetic law, species in a 0-D compartment without a size that math reads, a growing compartment
holding boundary species, SBML packages an L3 document declares ``required="true"`` (``comp`` ...;
``layout``/``render`` are ignored, and Level 2 documents have no required packages), and
invalid SBML. Reactions that change no floating species are dropped (they cannot affect the
state). Constraints are ignored (they assert, never change, the trajectory).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import NoReturn

import libsbml
import sympy as sp

from fe2.errors import ConfigError
from fe2.physics.reactions.network import _RESERVED, Network, Reaction, Species
from fe2.physics.reactions.sbml_algebraic import solve_algebraic_rules
from fe2.physics.reactions.sbml_delay import DelayMixin
from fe2.physics.reactions.sbml_math import AVOGADRO, RATE_OF, MathMixin, _num, _sym
from fe2.physics.reactions.sbml_reactions import ReactionsMixin

__all__ = ["AVOGADRO", "load_sbml", "network_from_sbml_string"]


def load_sbml(path: str | Path) -> Network:
    """Read an SBML file (any level/version libsbml reads) into a :class:`Network`.

    Species states are concentrations (see the module docstring for the full mapping);
    every unsupported construct or invalid input is a one-line ConfigError.
    """
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"SBML file not found: {p}")
    return _Importer(libsbml.readSBMLFromFile(str(p)), str(p)).network()


def network_from_sbml_string(text: str, source: str = "<SBML string>") -> Network:
    """Like :func:`load_sbml` for SBML given as a string; ``source`` prefixes error messages."""
    return _Importer(libsbml.readSBMLFromString(text), source).network()


# never needed for simulation (L3 makes them required="false"); libsbml enables both plugins on
# every Level 2 document and reports them as required there
_IGNORED_PACKAGES = {"layout", "render", "l3v2extendedmath"}  # the last: libsbml's L3V2 core math


def _required_packages(doc: libsbml.SBMLDocument) -> list[str]:
    """Packages the document itself declares ``required="true"`` (only Level 3 has packages),
    known to libsbml or not, except those in ``_IGNORED_PACKAGES``.
    """
    if doc.getLevel() < 3:
        return []
    out = []
    ns = doc.getNamespaces()
    for i in range(ns.getNumNamespaces()):
        uri = ns.getURI(i)  # http://www.sbml.org/sbml/level3/version1/<package>/version1
        m = re.search(r"sbml\.org/sbml/level3/version\d+/([^/]+)/", uri)
        if m is None or m.group(1) == "core":
            continue  # core, or a non-SBML namespace (annotations)
        if m.group(1) not in _IGNORED_PACKAGES and doc.getPackageRequired(uri):
            out.append(m.group(1))
    return out



def _names_in_math(m: libsbml.Model) -> set[str]:
    """Every identifier that some math of the model reads."""
    out: set[str] = set()

    def walk(ast):
        if ast.getType() in (libsbml.AST_NAME, libsbml.AST_FUNCTION) and ast.getName():
            out.add(ast.getName())
        for i in range(ast.getNumChildren()):
            walk(ast.getChild(i))

    elements = m.getListOfAllElements()
    for i in range(elements.getSize()):
        el = elements.get(i)
        if hasattr(el, "isSetMath") and el.isSetMath() and el.getMath() is not None:
            walk(el.getMath())
    return out


class _Importer(DelayMixin, MathMixin, ReactionsMixin):
    """One SBML document -> one Network. Raises ConfigError('<source>: <problem>')."""

    # set by _check_model
    assign: dict[str, libsbml.ASTNode]
    rate_rules: dict[str, libsbml.ASTNode]
    dynamic_refs: set[str]
    time_name: str
    species: dict[str, tuple[libsbml.Species, bool]]
    compartments: dict[str, libsbml.Compartment]
    params: dict[str, libsbml.Parameter]
    # set by network
    taken: set[str]
    local_values: dict[str, float]
    used: set[str]
    floating: set[str]
    net: Network

    def __init__(self, doc: libsbml.SBMLDocument, source: str, *, events: bool = False):
        self.src = source
        self.with_events = events  # False: a Network has no events, so a model with one is refused
        for i in range(doc.getNumErrors()):
            err = doc.getError(i)
            if err.isError() or err.isFatal():
                msg = " ".join(err.getMessage().split())
                self.fail(f"invalid SBML (line {err.getLine()}): {msg}")
        for pkg in _required_packages(doc):
            self.unsupported(f"required SBML package {pkg!r}")
        self.m = doc.getModel()
        if self.m is None:
            self.fail("the document has no <model>")
        self._rule_cache: dict[str, sp.Expr] = {}
        self.delay_terms: dict[str, tuple[sp.Expr, sp.Expr]] = {}  # sbml_delay.py
        self.delay_where: dict[str, str] = {}
        self._expanding: list[str] = []

    def fail(self, msg: str) -> NoReturn:
        raise ConfigError(f"{self.src}: {msg}")

    def unsupported(self, what: str, elem_id: str = "") -> NoReturn:
        self.fail(f"unsupported SBML construct: {what}" + (f" ({elem_id!r})" if elem_id else ""))

    # -- model-level checks and tables --------------------------------------------------------
    def _check_model(self) -> None:
        m = self.m
        self.event_targets: set[str] = set()  # made states: events change them
        self.stoich = {}  # species-reference id -> its SpeciesReference
        for i in range(m.getNumReactions()):
            rx = m.getReaction(i)
            for sr in [*map(rx.getReactant, range(rx.getNumReactants())),
                       *map(rx.getProduct, range(rx.getNumProducts()))]:
                if sr.isSetId():
                    self.stoich[sr.getId()] = sr
        if m.getNumEvents() and not self.with_events:
            e = m.getEvent(0)
            self.unsupported("event (a Network has none: load_sbml_model simulates events)",
                             e.getId() or e.getName() or "event 0")
        for i in range(m.getNumEvents()):
            e = m.getEvent(i)
            for j in range(e.getNumEventAssignments()):
                var = e.getEventAssignment(j).getVariable()
                if m.getSpecies(var) is None and m.getParameter(var) is None and (
                        m.getCompartment(var) is None) and var not in self.stoich:
                    self.unsupported("event assignment to a species reference or reaction", var)
                self.event_targets.add(var)
        self.assign = {}
        self.rate_rules = {}
        self.volume_rules: dict[str, libsbml.ASTNode] = {}
        for i in range(m.getNumRules()):
            r = m.getRule(i)
            var = r.getVariable() if not r.isAlgebraic() else ""
            if r.isAlgebraic():
                continue  # solved at the end of the checks (sbml_algebraic.py)
            kind = "rate rule" if r.isRate() else "assignment rule"
            if m.getCompartment(var) is not None and not r.isRate() and r.isSetMath():
                self.volume_rules[var] = r.getMath()  # V = g(t): made a rate rule at the end
                continue
            if m.getSpecies(var) is None and m.getParameter(var) is None and (
                    var not in self.stoich and m.getCompartment(var) is None):
                self.unsupported(f"{kind} for a reaction", var)
            if not r.isSetMath():
                continue  # L3V2: a rule without math has no effect
            (self.rate_rules if r.isRate() else self.assign)[var] = r.getMath()
        self.species = {}
        for i in range(m.getNumSpecies()):
            s = m.getSpecies(i)
            fixed = s.getBoundaryCondition() or s.getConstant() or s.getId() in self.assign
            self.species[s.getId()] = (s, fixed)
        self.compartments = {m.getCompartment(i).getId(): m.getCompartment(i)
                             for i in range(m.getNumCompartments())}
        self.params = {m.getParameter(i).getId(): m.getParameter(i) for i in range(m.getNumParameters())}
        self.points: set[str] = set()  # 0-D compartments without a size that math never reads
        named = _names_in_math(m) if m.getNumCompartments() else set()
        for sid, (s, _) in self.species.items():
            c = self.compartments.get(s.getCompartment())
            if c is None or c.isSetSize() or m.getInitialAssignment(c.getId()) is not None:
                continue
            if (c.getSpatialDimensions() == 0 if m.getLevel() < 3 else
                    c.isSetSpatialDimensions() and c.getSpatialDimensionsAsDouble() == 0):
                if c.getId() not in named and c.getId() not in self.event_targets:
                    self.points.add(c.getId())  # size 1: its species' values are amounts
                    continue
                self.unsupported(f"species {sid!r} in a 0-D compartment without a size (fe2 "
                                 f"integrates concentrations, amount / size)", c.getId())
        self.dynamic_refs = {x for x in self.stoich if x in self.assign or x in self.rate_rules
                             or x in self.event_targets or m.getInitialAssignment(x) is not None}
        self.time_name = "sbml_time"  # the state that stands for SBML's time symbol, if used
        while self.time_name in {*self.species, *self.compartments, *self.params, *self.stoich}:
            self.time_name += "_"
        for name in [*self.species, *self.compartments, *self.params, *self.stoich]:
            if name in _RESERVED:
                self.fail(f"id {name!r} clashes with a name fe2 reserves ({', '.join(sorted(_RESERVED))})")
        self.volume_exprs: dict[str, sp.Expr] = {}  # sizes that algebraic rules determine
        solve_algebraic_rules(self)
        self.volume_values: dict[str, sp.Expr] = {}
        for var, ast in [*self.volume_rules.items(), *self.volume_exprs.items()]:
            # V = g(t, constants) <=> V' = g', V(0) = g(0)
            g = ast if isinstance(ast, sp.Expr) else _num(self.expr(ast, f"assignment rule for {var!r}"))
            for x in g.free_symbols:
                n = x.name
                obj = self.params.get(n) or self.compartments.get(n)
                if n != self.time_name and (obj is None or not obj.getConstant() or n in self.assign
                                            or n in self.event_targets):
                    self.unsupported(f"assignment rule for a compartment (variable volume) that "
                                     f"reads the variable {n!r}", var)
            self.volume_values[var] = g
            self.rate_rules[var] = sp.diff(g, _sym(self.time_name))

    # -- math -----------------------------------------------------------------------------------
    # -- values at t = 0 --------------------------------------------------------------------
    def _initial_values(self) -> dict[str, float]:
        """Initial value of every symbol: sizes, parameter values, species concentrations."""
        m = self.m
        vals: dict[str, float] = {self.time_name: 0.0}  # SBML time starts at 0
        ia = {m.getInitialAssignment(i).getSymbol(): m.getInitialAssignment(i)
              for i in range(m.getNumInitialAssignments())}
        for sid in ia.keys():
            if sid not in self.species and sid not in self.compartments and sid not in self.params \
                    and sid not in self.stoich:
                self.unsupported("initial assignment to a reaction", sid)
        for rid, sr in self.stoich.items():  # a species reference's id: its stoichiometry
            if rid not in ia and rid not in self.assign:
                vals[rid] = sr.getStoichiometry()
        for cid, c in self.compartments.items():
            if cid not in ia and cid not in self.volume_values and c.isSetSize():
                vals[cid] = c.getSize()  # (a size rule overrides the attribute)
            elif cid in self.points:
                vals[cid] = 1.0
        for pid, p in self.params.items():
            if pid not in ia and pid not in self.assign and p.isSetValue():
                vals[pid] = p.getValue()
        pending_amount = {}
        for sid, (s, _) in self.species.items():
            if sid in ia or sid in self.assign:
                continue
            if s.isSetInitialConcentration():
                vals[sid] = s.getInitialConcentration()
            elif s.isSetInitialAmount():
                pending_amount[sid] = s.getInitialAmount()
        pending_ia = {sid: _num(self.expr(a.getMath(), f"initial assignment for {sid!r}"))
                      for sid, a in ia.items() if a.isSetMath()}
        pending_ia.update(self.volume_values)  # a size from its rule, at time 0
        self.initial_exprs = dict(pending_ia)  # of time: the history before 0 (sbml_delay.py)
        for sid, e in pending_ia.items():
            if e.has(RATE_OF):  # would need the right-hand side before the network exists
                self.unsupported(f"rateOf in the math of initial assignment for {sid!r}")
        def size(comp: str) -> float:
            if not vals[comp] > 0.0:
                self.fail(f"compartment {comp!r} needs a size > 0 (got {vals[comp]})")
            return vals[comp]

        progress = True
        while progress and (pending_amount or pending_ia):
            progress = False
            for sid in list(pending_amount):
                comp = self.species[sid][0].getCompartment()
                if comp in vals:
                    vals[sid] = pending_amount.pop(sid) / size(comp)
                    progress = True
            progress |= self._delay_initial(vals)  # delay(x, tau) at 0: x at -tau
            for sid in list(pending_ia):
                e = pending_ia[sid]
                if {str(x) for x in e.free_symbols} <= set(vals):
                    v = float(e.subs({_sym(k): vals[k] for k in map(str, e.free_symbols)}))
                    pending_ia.pop(sid)
                    if sid in self.species and self.species[sid][0].getHasOnlySubstanceUnits():
                        comp = self.species[sid][0].getCompartment()
                        if comp not in vals:
                            pending_amount[sid] = v
                            continue
                        v /= size(comp)
                    vals[sid] = v
                    progress = True
        for sid in pending_amount:
            self.fail(f"species {sid!r}: its initial amount needs the size of compartment "
                      f"{self.species[sid][0].getCompartment()!r}, which is not set")
        if pending_ia:
            sid = next(iter(pending_ia))
            missing = sorted({str(x) for x in pending_ia[sid].free_symbols} - set(vals))
            self.fail(f"initial assignment for {sid!r} needs {', '.join(map(repr, missing))}, "
                      f"which have no value")
        return vals

    # -- rateOf ----------------------------------------------------------------------------
    def _rate_of_map(self, expr: sp.Basic, net: Network, where: str = "a rate law") -> dict:
        """``rateOf(x)`` -> the right-hand side of ``x`` in ``net`` (of its amount, ``V dc/dt +
        c dV/dt``, for a species with ``hasOnlySubstanceUnits``); 0 for what nothing changes.
        """
        rhs = dict(zip(net.species_names, net.rhs_expressions, strict=True))
        out = {}
        for f in expr.atoms(RATE_OF):
            x = f.args[0].name
            if x in self.assign:
                self.unsupported(f"rateOf of an assignment-rule variable in the math of {where}", x)
            d = rhs.get(x, sp.Integer(0))
            if x in self.species and self.species[x][0].getHasOnlySubstanceUnits() and x in rhs:
                comp = self.species[x][0].getCompartment()
                d = _sym(comp) * d + _sym(x) * rhs.get(comp, sp.Integer(0))
            if d.has(RATE_OF):
                self.unsupported(f"rateOf of a variable whose own rate reads rateOf (in the math "
                                 f"of {where})", x)
            out[f] = d
        return out

    def resolve(self, expr: sp.Basic, where: str = "an output") -> sp.Basic:
        """``expr`` with every ``rateOf`` replaced (after :meth:`network`)."""
        return expr.xreplace(self._rate_of_map(expr, self.net, where)) if expr.has(RATE_OF) else expr

    def _resolve_reactions(self, species, reactions, floating, vals) -> list[Reaction]:
        """Reactions whose rates read ``rateOf``: the rates of a first network stand in."""
        before = set(self.used)
        for rx in reactions:
            if rx.law == "expression" and isinstance(rx.params["rate"], sp.Expr):
                for f in rx.params["rate"].atoms(RATE_OF):
                    self.used.add(f.args[0].name)  # a symbol of the first network only
        added = self.used - before
        saved = dict(vals)
        for name in self.used - set(floating):
            vals.setdefault(name, self.local_values.get(name, 0.0))  # a value only to build it
        first = self._assemble(species, reactions, floating, vals)
        vals.clear()
        vals.update(saved)
        out = []
        read = set()  # names the resolved rates read
        for rx in reactions:
            rate = rx.params.get("rate")
            if rx.law == "expression" and isinstance(rate, sp.Expr) and rate.has(RATE_OF):
                rate = rate.xreplace(self._rate_of_map(rate, first, f"reaction {rx.name!r}"))
                read |= {x.name for x in rate.free_symbols}
                rx = Reaction(rx.reactants, rx.products, "expression", {"rate": rate}, rx.name,
                              continuous=rx.continuous)
            out.append(rx)
        self.used = (self.used - added) | read
        return out

    def _document_order(self, name: str) -> int:
        order = [*self.compartments, *self.species, *self.params]
        return order.index(name) if name in order else len(order)

    # -- assemble ---------------------------------------------------------------------------
    def network(self) -> Network:
        self._check_model()
        for var in self.assign:  # every rule, used by a kept law or not: refusals never depend on use
            self._name(var, f"assignment rule for {var!r}", {})
        vals = self._initial_values()
        self.values = vals  # every symbol's value at t = 0 (events read the constants here)
        self.taken = (set(self.species) | set(self.compartments) | set(self.params) | set(self.stoich)
                      | {self.time_name})
        self.local_values = {}
        self.used = set()  # names the kept rate laws depend on
        # states: mass action never takes one of them for a rate constant
        self.floating = ({sid for sid, (_, fixed) in self.species.items() if not fixed}
                         | set(self.rate_rules) | self.event_targets | {self.time_name})
        reactions = []
        for i in range(self.m.getNumReactions()):
            reactions += self._reaction(self.m.getReaction(i))
        floating = [sid for sid, (_, fixed) in self.species.items() if not fixed]
        for var, ast in self.rate_rules.items():  # d var/dt = rule: a state with an inflow "reaction"
            rate = ast if isinstance(ast, sp.Expr) else _num(self.expr(ast, f"rate rule for {var!r}"))
            if var in self.species and self.species[var][0].getHasOnlySubstanceUnits():
                rate = rate / _sym(self.species[var][0].getCompartment())  # d amount/dt -> dc/dt
            self.used |= {x.name for x in rate.free_symbols}
            reactions.append(Reaction({}, {var: 1}, "expression", {"rate": rate}, f"rate rule for {var}",
                                      continuous=True))
            if var not in floating:
                floating.append(var)
            if var in self.compartments:
                reactions += self._dilution(var, rate)
        if self.time_name in self.used:  # time: a state with d time/dt = 1, time(0) = 0
            reactions.append(Reaction({}, {self.time_name: 1}, "mass_action", {"k": 1.0}, "time", continuous=True))
            floating.append(self.time_name)
        for var in sorted(self.event_targets - set(floating), key=self._document_order):
            # constant between events: a state with a zero-rate "reaction"
            reactions.append(Reaction({}, {var: 1}, "expression", {"rate": sp.Integer(0)}, f"hold {var}"))
            floating.append(var)
        if not reactions:  # nothing changes: the states hold still (or only time runs)
            if floating:
                reactions.append(Reaction({}, {floating[0]: 1}, "expression",
                                          {"rate": sp.Integer(0)}, f"hold {floating[0]}"))
            else:
                reactions.append(Reaction({}, {self.time_name: 1}, "mass_action", {"k": 1.0}, "time"))
                floating.append(self.time_name)
        for sid in floating:
            if sid not in self.species:
                if sid not in vals:
                    self.fail(f"{'compartment' if sid in self.compartments else 'parameter'} "
                              f"{sid!r} (rate rule or event target) has no value")
                continue
            if sid not in vals:
                self.fail(f"species {sid!r} has no initial amount or concentration")
            comp = self.species[sid][0].getCompartment()
            if not vals.get(comp, 0.0) > 0.0:
                self.fail(f"species {sid!r}: compartment {comp!r} needs a size > 0 "
                          f"(got {vals.get(comp, 'none')})")
        species = [Species(sid, float(vals[sid])) for sid in floating]
        if any(rx.law == "expression" and isinstance(rx.params["rate"], sp.Expr)
               and rx.params["rate"].has(RATE_OF) for rx in reactions):
            reactions = self._resolve_reactions(species, reactions, floating, vals)
        self.net = self._assemble(species, reactions, floating, vals)
        for var in self.assign:  # a rateOf in any rule is resolved (or refused) now, used or not
            self.resolve(self._name(var, f"assignment rule for {var!r}", {}), f"assignment rule for {var!r}")
        if self.delay_terms and not self.with_events:
            self.unsupported(f"delay in the math of {self.delay_where['first']} (a Network has "
                             f"no solution history: load_sbml_model simulates delays)")
        return self.net

    def _assemble(self, species, reactions, floating, vals) -> Network:
        params = {}
        for name in sorted(self.used - set(floating)):
            if name in self.delay_terms:
                params[name] = float("nan")  # set by the simulation at every call (sbml_delay.py)
            elif name in self.local_values:
                params[name] = self.local_values[name]
            elif name in vals:
                params[name] = float(vals[name])
            else:
                kind = ("species" if name in self.species else
                        "compartment" if name in self.compartments else "parameter")
                self.fail(f"{kind} {name!r} is used in a kinetic law but has no value")
        try:
            return Network(species, reactions, params)
        except ConfigError as err:
            self.fail(str(err))
