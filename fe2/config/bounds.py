"""``fe2 bounds`` config."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, PositiveFloat, model_validator

from fe2.config.base import CommandConfig, _Strict, load_toml, parse_config
from fe2.config.rve import (
    BCName,
    ConductorMaterial,
    ElasticMaterial,
    Material,
    SolverConfig,
    VoidMaterial,
    _all_bc_names,
)

#: Scalar measures a bound-convergence study can report, per physics (see docs/bounds.md).
BOUNDS_MEASURES: dict[str, tuple[str, ...]] = {
    "elasticity": ("bulk", "shear", "C11"),
    "conductivity": ("k", "K11"),
}


class BoundsTolerances(_Strict):
    """When is an RVE size large enough (``fe2 bounds``)."""

    gap: float = Field(default=0.05, gt=0.0)
    ci: float = Field(default=0.01, gt=0.0)
    confidence: float = Field(default=0.95, gt=0.0, lt=1.0)


class ContrastSweep(_Strict):
    """Extra phase-property ratios solved on the same microstructures (and pores)."""

    ratios: list[PositiveFloat] = []
    pores: bool = False
    sizes: list[PositiveFloat] | None = None
    realizations: int | None = Field(default=None, ge=2)


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
    min_gap: float | None = Field(default=None, ge=0.0)
    exact_fraction: bool = True
    seed: int = Field(default=0, ge=0)
    boundary_conditions: list[BCName] = Field(default_factory=_all_bc_names, min_length=1)
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

    def size_estimates(self) -> list[tuple[str, float | None]]:
        """The largest RVE: box edge L·2r, element size r / elements_per_radius."""
        from fe2.config.limits import unstructured_cells

        L = max(self.sizes)
        h = self.radius / self.elements_per_radius
        return [("sizes / elements_per_radius", unstructured_cells((L * 2 * self.radius) ** self.dim, h, self.dim))]

    def realizations_for(self, size: float) -> int:
        if isinstance(self.realizations, list):
            return int(self.realizations[self.sizes.index(size)])
        return int(self.realizations)



def load_bounds_config(path: str | Path, data: dict | None = None) -> BoundsConfig:
    """Load and validate an ``fe2 bounds`` TOML file.

    ``data``: the TOML as already read (default: read ``path``); ``path`` still names the file in
    errors and anchors relative paths (``fe2 uq`` passes modified copies of a base config).
    """
    p = Path(path)
    return parse_config(load_toml(p) if data is None else data, BoundsConfig, str(p))
