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
  into every law that uses them; initial assignments are evaluated once;
* ``piecewise``, relational and logical operators, ``min``/``max``, ``exp``/``ln``/``log``/
  ``root``/``abs``/``floor``/``ceiling`` and trigonometric functions are translated to sympy.

Everything else the integrators could not honour raises a one-line
:class:`~fe2.errors.ConfigError` naming the construct and the element id: events, rate rules,
algebraic rules, assignment rules for compartments, ``delay``, ``rateOf``, the ``time``
symbol, fast reactions, conversion factors, non-integer or variable stoichiometry, reactions
without a kinetic law, reactions whose species lie in different compartments, required SBML
packages (``comp``, ``fbc`` with ``required="true"`` ...), and invalid SBML. Reactions that
change no floating species are dropped (they cannot affect the state). Constraints are
ignored (they assert, never change, the trajectory).
"""

from __future__ import annotations

import itertools
import math
import re
from pathlib import Path
from typing import NoReturn

import libsbml
import sympy as sp

from fe2.errors import ConfigError
from fe2.physics.reactions.network import _RESERVED, Network, Reaction, Species

AVOGADRO = 6.02214076e23  # SBML L3 csymbol avogadro, 1/mol
_AST_NAMES = {getattr(libsbml, n): n[4:].lower() for n in dir(libsbml) if n.startswith("AST_")}
_UNARY = {
    libsbml.AST_FUNCTION_EXP: sp.exp, libsbml.AST_FUNCTION_LN: sp.log,
    libsbml.AST_FUNCTION_ABS: sp.Abs, libsbml.AST_FUNCTION_FLOOR: sp.floor,
    libsbml.AST_FUNCTION_CEILING: sp.ceiling, libsbml.AST_FUNCTION_SIN: sp.sin,
    libsbml.AST_FUNCTION_COS: sp.cos, libsbml.AST_FUNCTION_TAN: sp.tan,
    libsbml.AST_FUNCTION_SEC: sp.sec, libsbml.AST_FUNCTION_CSC: sp.csc,
    libsbml.AST_FUNCTION_COT: sp.cot, libsbml.AST_FUNCTION_SINH: sp.sinh,
    libsbml.AST_FUNCTION_COSH: sp.cosh, libsbml.AST_FUNCTION_TANH: sp.tanh,
    libsbml.AST_FUNCTION_ARCSIN: sp.asin, libsbml.AST_FUNCTION_ARCCOS: sp.acos,
    libsbml.AST_FUNCTION_ARCTAN: sp.atan, libsbml.AST_FUNCTION_ARCSINH: sp.asinh,
    libsbml.AST_FUNCTION_ARCCOSH: sp.acosh, libsbml.AST_FUNCTION_ARCTANH: sp.atanh,
    libsbml.AST_LOGICAL_NOT: sp.Not,
}
_RELATIONS = {
    libsbml.AST_RELATIONAL_EQ: sp.Eq, libsbml.AST_RELATIONAL_NEQ: sp.Ne,
    libsbml.AST_RELATIONAL_LT: sp.Lt, libsbml.AST_RELATIONAL_LEQ: sp.Le,
    libsbml.AST_RELATIONAL_GT: sp.Gt, libsbml.AST_RELATIONAL_GEQ: sp.Ge,
}
_LOGICAL = {libsbml.AST_LOGICAL_AND: sp.And, libsbml.AST_LOGICAL_OR: sp.Or,
            libsbml.AST_LOGICAL_XOR: sp.Xor}
_FORBIDDEN = {
    libsbml.AST_NAME_TIME: "the time symbol (fe2's integrators are autonomous)",
    libsbml.AST_FUNCTION_DELAY: "delay",
    libsbml.AST_FUNCTION_RATE_OF: "rateOf",
}


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
    known to libsbml or not, except those in ``_IGNORED_PACKAGES``."""
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


def _sym(name: str) -> sp.Symbol:
    return sp.Symbol(name, real=True)


def _mass_action(rate: sp.Expr, reactants: dict[str, int], products: dict[str, int],
                 state: set[str]) -> dict | None:
    """``{"k": .., ["k_reverse": ..]}`` when ``rate`` is exactly ``k prod(R^nu)`` (minus
    ``k_r prod(P^mu)``) with ``k``, ``k_r`` a parameter (not one of the floating species
    ``state``) or a positive number; else None.
    The ODEs are the same either way; mass action keeps the law readable and gives the SSA
    its combinatorial propensities.
    """
    species = [_sym(n) for n in {*reactants, *products}]

    def rate_constant(c):
        if isinstance(c, sp.Symbol):
            return c.name if c.name not in state else None
        if c.is_Number and c > 0:
            return float(c)
        return None

    fwd = sp.Mul(*[_sym(n) ** nu for n, nu in reactants.items()])
    rev = sp.Mul(*[_sym(n) ** nu for n, nu in products.items()])
    out = {}
    terms = sp.Add.make_args(sp.expand(rate))
    if len(terms) > 2:
        return None
    for term in terms:
        c, mono = term.as_independent(*species, as_Add=False)
        if mono == fwd and "k" not in out and (k := rate_constant(c)) is not None:
            out["k"] = k
        elif mono == rev and "k_reverse" not in out and (k := rate_constant(-c)) is not None:
            out["k_reverse"] = k
        else:
            return None
    return out if "k" in out else None


