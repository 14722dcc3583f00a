"""TOML configuration -> validated models: the only place user input becomes errors.

One module per command (:mod:`~fe2.config.homogenize`, :mod:`~fe2.config.bounds`,
:mod:`~fe2.config.run`, :mod:`~fe2.config.darcy`, :mod:`~fe2.config.phasefield`,
:mod:`~fe2.config.reactions`), on a strict shared base (:mod:`~fe2.config.base`:
unknown keys are errors, one-line messages naming file and key, ``[petsc]``,
path resolution) and the RVE part shared by homogenize/bounds/run
(:mod:`~fe2.config.rve`). The schema is documented in ``docs/config.md``.
"""

from fe2.config.base import CommandConfig, load_toml, parse_config, resolve_file
from fe2.config.bounds import BOUNDS_MEASURES, BoundsConfig, load_bounds_config
from fe2.config.homogenize import HomogenizeConfig, load_homogenize_config
from fe2.config.rve import (
    ArrayGeometry,
    BCName,
    ConductorMaterial,
    ElasticMaterial,
    Geometry,
    InclusionsGeometry,
    InclusionSpec,
    LaminateGeometry,
    Material,
    MshGeometry,
    OutputConfig,
    RandomGeometry,
    SolverConfig,
    VoidMaterial,
)

__all__ = [
    "BOUNDS_MEASURES",
    "ArrayGeometry",
    "BCName",
    "BoundsConfig",
    "CommandConfig",
    "ConductorMaterial",
    "ElasticMaterial",
    "Geometry",
    "HomogenizeConfig",
    "InclusionSpec",
    "InclusionsGeometry",
    "LaminateGeometry",
    "Material",
    "MshGeometry",
    "OutputConfig",
    "RandomGeometry",
    "SolverConfig",
    "VoidMaterial",
    "load_bounds_config",
    "load_homogenize_config",
    "load_toml",
    "parse_config",
    "resolve_file",
]
