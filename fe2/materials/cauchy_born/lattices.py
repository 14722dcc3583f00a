"""Crystal lattices for the Cauchy–Born rule: primitive vectors, a basis, and the bond list.

A :class:`Lattice` is given in units of its lattice parameter ``a`` (conventional cubic edge for
the cubic lattices, nearest-neighbour distance for the 2D ones): primitive vectors (rows of
``primitive``) and basis positions (rows of ``basis``; one row for a Bravais lattice). The crystal
axes are the macro axes (cube edges along x, y, z; the 2D lattices with a nearest-neighbour bond
along x, or along y for the honeycomb).

Bonds. :func:`bonds` lists, for every basis atom α of the reference cell, every neighbour β + R
(R a lattice vector) within a radius or within the first ``shells`` neighbour shells, as the
reference bond vector D = a (R + X_β − X_α) with the pair (α, β). Each pair of atoms appears twice
(from both ends), which is why the energy density carries the factor 1/2 (see
:mod:`fe2.materials.cauchy_born.law`).

========================  ===  =====  =======================================================
name                      dim  basis  note
========================  ===  =====  =======================================================
``simple_cubic``          3    1      default: first + second neighbours (6 + 12 bonds)
``fcc``                   3    1      4 atoms per cube of edge a
``bcc``                   3    1      2 atoms per cube of edge a
``bcc_two_atom``          3    2      BCC written as a cube with a corner and a centre atom
                                      (a basis lattice whose relaxed shift is 0 by symmetry)
``square``                2    1      default: first + second neighbours
``triangular``            2    1      the close-packed plane; a = nearest-neighbour distance
``honeycomb``             2    2      graphene-like; a = nearest-neighbour distance; not
                                      centrosymmetric about an atom: the inner shift relaxes
========================  ===  =====  =======================================================
"""

from __future__ import annotations

import dataclasses
import itertools

import numpy as np

from fe2.errors import MaterialError

__all__ = ["LATTICES", "Bonds", "Lattice", "bonds", "lattice"]


@dataclasses.dataclass(frozen=True)
class Lattice:
    """A crystal lattice in units of its lattice parameter (see the module docstring)."""

    name: str
    primitive: np.ndarray  # (d, d) rows: primitive vectors / a
    basis: np.ndarray  # (nb, d) rows: basis positions / a
    default_shells: int | None = None  # the neighbour shells used when neither shells nor a cutoff is given

    @property
    def dim(self) -> int:
        return int(self.primitive.shape[0])

    @property
    def n_basis(self) -> int:
        return int(self.basis.shape[0])

    @property
    def cell_volume(self) -> float:
        """Volume (area in 2D) of the primitive cell / a^d."""
        return float(abs(np.linalg.det(self.primitive)))

    def with_basis(self, basis: np.ndarray) -> Lattice:
        """The same lattice with other basis positions (e.g. the relaxed ones)."""
        return dataclasses.replace(self, basis=np.asarray(basis, dtype=float))


_S3 = np.sqrt(3.0)
LATTICES: dict[str, Lattice] = {
    "simple_cubic": Lattice("simple_cubic", np.eye(3), np.zeros((1, 3)), default_shells=2),
    "fcc": Lattice("fcc", 0.5 * np.array([[0.0, 1, 1], [1, 0, 1], [1, 1, 0]]), np.zeros((1, 3))),
    "bcc": Lattice("bcc", 0.5 * np.array([[-1.0, 1, 1], [1, -1, 1], [1, 1, -1]]), np.zeros((1, 3))),
    "bcc_two_atom": Lattice("bcc_two_atom", np.eye(3), np.array([[0.0, 0, 0], [0.5, 0.5, 0.5]])),
    "square": Lattice("square", np.eye(2), np.zeros((1, 2)), default_shells=2),
    "triangular": Lattice("triangular", np.array([[1.0, 0.0], [0.5, _S3 / 2]]), np.zeros((1, 2))),
    "honeycomb": Lattice("honeycomb", np.array([[_S3, 0.0], [_S3 / 2, 1.5]]), np.array([[0.0, 0.0], [0.0, 1.0]])),
}


def lattice(name: str) -> Lattice:
    """The lattice called ``name`` (one of :data:`LATTICES`)."""
    if name not in LATTICES:
        raise MaterialError(f"unknown lattice {name!r}; expected one of {sorted(LATTICES)}")
    return LATTICES[name]


@dataclasses.dataclass(frozen=True)
class Bonds:
    """Reference bonds of one cell: vectors ``d`` ``(b, dim)`` (length unit), end atoms ``alpha``,
    ``beta`` ``(b,)``, and the incidence ``(b, nb-1)`` of the free shifts (atom 0 is held: +1 at β,
    −1 at α, shifts of atoms 1..nb-1).
    """

    d: np.ndarray
    alpha: np.ndarray
    beta: np.ndarray

    @property
    def incidence(self) -> np.ndarray:
        nb = int(max(self.alpha.max(initial=0), self.beta.max(initial=0))) + 1
        inc = np.zeros((self.d.shape[0], nb))
        np.add.at(inc, (np.arange(self.d.shape[0]), self.beta), 1.0)
        np.add.at(inc, (np.arange(self.d.shape[0]), self.alpha), -1.0)
        return inc[:, 1:]


def _candidates(lat: Lattice, radius: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All (D, α, β) with 0 < |D| < radius, D in units of a."""
    prim, basis = lat.primitive, lat.basis
    # the integer range that covers the sphere: |n_k| <= radius * |row k of prim^-1| + 1
    reach = np.ceil(radius * np.linalg.norm(np.linalg.inv(prim), axis=0) + 1.0).astype(int)
    grid = np.array(list(itertools.product(*[range(-k, k + 1) for k in reach])), dtype=float)
    cells = grid @ prim
    ds, als, bes = [], [], []
    for a, b in itertools.product(range(lat.n_basis), repeat=2):
        vec = cells + basis[b] - basis[a]
        length = np.linalg.norm(vec, axis=1)
        keep = (length > 1e-9) & (length < radius)
        ds.append(vec[keep])
        als.append(np.full(int(keep.sum()), a))
        bes.append(np.full(int(keep.sum()), b))
    return np.concatenate(ds), np.concatenate(als), np.concatenate(bes)


def bonds(lat: Lattice, a: float, *, radius: float | None = None, shells: int | None = None) -> Bonds:
    """The reference bonds of ``lat`` with lattice parameter ``a``: those shorter than ``radius``
    (a length), or those of the first ``shells`` distinct neighbour distances (exactly one of the two).
    """
    if (radius is None) == (shells is None):
        raise MaterialError("bonds: give exactly one of radius and shells")
    if shells is not None:
        if shells < 1:
            raise MaterialError(f"shells must be >= 1, got {shells}")
        d, al, be = _candidates(lat, 2.0 + shells)  # generous: the shells of these lattices are within it
        length = np.round(np.linalg.norm(d, axis=1), 9)
        levels = np.unique(length)[:shells]
        keep = length <= levels[-1]
        return Bonds(a * d[keep], al[keep], be[keep])
    assert radius is not None
    if not (radius > 0.0):
        raise MaterialError(f"bond radius must be > 0, got {radius}")
    d, al, be = _candidates(lat, radius / a)
    if d.shape[0] == 0:
        raise MaterialError(f"no bonds shorter than {radius} in the {lat.name} lattice with a = {a}")
    return Bonds(a * d, al, be)
