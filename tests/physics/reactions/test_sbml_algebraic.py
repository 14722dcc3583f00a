"""SBML algebraic rules solved explicitly (fe2/physics/reactions/sbml_algebraic.py).

Model: ``A -> `` at the extent ``k A C`` (k = 1, C = 2, A(0) = 1: A = e^-t) and a species
``B`` that no reaction changes, determined by the algebraic rule ``0 = A + B - 2`` (so
``B = 2 - e^-t``), or a parameter ``p`` by ``0 = 2 p - A``; a rule with two roots
(``p^2 - A``) and one with more unknowns than rules are refused. Values to 1e-7 (BDF at rtol
1e-10 integrates A to ~1e-9), as in the other SBML tests.
"""

from __future__ import annotations

import libsbml
import numpy as np
import pytest
import sympy as sp
from sbml_builder import one_compartment_doc

from fe2.errors import ConfigError
from fe2.physics.reactions import solve_ivp_reference
from fe2.physics.reactions.sbml import _Importer

pytestmark = pytest.mark.serial  # pure numpy per process

T = np.linspace(0.0, 3.0, 31)


def _doc(*rules: str) -> libsbml.SBMLDocument:
    return one_compartment_doc(params=(("k", 1.0, True), ("p", 0.0, False), ("q", 0.0, False)),
                               algebraic=rules)

def _value(imp, net, name):
    """The determined variable along the trajectory (its rule, evaluated on the states)."""
    c = solve_ivp_reference(net, net.initial, (0.0, 3.0), rtol=1e-10, atol=1e-12, t_eval=T).c_eval
    e = imp._name(name, "test", {})
    e = e.subs({x: imp.values[x.name] for x in e.free_symbols if x.name not in net.species_names})
    f = sp.lambdify([sp.Symbol(n, real=True) for n in net.species_names], e, modules="numpy")
    return np.broadcast_to(f(*c.T), T.shape)


@pytest.mark.parametrize("rule, name, exact", [
    ("A + B - 2", "B", lambda t: 2 - np.exp(-t)), ("2 * p - A", "p", lambda t: 0.5 * np.exp(-t))])
def test_algebraic_rule_solved(rule, name, exact):
    imp = _Importer(_doc(rule), "algebraic")
    net = imp.network()
    assert name not in net.species_names  # determined by the rule, not a state
    assert np.max(np.abs(_value(imp, net, name) - exact(T))) < 1e-7


@pytest.mark.parametrize("rules, words", [
    (("p^2 - A",), "without one explicit solution"),
    (("p + q - A",), "1 equation(s) in 2 free variable(s)")])
def test_algebraic_rule_refused(rules, words):
    with pytest.raises(ConfigError, match="unsupported SBML construct: algebraic rule") as err:
        _Importer(_doc(*rules), "algebraic").network()
    assert words in str(err.value) and "\n" not in str(err.value)
