"""SBML import: Level 2 documents, Hill terms at zero concentration, floor/ceiling, booleans as
numbers, rules with ``time``, 0-D compartments — each a defect once (see the test names).

References are independent of fe2's code generation: hand-written numpy right-hand sides
integrated by scipy's LSODA at rtol 1e-12 (a reference ~1e-10 accurate); bounds as in
test_sbml.py (ROS2 at rtol 1e-6 -> 1e-4 relative to each species' largest value, fe2's BDF
reference at rtol 1e-10 -> 1e-7).
"""

from __future__ import annotations

from pathlib import Path

import libsbml
import numpy as np
import pytest
from scipy.integrate import solve_ivp

from fe2.errors import ConfigError, ConvergenceError
from fe2.physics.reactions import integrate, solve_ivp_reference
from fe2.physics.reactions.sbml import load_sbml, network_from_sbml_string

pytestmark = pytest.mark.serial  # pure numpy per process

DATA = Path(__file__).resolve().parents[2] / "data" / "sbml"


def _rel_err(c, ref):
    scale = np.max(np.abs(ref), axis=0)
    return float(np.max(np.abs(c - ref) / np.where(scale > 0, scale, 1.0)))


def _model(species, params, reactions, *, comp_size=2.0, rules=(), rate_rules=(),
           level=(3, 2)) -> str:
    """A one-compartment model: species (id, initial concentration, hasOnlySubstanceUnits),
    params {id: value}, reactions (id, {reactant: nu}, {product: nu}, L3 formula),
    rules (variable, formula) as assignment rules."""
    doc = libsbml.SBMLDocument(3, 2)
    m = doc.createModel()
    m.setId("m")
    c = m.createCompartment()
    c.setId("cell"), c.setSize(comp_size), c.setConstant(True), c.setSpatialDimensions(3)
    for sid, c0, hosu in species:
        s = m.createSpecies()
        s.setId(sid), s.setCompartment("cell"), s.setInitialConcentration(c0)
        s.setHasOnlySubstanceUnits(hosu), s.setBoundaryCondition(False), s.setConstant(False)
    for pid, v in params.items():
        p = m.createParameter()
        p.setId(pid), p.setValue(v), p.setConstant(pid not in dict([*rules, *rate_rules]))
    for var, formula in rules:
        r = m.createAssignmentRule()
        r.setVariable(var), r.setMath(libsbml.parseL3Formula(formula))
    for var, formula in rate_rules:
        r = m.createRateRule()
        r.setVariable(var), r.setMath(libsbml.parseL3Formula(formula))
    for rid, reac, prod, formula in reactions:
        r = m.createReaction()
        r.setId(rid), r.setReversible(False)
        for side, create in ((reac, r.createReactant), (prod, r.createProduct)):
            for sid, nu in side.items():
                sr = create()
                sr.setSpecies(sid), sr.setStoichiometry(nu), sr.setConstant(True)
        math = libsbml.parseL3Formula(formula)
        assert math is not None, formula
        r.createKineticLaw().setMath(math)
    if level != (3, 2):
        assert doc.setLevelAndVersion(*level), doc.getErrorLog().toString()
    return libsbml.writeSBMLToString(doc)


# ------------------------------------------------------------------------------------------
# 1. Level 2 documents
# ------------------------------------------------------------------------------------------
def test_level2_document_is_read():
    """libsbml enables its layout/render plugins on every L2 document and reports them as
    'required'; fe2 read that as a required package and refused every L2 file."""
    doc = libsbml.readSBMLFromFile(str(DATA / "enzyme_mm.xml"))
    assert doc.setLevelAndVersion(2, 4)
    l2 = libsbml.writeSBMLToString(doc)
    assert 'level="2"' in l2
    net2 = network_from_sbml_string(l2, "l2v4")
    net3 = load_sbml(DATA / "enzyme_mm.xml")
    assert net2.species_names == net3.species_names
    np.testing.assert_array_equal(net2.initial, net3.initial)
    assert net2.parameters == net3.parameters
    np.testing.assert_array_equal(net2.stoichiometry, net3.stoichiometry)
    c = np.array([0.3, 4.0, 0.7, 5.0])
    np.testing.assert_array_equal(net2.compile().rhs(c), net3.compile().rhs(c))


