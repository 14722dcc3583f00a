"""Boundary conditions of reaction–diffusion species and the boundary parts they live on.

Sign convention: ``q = -D grad c . n`` is the **outward** normal flux (amount per unit boundary
measure and time; ``n`` the outward unit normal), so ``q > 0`` means the species leaves.

* :class:`Dirichlet` — ``c = value`` on the part;
* :class:`Flux` — ``q = flux`` (Neumann; ``flux < 0`` injects, e.g. a source at a boundary);
* :class:`Robin` — ``q = alpha (c - c_ext)``, ``alpha >= 0`` a transfer coefficient (length/time):
  uptake into a sink at ``c_ext = 0``, exchange with a bath at ``c_ext``.

Boundary parts are named. :func:`resolve_boundaries` turns ``{name: marker}`` into facets, where a
marker is either a callable ``x -> bool array`` (``x`` of shape ``(3, n_points)``; evaluated on the
exterior facets, as in ``dolfinx.mesh.locate_entities_boundary``) or an integer tag of the
``facet_tags`` meshtags. All parts go into one new meshtags (ids ``1..n`` in the order given) so a
form has a single ``ds`` subdomain data; parts must not share facets.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import ufl
from dolfinx import mesh as dmesh
from mpi4py import MPI

from fe2.errors import ConfigError


@dataclass(frozen=True)
class Dirichlet:
    """``c = value`` on boundary part ``boundary``."""

    boundary: str
    value: float


@dataclass(frozen=True)
class Flux:
    """Prescribed outward flux ``-D grad c . n = flux`` on ``boundary`` (0: no-flux)."""

    boundary: str
    flux: float


@dataclass(frozen=True)
class Robin:
    """``-D grad c . n = alpha (c - c_ext)`` on ``boundary``; ``alpha >= 0``."""

    boundary: str
    alpha: float
    c_ext: float = 0.0


BoundaryCondition = Dirichlet | Flux | Robin
Marker = Callable[[np.ndarray], np.ndarray] | int


@dataclass
class BoundaryParts:
    """Named boundary parts of a mesh: local facet indices per name and one ``ds`` measure."""

    facets: dict[str, np.ndarray]  # name -> sorted local facet indices (owned and ghost)
    ids: dict[str, int]            # name -> subdomain id in ``ds``
    ds: ufl.Measure                # ds(ids[name]) integrates over part ``name``

    def measure(self, name: str) -> ufl.Measure:
        return self.ds(self.ids[name])


def resolve_boundaries(msh, boundaries: dict[str, Marker] | None, facet_tags=None) -> BoundaryParts:
    """Facets and a ``ds`` measure for ``{name: marker}`` (see the module docstring). Collective."""
    boundaries = dict(boundaries or {})
    tdim = msh.topology.dim
    fdim = tdim - 1
    msh.topology.create_connectivity(fdim, tdim)
    facets: dict[str, np.ndarray] = {}
    for name, marker in boundaries.items():
        if callable(marker):
            f = dmesh.locate_entities_boundary(msh, fdim, marker)
        elif isinstance(marker, (int, np.integer)) and not isinstance(marker, bool):
            if facet_tags is None:
                raise ConfigError(f"boundaries: {name}: integer tag {marker} needs facet_tags")
            f = facet_tags.find(int(marker))
        else:
            raise ConfigError(f"boundaries: {name}: a marker is a callable x -> bool or an integer tag")
        facets[name] = np.unique(np.asarray(f, dtype=np.int32))
    ids = {name: k + 1 for k, name in enumerate(facets)}
    allf = np.concatenate([facets[n] for n in facets]) if facets else np.zeros(0, np.int32)
    overlap = allf.size != np.unique(allf).size
    if msh.comm.allreduce(overlap, op=MPI.LOR):
        raise ConfigError("boundaries: boundary parts overlap (a facet belongs to two names)")
    empty = [n for n in facets if msh.comm.allreduce(facets[n].size, op=MPI.SUM) == 0]
    if empty:
        raise ConfigError(f"boundaries: part {empty[0]!r} marks no boundary facet")
    vals = np.concatenate([np.full(facets[n].size, ids[n], np.int32) for n in facets]) if facets \
        else np.zeros(0, np.int32)
    order = np.argsort(allf, kind="stable")
    tags = dmesh.meshtags(msh, fdim, allf[order].astype(np.int32), vals[order])
    ds = ufl.Measure("ds", domain=msh, subdomain_data=tags)
    return BoundaryParts(facets, ids, ds)


def check_conditions(bcs: dict[str, list], species: list[str], mobile: dict[str, bool],
                     parts: BoundaryParts) -> dict[str, tuple]:
    """Validate ``{species: [conditions]}``; returns ``{species: tuple(conditions)}`` for every species."""
    if unknown := set(bcs) - set(species):
        raise ConfigError(f"bcs: unknown species {', '.join(sorted(unknown))}")
    out: dict[str, tuple] = {}
    for sp_ in species:
        conds = tuple(bcs.get(sp_, ()))
        if conds and not mobile[sp_]:
            raise ConfigError(f"bcs: {sp_}: an immobile species (D = 0) takes no boundary condition")
        seen: set[str] = set()
        for bc in conds:
            if not isinstance(bc, (Dirichlet, Flux, Robin)):
                raise ConfigError(f"bcs: {sp_}: {bc!r} is not a Dirichlet, Flux or Robin condition")
            if bc.boundary not in parts.ids:
                raise ConfigError(f"bcs: {sp_}: unknown boundary part {bc.boundary!r}")
            if bc.boundary in seen:
                raise ConfigError(f"bcs: {sp_}: two conditions on boundary part {bc.boundary!r}")
            seen.add(bc.boundary)
            if isinstance(bc, Robin) and not bc.alpha >= 0:
                raise ConfigError(f"bcs: {sp_}: Robin alpha must be >= 0 (got {bc.alpha})")
        out[sp_] = conds
    return out
