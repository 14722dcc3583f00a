"""SBML reactions -> fe2 reactions (the importer's part that reads ``<reaction>``).

A reaction whose floating species lie in one compartment ``V`` and have positive integer
stoichiometries, none with a conversion factor, becomes one fe2 reaction of rate
``kineticLaw / V`` (``mass_action`` when that is exactly ``k prod(R^nu)`` (minus ``k_r
prod(P^mu)``), else ``expression``). Any other enters species by species: one ``expression``
"reaction" ``-> S_i`` of rate ``cf_i nu_i kineticLaw / V_i`` per floating species, which is the
SBML amount balance ``d n_i/dt = cf_i nu_i law`` in concentrations. A compartment with a rate
rule ``dV/dt = g`` keeps its species' amounts: each concentration gets ``-c g / V``
(:meth:`ReactionsMixin._dilution`).
"""

from __future__ import annotations

from typing import NoReturn

import libsbml
import sympy as sp

from fe2.physics.reactions.network import Reaction
from fe2.physics.reactions.sbml_math import _num, _sym


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


class ReactionsMixin:
    """Reaction translation; the importer provides the tables and the math translation."""

    m: libsbml.Model
    species: dict[str, tuple[libsbml.Species, bool]]
    rate_rules: dict[str, libsbml.ASTNode]
    assign: dict[str, libsbml.ASTNode]
    event_targets: set[str]
    dynamic_refs: set[str]
    taken: set[str]
    local_values: dict[str, float]
    used: set[str]
    floating: set[str]

    def fail(self, msg: str) -> NoReturn:
        raise NotImplementedError

    def unsupported(self, what: str, elem_id: str = "") -> NoReturn:
        raise NotImplementedError

    def expr(self, ast, where: str, local: dict[str, sp.Expr] | None = None) -> sp.Expr:
        raise NotImplementedError

    def _name(self, name: str, where: str, local: dict[str, sp.Expr]) -> sp.Expr:
        raise NotImplementedError

    # -- reactions --------------------------------------------------------------------------
    def _reaction(self, r: libsbml.Reaction) -> list[Reaction]:
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
        net: dict[str, sp.Expr] = {}  # floating species -> net stoichiometry (number or math)
        split = False  # True: one "reaction" per species, its stoichiometry in the rate
        comps = set()
        for side, getn, get in ((0, r.getNumReactants, r.getReactant), (1, r.getNumProducts, r.getProduct)):
            for i in range(getn()):
                sr = get(i)
                sid = sr.getSpecies()
                if sid not in self.species:
                    self.fail(f"{where}: unknown species {sid!r}")
                variable = sr.isSetId() and sr.getId() in self.dynamic_refs
                smath = hasattr(sr, "isSetStoichiometryMath") and sr.isSetStoichiometryMath()
                if not smath and not variable and self.m.getLevel() >= 3 and not sr.isSetStoichiometry():
                    self.fail(f"{where}: the stoichiometry of {sid!r} is not set")
                if self.species[sid][1]:
                    continue  # boundary / constant / rule-determined: not changed by reactions
                if smath:
                    nu = _num(self.expr(sr.getStoichiometryMath().getMath(), f"stoichiometryMath in {where}"))
                elif variable:
                    nu = self._name(sr.getId(), where, {})
                else:
                    v = sr.getStoichiometry()
                    nu = sp.Integer(int(v)) if float(v).is_integer() else sp.Float(v)
                if nu == 0:
                    continue
                if sid in self.rate_rules:
                    self.unsupported(f"rate rule for a species that {where} also changes", sid)
                split |= not (nu.is_Integer and nu > 0) or self._conversion(sid) is not None
                if nu.is_Integer:
                    sides[side][sid] = sides[side].get(sid, 0) + int(nu)
                net[sid] = net.get(sid, sp.Integer(0)) + (nu if side else -nu)
                comps.add(self.species[sid][0].getCompartment())
        if not net:
            return []
        law = _num(self.expr(kl.getMath(), where, local))
        if split or len(comps) > 1:  # amounts: d n_i/dt = cf_i nu_i law; states n_i / V_i
            out = []
            for sid, nu in net.items():
                cf = self._conversion(sid)
                rate = nu * (cf if cf is not None else 1) * law / _sym(self.species[sid][0].getCompartment())
                self.used |= {x.name for x in rate.free_symbols}
                # one species' share of a reaction (transport, non-integer or variable stoichiometry,
                # conversion factors): a rate equation, not an event of the reaction (ODE-only)
                out.append(Reaction({}, {sid: 1}, "expression", {"rate": rate}, f"{rid} ({sid})", continuous=True))
            return out
        rate = law / _sym(comps.pop())
        self.used |= {x.name for x in rate.free_symbols}
        ma = _mass_action(rate, *sides, self.floating)
        if ma is not None:
            return [Reaction(sides[0], sides[1], "mass_action", ma, rid)]
        return [Reaction(sides[0], sides[1], "expression", {"rate": rate}, rid)]

    def _dilution(self, comp: str, growth: sp.Expr) -> list[Reaction]:
        """A compartment with the rate rule ``dV/dt = growth`` keeps the amounts of its species:
        each concentration state gets ``dc/dt += -c growth / V``. Its boundary or constant
        species (fixed amounts, so their concentrations would move) are refused.
        """
        out = []
        for sid, (s, fixed) in self.species.items():
            if s.getCompartment() != comp:
                continue
            if sid in self.rate_rules and not s.getHasOnlySubstanceUnits():
                continue  # the rule gives dc/dt itself
            if fixed and sid not in self.event_targets and sid not in self.rate_rules:
                if sid in self.assign:
                    continue  # the rule gives its value
                self.unsupported(f"rate rule for compartment {comp!r}, which holds the boundary "
                                 f"or constant species {sid!r}", comp)
            out.append(Reaction({}, {sid: 1}, "expression", {"rate": -_sym(sid) * growth / _sym(comp)},
                                f"dilution of {sid}", continuous=True))
        return out

    def _conversion(self, sid: str) -> sp.Expr | None:
        """The conversion factor of species ``sid`` (its own, else the model's), or None."""
        s = self.species[sid][0]
        cf = (s.getConversionFactor() if s.isSetConversionFactor() else
              self.m.getConversionFactor() if self.m.isSetConversionFactor() else None)
        return None if cf is None else self._name(cf, f"conversion factor of {sid!r}", {})
