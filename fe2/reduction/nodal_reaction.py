"""Nodal reaction rates r(c) for POD–Galerkin models, from a named law or a safely parsed formula.

``r`` is the rate added to ∂c/∂t (a source: > 0 produces, < 0 consumes), evaluated node by node
(lumped mass, as in :mod:`fe2.reduction.pod`). The laws:

* ``michaelis_menten``: r = −vmax c / (km + c)  (uptake; vmax ≥ 0, km > 0);
* ``logistic``: r = rate c (1 − c / capacity)  (capacity > 0);
* ``expression``: a formula of ``c`` and the named parameters with numbers, ``+ − * / **``,
  parentheses and the functions ``exp log sqrt tanh sin cos``; a power's exponent must be a
  number literal with |p| ≤ 16 or a parameter name.

The formula is parsed with :func:`ast.parse` and walked node by node into a sympy expression —
only the nodes above are accepted, nothing is evaluated as Python (no ``eval``/``sympify``).
The derivative dr/dc is sympy's, both are turned into vectorized numpy functions once.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Mapping

import numpy as np
import sympy as sp

from fe2.errors import ConfigError

#: the functions a formula may call
FUNCTIONS: dict[str, Callable] = {"exp": sp.exp, "log": sp.log, "sqrt": sp.sqrt, "tanh": sp.tanh,
                                  "sin": sp.sin, "cos": sp.cos}
#: the parameters each named law needs, with the admissible range in words and as a test
LAWS: dict[str, dict[str, tuple[str, Callable[[float], bool]]]] = {
    "michaelis_menten": {"vmax": (">= 0", lambda v: v >= 0), "km": ("> 0", lambda v: v > 0)},
    "logistic": {"rate": ("any finite number", lambda v: True), "capacity": ("> 0", lambda v: v > 0)},
}
MAX_FORMULA = 400  # characters
MAX_EXPONENT = 16.0

_BINOPS = {ast.Add: lambda a, b: a + b, ast.Sub: lambda a, b: a - b, ast.Mult: lambda a, b: a * b,
           ast.Div: lambda a, b: a / b}


def _to_sympy(node: ast.AST, names: Mapping[str, sp.Symbol], where: str) -> sp.Expr:
    if isinstance(node, ast.Expression):
        return _to_sympy(node.body, names, where)
    if isinstance(node, ast.Constant) and isinstance(node.value, int | float) and not isinstance(node.value, bool):
        try:
            value = float(node.value)
        except OverflowError:
            value = float("inf")
        if not np.isfinite(value):
            raise ConfigError(f"{where}: the number {str(node.value)[:20]}... is not finite in double precision")
        return sp.Float(value)
    if isinstance(node, ast.Name):
        if node.id not in names:
            raise ConfigError(f"{where}: unknown name {node.id!r} (use c and the names of reaction.parameters)")
        return names[node.id]
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        inner = _to_sympy(node.operand, names, where)
        return -inner if isinstance(node.op, ast.USub) else inner
    if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
        return _BINOPS[type(node.op)](_to_sympy(node.left, names, where), _to_sympy(node.right, names, where))
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Pow):
        e = node.right
        lit = e.operand if isinstance(e, ast.UnaryOp) and isinstance(e.op, ast.USub | ast.UAdd) else e
        if isinstance(lit, ast.Constant) and isinstance(lit.value, int | float) and not isinstance(lit.value, bool):
            if abs(float(lit.value)) > MAX_EXPONENT:
                raise ConfigError(f"{where}: exponents are limited to |p| <= {MAX_EXPONENT:g}, got {lit.value!r}")
        elif not (isinstance(e, ast.Name) and e.id in names and e.id != "c"):
            raise ConfigError(f"{where}: an exponent must be a number (|p| <= {MAX_EXPONENT:g}) or a parameter name")
        return _to_sympy(node.left, names, where) ** _to_sympy(e, names, where)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in FUNCTIONS:
        if len(node.args) != 1 or node.keywords:
            raise ConfigError(f"{where}: {node.func.id}() takes one argument")
        return FUNCTIONS[node.func.id](_to_sympy(node.args[0], names, where))
    raise ConfigError(f"{where}: not allowed in a rate formula: {type(node).__name__} (numbers, c, parameters, "
                      f"+ - * / **, {' '.join(FUNCTIONS)})")


def parse_rate(text: str, parameters: Mapping[str, float], where: str = "reaction.expression") -> sp.Expr:
    """The sympy expression of ``text`` in the symbol ``c`` (parameters substituted by their values)."""
    if len(text) > MAX_FORMULA:
        raise ConfigError(f"{where}: a formula of at most {MAX_FORMULA} characters, got {len(text)}")
    bad = [k for k in parameters if k == "c" or k in FUNCTIONS or not k.isidentifier()]
    if bad:
        raise ConfigError(f"reaction.parameters.{bad[0]}: a parameter name must be an identifier other than c "
                          f"and {', '.join(FUNCTIONS)}")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as err:
        raise ConfigError(f"{where}: cannot parse {text!r}: {err.msg}") from None
    c = sp.Symbol("c", real=True)
    names: dict[str, sp.Symbol] = {"c": c, **{k: sp.Symbol(k, real=True) for k in parameters}}
    expr = _to_sympy(tree, names, where)
    return expr.subs({names[k]: sp.Float(float(v)) for k, v in parameters.items()})


def law_expression(kind: str, parameters: Mapping[str, float], expression: str | None = None) -> sp.Expr:
    """r(c) of a named law (parameters checked: one line naming the key and its range) or a formula."""
    if kind == "expression":
        if expression is None:
            raise ConfigError("reaction.expression: give the rate formula r(c) for kind = 'expression'")
        return parse_rate(expression, parameters)
    if kind not in LAWS:
        raise ConfigError(f"reaction.kind: one of {', '.join([*LAWS, 'expression'])}, got {kind!r}")
    if expression is not None:
        raise ConfigError(f"reaction.expression: only for kind = 'expression', not {kind!r}")
    need = LAWS[kind]
    for key in parameters:
        if key not in need:
            raise ConfigError(f"reaction.parameters.{key}: not a parameter of {kind} (it has {', '.join(need)})")
    for key, (words, ok) in need.items():
        if key not in parameters:
            raise ConfigError(f"reaction.parameters.{key}: required by {kind} ({words})")
        if not ok(float(parameters[key])):
            raise ConfigError(f"reaction.parameters.{key}: must be {words} for {kind}, got {parameters[key]}")
    c = sp.Symbol("c", real=True)
    p = {k: sp.Float(float(v)) for k, v in parameters.items()}
    if kind == "michaelis_menten":
        return -p["vmax"] * c / (p["km"] + c)
    return p["rate"] * c * (1 - c / p["capacity"])


def numeric_reaction(expr: sp.Expr) -> tuple[Callable[[np.ndarray], np.ndarray], Callable[[np.ndarray], np.ndarray]]:
    """(r, dr/dc) of a sympy expression in ``c`` as vectorized numpy functions (arrays in, arrays out)."""
    c = sp.Symbol("c", real=True)
    f = sp.lambdify(c, expr, modules="numpy")
    df = sp.lambdify(c, sp.diff(expr, c), modules="numpy")

    def r(x: np.ndarray) -> np.ndarray:
        return np.asarray(f(x), dtype=float) * np.ones_like(x)

    def dr(x: np.ndarray) -> np.ndarray:
        return np.asarray(df(x), dtype=float) * np.ones_like(x)

    return r, dr


__all__ = ["FUNCTIONS", "LAWS", "law_expression", "numeric_reaction", "parse_rate"]
