"""SBML import (:mod:`fe2.physics.reactions.sbml`) verified against libroadrunner (CVODE).

What is verified, and why the tolerances are what they are:

* the mapping itself, model by model, without any integrator: fe2's rates ``v = kineticLaw / V``
  and right-hand side ``dc/dt`` against libroadrunner's reaction rates and rates of change at the
  same (random) state, and fe2's analytic Jacobian against libroadrunner's — agreement to
  round-off (≤ 1e-12 relative), since both evaluate the same formulas;
* trajectories: fe2's integrators on the imported network against libroadrunner's CVODE at
  rtol 1e-10 / atol 1e-14 (a reference ~1e-9 accurate) at the same output times. The error is
  ``max_{t,i} |c_i(t) - c_i^ref(t)| / max_t |c_i^ref(t)|``. Bounds: ROS2 (order 2, local
  error control) at rtol 1e-6 -> 1e-4 and at rtol 1e-5 -> 1e-3, i.e. 100 x rtol, the usual
  ratio of global to per-step error over a few thousand steps (measured: 0.5-4 x rtol);
  backward Euler (order 1) at rtol 1e-6 -> 2e-3 (measured 6e-4): its error estimate
  ``h/2 |f_{n+1} - f_n|`` controls the local error only, and order-1 global errors accumulate
  over the ~3000 steps; ``solve_ivp`` BDF at rtol 1e-10 -> 1e-6 (measured 2e-7 on Robertson,
  where B is 1e-5-sized, ≤ 1.3e-9 elsewhere);
* conserved moieties of the imported Michaelis–Menten model stay constant to ≤ 1e-10;
* every unsupported construct raises a ConfigError naming the construct and the element id.

Models: tests/data/sbml/*.xml (written by tests/data/sbml/make_models.py) and, when
libroadrunner is installed, the published BioModels model BIOMD0000000033 (Brown et al. 2004,
NGF/EGF signalling in PC12 cells; 32 species, 26 reactions, a boundary species) that
libroadrunner ships in ``roadrunner.tests.TestModelFactory``.
"""

from __future__ import annotations

from pathlib import Path

import libsbml
import numpy as np
import pytest

from fe2.errors import ConfigError
from fe2.physics.reactions import integrate, solve_ivp_reference
from fe2.physics.reactions.sbml import load_sbml, network_from_sbml_string

# Pure numpy + libroadrunner per process: nothing for a second rank to check (serial run only).
pytestmark = pytest.mark.serial

DATA = Path(__file__).resolve().parents[2] / "data" / "sbml"


def _text(name: str) -> str:
    return (DATA / name).read_text()


def _brown2004() -> str:
    tmf = pytest.importorskip("roadrunner.tests.TestModelFactory")
    return tmf.Brown2004().str()


MODELS = {  # name -> (SBML text loader, single-compartment volume)
    "enzyme_mm": (lambda: _text("enzyme_mm.xml"), 1.0),
    "robertson": (lambda: _text("robertson.xml"), 0.5),
    "repressilator": (lambda: _text("repressilator.xml"), 2.5),
    "brown2004": (_brown2004, 1.0),
}


def _roadrunner(sbml: str):
    rr = pytest.importorskip("roadrunner")
    r = rr.RoadRunner(sbml)
    r.integrator.relative_tolerance = 1e-10
    r.integrator.absolute_tolerance = 1e-14
    r.integrator.max_steps = 100_000
    return r


def _rel_err(c: np.ndarray, ref: np.ndarray) -> float:
    """max over times and species of |c - ref| / (largest |ref| of that species)."""
    scale = np.max(np.abs(ref), axis=0)
    return float(np.max(np.abs(c - ref) / np.where(scale > 0, scale, 1.0)))


def _variant(mutate) -> str:
    """The MM model changed by ``mutate(model)``, as an SBML string."""
    doc = libsbml.readSBMLFromString(_text("enzyme_mm.xml"))
    mutate(doc.getModel())
    return libsbml.writeSBMLToString(doc)


