"""SBML events (fe2/physics/reactions/sbml_events.py) against closed-form piecewise solutions.

Every model is the decay ``A -> `` at rate ``k A`` (k = 1, compartment 1 unless stated), whose
pieces between events are exact exponentials, plus events that reset or scale ``A`` or set
parameters. Tolerances: BDF at rtol 1e-10 / atol 1e-12 integrates one exponential piece to
~1e-9 relative, and an event instant found by bisection to adjacent floats adds nothing
measurable, so every value is checked to 1e-7 (absolute, values are O(1)) — loose enough for
the integrator, tight enough that an event executed at the wrong time (an error of
|dA/dt| dt ~ dt) or with the wrong value fails.
"""

from __future__ import annotations

import math

import libsbml
import numpy as np
import pytest

from fe2.errors import ConfigError
from fe2.physics.reactions.sbml import network_from_sbml_string
from fe2.physics.reactions.sbml_events import sbml_model_from_string

pytestmark = pytest.mark.serial  # pure numpy per process

TOL = 1e-7


def _event(m, eid, trigger, assignments, *, delay=None, priority=None, persistent=True,
           initial_value=True, from_trigger=True):
    e = m.createEvent()
    e.setId(eid), e.setUseValuesFromTriggerTime(from_trigger)
    tr = e.createTrigger()
    tr.setMath(libsbml.parseL3Formula(trigger))
    tr.setPersistent(persistent), tr.setInitialValue(initial_value)
    if delay is not None:
        e.createDelay().setMath(libsbml.parseL3Formula(delay))
    if priority is not None:
        e.createPriority().setMath(libsbml.parseL3Formula(priority))
    for var, formula in assignments:
        a = e.createEventAssignment()
        a.setVariable(var), a.setMath(libsbml.parseL3Formula(formula))


def _decay(events, *, size=1.0, params=None, hosu=False, reaction=True) -> str:
    """``A`` (initial concentration 1) decaying at rate k A in compartment ``C`` + ``events``
    (dicts of :func:`_event` arguments); ``params`` {id: value} are non-constant parameters."""
    doc = libsbml.SBMLDocument(3, 2)
    m = doc.createModel()
    m.setId("m")
    c = m.createCompartment()
    c.setId("C"), c.setSize(size), c.setConstant(False), c.setSpatialDimensions(3)
    s = m.createSpecies()
    s.setId("A"), s.setCompartment("C"), s.setInitialConcentration(1.0)
    s.setHasOnlySubstanceUnits(hosu), s.setBoundaryCondition(False), s.setConstant(False)
    for pid, v in {"k": 1.0, **(params or {})}.items():
        p = m.createParameter()
        p.setId(pid), p.setValue(v), p.setConstant(pid == "k")
    if reaction:
        r = m.createReaction()
        r.setId("decay"), r.setReversible(False)
        sr = r.createReactant()
        sr.setSpecies("A"), sr.setStoichiometry(1), sr.setConstant(True)
        conc = "A / C" if hosu else "A"
        r.createKineticLaw().setMath(libsbml.parseL3Formula(f"k * {conc} * C"))
    for ev in events:
        _event(m, **ev)
    return libsbml.writeSBMLToString(doc)


def _run(xml, times):
    model = sbml_model_from_string(xml)
    return model.network.species_names, model.simulate(times, rtol=1e-10, atol=1e-12)


def test_time_event_resets_a_decaying_species():
    # A = exp(-t) on [0, 1), reset to 1 at t = 1, then exp(-(t - 1)); t = 1 itself is after
    xml = _decay([{"eid": "reset", "trigger": "time >= 1", "assignments": [("A", "1")]}])
    t = np.linspace(0.0, 2.0, 21)
    names, c = _run(xml, t)
    exact = np.where(t < 1.0, np.exp(-t), np.exp(-(t - 1.0)))
    assert np.max(np.abs(c[:, names.index("A")] - exact)) < TOL


