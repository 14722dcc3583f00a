"""Reduced-order RVEs for FE²: POD-Galerkin fluctuations with Empirical Cubature (see docs/reduced_rve.md).

* :mod:`.training` — the training design (strain paths) and the snapshots of the full RVE;
* :mod:`.basis` — POD of the fluctuation snapshots and the Empirical Cubature Method (ECM);
* :mod:`.model` — :class:`ReducedRVEMaterial`, the online micro model behind the contract;
* :mod:`.storage` — the reduced model as a file (npz + JSON provenance) and its range checks.
"""

from fe2.micro.reduced.basis import CubatureRule, PODBasis, empirical_cubature, pod_basis
from fe2.micro.reduced.model import ReducedRVEMaterial, ReducedRVEState, ReducedStatistics
from fe2.micro.reduced.offline import ReducedRVEData, build_reduced_rve
from fe2.micro.reduced.training import Snapshots, TrainingDesign, collect_snapshots, training_paths

__all__ = [
    "CubatureRule", "PODBasis", "ReducedRVEData", "ReducedRVEMaterial", "ReducedRVEState", "ReducedStatistics",
    "Snapshots", "TrainingDesign", "build_reduced_rve", "collect_snapshots", "empirical_cubature", "pod_basis",
    "training_paths",
]