def test_l3_layout_not_required_but_other_required_package_refused():
    doc = libsbml.readSBMLFromFile(str(DATA / "enzyme_mm.xml"))
    doc.enablePackage(libsbml.LayoutExtension.getXmlnsL3V1V1(), "layout", True)
    doc.setPackageRequired("layout", False)
    net = network_from_sbml_string(libsbml.writeSBMLToString(doc))
    assert net.species_names == ["E", "S", "C", "P"]
    doc.enablePackage(libsbml.CompExtension.getXmlnsL3V1V1(), "comp", True)
    doc.setPackageRequired("comp", True)
    with pytest.raises(ConfigError, match="required SBML package 'comp'"):
        network_from_sbml_string(libsbml.writeSBMLToString(doc))


# ------------------------------------------------------------------------------------------
# 2. Hill repression at zero concentration
# ------------------------------------------------------------------------------------------
# P has hasOnlySubstanceUnits: in the math it is the amount P*cell, so the Hill term is
# ((P*cell)/K)**n with a compound base; sympy's derivative n*(P*cell/K)**n/P is 0/0 at P = 0.
_A, _K, _N, _B, _D, _V = 4.0, 0.7, 2.0, 1.5, 0.8, 2.0
HILL = {
    "species": [("m", 0.0, False), ("P", 0.0, True)],
    "params": {"a": _A, "K": _K, "n": _N, "b": _B, "d": _D},
    "reactions": [("transcription", {}, {"m": 1}, "cell * a / (1 + (P / K)^n)"),
               ("translation", {}, {"P": 1}, "cell * b * m"),
               ("m_decay", {"m": 1}, {}, "cell * d * m"),
               ("P_decay", {"P": 1}, {}, "d * P")],
}


def _hill_reference(times):
    def f(_t, y):
        m, p = y
        return [_A / (1 + (p * _V / _K) ** _N) - _D * m, _B * m - _D * p]
    sol = solve_ivp(f, (times[0], times[-1]), [0.0, 0.0], method="LSODA", rtol=1e-12,
                    atol=1e-14, t_eval=times)
    return sol.y.T


def test_hill_repression_from_zero_matches_reference():
    net = network_from_sbml_string(_model(**HILL), "hill")
    cn = net.compile()
    J0 = cn.jacobian(net.initial)
    assert np.all(np.isfinite(J0))
    assert J0[0, 1] == 0.0  # d(a/(1+(PV/K)^2))/dP = 0 at P = 0 (n = 2)
    h = 1e-6  # against central differences away from zero
    c = np.array([0.4, 0.3])
    fd = np.stack([(cn.rhs(c + h * e) - cn.rhs(c - h * e)) / (2 * h) for e in np.eye(2)], axis=1)
    np.testing.assert_allclose(cn.jacobian(c), fd, rtol=1e-7)
    times = np.linspace(0.0, 10.0, 21)
    ref = _hill_reference(times)
    ros2 = integrate(cn, net.initial, (0.0, 10.0), rtol=1e-6, atol=1e-10, t_eval=times)
    assert _rel_err(ros2.c_eval, ref) <= 1e-4
    bdf = solve_ivp_reference(cn, net.initial, (0.0, 10.0), rtol=1e-10, atol=1e-12, t_eval=times)
    assert _rel_err(bdf.c_eval, ref) <= 1e-7


