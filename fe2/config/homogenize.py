"""``fe2 homogenize`` config."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from fe2.config.base import CommandConfig, load_toml, parse_config, resolve_file
from fe2.config.rve import (
    BCName,
    ConductorMaterial,
    ElasticMaterial,
    Geometry,
    Material,
    MshGeometry,
    OutputConfig,
    SolverConfig,
    VoidMaterial,
    _all_bc_names,
)


class HomogenizeConfig(CommandConfig):
    """``fe2 homogenize`` input."""

    physics: Literal["elasticity", "conductivity"]
    boundary_conditions: list[BCName] = Field(default_factory=_all_bc_names, min_length=1)
    geometry: Geometry
    materials: dict[str, Material] = Field(min_length=1)
    solver: SolverConfig = SolverConfig()
    output: OutputConfig = OutputConfig()

    @model_validator(mode="after")
    def _materials_match_physics(self):
        want = ElasticMaterial if self.physics == "elasticity" else ConductorMaterial
        key = "young/poisson" if self.physics == "elasticity" else "conductivity"
        for name, mat in self.materials.items():
            if not isinstance(mat, (want, VoidMaterial)):
                raise ValueError(f"materials.{name}: {self.physics} phases need {key}")
        if all(isinstance(m, VoidMaterial) for m in self.materials.values()):
            raise ValueError("materials: every phase is a void; at least one needs a material")
        if len(set(self.boundary_conditions)) != len(self.boundary_conditions):
            raise ValueError("boundary_conditions lists a condition twice")
        return self

    def size_estimates(self) -> list[tuple[str, float | None]]:
        from fe2.config.limits import rve_cells

        return [("geometry.mesh_size", rve_cells(self.geometry))]



def load_homogenize_config(path: str | Path) -> HomogenizeConfig:
    """Load and validate an ``fe2 homogenize`` TOML file.

    Relative mesh paths (geometry.kind = "msh") are resolved against the config's folder.
    """
    p = Path(path)
    cfg = parse_config(load_toml(p), HomogenizeConfig, str(p))
    if isinstance(cfg.geometry, MshGeometry):
        mesh_path = resolve_file(p, cfg.geometry.path, "geometry.path", "mesh file")
        cfg = cfg.model_copy(update={"geometry": cfg.geometry.model_copy(update={"path": str(mesh_path)})})
    return cfg
