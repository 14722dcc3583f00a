"""Kinematics of the macro driver: small strain (Mandel ε) or finite strain (F, row-major).

Both enter the virtual work the same way, ``∫ flux · δdriver(v) dx``, with the
tangent ``∂flux/∂driver`` paired as ``∫ (C · δdriver(du)) · δdriver(v) dx``:

* small strain: driver ε = sym ∇u as a Mandel vector (11 22 12 / 11 22 33 23 13 12,
  shears ×√2), flux σ (Mandel), tangent C (Mandel);
* finite strain: driver F = I + ∇u flattened row-major (F11 F12 F21 F22 …),
  flux the first Piola–Kirchhoff stress P (same flattening), tangent ∂P/∂F.

For an RVE the fluctuation w adds ``δdriver(w)`` to the macro driver (E + ε(w),
or F̄ + ∇w), so the same pairing gives the micro residual and the condensation.
"""

from __future__ import annotations

from dataclasses import dataclass

import ufl

from fe2.errors import ConfigError
from fe2.tensors import SQRT2, n_sym


def _mandel(e, dim: int):
    if dim == 2:
        return ufl.as_vector([e[0, 0], e[1, 1], SQRT2 * e[0, 1]])
    return ufl.as_vector([e[0, 0], e[1, 1], e[2, 2], SQRT2 * e[1, 2], SQRT2 * e[0, 2], SQRT2 * e[0, 1]])


def _flatten(t, dim: int):
    return ufl.as_vector([t[i, j] for i in range(dim) for j in range(dim)])


@dataclass(frozen=True)
class Kinematics:
    """``kind`` is 'small_strain' or 'finite_strain'; ``dim`` 2 or 3."""

    kind: str
    dim: int

    def __post_init__(self) -> None:
        if self.kind not in ("small_strain", "finite_strain"):
            raise ConfigError(f"unknown kinematics {self.kind!r}")

    @property
    def size(self) -> int:
        """Driver size: 3/6 (Mandel ε) or 4/9 (F)."""
        return n_sym(self.dim) if self.kind == "small_strain" else self.dim * self.dim

    def variation(self, v):
        """δdriver(v): Mandel sym ∇v, or ∇v flattened (UFL vector of length ``size``)."""
        if self.kind == "small_strain":
            return _mandel(ufl.sym(ufl.grad(v)), self.dim)
        return _flatten(ufl.grad(v), self.dim)

    def driver(self, u):
        """The driver of a displacement field: ε(u), or F = I + ∇u (flattened)."""
        if self.kind == "small_strain":
            return self.variation(u)
        return _flatten(ufl.Identity(self.dim) + ufl.grad(u), self.dim)


def kinematics_of(material, dim: int) -> Kinematics:
    """The kinematics a micro model expects (its declared ``kind``: small or finite strain)."""
    return Kinematics(material.kind, dim)