def test_nonfinite_jacobian_named():
    """sqrt(P) at P = 0 has an infinite slope: not differentiable there. Both integrators say
    which entry, which reaction and which state, in one line (before: ROS2 integrated with an
    infinite Jacobian, scipy's BDF stopped with a raw ValueError from its LU)."""
    spec = dict(HILL, reactions=[("grow", {}, {"P": 1}, "cell * (1 + sqrt(P))"),
                                 ("P_decay", {"P": 1}, {}, "d * P")],
                species=[("P", 0.0, False)])
    net = network_from_sbml_string(_model(**spec), "sqrt")
    for run in (lambda: integrate(net, net.initial, (0.0, 1.0), rtol=1e-6),
                lambda: solve_ivp_reference(net, net.initial, (0.0, 1.0))):
        with pytest.raises(ConvergenceError) as err:
            run()
        msg = str(err.value)
        assert "\n" not in msg
        assert "d(dP/dt)/dP is inf" in msg and "reaction(s) 'grow' (" in msg and "P = 0" in msg, msg


# ------------------------------------------------------------------------------------------
# 3. floor / ceiling, booleans as numbers, rules with time, 0-D compartments
# ------------------------------------------------------------------------------------------
def test_floor_ceiling_rates_and_jacobian():
    """Loaded, then crashed in code generation (sympy's Derivative(floor(S), S) has no numpy
    form). Their derivative is 0 away from the jumps."""
    spec = {"species": [("S", 2.3, False)], "params": {"k": 0.5},
                "reactions": [("R", {"S": 1}, {}, "cell * k * (floor(S) + ceiling(S / 2)) * S")]}
    cn = network_from_sbml_string(_model(**spec), "floor").compile()
    for S, fl, ce in ((2.3, 2, 2), (0.7, 0, 1), (5.5, 5, 3)):
        assert cn.rates(np.array([S]))[0] == pytest.approx(0.5 * (fl + ce) * S, rel=1e-15)
        assert cn.jacobian(np.array([S]))[0, 0] == pytest.approx(-0.5 * (fl + ce), rel=1e-15)


def test_booleans_as_numbers_and_numbers_as_conditions():
    """A relation times a number was a raw sympy TypeError; SBML makes true 1 and false 0, and
    a number used as a condition true when nonzero."""
    spec = {"species": [("S", 2.0, False), ("Q", 0.0, False)], "params": {"k": 3.0, "k2": 0.25},
                "reactions": [("R", {"S": 1}, {"Q": 1},
                            "cell * (k * (S > 1 && S < 4) * S + piecewise(k2, Q, 0))")]}
    cn = network_from_sbml_string(_model(**spec), "bool").compile()
    for S, Q, v in ((2.0, 0.0, 6.0), (0.5, 0.0, 0.0), (5.0, 1.0, 0.25), (2.0, -1.0, 6.25)):
        assert cn.rates(np.array([S, Q]))[0] == pytest.approx(v, rel=1e-15)
    assert cn.jacobian(np.array([2.0, 1.0]))[0, 0] == pytest.approx(-3.0, rel=1e-15)


@pytest.mark.parametrize("formula,construct", [("delay(S, 1)", "delay"),
                                               ("rateOf(y)", "rateOf of an assignment-rule variable")])
def test_unused_rule_with_time_refused(formula, construct):
    """An assignment rule that no rate law uses was dropped without a word, although a
    ``delay`` anywhere (or a ``rateOf`` of a rule variable) is documented as refused."""
    spec = {"species": [("S", 2.0, False)], "params": {"k": 3.0, "x": 0.0, "y": 0.0},
            "reactions": [("R", {"S": 1}, {}, "cell * k * S")],
            "rules": [("y", "2 * S"), ("x", formula)]}
    with pytest.raises(ConfigError, match=f"{construct}.* assignment rule for 'x'") as err:
        network_from_sbml_string(_model(**spec), "rule")
    assert "\n" not in str(err.value)


