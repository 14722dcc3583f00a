"""SBML math (libsbml ASTs) -> sympy, in the symbol space of an fe2 network.

A species symbol stands for its concentration ``c`` (the network's state), or for its amount
``c * V`` when ``hasOnlySubstanceUnits`` is true; compartments and parameters are symbols of
their ids; assignment-rule variables are replaced by their (translated, cached) rule; function
definitions are inlined. Booleans and numbers mix as in SBML: a relation or logical value used
as a number is 1 or 0, a number used as a condition is true when nonzero. Constructs the
integrators cannot honour (``rateOf`` of non-variables, ids of reactions or
species references used as values, unknown operators) raise a one-line ConfigError.
"""

from __future__ import annotations

import itertools
import math
from typing import NoReturn

import libsbml
import sympy as sp
from sympy.logic.boolalg import Boolean

AVOGADRO = 6.02214179e23  # SBML L3 csymbol avogadro, 1/mol: the value SBML fixes (CODATA 2006)
_AST_NAMES = {getattr(libsbml, n): n[4:].lower() for n in dir(libsbml) if n.startswith("AST_")}
_UNARY = {
    libsbml.AST_FUNCTION_EXP: sp.exp, libsbml.AST_FUNCTION_LN: sp.log,
    libsbml.AST_FUNCTION_ABS: sp.Abs, libsbml.AST_FUNCTION_FLOOR: sp.floor,
    libsbml.AST_FUNCTION_CEILING: sp.ceiling, libsbml.AST_FUNCTION_SIN: sp.sin,
    libsbml.AST_FUNCTION_COS: sp.cos, libsbml.AST_FUNCTION_TAN: sp.tan,
    libsbml.AST_FUNCTION_SEC: sp.sec, libsbml.AST_FUNCTION_CSC: sp.csc,
    libsbml.AST_FUNCTION_COT: sp.cot, libsbml.AST_FUNCTION_SINH: sp.sinh,
    libsbml.AST_FUNCTION_COSH: sp.cosh, libsbml.AST_FUNCTION_TANH: sp.tanh,
    libsbml.AST_FUNCTION_ARCSIN: sp.asin, libsbml.AST_FUNCTION_ARCCOS: sp.acos,
    libsbml.AST_FUNCTION_ARCTAN: sp.atan, libsbml.AST_FUNCTION_ARCSINH: sp.asinh,
    libsbml.AST_FUNCTION_ARCCOSH: sp.acosh, libsbml.AST_FUNCTION_ARCTANH: sp.atanh,
    # the reciprocal inverses, as the inverse of 1/x (MathML's definitions)
    libsbml.AST_FUNCTION_ARCSEC: lambda x: sp.acos(1 / x),
    libsbml.AST_FUNCTION_ARCCSC: lambda x: sp.asin(1 / x),
    libsbml.AST_FUNCTION_ARCCOT: lambda x: sp.atan(1 / x),
    libsbml.AST_FUNCTION_ARCSECH: lambda x: sp.acosh(1 / x),
    libsbml.AST_FUNCTION_ARCCSCH: lambda x: sp.asinh(1 / x),
    libsbml.AST_FUNCTION_ARCCOTH: lambda x: sp.atanh(1 / x),
}
_RELATIONS = {
    libsbml.AST_RELATIONAL_EQ: sp.Eq, libsbml.AST_RELATIONAL_NEQ: sp.Ne,
    libsbml.AST_RELATIONAL_LT: sp.Lt, libsbml.AST_RELATIONAL_LEQ: sp.Le,
    libsbml.AST_RELATIONAL_GT: sp.Gt, libsbml.AST_RELATIONAL_GEQ: sp.Ge,
}
_LOGICAL = {libsbml.AST_LOGICAL_AND: sp.And, libsbml.AST_LOGICAL_OR: sp.Or,
            libsbml.AST_LOGICAL_XOR: sp.Xor}
_FORBIDDEN: dict[int, str] = {}  # operators refused by name (delay: sbml_delay.py)
# rateOf(x): a placeholder until the network's right-hand sides are known (sbml.py resolves it)
RATE_OF = sp.Function("rateOf")


def _sym(name: str) -> sp.Symbol:
    return sp.Symbol(name, real=True)


def _is_bool(e) -> bool:
    return isinstance(e, Boolean) and not isinstance(e, sp.Expr)  # a Symbol is both


def _num(e):
    """``e`` as a number: a relation or logical value is 1 where true, 0 where false."""
    if e is sp.true:
        return sp.Integer(1)
    if e is sp.false:
        return sp.Integer(0)
    if _is_bool(e):
        return sp.Piecewise((sp.Integer(1), e), (sp.Integer(0), True))
    return e


