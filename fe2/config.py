"""TOML configuration -> validated models. The only place user input becomes errors.

Every problem (unknown key, wrong type, value out of range, missing file) is a
:class:`~fe2.errors.ConfigError` whose message is one line naming the file and
the offending key, e.g. ``rve.toml: geometry.mesh_size: Input should be greater than 0``.
The full schema is documented in ``docs/config.md``.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Annotated, Literal, Union

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    PositiveFloat,
    Tag,
    ValidationError,
    model_validator,
)

from fe2.errors import ConfigError


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


PetscValue = Union[bool, int, float, str]


class CommandConfig(_Strict):
    """Base of every command's top-level config: the keys all commands share.

    ``[petsc]``: PETSc options for fe2's solvers, keys with one of the stable
    prefixes of :data:`fe2.solvers.options.PREFIXES` (``fe2_rve_ksp_type = "cg"``);
    options given on the command line (``-fe2_rve_ksp_type cg``) win over these.
    """

    petsc: dict[str, PetscValue] = {}

    @model_validator(mode="after")
    def _petsc_prefixes(self):
        from fe2.solvers.options import PREFIXES

        for key in self.petsc:
            name = key.lstrip("-")
            if not any(name.startswith(p) and len(name) > len(p) for p in PREFIXES):
                raise ValueError(f"petsc.{key}: PETSc options must start with one of fe2's prefixes "
                                 f"({', '.join(sorted(PREFIXES))}), e.g. fe2_rve_ksp_type")
        return self


class InclusionSpec(_Strict):
    center: list[float]
    radius: PositiveFloat
    phase: str = "inclusion"


class _GeometryBase(_Strict):
    mesh_size: PositiveFloat
    element_order: Literal[1, 2] = 1


class InclusionsGeometry(_GeometryBase):
    """A box with an explicit list of circular/spherical inclusions (wrapped periodically)."""

    kind: Literal["inclusions"]
    lengths: list[PositiveFloat] = Field(min_length=2, max_length=3)
    inclusions: list[InclusionSpec] = Field(min_length=1)
    matrix_phase: str = "matrix"
    void_phases: list[str] = []
    min_gap: float = Field(0.0, ge=0.0)


class ArrayGeometry(_GeometryBase):
    """Regular arrays: one centred inclusion (square/cubic) or the 2D hexagonal cell."""

    kind: Literal["square_array", "hexagonal_array"]
    dim: Literal[2, 3] = 2
    volume_fraction: float | None = Field(None, gt=0.0, lt=1.0)
    radius: PositiveFloat | None = None
    inclusion_phase: str = "fibre"
    matrix_phase: str = "matrix"
    void: bool = False

    @model_validator(mode="after")
    def _one_of(self):
        if (self.volume_fraction is None) == (self.radius is None):
            raise ValueError("give exactly one of volume_fraction and radius")
        if self.kind == "hexagonal_array" and self.dim != 2:
            raise ValueError("hexagonal_array is 2D only")
        return self


class LaminateGeometry(_GeometryBase):
    """Layers normal to ``axis`` (0-based) with the given fractions and phase names."""

    kind: Literal["laminate"]
    lengths: list[PositiveFloat] = Field(min_length=2, max_length=3)
    axis: int = Field(0, ge=0, le=2)
    fractions: list[float] = Field(min_length=2)
    phases: list[str] = Field(min_length=2)


class RandomGeometry(_GeometryBase):
    """Random non-overlapping inclusions at a target volume fraction (RSA, seeded)."""

    kind: Literal["random"]
    lengths: list[PositiveFloat] = Field(min_length=2, max_length=3)
    radius: PositiveFloat
    volume_fraction: float = Field(gt=0.0, lt=1.0)
    seed: int = 0
    min_gap: float = Field(0.0, ge=0.0)
    inclusion_phase: str = "inclusion"
    matrix_phase: str = "matrix"
    void: bool = False


class MshGeometry(_Strict):
    """A user mesh: physical groups of top dimension are the phases."""

    kind: Literal["msh"]
    path: str
    box_min: list[float] | None = None
    box_max: list[float] | None = None

    @model_validator(mode="after")
    def _box_pair(self):
        if (self.box_min is None) != (self.box_max is None):
            raise ValueError("give both box_min and box_max, or neither")
        return self


Geometry = Annotated[
    Union[InclusionsGeometry, ArrayGeometry, LaminateGeometry, RandomGeometry, MshGeometry],
    Field(discriminator="kind"),
]


class ElasticMaterial(_Strict):
    young: PositiveFloat
    poisson: float = Field(gt=-1.0, lt=0.5)


class ConductorMaterial(_Strict):
    conductivity: PositiveFloat


class VoidMaterial(_Strict):
    """A pore phase (zero stiffness / conductivity): its cells are removed from the mesh."""

    void: Literal[True]


def _material_kind(v) -> str:
    """Union tag of a material table: ``void``, ``conductivity`` (conductor), anything else elastic."""
    if isinstance(v, dict):
        if "void" in v:
            return "void"
        return "conductor" if "conductivity" in v else "elastic"
    if isinstance(v, VoidMaterial):
        return "void"
    return "conductor" if isinstance(v, ConductorMaterial) else "elastic"


Material = Annotated[
    Union[
        Annotated[ElasticMaterial, Tag("elastic")],
        Annotated[ConductorMaterial, Tag("conductor")],
        Annotated[VoidMaterial, Tag("void")],
    ],
    Discriminator(_material_kind),
]


class SolverConfig(_Strict):
    kind: Literal["auto", "direct", "iterative"] = "auto"
    rtol: float = Field(1e-12, gt=0.0, lt=1.0)
    degree: Literal[1, 2] = 1


class OutputConfig(_Strict):
    fields: bool = True


BCName = Literal["kubc", "periodic", "tubc"]


class HomogenizeConfig(CommandConfig):
    """``fe2 homogenize`` input."""

    physics: Literal["elasticity", "conductivity"]
    boundary_conditions: list[BCName] = Field(default_factory=lambda: ["kubc", "periodic", "tubc"], min_length=1)
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


#: Scalar measures a bound-convergence study can report, per physics (see docs/bounds.md).
BOUNDS_MEASURES: dict[str, tuple[str, ...]] = {
    "elasticity": ("bulk", "shear", "C11"),
    "conductivity": ("k", "K11"),
}


class BoundsTolerances(_Strict):
    """When is an RVE size large enough (``fe2 bounds``)."""

    gap: float = Field(0.05, gt=0.0)
    ci: float = Field(0.01, gt=0.0)
    confidence: float = Field(0.95, gt=0.0, lt=1.0)


class ContrastSweep(_Strict):
    """Extra phase-property ratios solved on the same microstructures (and pores)."""

    ratios: list[PositiveFloat] = []
    pores: bool = False
    sizes: list[PositiveFloat] | None = None
    realizations: int | None = Field(None, ge=2)


class BoundsParallel(_Strict):
    """Distribution of a bounds study over MPI ranks."""

    whole_comm_min_size: PositiveFloat | None = None


class BoundsConfig(CommandConfig):
    """``fe2 bounds`` input: apparent tensors of random RVEs versus RVE size.

    Lengths: ``radius`` r in the user's unit; the inclusion size is ℓ = 2 r and
    ``sizes`` are box edges L/ℓ. See docs/config.md (fe2 bounds) and docs/bounds.md.
    """

    physics: Literal["elasticity", "conductivity"]
    dim: Literal[2, 3] = 2
    sizes: list[float] = Field(min_length=1)
    realizations: int | list[int]
    volume_fraction: float = Field(gt=0.0, lt=1.0)
    radius: PositiveFloat = 0.5
    elements_per_radius: PositiveFloat = 4.0
    element_order: Literal[1, 2] = 1
    min_gap: float | None = Field(None, ge=0.0)
    exact_fraction: bool = True
    seed: int = Field(0, ge=0)
    boundary_conditions: list[BCName] = Field(default_factory=lambda: ["kubc", "periodic", "tubc"], min_length=1)
    reference_bc: BCName | None = None
    measures: list[str] | None = None
    materials: dict[str, Material]
    tolerances: BoundsTolerances = BoundsTolerances()
    contrast: ContrastSweep = ContrastSweep()
    parallel: BoundsParallel = BoundsParallel()
    solver: SolverConfig = SolverConfig()

    @model_validator(mode="after")
    def _consistent(self):
        for L in self.sizes:
            if not L > 1.0:
                raise ValueError(f"sizes: every L/ℓ must be > 1 (the box must hold one inclusion), got {L}")
        if len(set(self.sizes)) != len(self.sizes):
            raise ValueError("sizes: a size is listed twice")
        if isinstance(self.realizations, list):
            if len(self.realizations) != len(self.sizes):
                raise ValueError(
                    f"realizations: {len(self.realizations)} counts given for {len(self.sizes)} sizes"
                )
            if any(n < 2 for n in self.realizations):
                raise ValueError("realizations: at least 2 per size (a standard deviation needs 2)")
        elif self.realizations < 2:
            raise ValueError("realizations: at least 2 per size (a standard deviation needs 2)")
        if set(self.materials) != {"matrix", "inclusion"}:
            raise ValueError(
                f"materials: give exactly the phases 'matrix' and 'inclusion', got {sorted(self.materials)}"
            )
        want = ElasticMaterial if self.physics == "elasticity" else ConductorMaterial
        key = "young/poisson" if self.physics == "elasticity" else "conductivity"
        for name, mat in self.materials.items():
            if not isinstance(mat, (want, VoidMaterial)):
                raise ValueError(f"materials.{name}: {self.physics} phases need {key}")
        if isinstance(self.materials["matrix"], VoidMaterial):
            raise ValueError("materials.matrix: the matrix cannot be a void")
        if len(set(self.boundary_conditions)) != len(self.boundary_conditions):
            raise ValueError("boundary_conditions lists a condition twice")
        if self.reference_bc is not None and self.reference_bc not in self.boundary_conditions:
            raise ValueError(f"reference_bc: {self.reference_bc!r} is not in boundary_conditions")
        allowed = BOUNDS_MEASURES[self.physics]
        if self.measures is not None:
            bad = [m for m in self.measures if m not in allowed]
            if bad:
                raise ValueError(
                    f"measures: {bad} not available for {self.physics}; choose from {list(allowed)}"
                )
            if not self.measures or len(set(self.measures)) != len(self.measures):
                raise ValueError("measures: give at least one measure, each once")
        if self.contrast.sizes is not None:
            extra = [L for L in self.contrast.sizes if L not in self.sizes]
            if extra:
                raise ValueError(f"contrast.sizes: {extra} are not among sizes {self.sizes}")
        if len(set(self.contrast.ratios)) != len(self.contrast.ratios):
            raise ValueError("contrast.ratios: a ratio is listed twice")
        return self

    # --------------------------------------------------------------- derived values
    @property
    def measure_names(self) -> list[str]:
        """The measures to report (default: bulk and shear, or k)."""
        if self.measures is not None:
            return list(self.measures)
        return ["bulk", "shear"] if self.physics == "elasticity" else ["k"]

    @property
    def reference(self) -> str:
        """BC whose confidence interval the ``ci`` tolerance applies to: periodic if solved."""
        if self.reference_bc is not None:
            return self.reference_bc
        return "periodic" if "periodic" in self.boundary_conditions else self.boundary_conditions[0]

    @property
    def gap_min(self) -> float:
        """Absolute minimum clearance between inclusion surfaces (default 0.1 r)."""
        return 0.1 * self.radius if self.min_gap is None else float(self.min_gap)

    def realizations_for(self, size: float) -> int:
        if isinstance(self.realizations, list):
            return int(self.realizations[self.sizes.index(size)])
        return int(self.realizations)


def _user_loc(loc: tuple, data, missing: bool) -> str:
    """Dotted key path as the user wrote it: union-member labels (the ``kind`` value,
    ``elastic``/``conductor``) that pydantic inserts into ``loc`` are dropped; the last
    part of a ``missing`` error (a key absent from the input) is kept."""
    parts: list[str] = []
    cur = data
    for i, p in enumerate(loc):
        if isinstance(cur, dict) and p in cur:
            cur = cur[p]
        elif isinstance(cur, list) and isinstance(p, int) and 0 <= p < len(cur):
            cur = cur[p]
        elif not (missing and i == len(loc) - 1):
            continue  # not a key of the input: a union label
        parts.append(str(p))
    return ".".join(parts)


def _format_validation_error(err: ValidationError, source: str, data=None) -> str:
    errors = err.errors()
    # An unknown key (typo) usually also makes a required key "missing": report the typo.
    first = next((e for e in errors if e["type"] == "extra_forbidden"), errors[0])
    loc = _user_loc(first["loc"], data, first["type"] == "missing")
    msg = first["msg"]
    if first["type"] == "extra_forbidden":
        msg = "unknown key"
    elif first["type"] == "value_error":
        msg = msg.removeprefix("Value error, ")
    more = f" (+{len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{source}: {loc + ': ' if loc else ''}{msg}{more}"


def parse_config(data: dict, model: type[BaseModel], source: str = "config") -> BaseModel:
    """Validate a dict against ``model``; raise a one-line ConfigError on failure."""
    try:
        return model.model_validate(data)
    except ValidationError as err:
        raise ConfigError(_format_validation_error(err, source, data)) from None


def load_toml(path: str | Path) -> dict:
    """Read a TOML file; missing file or bad syntax -> ConfigError."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"config file not found: {p}")
    try:
        with p.open("rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{p}: invalid TOML: {err}") from None


def load_homogenize_config(path: str | Path) -> HomogenizeConfig:
    """Load and validate an ``fe2 homogenize`` TOML file.

    Relative mesh paths (geometry.kind = "msh") are resolved against the config's folder.
    """
    p = Path(path)
    data = load_toml(p)
    cfg = parse_config(data, HomogenizeConfig, str(p))
    if isinstance(cfg.geometry, MshGeometry):
        mesh_path = Path(cfg.geometry.path)
        if not mesh_path.is_absolute():
            mesh_path = (p.parent / mesh_path).resolve()
        if not mesh_path.is_file():
            raise ConfigError(f"{p}: geometry.path: mesh file not found: {mesh_path}")
        cfg = cfg.model_copy(update={"geometry": cfg.geometry.model_copy(update={"path": str(mesh_path)})})
    return cfg


def load_bounds_config(path: str | Path) -> BoundsConfig:
    """Load and validate an ``fe2 bounds`` TOML file."""
    p = Path(path)
    return parse_config(load_toml(p), BoundsConfig, str(p))