def test_state_event_root_is_located():
    # trigger A < 0.5 resets A := 1: resets at t = n ln 2, A = exp(-(t mod ln 2))
    xml = _decay([{"eid": "reset", "trigger": "A < 0.5", "assignments": [("A", "1")]}])
    t = np.linspace(0.0, 3.0, 31)
    names, c = _run(xml, t)
    exact = np.exp(-np.mod(t, math.log(2.0)))
    assert np.max(np.abs(c[:, names.index("A")] - exact)) < TOL


@pytest.mark.parametrize("from_trigger", [True, False])
def test_delay_and_values_from_trigger_time(from_trigger):
    # fires at t = 1, executes at 1.5: A := 2 A with A at 1 (e^-1) or at 1.5 (e^-1.5)
    xml = _decay([{"eid": "double", "trigger": "time >= 1", "assignments": [("A", "2 * A")],
                       "delay": "0.5", "from_trigger": from_trigger}])
    t = np.linspace(0.0, 2.5, 26)
    names, c = _run(xml, t)
    jump = 2 * math.exp(-1.0) if from_trigger else 2 * math.exp(-1.5)
    exact = np.where(t < 1.5, np.exp(-t), jump * np.exp(-(t - 1.5)))
    assert np.max(np.abs(c[:, names.index("A")] - exact)) < TOL


@pytest.mark.parametrize("p_add, p_mul, expected", [(2, 1, (1 + 1) * 10), (1, 2, 1 * 10 + 1)])
def test_priorities_order_simultaneous_events(p_add, p_mul, expected):
    # both fire at t = 1, values computed at execution: the order decides p
    xml = _decay([
        {"eid": "add", "trigger": "time >= 1", "assignments": [("p", "p + 1")], "priority": str(p_add),
             "from_trigger": False},
        {"eid": "mul", "trigger": "time >= 1", "assignments": [("p", "10 * p")], "priority": str(p_mul),
             "from_trigger": False},
    ], params={"p": 1.0})
    names, c = _run(xml, np.linspace(0.0, 2.0, 5))
    p = c[:, names.index("p")]
    assert p[0] == 1.0 and p[1] == 1.0 and p[2] == expected and p[-1] == expected


def test_interacting_events_without_priorities_are_refused():
    xml = _decay([
        {"eid": "add", "trigger": "time >= 1", "assignments": [("p", "p + 1")], "from_trigger": False},
        {"eid": "mul", "trigger": "time >= 1", "assignments": [("p", "10 * p")], "from_trigger": False},
    ], params={"p": 1.0})
    with pytest.raises(ConfigError, match="order SBML leaves random") as err:
        _run(xml, np.linspace(0.0, 2.0, 5))
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("persistent", [True, False])
def test_persistence_of_a_delayed_event(persistent):
    # trigger true on [1, 1.2) only; execution due at 1.5: a non-persistent event is dropped
    xml = _decay([{"eid": "set", "trigger": "(time >= 1) && (time < 1.2)", "assignments": [("p", "5")],
                       "delay": "0.5", "persistent": persistent}], params={"p": 1.0})
    names, c = _run(xml, np.array([0.0, 1.0, 1.4, 1.6, 2.0]))
    p = c[:, names.index("p")]
    assert list(p) == ([1, 1, 1, 5, 5] if persistent else [1, 1, 1, 1, 1])


def test_short_pulse_inside_one_output_interval_is_seen():
    # the trigger holds on [2.9, 3.0) only (output spacing 1): it must still fire
    xml = _decay([{"eid": "pulse", "trigger": "(time > 2.9) && (time < 3)", "assignments": [("p", "3")]}],
                 params={"p": 1.0})
    names, c = _run(xml, np.linspace(0.0, 5.0, 6))
    assert list(c[:, names.index("p")]) == [1, 1, 1, 3, 3, 3]


