"""Boundary conditions of the Darcy problem, by facet tag (SI units).

* :class:`PressureBC` — p = value [Pa] on the tagged facets (essential in the primal
  formulation, natural in the mixed one).
* :class:`FluxBC` — outward normal Darcy flux u·n = value [m/s] (natural in the primal
  formulation, essential in the mixed one, where only value = 0 is supported).

Boundary facets named by no condition are impermeable (u·n = 0).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from dolfinx import mesh as dmesh
from mpi4py import MPI

from fe2.errors import ConfigError


@dataclass(frozen=True)
class PressureBC:
    """p = value [Pa] on the facets tagged ``tag``."""

    tag: int
    value: float


@dataclass(frozen=True)
class FluxBC:
    """Outward normal flux u·n = value [m/s] on the facets tagged ``tag``."""

    tag: int
    value: float = 0.0


BoundaryCondition = PressureBC | FluxBC


def check_bcs(bcs: Sequence[BoundaryCondition], facet_tags: dmesh.MeshTags | None, comm) -> None:
    """ConfigError if a tag appears twice, matches no facet on any rank, or a BC has an unknown type."""
    seen: set[int] = set()
    for bc in bcs:
        if not isinstance(bc, (PressureBC, FluxBC)):
            raise ConfigError(f"boundary conditions must be PressureBC or FluxBC, got {type(bc).__name__}")
        if bc.tag in seen:
            raise ConfigError(f"facet tag {bc.tag} has two boundary conditions")
        if not np.isfinite(bc.value):
            raise ConfigError(f"boundary value on tag {bc.tag} must be finite, got {bc.value}")
        seen.add(bc.tag)
    if not bcs:
        return
    if facet_tags is None:
        raise ConfigError("boundary conditions given but the mesh has no facet tags")
    for bc in bcs:
        n = comm.allreduce(int(facet_tags.find(bc.tag).size), op=MPI.SUM)
        if n == 0:
            raise ConfigError(f"facet tag {bc.tag} of a boundary condition matches no facet")


def facets_of(facet_tags: dmesh.MeshTags, tags: Sequence[int]) -> np.ndarray:
    """Local facet indices carrying any of ``tags`` (sorted, unique)."""
    if not tags:
        return np.zeros(0, dtype=np.int32)
    return np.unique(np.concatenate([facet_tags.find(t) for t in tags])).astype(np.int32)
