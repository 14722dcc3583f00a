"""Model reduction of fe2's linear(ized) transport–reaction systems.

:mod:`.lti` assembles M x' = A x + B u, y = C x + D u from a reaction–diffusion operator and
simulates it; :mod:`.balanced` reduces it by square-root balanced truncation (Hankel singular
values, the H∞ bound); :mod:`.pod` builds POD bases and POD–Galerkin models of the nonlinear
case; :mod:`.store` writes and reads reduced models with their provenance and range.
"""

from fe2.reduction.balanced import ReducedLTI, balanced_truncation, gramians, hinf_error_on_grid
from fe2.reduction.lti import (
    AverageOutput,
    FluxInput,
    LTISystem,
    SensorOutput,
    SourceInput,
    assemble_diffusion_reaction,
)
from fe2.reduction.pod import NonlinearModel, PODGalerkinModel, pod_basis, projection_error
from fe2.reduction.store import load_reduced, save_reduced

__all__ = ["AverageOutput", "FluxInput", "LTISystem", "NonlinearModel", "PODGalerkinModel", "ReducedLTI",
           "SensorOutput", "SourceInput", "assemble_diffusion_reaction", "balanced_truncation", "gramians",
           "hinf_error_on_grid", "load_reduced", "pod_basis", "projection_error", "save_reduced"]
