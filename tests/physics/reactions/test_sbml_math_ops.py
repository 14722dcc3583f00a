"""SBML math added for the Test Suite: reciprocal inverse functions (arcsec ... arccoth, the
inverse of 1/x as MathML defines them), ``implies``, and a reaction id read as a value (its
kinetic law's value, amount / time). Values are compared with numpy's inverses of 1/x to 1e-14
(a few ulps of O(1) numbers); the trajectory to 1e-7 (BDF at rtol 1e-10, as in the other SBML
tests).
"""

from __future__ import annotations

import libsbml
import numpy as np
import pytest
from sbml_builder import one_compartment_doc

from fe2.physics.reactions import solve_ivp_reference
from fe2.physics.reactions.sbml import _Importer, network_from_sbml_string

pytestmark = pytest.mark.serial  # pure numpy per process


def _model(formula: str, second_law: str = "k * A * C") -> libsbml.SBMLDocument:
    return one_compartment_doc(params=(("k", 1.0, True), ("x", 0.0, False)),
                               reactions=(("decay", "A", "", "k * A * C"), ("make", "", "B", second_law)),
                               rules=(("x", formula),))

@pytest.mark.parametrize("fn, arg, exact", [
    ("arcsec", 2.5, np.arccos(1 / 2.5)), ("arccsc", 2.5, np.arcsin(1 / 2.5)),
    ("arccot", 2.5, np.arctan(1 / 2.5)), ("arcsech", 0.5, np.arccosh(1 / 0.5)),
    ("arccsch", 2.5, np.arcsinh(1 / 2.5)), ("arccoth", 2.5, np.arctanh(1 / 2.5))])
def test_reciprocal_inverse_functions(fn, arg, exact):
    imp = _Importer(_model(f"{fn}({arg})"), "ops")
    imp.network()
    assert abs(float(imp._name("x", "test", {})) - exact) < 1e-14


@pytest.mark.parametrize("a, b, value", [(0, 0, 1), (0, 1, 1), (1, 0, 0), (1, 1, 1)])
def test_implies(a, b, value):
    doc = _model(f"piecewise(1, implies({a} > 0.5, {b} > 0.5), 0)")
    imp = _Importer(doc, "ops")
    imp.network()
    assert float(imp._name("x", "test", {})) == value


def test_reaction_id_as_a_value():
    # B is made at the rate of reaction 'decay' itself: B = 1 - e^-t
    net = network_from_sbml_string(libsbml.writeSBMLToString(_model("1", second_law="decay")))
    t = np.linspace(0.0, 3.0, 31)
    c = solve_ivp_reference(net, net.initial, (0.0, 3.0), rtol=1e-10, atol=1e-12, t_eval=t).c_eval
    assert np.max(np.abs(c[:, net.species_names.index("B")] - (1 - np.exp(-t)))) < 1e-7


@pytest.mark.parametrize("formula, value", [
    ("quotient(9, 2)", 4), ("quotient(-9, 2)", -4), ("rem(9, 2)", 1), ("rem(-9, 2)", -1),
    ("factorial(4)", 24), ("piecewise(2, pi == 3.141592653589793, 3)", 2)])
def test_integer_division_factorial_and_pi(formula, value):
    # MathML: a = q b + r, q the integer part of a / b (towards zero), so r has a's sign;
    # pi is the double nearest to it (a model's value "pi" compares equal)
    imp = _Importer(_model(formula), "ops")
    imp.network()
    assert float(imp._name("x", "test", {})) == value
