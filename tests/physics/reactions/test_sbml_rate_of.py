"""SBML ``rateOf`` (L3V2): resolved to the network's own right-hand sides (sbml.py).

Model: ``A -> `` at the extent ``k A C`` (k = 1, compartment C = 2, A(0) = 1), so
``rateOf(A) = dA/dt = -e^-t``; a species ``B`` made at the extent ``-rateOf(A) C`` (so
``B = 1 - e^-t``) checks rateOf inside a kinetic law, an assignment rule ``r = rateOf(A)``
checks it in the values the runner reads, ``rateOf(k)`` of a constant is 0. Tolerance: BDF at
rtol 1e-10 / atol 1e-12 -> ~1e-9; checked to 1e-7 (O(1) values), as in test_sbml_events.py.
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

TOL = 1e-7


def _doc(rule: str, hosu: bool = False) -> libsbml.SBMLDocument:
    conc = "A / C" if hosu else "A"  # A's concentration in math
    rate_a = "rateOf(A) / C" if hosu else "rateOf(A)"  # its rate of change
    return one_compartment_doc(species=(("A", 1.0, hosu), ("B", 0.0, False)),
                               params=(("k", 1.0, True), ("r", 0.0, False)),
                               reactions=(("decay", "A", "", f"k * {conc} * C"),
                                          ("make", "", "B", f"-{rate_a} * C + rateOf(k)")),
                               rules=(("r", rule),))

@pytest.mark.parametrize("hosu", [False, True])
def test_rate_of_in_laws_and_rules(hosu):
    imp = _Importer(_doc("rateOf(A)", hosu), "rate-of")
    net = imp.network()
    t = np.linspace(0.0, 3.0, 31)
    c = solve_ivp_reference(net, net.initial, (0.0, 3.0), rtol=1e-10, atol=1e-12, t_eval=t).c_eval
    names = net.species_names
    assert np.max(np.abs(c[:, names.index("A")] - np.exp(-t))) < TOL
    assert np.max(np.abs(c[:, names.index("B")] - (1 - np.exp(-t)))) < TOL
    r = imp.resolve(imp._name("r", "test", {}))  # rateOf(A): of its amount 2 A when hosu
    r = r.subs({x: imp.values[x.name] for x in r.free_symbols if x.name not in names})
    f = sp.lambdify([sp.Symbol(n, real=True) for n in names], r, modules="numpy")
    got = np.broadcast_to(f(*c.T), t.shape)
    assert np.max(np.abs(got - (-(2.0 if hosu else 1.0) * np.exp(-t)))) < TOL


def test_rate_of_an_assignment_rule_variable_is_refused():
    doc = _doc("A")
    doc.getModel().getReaction("make").getKineticLaw().setMath(libsbml.parseL3Formula("rateOf(r)"))
    with pytest.raises(ConfigError, match="rateOf of an assignment-rule variable") as err:
        _Importer(doc, "rate-of").network()
    assert "\n" not in str(err.value)