def _bool(e):
    """``e`` as a condition: a number is true where nonzero."""
    return e if _is_bool(e) else sp.Ne(e, 0)


class MathMixin:
    """Translation of SBML math; the importer provides the model tables it reads."""

    m: libsbml.Model
    assign: dict[str, libsbml.ASTNode]
    species: dict[str, tuple[libsbml.Species, bool]]
    compartments: dict[str, libsbml.Compartment]
    params: dict[str, libsbml.Parameter]
    stoich: dict[str, libsbml.SpeciesReference]
    time_name: str
    _rule_cache: dict[str, sp.Expr]
    _expanding: list[str]

    def fail(self, msg: str) -> NoReturn:
        raise NotImplementedError

    def unsupported(self, what: str, elem_id: str = "") -> NoReturn:
        raise NotImplementedError

    def _delay(self, inner: sp.Expr, tau: sp.Expr, where: str) -> sp.Expr:
        raise NotImplementedError  # sbml_delay.DelayMixin

    def expr(self, ast: libsbml.ASTNode, where: str, local: dict[str, sp.Expr] | None = None) -> sp.Expr:
        """SBML math -> sympy, in the symbol space of the network (see the module docstring)."""
        local = local or {}
        t = ast.getType()
        kids = [ast.getChild(i) for i in range(ast.getNumChildren())]
        # a function call's arguments are translated by _call (in the caller's scope): sub is unused there
        raw = [self.expr(k, where, local) for k in kids] if t != libsbml.AST_FUNCTION else []
        sub: list[sp.Expr] = [_num(e) for e in raw]  # the operands of arithmetic, as numbers
        if t == libsbml.AST_NAME:
            return self._name(ast.getName(), where, local)
        if t == libsbml.AST_INTEGER:
            return sp.Integer(ast.getInteger())
        if t == libsbml.AST_RATIONAL:
            return sp.Rational(ast.getNumerator(), ast.getDenominator())
        if t in (libsbml.AST_REAL, libsbml.AST_REAL_E):
            v = ast.getReal()
            if not math.isfinite(v):
                self.fail(f"{where}: non-finite number {v} in the math")
            return sp.Integer(int(v)) if float(v).is_integer() and abs(v) < 2**53 else sp.Float(v)
        if t == libsbml.AST_NAME_TIME:
            return _sym(self.time_name)
        if t == libsbml.AST_NAME_AVOGADRO:
            return sp.Float(AVOGADRO)
        if t == libsbml.AST_CONSTANT_E:  # doubles, as simulators compare them: eq(P1, pi) with
            return sp.Float(math.e)  # P1 := pi is true (suite case 00958)
        if t == libsbml.AST_CONSTANT_PI:
            return sp.Float(math.pi)
        if t in (libsbml.AST_CONSTANT_TRUE, libsbml.AST_CONSTANT_FALSE):
            return sp.true if t == libsbml.AST_CONSTANT_TRUE else sp.false
        if t == libsbml.AST_PLUS:
            return sp.Add(*sub)
        if t == libsbml.AST_MINUS:
            return -sub[0] if len(sub) == 1 else sub[0] - sub[1]
        if t == libsbml.AST_TIMES:
            return sp.Mul(*sub)
        if t == libsbml.AST_DIVIDE:
            return sub[0] / sub[1]
        if t in (libsbml.AST_POWER, libsbml.AST_FUNCTION_POWER):
            return sub[0] ** sub[1]
        if t == libsbml.AST_FUNCTION_ROOT:
            return sp.sqrt(sub[0]) if len(sub) == 1 else sub[1] ** (1 / sub[0])
        if t == libsbml.AST_FUNCTION_LOG:
            return sp.log(sub[0], 10) if len(sub) == 1 else sp.log(sub[1], sub[0])
        if t == libsbml.AST_LOGICAL_NOT and len(raw) == 1:
            return sp.Not(_bool(raw[0]))
        if t == libsbml.AST_LOGICAL_IMPLIES and len(raw) == 2:
            return sp.Or(sp.Not(_bool(raw[0])), _bool(raw[1]))
        if t in _UNARY and len(sub) == 1:
            return _UNARY[t](sub[0])
        if t == libsbml.AST_FUNCTION_FACTORIAL and len(sub) == 1 and sub[0].is_Number:
            if not (sub[0] >= 0 and float(sub[0]).is_integer()):
                self.fail(f"{where}: factorial of {sub[0]} (needs a whole number >= 0)")
            return sp.factorial(sp.Integer(int(sub[0])))  # of a variable: refused below
        if t in (libsbml.AST_FUNCTION_QUOTIENT, libsbml.AST_FUNCTION_REM) and len(sub) == 2:
            a, b = sub  # MathML: a = q b + r with q the integer part of a / b (towards zero)
            q = sp.Piecewise((sp.floor(a / b), a / b >= 0), (sp.ceiling(a / b), True))
            return q if t == libsbml.AST_FUNCTION_QUOTIENT else a - b * q
        if t in (libsbml.AST_FUNCTION_MAX, libsbml.AST_FUNCTION_MIN):
            return (sp.Max if t == libsbml.AST_FUNCTION_MAX else sp.Min)(*sub)
        if t in _RELATIONS:
            rel = _RELATIONS[t]
            return sp.And(*[rel(a, b) for a, b in itertools.pairwise(sub)])
        if t in _LOGICAL:
            return _LOGICAL[t](*[_bool(e) for e in raw])
        if t == libsbml.AST_FUNCTION_PIECEWISE:
            pairs = [(sub[i], _bool(raw[i + 1])) for i in range(0, len(sub) - 1, 2)]
            if len(sub) % 2 == 0:  # undefined where no piece applies: would integrate NaN silently
                self.unsupported(f"piecewise without an <otherwise> branch in the math of {where}")
            return sp.Piecewise(*pairs, (sub[-1], True))
        if t == libsbml.AST_FUNCTION:
            return self._call(ast, kids, where, local)
        if t == libsbml.AST_FUNCTION_RATE_OF:
            if len(kids) != 1 or kids[0].getType() != libsbml.AST_NAME or kids[0].getName() in local:
                self.unsupported(f"rateOf of anything but a model variable in the math of {where}")
            return RATE_OF(_sym(kids[0].getName()))
        if t == libsbml.AST_FUNCTION_DELAY and len(sub) == 2:
            return self._delay(sub[0], sub[1], where)
        if t in _FORBIDDEN:
            self.unsupported(f"{_FORBIDDEN[t]} in the math of {where}")
        self.unsupported(f"MathML operator {ast.getName() or _AST_NAMES.get(t, t)!r} in the math of {where}")

    def _call(self, ast, kids, where, local) -> sp.Expr:
        fname = ast.getName()
        fd = self.m.getFunctionDefinition(fname)
        if fd is None or not fd.isSetMath():
            self.fail(f"{where}: unknown function {fname!r}")
        if fd.getNumArguments() != len(kids):
            self.fail(f"{where}: function {fname!r} takes {fd.getNumArguments()} arguments, "
                      f"got {len(kids)}")
        if fname in self._expanding:
            self.fail(f"{where}: function {fname!r} calls itself")
        args = {fd.getArgument(i).getName(): self.expr(kids[i], where, local) for i in range(len(kids))}
        self._expanding.append(fname)
        try:
            return self.expr(fd.getBody(), f"function {fname!r} (called from {where})", args)
        finally:
            self._expanding.pop()

    def _name(self, name: str, where: str, local: dict[str, sp.Expr]) -> sp.Expr:
        if name in local:
            return local[name]
        if name in self.assign:
            if name not in self._rule_cache:
                if name in self._expanding:
                    self.fail(f"assignment rules for {name!r} form a cycle")
                self._expanding.append(name)
                try:
                    self._rule_cache[name] = self.expr(self.assign[name], f"assignment rule for {name!r}")
                finally:
                    self._expanding.pop()
            return self._rule_cache[name]
        if name in self.species:
            s, _ = self.species[name]
            c = _sym(name)
            return c * _sym(s.getCompartment()) if s.getHasOnlySubstanceUnits() else c
        if name in self.compartments or name in self.params or name in self.stoich:
            return _sym(name)  # a species reference's id: its stoichiometry
        if (r := self.m.getReaction(name)) is not None:  # its rate: the kinetic law's value
            kl = r.getKineticLaw()
            if kl is None or not kl.isSetMath() or kl.getNumParameters() or name in self._expanding:
                self.unsupported(f"reaction id used as a value in the math of {where} (the "
                                 f"reaction has local parameters, no law, or reads itself)", name)
            self._expanding.append(name)
            try:
                return _num(self.expr(kl.getMath(), f"kinetic law of {name!r} (read in {where})"))
            finally:
                self._expanding.pop()
        if self.m.getElementBySId(name) is not None:
            self.unsupported(f"species-reference (or other element) id used as a value in the math "
                             f"of {where}", name)
        self.fail(f"{where}: unknown identifier {name!r}")
