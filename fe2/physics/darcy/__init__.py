"""Macro tissue perfusion: Darcy flow with Starling exchange and lymphatic drainage, and solute transport.

* :mod:`~fe2.physics.darcy.units` — SI conversions, Baxter & Jain (1989) parameters;
* :mod:`~fe2.physics.darcy.properties` — :class:`TissueProperties` of one region;
* :mod:`~fe2.physics.darcy.coefficients` — DG0 region fields, :class:`QuadratureConductivity`;
* :mod:`~fe2.physics.darcy.primal` / :mod:`~fe2.physics.darcy.mixed` — P_k and RT_k × DG_{k−1} solvers;
* :mod:`~fe2.physics.darcy.audit` — :class:`ConservationAudit`;
* :mod:`~fe2.physics.darcy.problem` — :class:`DarcyProblem` → :class:`DarcyResult`;
* :mod:`~fe2.physics.darcy.transport` — :class:`SoluteTransport` (SUPG P1, θ-scheme);
* :mod:`~fe2.apps.darcy.output` — XDMF/VTX fields, radial profiles and their PNG.
"""

from fe2.physics.darcy.audit import ConservationAudit
from fe2.physics.darcy.bcs import FluxBC, PressureBC
from fe2.physics.darcy.coefficients import QuadratureConductivity
from fe2.physics.darcy.problem import DarcyProblem, DarcyResult
from fe2.physics.darcy.properties import TissueProperties
from fe2.physics.darcy.transport import SoluteProperties, SoluteTransport, TransportAudit

__all__ = [
    "ConservationAudit",
    "DarcyProblem",
    "DarcyResult",
    "FluxBC",
    "PressureBC",
    "QuadratureConductivity",
    "SoluteProperties",
    "SoluteTransport",
    "TissueProperties",
    "TransportAudit",
]
