"""Shared fixtures of the reaction tests: a small SBML Level 3 document for the importer's tests (one
compartment C (size 2), species, parameters, irreversible reactions with L3 formulas, assignment and
algebraic rules) and a two-species `fe2 reactions` config run with Rodas4."""

from __future__ import annotations

from collections.abc import Sequence

import libsbml


def one_compartment_doc(
    species: Sequence[tuple[str, float, bool]] = (("A", 1.0, False), ("B", 0.0, False)),
    params: Sequence[tuple[str, float, bool]] = (("k", 1.0, True),),
    reactions: Sequence[tuple[str, str, str, str]] = (("decay", "A", "", "k * A * C"),),
    rules: Sequence[tuple[str, str]] = (),
    algebraic: Sequence[str] = (),
) -> libsbml.SBMLDocument:
    """species (id, initial concentration, hasOnlySubstanceUnits); params (id, value, constant);
    reactions (id, reactant or "", product or "", law), stoichiometry 1; rules (variable, formula)
    as assignment rules; algebraic rule formulas."""
    doc = libsbml.SBMLDocument(3, 2)
    m = doc.createModel()
    m.setId("m")
    c = m.createCompartment()
    c.setId("C"), c.setSize(2.0), c.setConstant(True), c.setSpatialDimensions(3)
    for sid, c0, hosu in species:
        s = m.createSpecies()
        s.setId(sid), s.setCompartment("C"), s.setInitialConcentration(c0)
        s.setHasOnlySubstanceUnits(hosu), s.setBoundaryCondition(False), s.setConstant(False)
    for pid, v, const in params:
        p = m.createParameter()
        p.setId(pid), p.setValue(v), p.setConstant(const)
    for rid, reac, prod, law in reactions:
        r = m.createReaction()
        r.setId(rid), r.setReversible(False)
        for sid, create in ((reac, r.createReactant), (prod, r.createProduct)):
            if sid:
                sr = create()
                sr.setSpecies(sid), sr.setStoichiometry(1), sr.setConstant(True)
        r.createKineticLaw().setMath(libsbml.parseL3Formula(law))
    for var, formula in rules:
        rule = m.createAssignmentRule()
        rule.setVariable(var), rule.setMath(libsbml.parseL3Formula(formula))
    for formula in algebraic:
        m.createAlgebraicRule().setMath(libsbml.parseL3Formula(formula))
    return doc


#: a two-species exchange A <-> B run by `fe2 reactions` with Rodas4 (format: backend)
RODAS4_ONE_NODE = """mode = "well_mixed"
[network.species]
A = 1.0
B = 0.0
[network.parameters]
k = 3.0
kr = 1.0
[[network.reactions]]
equation = "A <-> B"
k = "k"
k_reverse = "kr"
[well_mixed]
method = "rodas4"
backend = "{backend}"
t_end = 0.5
n_out = 3
rtol = 1e-8
atol = 1e-12
"""
