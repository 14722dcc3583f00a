"""Cauchy–Born laws: continuum strain energy from a crystal lattice and a pair potential.

* :mod:`~fe2.materials.cauchy_born.potentials` — Lennard-Jones, Morse, a formula φ(r) (sympy);
* :mod:`~fe2.materials.cauchy_born.lattices` — simple cubic, FCC, BCC, square, triangular,
  honeycomb and a two-atom BCC cell; the reference bond list;
* :mod:`~fe2.materials.cauchy_born.law` — :class:`CauchyBornLaw` (F -> P, ∂P/∂F exact; inner
  relaxation of a basis with the condensed tangent; computed lattice parameter);
* :mod:`~fe2.materials.cauchy_born.ellipticity` — the acoustic-tensor breakdown indicator.

Theory, limits and measured numbers: ``docs/cauchy_born.md``.
"""

from fe2.materials.cauchy_born.ellipticity import acoustic_min_eigenvalue
from fe2.materials.cauchy_born.lattices import LATTICES, Lattice, bonds, lattice
from fe2.materials.cauchy_born.law import CauchyBornLaw, CauchyBornState
from fe2.materials.cauchy_born.potentials import FormulaPotential, LennardJones, Morse, PairPotential

__all__ = [
    "LATTICES", "CauchyBornLaw", "CauchyBornState", "FormulaPotential", "Lattice", "LennardJones", "Morse",
    "PairPotential", "acoustic_min_eigenvalue", "bonds", "lattice",
]
