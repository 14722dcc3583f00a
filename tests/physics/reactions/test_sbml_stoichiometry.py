"""SBML reactions that fe2 integrates species by species (sbml.py, ``_reaction`` "split"):
transport between compartments, non-integer and variable stoichiometry, conversion factors.

Each model is ``A -> nu B`` with the kinetic law ``k A V_A`` (an extent, amount / time), k = 1,
A(0) = 1, B(0) = 0, so A = exp(-t) and B has a closed form. The BDF reference at rtol 1e-10 /
atol 1e-12 integrates these to ~1e-9; every value is checked to 1e-7 (values are O(1)): a
wrong stoichiometry, volume or factor is off by O(1).
"""

from __future__ import annotations

import libsbml
import numpy as np
import pytest

from fe2.physics.reactions import solve_ivp_reference
from fe2.physics.reactions.sbml import network_from_sbml_string

pytestmark = pytest.mark.serial  # pure numpy per process

TOL = 1e-7
T = np.linspace(0.0, 3.0, 31)


def _model(*, v_a=1.0, v_b=1.0, nu=1.0, nu_id="", cf_b=None, cf_model=None, edit=None) -> str:
    doc = libsbml.SBMLDocument(3, 2)
    m = doc.createModel()
    m.setId("m")
    for cid, v in (("CA", v_a), ("CB", v_b)):
        c = m.createCompartment()
        c.setId(cid), c.setSize(v), c.setConstant(True), c.setSpatialDimensions(3)
    for sid, comp, c0 in (("A", "CA", 1.0), ("B", "CB", 0.0)):
        s = m.createSpecies()
        s.setId(sid), s.setCompartment(comp), s.setInitialConcentration(c0)
        s.setHasOnlySubstanceUnits(False), s.setBoundaryCondition(False), s.setConstant(False)
    params = {"k": 1.0, **({"cfB": cf_b} if cf_b is not None else {}),
              **({"cfM": cf_model} if cf_model is not None else {})}
    for pid, v in params.items():
        p = m.createParameter()
        p.setId(pid), p.setValue(v), p.setConstant(True)
    if cf_b is not None:
        m.getSpecies("B").setConversionFactor("cfB")
    if cf_model is not None:
        m.setConversionFactor("cfM")
    r = m.createReaction()
    r.setId("R"), r.setReversible(False)
    sr = r.createReactant()
    sr.setSpecies("A"), sr.setStoichiometry(1), sr.setConstant(True)
    sr = r.createProduct()
    sr.setSpecies("B"), sr.setStoichiometry(nu), sr.setConstant(not nu_id)
    if nu_id:
        sr.setId(nu_id)
    r.createKineticLaw().setMath(libsbml.parseL3Formula("k * A * CA"))
    if edit is not None:
        edit(m)
    return libsbml.writeSBMLToString(doc)


def _solve(xml):
    net = network_from_sbml_string(xml)
    c = solve_ivp_reference(net, net.initial, (T[0], T[-1]), rtol=1e-10, atol=1e-12, t_eval=T).c_eval
    return {n: c[:, i] for i, n in enumerate(net.species_names)}


def test_transport_between_compartments_keeps_amounts():
    # amounts: n_A' = -k A V_A, n_B' = +k A V_A; so B = (V_A / V_B)(1 - e^-t)
    c = _solve(_model(v_a=2.0, v_b=0.5))
    assert np.max(np.abs(c["A"] - np.exp(-T))) < TOL
    assert np.max(np.abs(c["B"] - 4.0 * (1 - np.exp(-T)))) < TOL
    assert np.max(np.abs(2.0 * c["A"] + 0.5 * c["B"] - 2.0)) < TOL  # total amount


def test_non_integer_stoichiometry():
    c = _solve(_model(nu=0.5))
    assert np.max(np.abs(c["B"] - 0.5 * (1 - np.exp(-T)))) < TOL


@pytest.mark.parametrize("cf_b, cf_model, factor", [(2.0, None, 2.0), (None, 3.0, 3.0),
                                                          (2.0, 3.0, 2.0)])
def test_conversion_factors(cf_b, cf_model, factor):
    # a species' own factor wins over the model's; A takes the model's (or none)
    c = _solve(_model(cf_b=cf_b, cf_model=cf_model))
    fa = cf_model if cf_model is not None else 1.0
    assert np.max(np.abs(c["A"] - np.exp(-fa * T))) < TOL
    assert np.max(np.abs(c["B"] - factor / fa * (1 - np.exp(-fa * T)))) < TOL


