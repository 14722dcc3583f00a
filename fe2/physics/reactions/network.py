"""Reaction networks: species, parameters, reactions, stoichiometry, conserved moieties,
and rate functions / analytic Jacobians generated once (sympy -> numpy) and vectorized over nodes.

Conventions
-----------
* Concentrations are arrays of shape ``(n_nodes, n_species)`` (one independent ODE system per
  node: a quadrature point, a mesh vertex, a cell); a single state of shape ``(n_species,)`` is
  accepted everywhere and treated as one node.
* The stoichiometry matrix ``S`` has shape ``(n_species, n_reactions)``; ``dc/dt = S v(c)`` with
  ``v`` the reaction rates (net rates for reversible mass action).
* Conserved moieties are the rows ``w`` with ``w^T S = 0`` (left null space of ``S``); for every
  rate law ``w^T c`` is constant in time.
* Rate laws: ``mass_action`` (``k``, optional ``k_reverse``), ``michaelis_menten``
  (``vmax``, ``km``, ``substrate``; rate ``vmax*S/(km+S)``), ``hill`` (``vmax``, ``k``, ``n``,
  ``substrate``; rate ``vmax*S^n/(k^n+S^n)``) and ``expression`` (any sympy-parsable formula in
  species and parameter names, or a sympy expression in symbols of those names, as the SBML
  importer builds). A law parameter is a number or a parameter name.

A network is built in Python (:class:`Network`, :meth:`Reaction.parse`) or from a TOML/dict
(:func:`~fe2.physics.reactions.network_file.network_from_dict`,
:func:`~fe2.physics.reactions.network_file.load_network`); every input problem is a one-line
:class:`~fe2.errors.ConfigError`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from functools import cached_property
from math import lcm

import numpy as np
import sympy as sp

from fe2.errors import ConfigError
from fe2.physics.reactions.symbolic import derivative

LAWS = ("mass_action", "michaelis_menten", "hill", "expression")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_RESERVED = {"t", "pi", "oo", "nan", "zoo"}  # time (kept for time-dependent laws), sympy constants


@dataclass(frozen=True)
class Species:
    """A chemical species with its initial concentration (or molecule count for SSA)."""

    name: str
    initial: float = 0.0


def _parse_side(text: str, where: str) -> dict[str, int]:
    side: dict[str, int] = {}
    text = text.strip()
    if text in ("", "0", "∅", "{}", "None", "nothing"):
        return side
    for term in text.split("+"):
        term = term.strip()
        m = re.fullmatch(r"(\d+)?\s*\*?\s*([A-Za-z_][A-Za-z0-9_]*)", term)
        if not m:
            raise ConfigError(f"{where}: cannot read term {term!r} (expected e.g. '2 A + B')")
        nu = int(m.group(1) or 1)
        side[m.group(2)] = side.get(m.group(2), 0) + nu
    return side


@dataclass(frozen=True)
class Reaction:
    """One reaction ``sum nu_i R_i -> sum mu_j P_j`` with its rate law.

    ``params`` maps the law's parameter names (``k``, ``k_reverse``, ``vmax``, ``km``, ``n``,
    ``substrate``, ``rate``) to numbers, parameter names or (``substrate``) a species name.
    ``continuous``: a deterministic rate equation written as a reaction (an SBML rate rule, the
    time state), not a discrete reaction event: the stochastic methods refuse such a network.
    """

    reactants: dict[str, int]
    products: dict[str, int]
    law: str = "mass_action"
    params: dict[str, float | str] = field(default_factory=dict)
    name: str = ""
    continuous: bool = False

    @classmethod
    def parse(cls, equation: str, law: str = "mass_action", name: str = "", **params) -> Reaction:
        """``Reaction.parse("E + S <-> C", k="k1", k_reverse="km1")``; ``<->`` needs ``k_reverse``."""
        where = f"reaction {name or equation!r}"
        arrow = "<->" if "<->" in equation else "->" if "->" in equation else None
        if arrow is None:
            raise ConfigError(f"{where}: equation needs '->' or '<->'")
        lhs, rhs = equation.split(arrow, 1)
        if arrow == "<->":
            if law != "mass_action":
                raise ConfigError(f"{where}: '<->' is for mass_action only")
            if "k_reverse" not in params:
                raise ConfigError(f"{where}: a reversible reaction ('<->') needs k_reverse")
        elif "k_reverse" in params:
            raise ConfigError(f"{where}: k_reverse given for an irreversible reaction ('->')")
        return cls(_parse_side(lhs, where), _parse_side(rhs, where), law, dict(params),
                   name or equation.strip())

    @property
    def reversible(self) -> bool:
        return self.law == "mass_action" and "k_reverse" in self.params

    def species_names(self) -> set[str]:
        return set(self.reactants) | set(self.products)


def _value(v, syms: dict[str, sp.Symbol], where: str, key: str):
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return sp.Integer(int(v)) if float(v).is_integer() else sp.Float(v)
    if isinstance(v, str):
        if v in syms:
            return syms[v]
        try:
            return sp.Float(float(v))
        except ValueError:
            raise ConfigError(f"{where}: {key}: unknown parameter or species {v!r}") from None
    raise ConfigError(f"{where}: {key}: expected a number or a name, got {v!r}")


_LAW_KEYS = {
    "mass_action": ({"k"}, {"k_reverse"}),
    "michaelis_menten": ({"vmax", "km"}, {"substrate"}),
    "hill": ({"vmax", "k", "n"}, {"substrate"}),
    "expression": ({"rate"}, set()),
}


def rate_expression(rx: Reaction, species_syms: dict[str, sp.Symbol],
                    param_syms: dict[str, sp.Symbol]) -> sp.Expr:
    """The sympy rate of ``rx`` (net rate for reversible mass action)."""
    where = f"reaction {rx.name!r}"
    if rx.law not in _LAW_KEYS:
        raise ConfigError(f"{where}: law: unknown rate law {rx.law!r} (one of {', '.join(LAWS)})")
    need, opt = _LAW_KEYS[rx.law]
    keys = set(rx.params)
    if missing := need - keys:
        raise ConfigError(f"{where}: law {rx.law} needs {', '.join(sorted(missing))}")
    if extra := keys - need - opt:
        raise ConfigError(f"{where}: {sorted(extra)[0]}: unknown key for law {rx.law}")
    allsyms = {**param_syms, **species_syms}
    p = rx.params
    if rx.law == "mass_action":
        fwd = _value(p["k"], param_syms, where, "k")
        for s, nu in rx.reactants.items():
            fwd = fwd * species_syms[s] ** nu
        if "k_reverse" in p:
            rev = _value(p["k_reverse"], param_syms, where, "k_reverse")
            for s, nu in rx.products.items():
                rev = rev * species_syms[s] ** nu
            return fwd - rev
        return fwd
    if rx.law in ("michaelis_menten", "hill"):
        sub = p.get("substrate")
        if sub is None:
            if len(rx.reactants) != 1:
                raise ConfigError(f"{where}: substrate: give the substrate (the reaction has "
                                  f"{len(rx.reactants)} reactants)")
            sub = next(iter(rx.reactants))
        if sub not in species_syms:
            raise ConfigError(f"{where}: substrate: unknown species {sub!r}")
        S = species_syms[sub]
        vmax = _value(p["vmax"], param_syms, where, "vmax")
        if rx.law == "michaelis_menten":
            return vmax * S / (_value(p["km"], param_syms, where, "km") + S)
        K = _value(p["k"], param_syms, where, "k")
        n = _value(p["n"], param_syms, where, "n")
        return vmax * S**n / (K**n + S**n)
    # expression
    text = p["rate"]
    if isinstance(text, sp.Expr):
        # built programmatically (the SBML importer): rebind symbols by name to the network's
        expr = text.xreplace({s: allsyms[s.name] for s in text.free_symbols if s.name in allsyms})
    elif not isinstance(text, str):
        raise ConfigError(f"{where}: rate: expected a formula string")
    else:
        try:
            expr = sp.sympify(text, locals=dict(allsyms))
        except Exception as err:  # noqa: BLE001 -- sympy raises SympifyError, TokenError, TypeError ... on bad text
            base = getattr(err, "base_exc", None) or err
            first = f"{type(base).__name__}: {str(base).splitlines()[0]}" if str(base) else type(base).__name__
            raise ConfigError(f"{where}: rate: cannot parse {text!r}: {first}") from None
    unknown = {str(s) for s in expr.free_symbols} - set(allsyms)
    if unknown:
        raise ConfigError(f"{where}: rate: unknown name(s) {', '.join(sorted(unknown))} in {text!r}")
    return expr


def _integer_rows(vectors) -> np.ndarray:
    rows = []
    for v in vectors:
        fr = [Fraction(str(x)) for x in v]
        den = lcm(*[f.denominator for f in fr]) if fr else 1
        ints = [int(f * den) for f in fr]
        g = np.gcd.reduce(np.abs(ints)) if any(ints) else 1
        ints = [i // int(g) for i in ints]
        if sum(i < 0 for i in ints) > sum(i > 0 for i in ints):
            ints = [-i for i in ints]
        rows.append(ints)
    return np.array(rows, dtype=float).reshape(len(rows), -1)


def _nonnegative_combination(W: np.ndarray) -> np.ndarray:
    """Make basis rows nonnegative where adding small integer multiples of other rows can
    (``-E + S + P`` plus ``E + C`` -> ``S + C + P``): same span, readable moieties.
    """
    W = W.copy()
    for _ in range(3):
        for i in range(len(W)):
            for j in range(len(W)):
                if i == j or (W[i] >= 0).all():
                    continue
                best = (np.sum(W[i] < 0), 0)
                for m in (1, 2, 3, 4, -1, -2, -3, -4):
                    r = W[i] + m * W[j]
                    if r.any() and np.sum(r < 0) < best[0]:
                        best = (np.sum(r < 0), m)
                if best[1]:
                    W[i] = W[i] + best[1] * W[j]
    return W


@dataclass(frozen=True)
class Network:
    """Species, parameters and reactions. Build once, then :meth:`compile` for numerics."""

    # any sequence is accepted (lists in most call sites); __post_init__ stores a tuple
    species: Sequence[Species]
    reactions: Sequence[Reaction]
    parameters: dict[str, float] = field(default_factory=dict)

    def __post_init__(self):
        object.__setattr__(self, "species", tuple(self.species))
        object.__setattr__(self, "reactions", tuple(self.reactions))
        object.__setattr__(self, "parameters", {k: float(v) for k, v in self.parameters.items()})
        names = [s.name for s in self.species]
        for n in names + list(self.parameters):
            if not _NAME.match(n) or n in _RESERVED:
                raise ConfigError(f"invalid name {n!r} (letters, digits, '_'; "
                                  f"not one of {sorted(_RESERVED)})")
        if len(set(names)) != len(names):
            raise ConfigError("species: duplicate species name")
        if clash := set(names) & set(self.parameters):
            raise ConfigError(f"{sorted(clash)[0]!r} is both a species and a parameter")
        if not self.reactions:
            raise ConfigError("reactions: a network needs at least one reaction")
        for rx in self.reactions:
            for s in rx.species_names():
                if s not in names:
                    raise ConfigError(f"reaction {rx.name!r}: unknown species {s!r}")
        _ = self.rate_expressions  # validate laws now: errors at construction, not at first use

    # -- structure --------------------------------------------------------------------------
    @property
    def species_names(self) -> list[str]:
        return [s.name for s in self.species]

    @property
    def n_species(self) -> int:
        return len(self.species)

    @property
    def n_reactions(self) -> int:
        return len(self.reactions)

    def index(self, name: str) -> int:
        return self.species_names.index(name)

    @property
    def initial(self) -> np.ndarray:
        return np.array([s.initial for s in self.species], dtype=float)

    @cached_property
    def stoichiometry(self) -> np.ndarray:
        """``S[i, j]`` = net change of species i in reaction j (products minus reactants)."""
        S = np.zeros((self.n_species, self.n_reactions))
        idx = {n: i for i, n in enumerate(self.species_names)}
        for j, rx in enumerate(self.reactions):
            for s, nu in rx.reactants.items():
                S[idx[s], j] -= nu
            for s, nu in rx.products.items():
                S[idx[s], j] += nu
        return S

    @cached_property
    def conservation_laws(self) -> np.ndarray:
        """Rows ``w`` (shape ``(n_laws, n_species)``) with ``w^T S = 0``: the conserved moieties.

        Exact rational basis of the null space of ``S^T`` (sympy), scaled to coprime integers,
        sign chosen so that most entries are positive.
        """
        St = sp.Matrix(self.stoichiometry.T.astype(int).tolist())
        basis = St.nullspace()
        if not basis:
            return np.zeros((0, self.n_species))
        return _nonnegative_combination(_integer_rows([list(v) for v in basis]))

    def moiety_names(self) -> list[str]:
        """Human-readable moieties, e.g. ``'E + C'``."""
        out = []
        for w in self.conservation_laws:
            terms = [f"{'' if abs(c) == 1 else f'{abs(c):g} '}{n}"
                     for c, n in zip(w, self.species_names, strict=False) if c]
            signs = ["-" if c < 0 else "+" for c in w if c]
            txt = ("-" if signs[0] == "-" else "") + terms[0]
            for s, t in zip(signs[1:], terms[1:], strict=False):
                txt += f" {s} {t}"
            out.append(txt)
        return out

    # -- symbolic ---------------------------------------------------------------------------
    @cached_property
    def symbols(self) -> tuple[dict[str, sp.Symbol], dict[str, sp.Symbol]]:
        return ({n: sp.Symbol(n, real=True) for n in self.species_names},
                {n: sp.Symbol(n, real=True) for n in self.parameters})

    @cached_property
    def rate_expressions(self) -> list[sp.Expr]:
        ssym, psym = self.symbols
        return [rate_expression(rx, ssym, psym) for rx in self.reactions]

    @cached_property
    def rhs_expressions(self) -> list[sp.Expr]:
        v = self.rate_expressions
        S = self.stoichiometry
        out = []
        for i in range(self.n_species):
            e = sp.Integer(0)
            for j in range(self.n_reactions):
                if S[i, j]:
                    e += int(S[i, j]) * v[j]
            out.append(e)
        return out

    def compile(self) -> CompiledNetwork:
        """The vectorized numpy rate / right-hand side / Jacobian functions, generated on the first
        call and reused by every later one (the network is immutable).
        """
        return self._compiled

    @cached_property
    def _compiled(self) -> CompiledNetwork:
        return CompiledNetwork(self)


def _lambdify_list(args, exprs):
    """One numpy function returning the list of ``exprs`` (common subexpressions shared)."""
    return sp.lambdify(args, list(exprs), modules="numpy", cse=True)


class CompiledNetwork:
    """Numeric view of a :class:`Network`: vectorized rates, ``f(c) = S v(c)`` and ``df/dc``.

    Parameter values default to the network's; ``params={name: value_or_array}`` overrides
    them (an array of shape ``(n_nodes,)`` gives per-node values).

    Two layouts: the public one, ``c`` of shape ``(n_nodes, n_species)`` and Jacobian
    ``(n_nodes, n_species, n_species)``; and the species-major one used by the batched
    integrators (``cT`` of shape ``(n_species, n_nodes)``, Jacobian ``(s, s, n)``), where every
    entry is a contiguous array and no transposes happen inside the time loop.
    """

    def __init__(self, network: Network):
        self.network = network
        self.n_species = network.n_species
        self.S = network.stoichiometry
        self.W = network.conservation_laws
        ssym, psym = network.symbols
        self._pnames = list(psym)
        args = [*ssym.values(), *psym.values()]
        self._rates = _lambdify_list(args, network.rate_expressions)
        f = network.rhs_expressions
        self._rhs = _lambdify_list(args, f)
        svals = list(ssym.values())
        # power rule on whole bases: sympy's d(b**n)/dx = n*b**n*b'/b is 0/0 at b = 0
        J = [[derivative(fi, cj) for cj in svals] for fi in f]
        self._jac_nz = [(i, j) for i in range(len(f)) for j in range(len(svals)) if J[i][j] != 0]
        self._jac = _lambdify_list(args, [J[i][j] for i, j in self._jac_nz])
        self.jacobian_expressions = sp.Matrix(J)
        self._kernel = None  # the C kernel or the reason it is unavailable (c_kernel())

    def c_kernel(self):
        """The compiled C kernel (:mod:`.ckernel`), built on first use and cached on disk;
        raises :class:`~.ckernel.KernelUnavailable` (the same reason on every call) where it
        cannot be built.
        """
        from fe2.physics.reactions.ckernel import KernelUnavailable, kernel_for

        if self._kernel is None:
            try:
                self._kernel = kernel_for(self)
            except KernelUnavailable as err:
                self._kernel = str(err)
        if isinstance(self._kernel, str):
            raise KernelUnavailable(self._kernel)
        return self._kernel

    def _pvals(self, params):
        p = dict(self.network.parameters)
        if params:
            unknown = set(params) - set(p)
            if unknown:
                raise ConfigError(f"unknown parameter(s): {', '.join(sorted(unknown))}")
            p.update(params)
        return [p[n] for n in self._pnames]

    @staticmethod
    def _fill(vals, shape, n):
        out = np.empty((*shape, n))
        for k, v in enumerate(vals):
            out.reshape(-1, n)[k] = v
        return out

    # species-major (s, n) layout ---------------------------------------------------------
    def rhs_T(self, cT: np.ndarray, pvals: list) -> np.ndarray:
        return self._fill(self._rhs(*cT, *pvals), (self.n_species,), cT.shape[1])

    def jac_T(self, cT: np.ndarray, pvals: list) -> np.ndarray:
        s, n = cT.shape
        out = np.zeros((s, s, n))
        for (i, j), v in zip(self._jac_nz, self._jac(*cT, *pvals), strict=False):
            out[i, j] = v
        return out

    # public (n, s) layout ----------------------------------------------------------------
    @staticmethod
    def _as2d(c):
        c = np.asarray(c, dtype=float)
        return (c[None, :], True) if c.ndim == 1 else (c, False)

    def rates(self, c, params=None) -> np.ndarray:
        """Reaction rates, shape ``(n_nodes, n_reactions)``."""
        c2, one = self._as2d(c)
        out = self._fill(self._rates(*c2.T, *self._pvals(params)), (self.network.n_reactions,), c2.shape[0]).T
        return out[0] if one else out

    def rhs(self, c, params=None) -> np.ndarray:
        """``dc/dt = S v(c)``, shape ``(n_nodes, n_species)``."""
        c2, one = self._as2d(c)
        out = self.rhs_T(np.ascontiguousarray(c2.T), self._pvals(params)).T
        return out[0] if one else out

    def jacobian(self, c, params=None) -> np.ndarray:
        """Analytic ``d f_i / d c_j``, shape ``(n_nodes, n_species, n_species)``."""
        c2, one = self._as2d(c)
        out = np.moveaxis(self.jac_T(np.ascontiguousarray(c2.T), self._pvals(params)), 2, 0)
        return out[0] if one else out

    def nonfinite_report(self, cT: np.ndarray, pvals: list) -> str | None:
        """One line naming the first non-finite reaction rate, or else the first non-finite
        Jacobian entry (with the reactions it comes from), over the nodes of ``cT``
        (species-major, shape ``(s, n)``); None when all are finite.
        """
        names = self.network.species_names
        rxs = self.network.reactions

        def at(k: int, deps) -> str:
            state = ", ".join(f"{names[i]} = {cT[i, k]:.6g}" for i in sorted(deps)) or "no species"
            return f"node {k} ({state})"

        v = self._fill(self._rates(*cT, *pvals), (len(rxs),), cT.shape[1])
        rate_exprs = self.network.rate_expressions
        svals = list(self.network.symbols[0].values())

        def deps(e) -> set[int]:
            return {i for i, x in enumerate(svals) if x in e.free_symbols}

        for r in range(len(rxs)):
            bad = np.nonzero(~np.isfinite(v[r]))[0]
            if bad.size:
                return (f"the rate of reaction {rxs[r].name!r} is {v[r, bad[0]]} at "
                        f"{at(int(bad[0]), deps(rate_exprs[r]))}")
        J = self.jac_T(cT, pvals)
        bad_entries = np.argwhere(~np.isfinite(J))
        if not bad_entries.size:
            return None
        i, j, k = (int(x) for x in bad_entries[0])
        point = [*cT[:, k], *[v[k] if np.ndim(v) else v for v in pvals]]
        args = [*svals, *self.network.symbols[1].values()]
        from_rx = [rxs[r].name for r in range(len(rxs))
                   if self.S[i, r] and svals[j] in rate_exprs[r].free_symbols
                   and not np.isfinite(sp.lambdify(args, derivative(rate_exprs[r], svals[j]),
                                                   modules="numpy")(*point))]
        return (f"the Jacobian entry d(d{names[i]}/dt)/d{names[j]} is {J[i, j, k]} at "
                f"{at(k, deps(self.jacobian_expressions[i, j]) | {j})}, from reaction(s) "
                f"{', '.join(map(repr, from_rx))} (not differentiable there)")

    def moieties(self, c) -> np.ndarray:
        """Conserved totals ``W c``, shape ``(n_nodes, n_laws)``."""
        return np.asarray(c) @ self.W.T