class _Importer:
    """One SBML document -> one Network. Raises ConfigError('<source>: <problem>')."""

    # set by _check_model
    assign: dict[str, libsbml.ASTNode]
    species: dict[str, tuple[libsbml.Species, bool]]
    compartments: dict[str, libsbml.Compartment]
    params: dict[str, libsbml.Parameter]
    # set by network
    taken: set[str]
    local_values: dict[str, float]
    used: set[str]
    floating: set[str]

    def __init__(self, doc: libsbml.SBMLDocument, source: str):
        self.src = source
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
        self._expanding: list[str] = []

    def fail(self, msg: str) -> NoReturn:
        raise ConfigError(f"{self.src}: {msg}")

    def unsupported(self, what: str, elem_id: str = "") -> NoReturn:
        self.fail(f"unsupported SBML construct: {what}" + (f" ({elem_id!r})" if elem_id else ""))

    # -- model-level checks and tables --------------------------------------------------------
    def _check_model(self) -> None:
        m = self.m
        if m.getNumEvents():
            e = m.getEvent(0)
            self.unsupported("event", e.getId() or e.getName() or "event 0")
        if m.isSetConversionFactor():
            self.unsupported("model conversionFactor", m.getConversionFactor())
        self.assign = {}
        for i in range(m.getNumRules()):
            r = m.getRule(i)
            var = r.getVariable() if not r.isAlgebraic() else ""
            if r.isAlgebraic():
                self.unsupported("algebraic rule", r.getId() or f"rule {i}")
            if r.isRate():
                self.unsupported("rate rule", var)
            if m.getCompartment(var) is not None:
                self.unsupported("assignment rule for a compartment (variable volume)", var)
            if m.getSpecies(var) is None and m.getParameter(var) is None:
                self.unsupported("assignment rule for a species reference or reaction", var)
            if not r.isSetMath():
                self.fail(f"assignment rule for {var!r} has no math")
            self.assign[var] = r.getMath()
        self.species = {}
        for i in range(m.getNumSpecies()):
            s = m.getSpecies(i)
            if s.isSetConversionFactor():
                self.unsupported("species conversionFactor", s.getId())
            fixed = s.getBoundaryCondition() or s.getConstant() or s.getId() in self.assign
            self.species[s.getId()] = (s, fixed)
        self.compartments = {m.getCompartment(i).getId(): m.getCompartment(i)
                             for i in range(m.getNumCompartments())}
        self.params = {m.getParameter(i).getId(): m.getParameter(i) for i in range(m.getNumParameters())}
        for name in [*self.species, *self.compartments, *self.params]:
            if name in _RESERVED:
                self.fail(f"id {name!r} clashes with a name fe2 reserves ({', '.join(sorted(_RESERVED))})")

    # -- math -----------------------------------------------------------------------------------
    def expr(self, ast: libsbml.ASTNode, where: str, local: dict[str, sp.Expr] | None = None) -> sp.Expr:
        """SBML math -> sympy, in the symbol space of the network (see the module docstring)."""
        local = local or {}
        t = ast.getType()
        kids = [ast.getChild(i) for i in range(ast.getNumChildren())]
        # a function call's arguments are translated by _call (in the caller's scope): sub is unused there
        sub: list[sp.Expr] = [self.expr(k, where, local) for k in kids] if t != libsbml.AST_FUNCTION else []
        if t == libsbml.AST_NAME:
            return self._name(ast.getName(), where, local)
        if t == libsbml.AST_INTEGER:
            return sp.Integer(ast.getInteger())
        if t == libsbml.AST_RATIONAL:
            return sp.Rational(ast.getNumerator(), ast.getDenominator())
        if t in (libsbml.AST_REAL, libsbml.AST_REAL_E):
            v = ast.getReal()
            if not math.isfinite(v):
                self.fail(f"{where}: non-finite number {v} in the math")
            return sp.Integer(int(v)) if float(v).is_integer() and abs(v) < 2**53 else sp.Float(v)
        if t == libsbml.AST_NAME_AVOGADRO:
            return sp.Float(AVOGADRO)
        if t == libsbml.AST_CONSTANT_E:
            return sp.E
        if t == libsbml.AST_CONSTANT_PI:
            return sp.pi
        if t in (libsbml.AST_CONSTANT_TRUE, libsbml.AST_CONSTANT_FALSE):
            return sp.true if t == libsbml.AST_CONSTANT_TRUE else sp.false
        if t == libsbml.AST_PLUS:
            return sp.Add(*sub)
        if t == libsbml.AST_MINUS:
            return -sub[0] if len(sub) == 1 else sub[0] - sub[1]
        if t == libsbml.AST_TIMES:
            return sp.Mul(*sub)
        if t == libsbml.AST_DIVIDE:
            return sub[0] / sub[1]
        if t in (libsbml.AST_POWER, libsbml.AST_FUNCTION_POWER):
            return sub[0] ** sub[1]
        if t == libsbml.AST_FUNCTION_ROOT:
            return sp.sqrt(sub[0]) if len(sub) == 1 else sub[1] ** (1 / sub[0])
        if t == libsbml.AST_FUNCTION_LOG:
            return sp.log(sub[0], 10) if len(sub) == 1 else sp.log(sub[1], sub[0])
        if t in _UNARY and len(sub) == 1:
            return _UNARY[t](sub[0])
        if t in (libsbml.AST_FUNCTION_MAX, libsbml.AST_FUNCTION_MIN):
            return (sp.Max if t == libsbml.AST_FUNCTION_MAX else sp.Min)(*sub)
        if t in _RELATIONS:
            rel = _RELATIONS[t]
            return sp.And(*[rel(a, b) for a, b in itertools.pairwise(sub)])
        if t in _LOGICAL:
            return _LOGICAL[t](*sub)
        if t == libsbml.AST_FUNCTION_PIECEWISE:
            pairs = [(sub[i], sub[i + 1]) for i in range(0, len(sub) - 1, 2)]
            if len(sub) % 2 == 0:  # undefined where no piece applies: would integrate NaN silently
                raise ConfigError(f"{where}: a piecewise without an <otherwise> branch is not supported")
            return sp.Piecewise(*pairs, (sub[-1], True))
        if t == libsbml.AST_FUNCTION:
            return self._call(ast, kids, where, local)
        if t in _FORBIDDEN:
            self.unsupported(f"{_FORBIDDEN[t]} in the math of {where}")
        self.unsupported(f"MathML operator {ast.getName() or _AST_NAMES.get(t, t)!r} in the math of {where}")

    def _call(self, ast, kids, where, local) -> sp.Expr:
        fname = ast.getName()
        fd = self.m.getFunctionDefinition(fname)
        if fd is None or not fd.isSetMath():
            self.fail(f"{where}: unknown function {fname!r}")
        if fd.getNumArguments() != len(kids):
            self.fail(f"{where}: function {fname!r} takes {fd.getNumArguments()} arguments, "
                      f"got {len(kids)}")
        if fname in self._expanding:
            self.fail(f"{where}: function {fname!r} calls itself")
        args = {fd.getArgument(i).getName(): self.expr(kids[i], where, local) for i in range(len(kids))}
        self._expanding.append(fname)
        try:
            return self.expr(fd.getBody(), f"function {fname!r} (called from {where})", args)
        finally:
            self._expanding.pop()

    def _name(self, name: str, where: str, local: dict[str, sp.Expr]) -> sp.Expr:
        if name in local:
            return local[name]
        if name in self.assign:
            if name not in self._rule_cache:
                if name in self._expanding:
                    self.fail(f"assignment rules for {name!r} form a cycle")
                self._expanding.append(name)
                try:
                    self._rule_cache[name] = self.expr(self.assign[name], f"assignment rule for {name!r}")
                finally:
                    self._expanding.pop()
            return self._rule_cache[name]
        if name in self.species:
            s, _ = self.species[name]
            c = _sym(name)
            return c * _sym(s.getCompartment()) if s.getHasOnlySubstanceUnits() else c
        if name in self.compartments or name in self.params:
            return _sym(name)
        if self.m.getReaction(name) is not None:
            self.unsupported(f"reaction id used as a value in the math of {where}", name)
        if self.m.getElementBySId(name) is not None:
            self.unsupported(f"species-reference (or other element) id used as a value in the math "
                             f"of {where}", name)
        self.fail(f"{where}: unknown identifier {name!r}")

    # -- values at t = 0 --------------------------------------------------------------------
    def _initial_values(self) -> dict[str, float]:
        """Initial value of every symbol: sizes, parameter values, species concentrations."""
        m = self.m
        vals: dict[str, float] = {}
        ia = {m.getInitialAssignment(i).getSymbol(): m.getInitialAssignment(i)
              for i in range(m.getNumInitialAssignments())}
        for sid in ia.keys():
            if sid not in self.species and sid not in self.compartments and sid not in self.params:
                self.unsupported("initial assignment to a species reference (stoichiometry)", sid)
        for cid, c in self.compartments.items():
            if cid not in ia and c.isSetSize():
                vals[cid] = c.getSize()
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
        pending_ia = {sid: self.expr(a.getMath(), f"initial assignment for {sid!r}")
                      for sid, a in ia.items() if a.isSetMath()}
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

    # -- reactions --------------------------------------------------------------------------
    def _reaction(self, r: libsbml.Reaction) -> Reaction | None:
        rid = r.getId()
        where = f"reaction {rid!r}"
        if r.isSetFast() and r.getFast():
            self.unsupported("fast reaction", rid)
        kl = r.getKineticLaw()
        if kl is None or not kl.isSetMath():
            self.fail(f"{where} has no kinetic law")
        local = {}
        for i in range(kl.getNumParameters()):
            lp = kl.getParameter(i)
            name = f"{rid}_{lp.getId()}"
            while name in self.taken:
                name += "_"
            if not lp.isSetValue():
                self.fail(f"{where}: local parameter {lp.getId()!r} has no value")
            self.taken.add(name)
            self.local_values[name] = lp.getValue()
            local[lp.getId()] = _sym(name)
        sides: tuple[dict[str, int], dict[str, int]] = ({}, {})
        comps = set()
        for side, getn, get in ((0, r.getNumReactants, r.getReactant), (1, r.getNumProducts, r.getProduct)):
            for i in range(getn()):
                sr = get(i)
                sid = sr.getSpecies()
                if sid not in self.species:
                    self.fail(f"{where}: unknown species {sid!r}")
                if sr.isSetId() and (sr.getId() in self.assign or any(
                        self.m.getInitialAssignment(j).getSymbol() == sr.getId()
                        for j in range(self.m.getNumInitialAssignments()))):
                    self.unsupported(f"variable stoichiometry in {where}", sr.getId())
                if hasattr(sr, "isSetStoichiometryMath") and sr.isSetStoichiometryMath():
                    self.unsupported(f"stoichiometryMath in {where}", sid)
                if self.m.getLevel() >= 3 and not sr.isSetStoichiometry():
                    self.fail(f"{where}: the stoichiometry of {sid!r} is not set")
                nu = sr.getStoichiometry()
                if self.species[sid][1]:
                    continue  # boundary / constant / rule-determined: not changed by reactions
                if abs(nu - round(nu)) > 1e-12 or nu < 0:
                    self.unsupported(f"non-integer stoichiometry {nu:g} of {sid!r} in {where}")
                if round(nu):
                    sides[side][sid] = sides[side].get(sid, 0) + int(round(nu))
                comps.add(self.species[sid][0].getCompartment())
        if not comps:
            return None
        if len(comps) > 1:
            self.unsupported(f"reaction between compartments {', '.join(sorted(comps))} (transport "
                             f"across compartments)", rid)
        rate = self.expr(kl.getMath(), where, local) / _sym(comps.pop())
        self.used |= {x.name for x in rate.free_symbols}
        ma = _mass_action(rate, *sides, self.floating)
        if ma is not None:
            return Reaction(sides[0], sides[1], "mass_action", ma, rid)
        return Reaction(sides[0], sides[1], "expression", {"rate": rate}, rid)

    # -- assemble ---------------------------------------------------------------------------
    def network(self) -> Network:
        self._check_model()
        vals = self._initial_values()
        self.taken = set(self.species) | set(self.compartments) | set(self.params)
        self.local_values = {}
        self.used = set()  # names the kept rate laws depend on
        self.floating = {sid for sid, (_, fixed) in self.species.items() if not fixed}
        reactions = []
        for i in range(self.m.getNumReactions()):
            rx = self._reaction(self.m.getReaction(i))
            if rx is not None:
                reactions.append(rx)
        if not reactions:
            self.fail("the model has no reaction that changes a floating species")
        floating = [sid for sid, (_, fixed) in self.species.items() if not fixed]
        for sid in floating:
            if sid not in vals:
                self.fail(f"species {sid!r} has no initial amount or concentration")
            comp = self.species[sid][0].getCompartment()
            if not vals.get(comp, 0.0) > 0.0:
                self.fail(f"species {sid!r}: compartment {comp!r} needs a size > 0 "
                          f"(got {vals.get(comp, 'none')})")
        species = [Species(sid, float(vals[sid])) for sid in floating]
        params = {}
        for name in sorted(self.used - set(floating)):
            if name in self.local_values:
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
