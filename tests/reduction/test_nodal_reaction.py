"""Nodal reaction rates of ``fe2 reduce`` (method = "pod") from TOML: the named laws and the formula
parser against hand-written closed forms and derivatives, and the parser's refusals (no Python is
evaluated: attribute access, calls of anything but the listed functions, subscripts, lambdas,
comparisons, huge or symbolic-in-c exponents are one-line ConfigErrors naming the key)."""

from __future__ import annotations

import numpy as np
import pytest

from fe2.errors import ConfigError
from fe2.reduction.nodal_reaction import law_expression, numeric_reaction, parse_rate

pytestmark = pytest.mark.serial

C = np.linspace(0.0, 5.0, 11)


@pytest.mark.parametrize("kind, params, text, rate, slope", [
    ("michaelis_menten", {"vmax": 2.0, "km": 0.2}, "-vmax*c/(km + c)",
     lambda c: -2.0 * c / (0.2 + c), lambda c: -2.0 * 0.2 / (0.2 + c) ** 2),
    ("logistic", {"rate": 0.7, "capacity": 3.0}, "rate*c*(1 - c/capacity)",
     lambda c: 0.7 * c * (1 - c / 3.0), lambda c: 0.7 * (1 - 2 * c / 3.0)),
])
def test_named_laws_equal_their_formula_and_closed_form(kind, params, text, rate, slope):
    """r and dr/dc of the named law, of the same law written as a formula, and of the closed form
    agree to 1e-14 of the largest |value| (sympy may reorder c(1 − c/K) into c − c²/K: round-off of
    the cancellation at c = K, measured 2.3e-15 against 2.3)."""
    for expr in (law_expression(kind, params), law_expression("expression", params, text)):
        r, dr = numeric_reaction(expr)
        assert np.allclose(r(C), rate(C), rtol=0, atol=1e-14 * np.max(np.abs(rate(C))))
        assert np.allclose(dr(C), slope(C), rtol=0, atol=1e-14 * np.max(np.abs(slope(C))))


def test_formula_with_functions_and_powers():
    """−k c² e^{−c} + sqrt(1 + c) with k = 1.5: r and the symbolic derivative against the hand-written
    ones (1e-13 relative); a constant formula gives arrays of the node count."""
    r, dr = numeric_reaction(parse_rate("-k*c**2*exp(-c) + sqrt(1 + c)", {"k": 1.5}))
    assert np.allclose(r(C), -1.5 * C**2 * np.exp(-C) + np.sqrt(1 + C), rtol=1e-13)
    assert np.allclose(dr(C), -1.5 * (2 * C - C**2) * np.exp(-C) + 0.5 / np.sqrt(1 + C), rtol=1e-13)
    r0, dr0 = numeric_reaction(parse_rate("0.25", {}))
    assert r0(C).shape == C.shape and np.all(r0(C) == 0.25) and np.all(dr0(C) == 0.0)


@pytest.mark.parametrize("text, words", [
    ("__import__('os').system('true')", "not allowed"),
    ("c.real", "not allowed"),
    ("(lambda: 1)()", "not allowed"),
    ("c[0]", "not allowed"),
    ("c if c > 0 else 0", "not allowed"),
    ("open('x')", "not allowed"),
    ("c**100", "exponents are limited"),
    ("c**c", "an exponent must be"),
    ("2**2**2**2**2", "an exponent must be"),
    ("foo*c", "unknown name 'foo'"),
    ("exp(c, 2)", "takes one argument"),
    ("c +", "cannot parse"),
    ("c" + "+c" * 300, "at most 400 characters"),
    ("1" + "0" * 320 + "*c", "is not finite"),  # an integer beyond double range (OverflowError in float())
    ("1e999*c", "is not finite"),  # a float literal that is inf
])
def test_unsafe_or_bad_formulas_are_refused(text, words):
    with pytest.raises(ConfigError) as info:
        parse_rate(text, {"k": 1.0})
    msg = str(info.value)
    assert msg.startswith("reaction.expression: ") and words in msg and len(msg.splitlines()) == 1, msg


@pytest.mark.parametrize("kind, params, key", [
    ("michaelis_menten", {"vmax": 1.0, "km": 0.0}, "reaction.parameters.km: must be > 0"),
    ("michaelis_menten", {"vmax": -1.0, "km": 1.0}, "reaction.parameters.vmax: must be >= 0"),
    ("michaelis_menten", {"km": 1.0}, "reaction.parameters.vmax: required"),
    ("logistic", {"rate": 1.0, "capacity": 1.0, "k": 2.0}, "reaction.parameters.k: not a parameter"),
    ("logistic", {"rate": 1.0, "capacity": -2.0}, "reaction.parameters.capacity: must be > 0"),
])
def test_law_parameters_out_of_range_name_the_key(kind, params, key):
    with pytest.raises(ConfigError) as info:
        law_expression(kind, params)
    assert str(info.value).startswith(key), str(info.value)
