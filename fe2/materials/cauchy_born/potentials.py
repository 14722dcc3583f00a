"""Pair potentials φ(r) with their first two derivatives, vectorized over any array of distances.

Every potential is a :class:`PairPotential`: ``phi(r)``, ``dphi(r)`` = φ′(r) and ``d2phi(r)`` = φ″(r)
evaluate elementwise on numpy arrays. The Cauchy–Born law needs exactly these three functions: the
energy is a sum of φ over bonds, the stress a sum of φ′, the tangent a sum of φ″ and φ′/r
(:mod:`fe2.materials.cauchy_born.law`).

Truncation. With a ``cutoff`` r_c the potential is *truncated and shifted*,

    φ_c(r) = φ(r) − φ(r_c)  for r < r_c,   0  for r ≥ r_c,

the convention of ``ase.calculators.lj.LennardJones(smooth=False)``: the energy is continuous at r_c,
the force jumps there (a bond crossing r_c changes the stress by a finite amount; away from such
crossings the derivatives are exact). Without a cutoff (``None``) φ is used as it is and the lattice
decides which bonds exist (a fixed neighbour-shell list).

Potentials:

* :class:`LennardJones` — φ = 4ε[(σ/r)¹² − (σ/r)⁶];
* :class:`Morse` — φ = D[(1 − e^{−α(r − r₀)})² − 1] (minimum −D at r₀);
* :class:`FormulaPotential` — any φ(r) given as a sympy-parsable formula in ``r`` (and named
  parameters); φ′ and φ″ are differentiated symbolically once and lambdified to numpy.

Units: the user's (consistent): energies in the unit of ε (or D), lengths in that of σ (or r₀);
stresses then come out in energy/length³ (3D lattices) or energy/length² (2D lattices).
"""

from __future__ import annotations

import abc
from collections.abc import Mapping

import numpy as np

from fe2.errors import MaterialError

__all__ = ["FormulaPotential", "LennardJones", "Morse", "PairPotential"]


class PairPotential(abc.ABC):
    """A central pair potential φ(r), optionally truncated and shifted at ``cutoff``.

    Subclasses implement the raw ``_phi``, ``_dphi``, ``_d2phi``; this class applies the cutoff.
    ``length_scale`` is a typical bond length (the minimum of φ, or a guess of it) from which the
    stress-free lattice parameter search starts.
    """

    def __init__(self, cutoff: float | None) -> None:
        if cutoff is not None and not (cutoff > 0.0 and np.isfinite(cutoff)):
            raise MaterialError(f"potential cutoff must be a positive finite distance, got {cutoff}")
        self.cutoff = None if cutoff is None else float(cutoff)
        self._shift = 0.0 if cutoff is None else float(self._phi(np.array(self.cutoff)))

    @property
    @abc.abstractmethod
    def length_scale(self) -> float:
        """A typical bond length (e.g. the minimum of φ)."""

    @abc.abstractmethod
    def _phi(self, r: np.ndarray) -> np.ndarray: ...

    @abc.abstractmethod
    def _dphi(self, r: np.ndarray) -> np.ndarray: ...

    @abc.abstractmethod
    def _d2phi(self, r: np.ndarray) -> np.ndarray: ...

    def _inside(self, r: np.ndarray) -> np.ndarray | bool:
        return True if self.cutoff is None else r < self.cutoff

    def phi(self, r: np.ndarray) -> np.ndarray:
        """φ_c(r) (truncated and shifted with a cutoff), elementwise."""
        r = np.asarray(r, dtype=float)
        return np.where(self._inside(r), self._phi(r) - self._shift, 0.0)

    def dphi(self, r: np.ndarray) -> np.ndarray:
        """φ′(r) inside the cutoff, 0 beyond."""
        r = np.asarray(r, dtype=float)
        return np.where(self._inside(r), self._dphi(r), 0.0)

    def d2phi(self, r: np.ndarray) -> np.ndarray:
        """φ″(r) inside the cutoff, 0 beyond."""
        r = np.asarray(r, dtype=float)
        return np.where(self._inside(r), self._d2phi(r), 0.0)


