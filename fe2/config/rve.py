"""The RVE part of a config, shared by ``fe2 homogenize``, ``fe2 bounds`` and ``fe2 run``:
geometry kinds, phase materials, the RVE solver and output switches.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, Discriminator, Field, PositiveFloat, Tag, model_validator

from fe2.config.base import _Strict


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
    min_gap: float = Field(default=0.0, ge=0.0)


class ArrayGeometry(_GeometryBase):
    """Regular arrays: one centred inclusion (square/cubic) or the 2D hexagonal cell."""

    kind: Literal["square_array", "hexagonal_array"]
    dim: Literal[2, 3] = 2
    volume_fraction: float | None = Field(default=None, gt=0.0, lt=1.0)
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
    axis: int = Field(default=0, ge=0, le=2)
    fractions: list[float] = Field(min_length=2)
    phases: list[str] = Field(min_length=2)


class RandomGeometry(_GeometryBase):
    """Random non-overlapping inclusions at a target volume fraction (RSA, seeded)."""

    kind: Literal["random"]
    lengths: list[PositiveFloat] = Field(min_length=2, max_length=3)
    radius: PositiveFloat
    volume_fraction: float = Field(gt=0.0, lt=1.0)
    seed: int = 0
    min_gap: float = Field(default=0.0, ge=0.0)
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
    InclusionsGeometry | ArrayGeometry | LaminateGeometry | RandomGeometry | MshGeometry,
    Field(discriminator="kind"),
]


def _positive_or_void(v: float) -> float:
    """A phase modulus (stiffness, conductivity): > 0, else the pointer to ``void = true``."""
    if not v > 0:
        raise ValueError(f"must be > 0, got {v:g} (a phase with none is a pore: give it `void = true` instead)")
    return v


#: a stiffness or conductivity of a phase (0 and below: see ``void``)
PhaseModulus = Annotated[float, AfterValidator(_positive_or_void)]


class ElasticMaterial(_Strict):
    young: PhaseModulus
    poisson: float = Field(gt=-1.0, lt=0.5)


class ConductorMaterial(_Strict):
    conductivity: PhaseModulus


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
    Annotated[ElasticMaterial, Tag("elastic")]
    | Annotated[ConductorMaterial, Tag("conductor")]
    | Annotated[VoidMaterial, Tag("void")],
    Discriminator(_material_kind),
]


class SolverConfig(_Strict):
    kind: Literal["auto", "direct", "iterative"] = "auto"
    rtol: float = Field(default=1e-12, gt=0.0, lt=1.0)
    degree: Literal[1, 2] = 1


class OutputConfig(_Strict):
    fields: bool = True


BCName = Literal["kubc", "periodic", "tubc"]


def _all_bc_names() -> list[BCName]:
    """Default ``boundary_conditions`` of a command: every condition (a new list each time)."""
    return ["kubc", "periodic", "tubc"]