def _math(formula: str):
    return libsbml.parseL3Formula(formula)


# ------------------------------------------------------------------------------------------
# the mapping, without integrators
# ------------------------------------------------------------------------------------------
def test_mm_structure_and_moieties():
    net = load_sbml(DATA / "enzyme_mm.xml")
    assert net.species_names == ["E", "S", "C", "P"]
    np.testing.assert_array_equal(net.initial, [1.0, 10.0, 0.0, 0.0])
    assert net.parameters == {"k1": 1.0, "k2": 1.0, "km1": 1.0}  # volume 1 cancels out
    np.testing.assert_array_equal(net.stoichiometry, [[-1, 1], [-1, 0], [1, -1], [0, 1]])
    assert sorted(net.moiety_names()) == ["E + C", "S + C + P"]
    # cell * (k1 E S - km1 C) / cell is recognized as reversible mass action
    assert [(rx.law, rx.params) for rx in net.reactions] == [
        ("mass_action", {"k": "k1", "k_reverse": "km1"}), ("mass_action", {"k": "k2"})]
    c = np.array([0.3, 4.0, 0.7, 5.0])
    np.testing.assert_allclose(net.compile().rates(c), [0.3 * 4.0 - 0.7, 0.7], rtol=1e-14)


def test_repressilator_mapping():
    """Volume 2.5, an amount-valued species, a function definition, local parameters, an
    assignment rule, a boundary species and an initial assignment, checked by hand."""
    net = load_sbml(DATA / "repressilator.xml")
    assert net.species_names == ["m1", "m2", "m3", "p1", "p2", "p3"]
    # m2: initialAmount 0.75 in a compartment of 2.5 -> 0.3; p3: initial assignment 2 * p3_0
    np.testing.assert_allclose(net.initial, [0.2, 0.3, 0.0, 0.0, 0.0, 3.0], rtol=1e-15)
    p = net.parameters
    assert p["I"] == 0.5  # boundary species -> parameter holding its concentration
    assert "cell" not in p  # every law here is cell * (...): the volume cancels in v = law / V
    assert p["mrna_decay1_kd"] == 1.0 and p["protein_decay3_kd"] == 5.0  # local parameters
    assert "alpha" not in p  # assignment-rule variable: substituted, not a parameter
    laws = {rx.name: rx.law for rx in net.reactions}
    assert laws["transcription1"] == "expression" and laws["mrna_decay2"] == "mass_action"
    cn = net.compile()
    c = np.array([0.2, 0.3, 1.1, 0.4, 0.9, 3.0])
    alpha = 250.0 / (1.0 + 0.5 / 5.0)
    v = cn.rates(c)
    assert v[0] == pytest.approx(alpha / (1 + 3.0**2) + 0.25, rel=1e-14)  # transcription1
    assert v[5] == pytest.approx(1.0 * 0.3, rel=1e-14)  # mrna_decay2: kd * amount / V
    assert v[6] == pytest.approx(5.0 * 0.3, rel=1e-14)  # translation2: beta * amount / V
    # the analytic Jacobian (powsimp'd symbolic Hill exponent) against central differences,
    # including the state p = 0 where d(p^n)/dp = n p^n / p would be 0/0
    for state in (c, net.initial):
        J = cn.jacobian(state)
        assert np.all(np.isfinite(J))
        h = 1e-6
        fd = np.stack([(cn.rhs(state + h * e) - cn.rhs(state - h * e)) / (2 * h)
                       for e in np.eye(6)], axis=1)
        np.testing.assert_allclose(J, fd, rtol=1e-7, atol=1e-6)