class LennardJones(PairPotential):
    """φ(r) = 4ε[(σ/r)¹² − (σ/r)⁶]; minimum −ε at r = 2^{1/6} σ."""

    def __init__(self, epsilon: float = 1.0, sigma: float = 1.0, cutoff: float | None = 2.5) -> None:
        if not (epsilon > 0.0 and sigma > 0.0):
            raise MaterialError(f"Lennard-Jones needs epsilon > 0 and sigma > 0, got {epsilon}, {sigma}")
        self.epsilon, self.sigma = float(epsilon), float(sigma)
        super().__init__(cutoff)

    @property
    def length_scale(self) -> float:
        return 2.0 ** (1.0 / 6.0) * self.sigma

    def _phi(self, r):
        s6 = (self.sigma / r) ** 6
        return 4.0 * self.epsilon * (s6 * s6 - s6)

    def _dphi(self, r):
        s6 = (self.sigma / r) ** 6
        return 4.0 * self.epsilon * (-12.0 * s6 * s6 + 6.0 * s6) / r

    def _d2phi(self, r):
        s6 = (self.sigma / r) ** 6
        return 4.0 * self.epsilon * (156.0 * s6 * s6 - 42.0 * s6) / r**2


class Morse(PairPotential):
    """φ(r) = D[(1 − e^{−α(r − r₀)})² − 1]; minimum −D at r = r₀."""

    def __init__(self, depth: float = 1.0, alpha: float = 1.0, r0: float = 1.0, cutoff: float | None = None) -> None:
        if not (depth > 0.0 and alpha > 0.0 and r0 > 0.0):
            raise MaterialError(f"Morse needs depth, alpha, r0 > 0, got {depth}, {alpha}, {r0}")
        self.depth, self.alpha, self.r0 = float(depth), float(alpha), float(r0)
        super().__init__(cutoff)

    @property
    def length_scale(self) -> float:
        return self.r0

    def _phi(self, r):
        e = np.exp(-self.alpha * (r - self.r0))
        return self.depth * ((1.0 - e) ** 2 - 1.0)

    def _dphi(self, r):
        e = np.exp(-self.alpha * (r - self.r0))
        return 2.0 * self.depth * self.alpha * (1.0 - e) * e

    def _d2phi(self, r):
        e = np.exp(-self.alpha * (r - self.r0))
        return 2.0 * self.depth * self.alpha**2 * e * (2.0 * e - 1.0)


class FormulaPotential(PairPotential):
    """φ(r) from a formula string in the variable ``r`` (sympy syntax), e.g. ``"4*((1/r)**12 - (1/r)**6)"``.

    Args:
        expression: the formula; its only free symbols are ``r`` and the names in ``parameters``.
        parameters: values of the other symbols (e.g. ``{"eps": 1.0}``).
        cutoff: truncation radius (``None``: none).
        length_scale: a typical bond length (start of the lattice-parameter search); default 1.
    """

    def __init__(self, expression: str, parameters: Mapping[str, float] | None = None,
                 cutoff: float | None = None, length_scale: float = 1.0) -> None:
        import sympy as sp

        params = dict(parameters or {})
        r = sp.Symbol("r", positive=True)
        local = {"r": r, **{k: sp.Symbol(k) for k in params}}
        try:
            expr = sp.sympify(expression, locals=local)
        except (sp.SympifyError, SyntaxError, TypeError) as err:
            raise MaterialError(f"potential formula {expression!r} does not parse: {err}") from err
        unknown = sorted(str(s) for s in expr.free_symbols if str(s) != "r" and str(s) not in params)
        if unknown:
            raise MaterialError(f"potential formula {expression!r}: symbol(s) {unknown} have no value "
                                "(give them in parameters)")
        expr = expr.subs({local[k]: float(v) for k, v in params.items()})
        self.expression = expression
        self._f = [sp.lambdify(r, e, "numpy") for e in (expr, sp.diff(expr, r), sp.diff(expr, r, 2))]
        if not (length_scale > 0.0):
            raise MaterialError(f"length_scale must be > 0, got {length_scale}")
        self._length = float(length_scale)
        super().__init__(cutoff)
        if not np.isfinite(self._phi(np.array(self._length))):
            raise MaterialError(f"potential formula {expression!r} is not finite at r = {self._length}")

    @property
    def length_scale(self) -> float:
        return self._length

    def _call(self, k: int, r: np.ndarray) -> np.ndarray:
        return np.broadcast_to(np.asarray(self._f[k](r), dtype=float), np.shape(r)).copy()

    def _phi(self, r):
        return self._call(0, r)

    def _dphi(self, r):
        return self._call(1, r)

    def _d2phi(self, r):
        return self._call(2, r)
