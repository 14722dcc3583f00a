"""TOML schema of a Cauchy–Born law (``model = "cauchy_born"``), used by ``fe2 run``.

A crystal continuum: ``lattice`` + pair ``potential`` (:mod:`fe2.materials.cauchy_born`). The
lattice parameter is not a key: it is computed (the stress-free one). Units: those of the
potential (energies in ε or D, lengths in σ or r₀; stresses in energy/length³, or energy/length²
for the 2D lattices). Documented in ``docs/cauchy_born.md``.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, PositiveFloat

from fe2.config.base import _Strict


class LennardJonesSpec(_Strict):
    """φ = 4ε[(σ/r)¹² − (σ/r)⁶], truncated and shifted at ``cutoff`` (a length, σ units like sigma)."""

    kind: Literal["lennard_jones"]
    epsilon: PositiveFloat = 1.0
    sigma: PositiveFloat = 1.0
    cutoff: PositiveFloat | None = 2.5


class MorseSpec(_Strict):
    """φ = D[(1 − e^{−α(r − r₀)})² − 1], optionally truncated and shifted at ``cutoff``."""

    kind: Literal["morse"]
    depth: PositiveFloat = 1.0
    alpha: PositiveFloat = 1.0
    r0: PositiveFloat = 1.0
    cutoff: PositiveFloat | None = None


class FormulaSpec(_Strict):
    """φ(r) from a sympy formula in ``r`` and the names of ``parameters``."""

    kind: Literal["formula"]
    expression: str = Field(min_length=1)
    parameters: dict[str, float] = {}
    cutoff: PositiveFloat | None = None
    #: a typical bond length: where the search for the stress-free lattice parameter starts
    length_scale: PositiveFloat = 1.0


PotentialSpec = Annotated[LennardJonesSpec | MorseSpec | FormulaSpec, Field(discriminator="kind")]

LatticeName = Literal["simple_cubic", "fcc", "bcc", "bcc_two_atom", "square", "triangular", "honeycomb"]
#: the dimension of each lattice (a law's dimension must be the macro domain's)
LATTICE_DIM: dict[str, int] = {"simple_cubic": 3, "fcc": 3, "bcc": 3, "bcc_two_atom": 3, "square": 2,
                               "triangular": 2, "honeycomb": 2}


class CauchyBornLawSpec(_Strict):
    """Cauchy–Born hyperelastic law (finite strain): a lattice with a pair potential."""

    model: Literal["cauchy_born"]
    lattice: LatticeName
    potential: PotentialSpec
    #: keep the first ``shells`` neighbour shells (default: the lattice's, else all bonds within the cutoff)
    shells: int | None = Field(default=None, ge=1, le=12)
    #: smallest admissible principal stretch: the margin of the reference bond list
    min_stretch: float = Field(default=0.6, gt=0.0, le=1.0)