@pytest.mark.parametrize("initial_value, fires", [(False, True), (True, False)])
def test_trigger_true_at_the_start(initial_value, fires):
    # A > 0.5 holds at t = 0; it fires there only when its value "before" the start is false
    xml = _decay([{"eid": "start", "trigger": "A > 0.5", "assignments": [("A", "3")],
                       "initial_value": initial_value}])
    t = np.linspace(0.0, 1.0, 11)
    names, c = _run(xml, t)
    exact = (3.0 if fires else 1.0) * np.exp(-t)
    assert np.max(np.abs(c[:, names.index("A")] - exact)) < TOL


@pytest.mark.parametrize("hosu", [False, True])
def test_compartment_resize_keeps_amounts(hosu):
    # C: 1 -> 0.25 at t = 1: the amount of A is kept, so its concentration jumps x4; the
    # decay's concentration rate k A is volume independent, so A = 4 exp(-t) after
    xml = _decay([{"eid": "shrink", "trigger": "time >= 1", "assignments": [("C", "0.25")]}], hosu=hosu)
    t = np.linspace(0.0, 2.0, 21)
    names, c = _run(xml, t)
    exact = np.where(t < 1.0, np.exp(-t), 4.0 * np.exp(-t))
    assert np.max(np.abs(c[:, names.index("A")] - exact)) < TOL
    assert np.all(c[:, names.index("C")] == np.where(t < 1.0, 1.0, 0.25))


def test_species_and_its_compartment_in_one_event():
    # SBML: both values from the state before the event; A := 0.5 (a concentration) at C = 1
    # is the amount 0.5, kept while C becomes 0.25: the concentration is 2 (suite case 01779)
    xml = _decay([{"eid": "both", "trigger": "time >= 1", "assignments": [("A", "0.5"), ("C", "0.25")]}],
                 reaction=False)
    names, c = _run(xml, np.array([0.0, 0.5, 1.0, 2.0]))
    assert list(c[:, names.index("A")]) == [1.0, 1.0, 2.0, 2.0]


def test_network_import_refuses_events_in_one_line():
    xml = _decay([{"eid": "reset", "trigger": "time >= 1", "assignments": [("A", "1")]}])
    with pytest.raises(ConfigError, match="event") as err:
        network_from_sbml_string(xml)
    assert "\n" not in str(err.value) and "load_sbml_model" in str(err.value)


def test_model_without_reactions_holds_still():
    # nothing changes A: the network gets one zero-rate "hold" reaction, A stays 1
    xml = _decay([], reaction=False)
    names, c = _run(xml, np.linspace(0.0, 1.0, 3))
    assert np.all(c[:, names.index("A")] == 1.0)


def test_shipped_event_model_from_file():
    # tests/data/sbml/decay_event.xml: X' = -X, X < 0.1 -> X := 1; resets at n ln 10
    from pathlib import Path

    from fe2.physics.reactions import load_sbml_model

    model = load_sbml_model(Path(__file__).resolve().parents[2] / "data" / "sbml" / "decay_event.xml")
    t = np.linspace(0.0, 6.0, 61)
    c = model.simulate(t, rtol=1e-10, atol=1e-12)
    exact = np.exp(-np.mod(t, math.log(10.0)))
    assert np.max(np.abs(c[:, model.network.species_names.index("X")] - exact)) < TOL


def test_endless_cascade_stops_with_one_line():
    # p > 0 sets p := -1, p < 0 sets p := 1: at t = 1 they would fire each other forever
    from fe2.errors import ConvergenceError

    xml = _decay([{"eid": "up", "trigger": "(time >= 1) && (p <= 0)", "assignments": [("p", "1")]},
                  {"eid": "down", "trigger": "p > 0", "assignments": [("p", "-1")]}],
                 params={"p": 0.0})
    with pytest.raises(ConvergenceError, match="events keep firing at t = 1") as err:
        _run(xml, np.linspace(0.0, 2.0, 3))
    assert "\n" not in str(err.value)
