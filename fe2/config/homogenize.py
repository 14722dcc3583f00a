"""``fe2 homogenize`` config."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, TypeAdapter, ValidationError, field_validator, model_validator

from fe2.config.base import CommandConfig, GoalErrorOptions, load_toml, nested_error, parse_config, resolve_file
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
from fe2.errors import ConfigError


class HomogenizeSolverConfig(SolverConfig, GoalErrorOptions):
    """``[solver]`` of ``fe2 homogenize``: the RVE solver, and the opt-in error estimate.

    ``error_estimate = true`` solves every BC once more with degree + 1 on the same mesh
    (:mod:`fe2.micro.error_estimate`) and writes the estimated discretization error of each
    effective tensor next to it in result.json. ``target_error`` (implies the estimate) refines the
    RVE mesh (one mesh for all the BCs: Dörfler marking of the summed relative energy indicators) until
    the estimated relative energy error of every load case of every BC is <= target_error, then writes
    the results of that mesh; ``max_refinements`` bounds the refinements (KUBC / TUBC on straight-sided
    cells only: local refinement keeps no periodic node matching, and curved cells cannot be refined).
    """


class HomogenizeConfig(CommandConfig):
    """``fe2 homogenize`` input.

    ``physics``: a registered micro physics (:func:`fe2.micro.physics.physics_names`): the built-in
    ``elasticity`` and ``conductivity``, whose phase tables have the schema of
    :mod:`fe2.config.rve`, or one registered by a plugin — a module named in ``plugins`` or an
    installed ``fe2.physics`` entry point — whose tables are read by its ``material_from_table``.
    """

    physics: str
    plugins: list[str] = []
    boundary_conditions: list[BCName] = Field(default_factory=_all_bc_names, min_length=1)
    geometry: Geometry
    #: phase name -> a validated table (built-in physics: ElasticMaterial / ConductorMaterial /
    #: VoidMaterial; a plugin physics: VoidMaterial or the table as written, checked by the physics)
    materials: dict[str, Any] = Field(min_length=1)
    solver: HomogenizeSolverConfig = HomogenizeSolverConfig()
    output: OutputConfig = OutputConfig()

    @model_validator(mode="before")
    @classmethod
    def _plugins_first(cls, data):
        """Import the plugins before ``physics`` is checked against the registry."""
        from fe2.micro.physics import load_physics_plugins

        plugins = data.get("plugins", []) if isinstance(data, dict) else []
        if isinstance(plugins, list) and all(isinstance(m, str) for m in plugins):
            try:
                load_physics_plugins(plugins)
            except ConfigError as err:
                raise ValueError(str(err)) from None
        return data

    @field_validator("physics")
    @classmethod
    def _registered(cls, name: str) -> str:
        from fe2.micro.physics import physics_names

        if name not in physics_names():
            raise ValueError(f"unknown physics {name!r}; registered: {', '.join(physics_names())} "
                             "(more with plugins = [\"module\"] or an installed fe2.physics entry point)")
        return name

    @model_validator(mode="after")
    def _materials_match_physics(self):
        tables = {name: _phase_table(self.physics, name, table) for name, table in self.materials.items()}
        object.__setattr__(self, "materials", tables)  # the validated tables (the model is frozen)
        if self.physics in ("elasticity", "conductivity"):
            want = ElasticMaterial if self.physics == "elasticity" else ConductorMaterial
            key = "young/poisson" if self.physics == "elasticity" else "conductivity"
            for name, mat in self.materials.items():
                if not isinstance(mat, (want, VoidMaterial)):
                    raise ValueError(f"materials.{name}: {self.physics} phases need {key}")
        if all(isinstance(m, VoidMaterial) for m in self.materials.values()):
            raise ValueError("materials: every phase is a void; at least one needs a material")
        if len(set(self.boundary_conditions)) != len(self.boundary_conditions):
            raise ValueError("boundary_conditions lists a condition twice")
        if self.solver.target_error is not None:
            if "periodic" in self.boundary_conditions:
                raise ValueError("solver.target_error: local refinement keeps no periodic node matching; "
                                 "set boundary_conditions to kubc and/or tubc")
            if not isinstance(self.geometry, MshGeometry) and self.geometry.element_order != 1:
                raise ValueError("solver.target_error needs geometry.element_order = 1 (curved cells cannot be "
                                 "refined)")
        return self

    def size_estimates(self) -> list[tuple[str, float | None]]:
        from fe2.config.limits import rve_cells

        return [("geometry.mesh_size", rve_cells(self.geometry))]



_MATERIAL: TypeAdapter = TypeAdapter(Material)
_VOID: TypeAdapter = TypeAdapter(VoidMaterial)


def _phase_table(physics: str, name: str, table):
    """The validated phase table ``materials.<name>`` (see :class:`HomogenizeConfig`)."""
    if isinstance(table, BaseModel):
        return table
    if physics in ("elasticity", "conductivity"):
        try:
            return _MATERIAL.validate_python(table)
        except ValidationError as err:
            raise ValueError(nested_error(err, f"materials.{name}", table, Material)) from None
    if not isinstance(table, dict):
        raise ValueError(f"materials.{name}: expected a table")
    if "void" in table:
        try:
            return _VOID.validate_python(table)
        except ValidationError as err:
            raise ValueError(nested_error(err, f"materials.{name}", table, VoidMaterial)) from None
    from fe2.micro.physics import physics_class

    try:
        physics_class(physics).material_from_table(table)
    except ValueError as err:
        raise ValueError(f"materials.{name}: {err}") from None
    return dict(table)


def load_homogenize_config(path: str | Path, data: dict | None = None) -> HomogenizeConfig:
    """Load and validate an ``fe2 homogenize`` TOML file.

    Relative mesh paths (geometry.kind = "msh") are resolved against the config's folder.

    ``data``: the TOML as already read (default: read ``path``); ``path`` still names the file in
    errors and anchors relative paths (``fe2 uq`` passes modified copies of a base config).
    """
    p = Path(path)
    cfg = parse_config(load_toml(p) if data is None else data, HomogenizeConfig, str(p))
    if isinstance(cfg.geometry, MshGeometry):
        mesh_path = resolve_file(p, cfg.geometry.path, "geometry.path", "mesh file")
        cfg = cfg.model_copy(update={"geometry": cfg.geometry.model_copy(update={"path": str(mesh_path)})})
    return cfg