def test_initial_assignment_to_a_stoichiometry():
    def edit(m):
        ia = m.createInitialAssignment()
        ia.setSymbol("nuB"), ia.setMath(libsbml.parseL3Formula("3 * k"))
    c = _solve(_model(nu_id="nuB", edit=edit))
    assert np.max(np.abs(c["B"] - 3.0 * (1 - np.exp(-T)))) < TOL


def test_stoichiometry_set_by_an_assignment_rule():
    # nu_B = time: B' = t e^-t, B = 1 - e^-t (1 + t)
    def edit(m):
        rule = m.createAssignmentRule()
        rule.setVariable("nuB"), rule.setMath(libsbml.parseL3Formula("time"))
    c = _solve(_model(nu_id="nuB", edit=edit))
    assert np.max(np.abs(c["B"] - (1 - np.exp(-T) * (1 + T)))) < TOL


def test_stoichiometry_id_used_as_a_value():
    # a second product C with the law nuB * k A: C' = 2 e^-t with nuB = 2
    def edit(m):
        s = m.createSpecies()
        s.setId("C"), s.setCompartment("CA"), s.setInitialConcentration(0.0)
        s.setHasOnlySubstanceUnits(False), s.setBoundaryCondition(False), s.setConstant(False)
        r = m.createReaction()
        r.setId("R2"), r.setReversible(False)
        sr = r.createProduct()
        sr.setSpecies("C"), sr.setStoichiometry(1), sr.setConstant(True)
        r.createKineticLaw().setMath(libsbml.parseL3Formula("nuB * k * A * CA"))
    c = _solve(_model(nu=2.0, nu_id="nuB", edit=edit))
    assert np.max(np.abs(c["C"] - 2.0 * (1 - np.exp(-T)))) < TOL


@pytest.mark.parametrize("hosu", [False, True])
def test_growing_compartment_keeps_amounts(hosu):
    # rate rule dV/dt = 1 for CA (V = 1 + t): the amount of A decays as exp(-t), so its
    # concentration is exp(-t) / (1 + t); B (in CB, fixed) = (1 - e^-t) / V_B
    def edit(m):
        m.getCompartment("CA").setConstant(False)
        m.getSpecies("A").setHasOnlySubstanceUnits(hosu)
        if hosu:  # the law reads A's amount
            m.getReaction("R").getKineticLaw().setMath(libsbml.parseL3Formula("k * A"))
        rule = m.createRateRule()
        rule.setVariable("CA"), rule.setMath(libsbml.parseL3Formula("1"))
    c = _solve(_model(edit=edit))
    assert np.max(np.abs(c["CA"] - (1 + T))) < TOL
    assert np.max(np.abs(c["A"] - np.exp(-T) / (1 + T))) < TOL
    assert np.max(np.abs(c["B"] - (1 - np.exp(-T)))) < TOL


def test_compartment_size_from_an_assignment_rule():
    # CA = 1 + time by an assignment rule (its size attribute 5 is overridden, also for the
    # initial amount 1 of A: A(0) = 1 / 1): fe2 integrates V' = 1 from V(0) = 1; the amount of A
    # decays as exp(-t), so A = exp(-t) / (1 + t)
    def edit(m):
        m.getCompartment("CA").setConstant(False)
        m.getCompartment("CA").setSize(5.0)
        s = m.getSpecies("A")
        s.unsetInitialConcentration(), s.setInitialAmount(1.0)
        rule = m.createAssignmentRule()
        rule.setVariable("CA"), rule.setMath(libsbml.parseL3Formula("1 + time"))
    c = _solve(_model(edit=edit))
    assert np.max(np.abs(c["CA"] - (1 + T))) < TOL
    assert np.max(np.abs(c["A"] - np.exp(-T) / (1 + T))) < TOL


def test_species_by_species_reactions_are_refused_by_the_stochastic_methods():
    """A transport reaction enters species by species (two rate equations): SSA would fire them as two
    independent events and break the pairing of A's loss with B's gain — refused in one line."""
    from fe2.errors import ConfigError
    from fe2.physics.reactions.stochastic import gillespie

    net = network_from_sbml_string(_model(v_a=2.0, v_b=0.5))
    with pytest.raises(ConfigError, match="continuous rate equation"):
        gillespie(net, [1.0], x0=np.array([10.0, 0.0]))