@pytest.mark.parametrize("name", list(MODELS))
def test_rates_match_roadrunner(name):
    text, V = MODELS[name][0](), MODELS[name][1]
    net = network_from_sbml_string(text, name)
    cn = net.compile()
    r = _roadrunner(text)
    assert list(r.model.getFloatingSpeciesIds()) == net.species_names
    np.testing.assert_allclose(r.model.getFloatingSpeciesConcentrations(), net.initial, rtol=1e-14)
    rng = np.random.default_rng(3)
    c = net.initial * rng.uniform(0.5, 1.5, net.n_species) + rng.uniform(0.1, 1.0, net.n_species)
    for sid, value in zip(net.species_names, c, strict=False):
        r.setValue(f"[{sid}]", value)
    rates = np.asarray(r.getReactionRates()) / V  # extent / time -> concentration / time
    np.testing.assert_allclose(cn.rates(c), rates, rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(cn.rhs(c), np.asarray(r.getRatesOfChange()) / V, rtol=1e-12,
                               atol=1e-12 * np.max(np.abs(rates)))
    if name != "repressilator":  # libroadrunner's getFullJacobian fails on that model
        J = np.asarray(r.getFullJacobian())  # d(amount rate)/d(amount) = d(c rate)/dc, one V
        np.testing.assert_allclose(cn.jacobian(c), J, rtol=1e-12, atol=1e-12 * np.max(np.abs(J)))


# ------------------------------------------------------------------------------------------
# trajectories against CVODE
# ------------------------------------------------------------------------------------------
_T_ROB = np.concatenate([[0.0], np.logspace(-5, np.log10(40.0), 20)])
CASES = [  # model, output times, [(method, rtol, bound)]
    ("enzyme_mm", np.linspace(0.0, 5.0, 21), [("ros2", 1e-5, 1e-3), ("bdf", 1e-10, 1e-6)]),
    ("robertson", _T_ROB, [("ros2", 1e-6, 1e-4), ("be", 1e-6, 2e-3), ("bdf", 1e-10, 1e-6)]),
    ("repressilator", np.linspace(0.0, 3.0, 13), [("ros2", 1e-5, 1e-3), ("bdf", 1e-10, 1e-6)]),
    ("brown2004", np.linspace(0.0, 1.0, 11), [("bdf", 1e-10, 1e-6)]),
]


def _compare(name, times, methods):
    text = MODELS[name][0]()
    net = network_from_sbml_string(text, name)
    cn = net.compile()
    r = _roadrunner(text)
    r.timeCourseSelections = ["time"] + [f"[{s}]" for s in net.species_names]
    ref = np.asarray(r.simulate(times=times))[:, 1:]
    span = (float(times[0]), float(times[-1]))
    errors = {}
    for method, rtol, bound in methods:
        if method == "bdf":
            res = solve_ivp_reference(cn, net.initial, span, method="BDF", rtol=rtol, atol=1e-12,
                                      t_eval=times)
        else:
            res = integrate(cn, net.initial, span, method=method, rtol=rtol, atol=1e-10, t_eval=times)
        errors[method] = _rel_err(res.c_eval, ref)
        assert errors[method] <= bound, f"{name} {method} rtol {rtol}: {errors[method]:.2e} > {bound:g}"
    return net, ref, errors


@pytest.mark.parametrize("name,times,methods", CASES, ids=[c[0] for c in CASES])
def test_trajectory_matches_roadrunner(name, times, methods):
    net, ref, _ = _compare(name, times, methods)
    if name == "enzyme_mm":  # the CVODE reference itself keeps E + C and S + C + P
        W = net.conservation_laws
        assert np.max(np.abs(ref @ W.T - net.initial @ W.T)) <= 1e-8 * 11


@pytest.mark.slow
def test_brown2004_ros2_matches_roadrunner():
    """ROS2 on the 32-species BioModels network (~16000 single-node steps, 20-40 s)."""
    _compare("brown2004", np.linspace(0.0, 10.0, 11), [("ros2", 1e-5, 1e-3)])


def test_mm_moieties_conserved():
    """w^T S = 0 for the imported network, so ROS2 and backward Euler keep E + C and S + C + P
    to round-off (relative drift ≤ 1e-10) on a fixed-step run over several nodes."""
    net = load_sbml(DATA / "enzyme_mm.xml")
    c0 = net.initial * np.array([[1.0], [0.5], [2.0]])
    W = net.conservation_laws
    for method in ("ros2", "be"):
        res = integrate(net, c0, (0.0, 5.0), method=method, dt=0.05)
        assert res.moiety_drift <= 1e-10
        assert np.max(np.abs(res.c @ W.T - c0 @ W.T) / np.abs(c0 @ W.T)) <= 1e-10


# ------------------------------------------------------------------------------------------
# supported extras and unsupported constructs
# ------------------------------------------------------------------------------------------
def test_piecewise_and_min_max_rates():
    def mutate(m):
        m.getReaction("catalysis").getKineticLaw().setMath(
            _math("cell * piecewise(k2 * C, C > 0.5, max(k2, 2) * C)"))
    net = network_from_sbml_string(_variant(mutate))
    cn = net.compile()
    for C, k in ((0.7, 1.0), (0.2, 2.0)):
        assert cn.rates(np.array([1.0, 1.0, C, 0.0]))[1] == pytest.approx(k * C, rel=1e-15)


def _rate_rule(m):
    rr = m.createRateRule()
    rr.setVariable("P"), rr.setMath(_math("k2"))


def _algebraic(m):
    m.createAlgebraicRule().setMath(_math("E + C - 1"))


def _delay(m):
    m.getReaction("catalysis").getKineticLaw().setMath(_math("cell * k2 * delay(C, 0.5)"))


def _no_law(m):
    m.getReaction("catalysis").unsetKineticLaw()


def _volume_rule(m):
    m.getCompartment("cell").setConstant(False)
    rule = m.createAssignmentRule()
    rule.setVariable("cell"), rule.setMath(_math("1 + P"))


UNSUPPORTED = [
    (_rate_rule, "rate rule for a species that reaction 'catalysis' also changes", "P"),
    (_algebraic, "algebraic rule", "rule 0"),
    (_delay, "delay", "catalysis"),
    (_no_law, "has no kinetic law", "catalysis"),
    (_volume_rule, "assignment rule for a compartment", "cell"),
]


def test_event_rejected():
    msg = (r"decay_event\.xml: unsupported SBML construct: event \(a Network has none: "
           r"load_sbml_model simulates events\) \('refill'\)")
    with pytest.raises(ConfigError, match=msg):
        load_sbml(DATA / "decay_event.xml")


def test_unsupported_constructs_named():
    """Each construct -> one-line ConfigError naming the construct and the element id (one
    test over all cases: each case is a millisecond, a test's teardown is not)."""
    for mutate, construct, elem in UNSUPPORTED:
        with pytest.raises(ConfigError) as err:
            network_from_sbml_string(_variant(mutate), "variant")
        msg = str(err.value)
        assert msg.startswith("variant: ") and "\n" not in msg, msg
        assert construct in msg and repr(elem) in msg, msg
    doc = libsbml.readSBMLFromString(_text("enzyme_mm.xml"))  # a required package: comp
    doc.enablePackage(libsbml.CompExtension.getXmlnsL3V1V1(), "comp", True)
    doc.setPackageRequired("comp", True)
    with pytest.raises(ConfigError, match="unsupported SBML construct: required SBML package 'comp'"):
        network_from_sbml_string(libsbml.writeSBMLToString(doc))


def test_bad_inputs(tmp_path):
    with pytest.raises(ConfigError, match="SBML file not found"):
        load_sbml(tmp_path / "missing.xml")
    with pytest.raises(ConfigError, match="invalid SBML"):
        network_from_sbml_string("<sbml><model id='x'>", "broken")
    undefined = _variant(lambda m: m.getReaction("catalysis").getKineticLaw().setMath(_math("cell * kx * C")))
    with pytest.raises(ConfigError, match="kx"):
        network_from_sbml_string(undefined)