def test_zero_dimensional_compartment():
    """Was 'its initial amount needs the size of compartment 'cell', which is not set'. A 0-D
    compartment without a size that no math reads gets size 1 (its species' values are
    amounts: SBML test case 00048); one that math reads is refused."""
    doc = libsbml.readSBMLFromString(_model(species=[("S", 1.0, True)], params={"k": 1.0},
                                            reactions=[("R", {"S": 1}, {}, "k * S")]))
    m = doc.getModel()
    m.getCompartment("cell").setSpatialDimensions(0.0)
    m.getCompartment("cell").unsetSize()
    s = m.getSpecies("S")
    s.unsetInitialConcentration(), s.setInitialAmount(1.5)
    net = network_from_sbml_string(libsbml.writeSBMLToString(doc), "zero-d")
    assert net.initial[0] == 1.5
    t = np.linspace(0.0, 2.0, 11)  # S = 1.5 exp(-k t), BDF at rtol 1e-10: 1e-7 (as above)
    c = solve_ivp_reference(net, net.initial, (0.0, 2.0), rtol=1e-10, atol=1e-12, t_eval=t).c_eval
    assert np.max(np.abs(c[:, 0] - 1.5 * np.exp(-t))) < 1e-7
    m.getReaction("R").getKineticLaw().setMath(libsbml.parseL3Formula("k * S / cell"))
    with pytest.raises(ConfigError, match=r"species 'S' in a 0-D compartment without a size .*'cell'"):
        network_from_sbml_string(libsbml.writeSBMLToString(doc), "zero-d")
    m.getCompartment("cell").setSize(2.0)  # with a size: an ordinary compartment
    net = network_from_sbml_string(libsbml.writeSBMLToString(doc), "zero-d")
    assert net.initial[0] == 0.75


# ------------------------------------------------------------------------------------------
# 4. supported since: rate rules and the time symbol (exact solutions)
# ------------------------------------------------------------------------------------------
def _errors(net, times, exact):
    span = (float(times[0]), float(times[-1]))
    ros2 = integrate(net, net.initial, span, rtol=1e-6, atol=1e-10, t_eval=times)
    bdf = solve_ivp_reference(net, net.initial, span, rtol=1e-10, atol=1e-12, t_eval=times)
    return _rel_err(ros2.c_eval, exact), _rel_err(bdf.c_eval, exact)


def test_rate_rule_on_parameter_and_amount_species():
    """dp/dt = -k p (a parameter with a rate rule becomes a state) drives S -> with law
    cell * p * S: S = S0 exp(-p0 (1 - exp(-k t)) / k). Q has hasOnlySubstanceUnits and the
    rate rule d(amount)/dt = r, so its concentration grows by r / V: Q = Q0 + r t / V."""
    S0, p0, k, r, Q0 = 3.0, 2.0, 0.5, 0.6, 0.25
    spec = {"species": [("S", S0, False), ("Q", Q0, True)], "params": {"p": p0, "k": k, "r": r},
                "reactions": [("R", {"S": 1}, {}, "cell * p * S")],
                "rate_rules": [("p", "-k * p"), ("Q", "r")]}
    net = network_from_sbml_string(_model(**spec), "rate rules")
    assert net.species_names == ["S", "Q", "p"]
    times = np.linspace(0.0, 4.0, 17)
    exact = np.stack([S0 * np.exp(-p0 * (1 - np.exp(-k * times)) / k),
                      Q0 + r * times / _V, p0 * np.exp(-k * times)], axis=1)
    e_ros2, e_bdf = _errors(net, times, exact)
    assert e_ros2 <= 1e-4 and e_bdf <= 1e-7, (e_ros2, e_bdf)


