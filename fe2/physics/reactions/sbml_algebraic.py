"""SBML algebraic rules ``0 = g(x, z)`` solved explicitly for the variables they determine.

The variables an algebraic rule can determine are those nothing else does: non-constant
parameters, compartments and species that no assignment or rate rule, event or reaction (as a
non-boundary reactant or product) sets. When the model's algebraic rules name exactly as many
such variables as there are rules and sympy's ``solve`` finds exactly one solution ``z = h(x)``
for all of them, each becomes an assignment rule ``z := h`` (a species' value in math: its
amount ``c V`` when ``hasOnlySubstanceUnits``, else its concentration; a compartment size goes
the way of the importer's size rules, ``V' = dh/dt``, refused unless ``h`` reads only time and
constants), so the system stays an ODE (an index-1 DAE with an explicit algebraic part).
Anything else is refused in one line: no unique explicit solution, rules naming more or fewer
free variables than there are rules. The solution is checked by substituting it back (residual
0 after simplification).
"""

from __future__ import annotations

import sympy as sp

from fe2.physics.reactions.sbml_math import RATE_OF, _num, _sym


def solve_algebraic_rules(imp) -> None:
    """Turn the algebraic rules of ``imp`` (an ``_Importer`` after its tables) into
    assignment rules in ``imp.assign`` / ``imp._rule_cache``, or refuse.
    """
    m = imp.m
    rules = [m.getRule(i) for i in range(m.getNumRules())
             if m.getRule(i).isAlgebraic() and m.getRule(i).isSetMath()]
    if not rules:
        return
    where = ", ".join(r.getId() or f"rule {i}" for i, r in enumerate(rules))
    changed = set()  # species that reactions change
    for i in range(m.getNumReactions()):
        rx = m.getReaction(i)
        for sr in [*map(rx.getReactant, range(rx.getNumReactants())),
                   *map(rx.getProduct, range(rx.getNumProducts()))]:
            s = m.getSpecies(sr.getSpecies())
            if s is not None and not s.getBoundaryCondition():
                changed.add(s.getId())
    eqs = [_num(imp.expr(r.getMath(), f"algebraic rule {r.getId() or i!r}")) for i, r in enumerate(rules)]
    if any(e.has(RATE_OF) for e in eqs):
        imp.unsupported("rateOf in an algebraic rule", where)
    free = sorted({x.name for e in eqs for x in e.free_symbols})
    unknowns = []
    for name in free:
        if name == imp.time_name or name in imp.assign or name in imp.rate_rules or name in imp.event_targets:
            continue
        if name in imp.species:
            if not imp.species[name][0].getConstant() and name not in changed:
                unknowns.append(name)
        elif name in imp.params:
            if not imp.params[name].getConstant():
                unknowns.append(name)
        elif name in imp.compartments and not imp.compartments[name].getConstant():
            unknowns.append(name)  # a size: handled like an assignment rule for it
    if len(unknowns) != len(eqs):
        imp.unsupported(f"algebraic rules with {len(eqs)} equation(s) in {len(unknowns)} free "
                        f"variable(s)", where)
    syms = [_sym(n) for n in unknowns]
    try:
        sols = sp.solve(eqs, syms, dict=True)
    except (NotImplementedError, ValueError, TypeError):
        sols = []
    if len(sols) != 1 or set(sols[0]) != set(syms) or any(
            v.free_symbols & set(syms) for v in sols[0].values()):
        imp.unsupported(f"algebraic rule without one explicit solution for "
                        f"{', '.join(unknowns)}", where)
    sol = sols[0]
    if any(sp.simplify(e.xreplace(sol)) != 0 for e in eqs):
        imp.unsupported("algebraic rule whose solution does not satisfy it", where)
    for name, z in zip(unknowns, syms, strict=True):
        value = sol[z]
        if name in imp.compartments:
            imp.volume_exprs[name] = value  # V = h(time, constants), else refused there
            continue
        if name in imp.species:
            s = imp.species[name][0]
            if s.getHasOnlySubstanceUnits():
                value = value * _sym(s.getCompartment())  # the value in math: an amount
            imp.species[name] = (s, True)  # determined: reactions do not change it
        imp.assign[name] = None  # an assignment rule with its translation already cached
        imp._rule_cache[name] = value
