"""TOML schema of ``fe2 run`` (FE² macro problem with RVE materials).

Same rules as :mod:`fe2.config`: unknown keys and wrong types are one-line
:class:`~fe2.errors.ConfigError` messages naming the key. Documented in
``docs/config.md`` ("fe2 run").
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, PositiveFloat, model_validator

from fe2.config.base import CommandConfig, GoalErrorOptions, _Strict, load_toml, parse_config, resolve_file
from fe2.config.cauchy_born import LATTICE_DIM, CauchyBornLawSpec
from fe2.config.rve import Geometry, MshGeometry
from fe2.errors import ConfigError


class PlateWithHole(_Strict):
    kind: Literal["plate_with_hole"]
    width: PositiveFloat = 1.0
    height: PositiveFloat = 1.0
    radius: PositiveFloat = 0.2
    mesh_size: PositiveFloat = 0.1


class Bar(_Strict):
    kind: Literal["bar"]
    lengths: list[PositiveFloat] = Field(default_factory=lambda: [4.0, 1.0, 1.0], min_length=3, max_length=3)
    mesh_size: PositiveFloat = 0.25


MacroDomain = Annotated[PlateWithHole | Bar, Field(discriminator="kind")]


class DirichletSpec(_Strict):
    """u_component = value × load factor on a named boundary (value: length unit)."""

    boundary: str
    component: int = Field(ge=0, le=2)
    value: float = 0.0


class TractionSpec(_Strict):
    """Traction vector × load factor on a named boundary (force per area)."""

    boundary: str
    value: list[float] = Field(min_length=2, max_length=3)


class MonitorSpec(_Strict):
    boundary: str
    component: int = Field(ge=0, le=2)


class MacroConfig(_Strict):
    domain: MacroDomain
    degree: Literal[1, 2] = 1
    dirichlet: list[DirichletSpec] = Field(min_length=1)
    traction: list[TractionSpec] = []


class LoadingConfig(_Strict):
    load_factors: list[PositiveFloat] = Field(min_length=1)
    max_cuts: int = Field(default=5, ge=0, le=20)
    monitor: MonitorSpec | None = None

    @model_validator(mode="after")
    def _increasing(self):
        if any(b <= a for a, b in zip(self.load_factors, self.load_factors[1:], strict=False)):
            raise ValueError("load_factors must increase")
        return self


class ElasticLawSpec(_Strict):
    model: Literal["elastic"]
    young: PositiveFloat
    poisson: float = Field(gt=-1.0, lt=0.5)


class J2LawSpec(_Strict):
    """von Mises plasticity with linear isotropic (h_iso) and kinematic (h_kin) hardening."""

    model: Literal["j2"]
    young: PositiveFloat
    poisson: float = Field(gt=-1.0, lt=0.5)
    sigma_y0: PositiveFloat
    h_iso: float = Field(default=0.0, ge=0.0)
    h_kin: float = Field(default=0.0, ge=0.0)


class NeoHookeanLawSpec(_Strict):
    """Compressible neo-Hookean (finite strain); all RVE phases must then be neo-Hookean."""

    model: Literal["neo_hookean"]
    young: PositiveFloat
    poisson: float = Field(gt=-1.0, lt=0.5)


LawSpec = Annotated[ElasticLawSpec | J2LawSpec | NeoHookeanLawSpec | CauchyBornLawSpec, Field(discriminator="model")]
#: the finite-strain laws (F -> P); an RVE does not mix them with small-strain ones
FINITE_STRAIN_LAWS = (NeoHookeanLawSpec, CauchyBornLawSpec)


class RVEConfig(_Strict):
    geometry: Geometry
    bc: Literal["periodic", "kubc"] = "periodic"
    materials: dict[str, LawSpec] = Field(min_length=1)
    #: under MPI, lend micro solves to less loaded ranks by their measured cost (fe2/macro/balance.py)
    balance: bool = True
    #: folder written by ``fe2 reduce`` for these materials: a reduced RVE answers the points, the full RVE
    #: those beyond its trained range (docs/reduced_rve.md)
    reduced: str | None = None
    #: error indicator threshold η of the reduced RVE (None: no indicator); points above it use the full RVE
    reduced_indicator: PositiveFloat | None = None

    @model_validator(mode="after")
    def _one_kinematics(self):
        finite = [isinstance(m, FINITE_STRAIN_LAWS) for m in self.materials.values()]
        if any(finite) and not all(finite):
            raise ValueError("materials: neo_hookean / cauchy_born (finite strain) cannot be mixed with "
                             "small-strain models")
        return self



class RunOutputConfig(_Strict):
    """``micro_points``: macro coordinates whose RVE fields are written after every step."""

    micro_points: list[list[float]] = []


class RunSolverConfig(GoalErrorOptions):
    """``[solver]``: ``error_estimate = true`` adds the goal-oriented (DWR) error estimate of the monitored
    reaction force after the last load step (:mod:`fe2.macro.reaction_error`; linear micro models only);
    ``target_error`` (relative, implies the estimate) first refines the macro mesh adaptively (Dörfler
    marking of the estimate's cell indicators) until |η| / |J_h + η| <= target_error (the macro problem
    is linear: the relative estimate does not depend on the load factor; the loop runs at λ = 1), then
    runs the load steps on that mesh; ``max_refinements`` bounds the refinements of that loop.
    """


class RunConfig(CommandConfig):
    """``fe2 run`` input."""

    macro: MacroConfig
    loading: LoadingConfig
    #: FE²: an RVE at every macro point; or (exactly one of the two) a single-scale ``[material]``
    rve: RVEConfig | None = None
    #: single scale: one constitutive law at every macro point (e.g. a Cauchy–Born crystal)
    material: LawSpec | None = None
    output: RunOutputConfig = RunOutputConfig()
    solver: RunSolverConfig = RunSolverConfig()

    @property
    def dim(self) -> int:
        """2 for the plate with a hole, 3 for the bar."""
        return 2 if isinstance(self.macro.domain, PlateWithHole) else 3

    @model_validator(mode="after")
    def _fits_the_domain(self):
        dim, d = self.dim, self.macro.domain
        if (self.rve is None) == (self.material is None):
            raise ValueError("give exactly one of [rve] (FE²) and [material] (a single-scale law)")
        for key, law in ([("material", self.material)] if self.material is not None else []) + (
                [(f"rve.materials.{k}", v) for k, v in self.rve.materials.items()] if self.rve is not None else []):
            if isinstance(law, CauchyBornLawSpec) and LATTICE_DIM[law.lattice] != dim:
                raise ValueError(f"{key}.lattice: {law.lattice!r} is a {LATTICE_DIM[law.lattice]}D lattice, the "
                                 f"{d.kind} domain is {dim}D")
        names = (("left", "bottom", "right", "top", "hole") if dim == 2 else
                 ("xmin", "xmax", "ymin", "ymax", "zmin", "zmax"))
        if isinstance(d, PlateWithHole) and not d.radius < min(d.width, d.height):
            raise ValueError(f"macro.domain.radius: {d.radius} must be < min(width, height) = {min(d.width, d.height)}")
        where = [(f"macro.dirichlet[{i}]", b.boundary, b.component) for i, b in enumerate(self.macro.dirichlet)]
        where += [(f"macro.traction[{i}]", t.boundary, None) for i, t in enumerate(self.macro.traction)]
        if self.loading.monitor is not None:
            where.append(("loading.monitor", self.loading.monitor.boundary, self.loading.monitor.component))
        for key, boundary, component in where:
            if boundary not in names:
                raise ValueError(f"{key}.boundary: {boundary!r} is not a boundary of the {d.kind} "
                                 f"(one of {', '.join(names)})")
            if component is not None and component >= dim:
                raise ValueError(f"{key}.component: {component} is not a component of the {dim}D domain "
                                 f"(0 ... {dim - 1})")
        for i, t in enumerate(self.macro.traction):
            if len(t.value) != dim:
                raise ValueError(f"macro.traction[{i}].value: needs {dim} components for the {dim}D domain")
        for i, pt in enumerate(self.output.micro_points):
            if len(pt) != dim:
                raise ValueError(f"output.micro_points[{i}]: needs {dim} coordinates for the {dim}D domain")
        if self.solver.estimates:
            key = "solver.error_estimate" if self.solver.target_error is None else "solver.target_error"
            if self.loading.monitor is None:
                raise ValueError(f"{key} needs a loading.monitor (the reaction it estimates)")
            if self.rve is None or not all(isinstance(m, ElasticLawSpec) for m in self.rve.materials.values()):
                raise ValueError(f"{key} needs linear micro models ([rve] with every rve.materials model "
                                 "'elastic')")
        return self

    def size_estimates(self) -> list[tuple[str, float | None]]:
        """The macro mesh, the RVE, and (history-dependent RVEs) macro points × RVE cells."""
        import math

        from fe2.config.limits import rve_cells, unstructured_cells

        d = self.macro.domain
        if isinstance(d, PlateWithHole):
            macro = unstructured_cells(d.width * d.height - math.pi * d.radius**2 / 4, d.mesh_size, 2)
        else:
            macro = unstructured_cells(math.prod(d.lengths), d.mesh_size, 3)
        out: list[tuple[str, float | None]] = [("macro.domain.mesh_size", macro)]
        if self.rve is None:
            return out
        rve = rve_cells(self.rve.geometry)
        out.append(("rve.geometry.mesh_size", rve))
        if rve is not None and not all(isinstance(m, ElasticLawSpec) for m in self.rve.materials.values()):
            points = macro * (1 if self.macro.degree == 1 else self.dim + 1)  # quadrature points per cell
            out.append(("micro:macro.domain.mesh_size x rve.geometry.mesh_size (points x RVE cells)", points * rve))
        return out


def load_run_config(path: str | Path, data: dict | None = None) -> RunConfig:
    """Load and validate an ``fe2 run`` TOML file (relative RVE mesh paths resolve against the file).

    ``data``: the TOML as already read (default: read ``path``); ``path`` still names the file in
    errors and anchors relative paths (``fe2 uq`` passes modified copies of a base config).
    """
    p = Path(path)
    cfg = parse_config(load_toml(p) if data is None else data, RunConfig, str(p))
    if cfg.rve is not None and isinstance(cfg.rve.geometry, MshGeometry):
        g = cfg.rve.geometry
        mesh_path = resolve_file(p, g.path, "rve.geometry.path", "mesh file")
        rve = cfg.rve.model_copy(update={"geometry": g.model_copy(update={"path": str(mesh_path)})})
        cfg = cfg.model_copy(update={"rve": rve})
    if cfg.rve is not None and cfg.rve.reduced is not None:
        rom = resolve_file(p, Path(cfg.rve.reduced) / "reduced_rve.json", "rve.reduced",
                           "reduced RVE (fe2 reduce output)")
        cfg = cfg.model_copy(update={"rve": cfg.rve.model_copy(update={"reduced": str(rom.parent)})})
    elif cfg.rve is not None and cfg.rve.reduced_indicator is not None:
        raise ConfigError(f"{p}: rve.reduced_indicator: needs rve.reduced (a reduced RVE folder)")
    return cfg
