"""SBML ``delay(x, tau)`` (fe2/physics/reactions/sbml_delay.py) against the method-of-steps
solution of the delay ODE ``x' = -k x(t - tau)``, ``x = 1`` for ``t <= 0`` (SBML: the history
before the start is the initial value).

On ``[(m-1) tau, m tau]`` the exact solution is the polynomial
``x(t) = sum_{n=0}^{m} (-k)^n (t - (n-1) tau)^n / n!`` (each interval integrates the previous
one); we check ``[0, 3 tau]``, which crosses the kinks at ``tau`` and ``2 tau`` where the
solution's 1st / 2nd derivative jumps. Tolerance: BDF at rtol 1e-10 / atol 1e-12 on O(1)
values, restarted at every ``k tau``, was measured at 2.6e-11 max error here (the error
scales with rtol: 3.5e-6 at 1e-5, 2.6e-9 at 1e-8); 1e-9 leaves a 40x margin for platform
noise and still fails a delay read at a time off by one output step (~ k dt = 0.07) or a
wrong pre-start history (O(1)).
"""

from __future__ import annotations

import math

import libsbml
import numpy as np
import pytest

from fe2.errors import ConfigError
from fe2.physics.reactions.sbml import network_from_sbml_string
from fe2.physics.reactions.sbml_events import sbml_model_from_string
from tests.physics.reactions.sbml_builder import one_compartment_doc

pytestmark = pytest.mark.serial  # pure numpy per process

K, TAU = 0.7, 1.0


def exact(t: float, k: float = K, tau: float = TAU) -> float:
    m = math.floor(t / tau) + 1
    return sum((-k) ** n * (t - (n - 1) * tau) ** n / math.factorial(n)
               for n in range(m + 1) if t - (n - 1) * tau >= 0.0)


def _doc(law: str = f"k * delay(A, {TAU}) * C", rules=(), params=(("k", K, True),)) -> str:
    doc = one_compartment_doc(species=(("A", 1.0, False),), params=params,
                              reactions=(("decay", "A", "", law),), rules=rules)
    return libsbml.writeSBMLToString(doc)


def test_exact_polynomial_is_the_method_of_steps_solution():
    """The reference itself: continuous at the kinks and x' = -k x(t - tau) by differences."""
    for t in (0.5, 1.5, 2.5):
        h = 1e-6
        d = (exact(t + h) - exact(t - h)) / (2 * h)
        assert abs(d + K * exact(t - TAU) if t >= TAU else d + K) < 1e-8
    for t in (TAU, 2 * TAU):
        assert abs(exact(t - 1e-12) - exact(t + 1e-12)) < 1e-10


def test_delay_ode_matches_method_of_steps_on_three_delays():
    model = sbml_model_from_string(_doc())
    t = np.linspace(0.0, 3 * TAU, 31)
    got = model.simulate(t, rtol=1e-10, atol=1e-12)[:, model.network.species_names.index("A")]
    err = np.max(np.abs(got - [exact(s) for s in t]))
    assert err < 1e-9, err


def test_delay_error_falls_with_the_tolerance():
    """Observed convergence: the error falls with rtol (measured 1350x from 1e-5 to 1e-8)."""
    model = sbml_model_from_string(_doc())
    t = np.linspace(0.0, 3 * TAU, 31)
    ref = np.array([exact(s) for s in t])
    i = model.network.species_names.index("A")
    errs = [np.max(np.abs(model.simulate(t, rtol=r, atol=r * 1e-2)[:, i] - ref)) for r in (1e-5, 1e-8)]
    assert errs[1] < errs[0] / 100, errs


def test_delay_in_an_assignment_rule_echoes_the_state():
    """y := delay(A, tau) read back from the history equals x(t - tau) (1 before tau)."""
    model = sbml_model_from_string(_doc(rules=(("y", f"delay(A, {TAU})"),),
                                        params=(("k", K, True), ("y", 1.0, False))))
    t = np.linspace(0.0, 3 * TAU, 31)
    model.simulate(t, rtol=1e-10, atol=1e-12)
    expr = model.importer._name("y", "output", {})
    assert model.delayed is not None
    y = model.delayed.columns(str(expr), t)
    want = [exact(s - TAU) if s >= TAU else 1.0 for s in t]
    assert np.max(np.abs(y - want)) < 1e-9


def test_network_import_refuses_delay_in_one_line():
    with pytest.raises(ConfigError, match="delay") as err:
        network_from_sbml_string(_doc())
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("law, words", [
    ("k * delay(A, A) * C", "not a constant"),  # state-dependent delay time
    ("k * delay(delay(A, 1), 1) * C", "nested"),
])
def test_unsupported_delays_are_refused_in_one_line(law, words):
    with pytest.raises(ConfigError, match=words) as err:
        sbml_model_from_string(_doc(law)).simulate(np.linspace(0, 1, 3))
    assert "\n" not in str(err.value)


def test_zero_delay_time_from_a_parameter_is_the_current_state():
    """``delay(A, p)`` with a parameter p = 0 is A itself (SBML), so A(t) = e^{-k t}: read from the
    current state, not from the last accepted step (which lagged: 3.1e-3 relative error at t = 5
    before the fix). Tolerance 1e-7 relative at rtol 1e-10 (BDF's error on an exponential)."""
    model = sbml_model_from_string(_doc(law="k * delay(A, p) * C", params=(("k", K, True), ("p", 0.0, True))))
    t = np.linspace(0.0, 5.0, 11)
    got = model.simulate(t, rtol=1e-10, atol=1e-13)[:, model.network.species_names.index("A")]
    np.testing.assert_allclose(got, np.exp(-K * t), rtol=1e-7, atol=0)


def test_a_tiny_delay_time_is_refused_in_one_line():
    """A delay time below 1e-6 of the span would need > 1e6 steps of the method of steps: refused."""
    model = sbml_model_from_string(_doc(law="k * delay(A, p) * C", params=(("k", K, True), ("p", 1e-9, True))))
    with pytest.raises(ConfigError, match="below 1e-6 of the simulated span"):
        model.simulate(np.linspace(0.0, 5.0, 11))