def test_time_symbol_in_law_and_rule():
    """The time symbol was refused: it is now a state ``sbml_time`` with d sbml_time/dt = 1,
    sbml_time(0) = 0 (SBML time starts at 0). Law cell * k * time * S and, through an assignment rule
    x = time^2, cell * x * Q: S = S0 exp(-k t^2 / 2), Q = Q0 exp(-t^3 / 3)."""
    S0, Q0, k = 2.0, 1.5, 0.8
    spec = {"species": [("S", S0, False), ("Q", Q0, False)], "params": {"k": k, "x": 0.0},
                "reactions": [("R", {"S": 1}, {}, "cell * k * time * S"),
                           ("R2", {"Q": 1}, {}, "cell * x * Q")],
                "rules": [("x", "time^2")]}
    net = network_from_sbml_string(_model(**spec), "time")
    assert net.species_names == ["S", "Q", "sbml_time"]
    times = np.linspace(0.0, 1.5, 16)
    exact = np.stack([S0 * np.exp(-k * times**2 / 2), Q0 * np.exp(-times**3 / 3), times], axis=1)
    e_ros2, e_bdf = _errors(net, times, exact)
    assert e_ros2 <= 1e-4 and e_bdf <= 1e-7, (e_ros2, e_bdf)


def test_rate_rule_on_reacting_species_refused():
    spec = {"species": [("S", 1.0, False)], "params": {"k": 1.0},
                "reactions": [("R", {"S": 1}, {}, "cell * k * S")], "rate_rules": [("S", "k")]}
    with pytest.raises(ConfigError, match="rate rule for a species that reaction 'R' also changes"):
        network_from_sbml_string(_model(**spec), "rr")


def test_stochastic_methods_refuse_rate_rules_and_the_time_state():
    """A rate rule and the time state are deterministic rate equations, not reaction events:
    SSA, tau-leaping and the hybrid method turned them into Poisson counters (sbml_time = 2 at
    t = 1) — now each refuses with one line naming the equation; the ODE path is unchanged."""
    from fe2.errors import ConfigError
    from fe2.physics.reactions.hybrid import hybrid
    from fe2.physics.reactions.stochastic import gillespie, tau_leaping

    spec = {"species": [("X", 0.0, False)], "params": {"k": 1.0},
            "reactions": [("R", {}, {"X": 1}, "cell * 10 * time")]}
    net = network_from_sbml_string(_model(**spec), "time in a propensity")
    x0 = np.zeros(net.n_species)
    runs = (lambda: gillespie(net, [0.5, 1.0], x0=x0), lambda: tau_leaping(net, [0.5, 1.0], 0.01, x0=x0),
            lambda: hybrid(net, [0.5, 1.0], x0=x0))
    for run in runs:
        with pytest.raises(ConfigError, match="'time' is a continuous rate equation"):
            run()
    spec = {"species": [("S", 3.0, False)], "params": {"p": 2.0, "k": 0.5},
            "reactions": [("R", {"S": 1}, {}, "cell * p * S")], "rate_rules": [("p", "-k * p")]}
    net = network_from_sbml_string(_model(**spec), "rate rule")
    with pytest.raises(ConfigError, match="'rate rule for p' is a continuous rate equation"):
        gillespie(net, [1.0], x0=np.array([3.0, 2.0]))


def test_fixed_step_blow_up_is_an_error_not_an_inf():
    """dX/dt = exp(X) from X = 0 (finite rate and Jacobian at the start) with one ROS2 step of
    Δt = (1 − 1e-6)/γ: the linear system is nearly singular and the new state overflows. It was
    returned as [inf] with a numpy warning; now a one-line ConvergenceError says to reduce dt
    (the exact solution X = −ln(1 − t) is 0.88 there)."""
    import sympy as sp

    from fe2.errors import ConvergenceError
    from fe2.physics.reactions.integrators import GAMMA_ROS2
    from fe2.physics.reactions.network import Network, Reaction, Species

    x = sp.Symbol("X", real=True)
    net = Network([Species("X", 0.0)], [Reaction({}, {"X": 1}, "expression", {"rate": sp.exp(x)}, "r")], {})
    dt = (1 - 1e-6) / GAMMA_ROS2
    with pytest.raises(ConvergenceError, match=r"non-finite at 1 node.*reduce dt"), np.errstate(all="ignore"):
        integrate(net, np.array([0.0]), (0.0, dt), method="ros2", dt=dt)
