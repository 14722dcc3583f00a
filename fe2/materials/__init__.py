"""Constitutive laws of the phases, and the material contract they share with RVEs.

* :mod:`fe2.materials.linear` — isotropic elastic/conducting phase parameters;
* :mod:`fe2.materials.contract` — :class:`MaterialModel` (batched driver +
  state -> flux, tangent, trial state), :class:`StateStore` (commit/rollback),
  :class:`LinearElasticLaw`;
* :mod:`fe2.materials.j2` — small-strain J2 plasticity (Mandel, plane strain/3D);
* :mod:`fe2.materials.neo_hookean` — compressible neo-Hookean (F -> P, ∂P/∂F).
"""

from fe2.materials.contract import (
    BatchedState,
    EmptyState,
    InadmissibleDriverError,
    LinearElasticLaw,
    MaterialModel,
    StateStore,
)
from fe2.materials.j2 import J2Plasticity, J2State, von_mises_stress
from fe2.materials.linear import IsotropicConductor, IsotropicElastic
from fe2.materials.neo_hookean import NeoHookean

__all__ = [
    "BatchedState",
    "EmptyState",
    "InadmissibleDriverError",
    "IsotropicConductor",
    "IsotropicElastic",
    "J2Plasticity",
    "J2State",
    "LinearElasticLaw",
    "MaterialModel",
    "NeoHookean",
    "StateStore",
    "von_mises_stress",
]
