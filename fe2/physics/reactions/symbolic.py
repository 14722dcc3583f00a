"""Symbolic derivatives for the analytic Jacobian, finite wherever the function is differentiable.

sympy differentiates a power with a symbolic exponent as ``d(b**n)/dx = n * b**n * b'/b``: at
``b = 0`` that is ``0/0`` (NaN) even where ``b**n`` is smooth, e.g. the Hill term
``(P*V)**n`` with ``n = 2`` at ``P = 0`` (the repressilator of BioModels BIOMD0000000012).
:func:`derivative` applies the power rule with the whole base instead,

    d(b**e)/dx = e * b**(e - 1) * db/dx                      (e independent of x),
    d(b**e)/dx = b**e * (de/dx * log(b) + e * db/dx / b)      (e depending on x),

which is finite at ``b = 0`` whenever ``e >= 1`` (``e = 1``: ``b**0 = 1``). For ``0 < e < 1``
the function itself has an infinite slope at ``b = 0`` (``sqrt``): the Jacobian is then
``inf`` there, honestly, and the integrators report it by name (see
:meth:`~fe2.physics.reactions.network.CompiledNetwork.nonfinite_report`).

``floor`` and ``ceiling`` have derivative 0 (everywhere except at their jumps, where they are
not differentiable); a ``Piecewise`` is differentiated piece by piece (its conditions are
kept). Everything else goes through sympy's own chain rule.
"""

from __future__ import annotations

import sympy as sp


def _needs_care(expr: sp.Basic, x: sp.Symbol) -> bool:
    """Whether sympy's diff of ``expr`` could produce ``b**n/b`` or an unprintable Derivative."""
    for node in sp.preorder_traversal(expr):
        if isinstance(node, sp.Pow) and x in node.free_symbols and not node.exp.is_Integer:
            return True
        if isinstance(node, (sp.floor, sp.ceiling, sp.Piecewise)) and x in node.free_symbols:
            return True
    return False


def derivative(expr: sp.Expr, x: sp.Symbol) -> sp.Expr:
    """``d expr / d x``, with the power rule on whole bases (see the module docstring)."""
    if x not in expr.free_symbols:
        return sp.Integer(0)
    if not _needs_care(expr, x):
        return sp.diff(expr, x)
    if isinstance(expr, sp.Pow):
        b, e = expr.args
        if x not in e.free_symbols:
            return e * b ** (e - 1) * derivative(b, x)
        return expr * (derivative(e, x) * sp.log(b) + e * derivative(b, x) / b)
    if isinstance(expr, sp.Add):
        return sp.Add(*[derivative(a, x) for a in expr.args])
    if isinstance(expr, sp.Mul):
        args = expr.args
        return sp.Add(*[sp.Mul(*args[:i], derivative(a, x), *args[i + 1:])
                        for i, a in enumerate(args) if x in a.free_symbols])
    if isinstance(expr, (sp.floor, sp.ceiling)):
        return sp.Integer(0)
    if isinstance(expr, sp.Piecewise):
        return sp.Piecewise(*[(derivative(e, x), c) for e, c in expr.args])
    # a function of arguments that need care: chain rule through placeholders
    dummies = [sp.Dummy(real=True) for _ in expr.args]
    outer = expr.func(*dummies)
    back = dict(zip(dummies, expr.args, strict=True))
    return sp.Add(*[sp.diff(outer, d).xreplace(back) * derivative(a, x)
                    for d, a in zip(dummies, expr.args, strict=True) if x in a.free_symbols])
