"""Constitutive laws of the phases, and the micro–macro contract they share with RVEs.

* :mod:`fe2.materials.linear` — isotropic elastic/conducting phase parameters;
* :mod:`fe2.materials.contract` — :class:`MicroModel` (batched driver + state ->
  flux, tangent, trial state; declared capabilities with defaults),
  :class:`MicroStatistics`, :class:`LinearElasticLaw`, :class:`LinearTransportLaw`;
* :mod:`fe2.materials.state` — :class:`BatchedState` (the one state type),
  :class:`EmptyState`, :class:`StateStore` (commit/rollback);
* :mod:`fe2.materials.j2` — small-strain J2 plasticity (Mandel, plane strain/3D);
* :mod:`fe2.materials.neo_hookean` — compressible neo-Hookean (F -> P, ∂P/∂F);
* :mod:`fe2.materials.cauchy_born` — Cauchy–Born crystal laws (lattice + pair potential, F -> P, ∂P/∂F).
"""

from fe2.materials.contract import (
    InadmissibleDriverError,
    LinearElasticLaw,
    LinearTransportLaw,
    MaterialModel,
    MicroModel,
    MicroStatistics,
)
from fe2.materials.j2 import J2Plasticity, J2State, von_mises_stress
from fe2.materials.linear import IsotropicConductor, IsotropicElastic
from fe2.materials.neo_hookean import NeoHookean
from fe2.materials.state import BatchedState, EmptyState, StateStore

__all__ = [
    "BatchedState",
    "EmptyState",
    "InadmissibleDriverError",
    "IsotropicConductor",
    "IsotropicElastic",
    "J2Plasticity",
    "J2State",
    "LinearElasticLaw",
    "LinearTransportLaw",
    "MaterialModel",
    "MicroModel",
    "MicroStatistics",
    "NeoHookean",
    "StateStore",
    "von_mises_stress",
]
