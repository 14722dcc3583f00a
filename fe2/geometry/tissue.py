"""Tissue domains for perfusion: a circular (2D) / spherical (3D) tumour in host tissue, and ``.msh`` import.

Every function returns a :class:`TissueMesh` with named cell regions and boundary
parts, so callers write ``tm.region("tumour")`` / ``tm.tag("outer")``:

* cells: ``tumour`` = 1, ``host`` = 2;
* facets: ``outer`` = 1 (outer boundary: the host's outer circle/sphere, or the
  tumour surface when there is no host), ``interface`` = 2 (tumour/host, interior facets).

Lengths are in the caller's unit (SI metres for :mod:`fe2.physics.darcy`). The
boundary is curved: with ``geometry_order=1`` the mesh is the inscribed polygon /
polyhedron (area/volume defect O(h²)); ``geometry_order=2`` gives quadratic
isoparametric cells (defect O(h⁴)).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from dolfinx import mesh as dmesh

from fe2.errors import GeometryError, MeshError
from fe2.geometry._gmsh import merge_msh, mesh_and_distribute, mesh_options, named_physical_groups

REGIONS = {"tumour": 1, "host": 2}
BOUNDARIES = {"outer": 1, "interface": 2}


@dataclass
class TissueMesh:
    """A tissue mesh with named regions (cell tags) and boundary parts (facet tags)."""

    mesh: dmesh.Mesh
    cell_tags: dmesh.MeshTags
    facet_tags: dmesh.MeshTags
    regions: dict[str, int]
    boundaries: dict[str, int]
    description: dict = field(default_factory=dict)

    def region(self, name: str) -> int:
        """Cell tag of a named region (GeometryError naming the known ones)."""
        if name not in self.regions:
            raise GeometryError(f"unknown region {name!r}; this domain has {sorted(self.regions)}")
        return self.regions[name]

    def tag(self, name: str) -> int:
        """Facet tag of a named boundary part (GeometryError naming the known ones)."""
        if name not in self.boundaries:
            raise GeometryError(f"unknown boundary {name!r}; this domain has {sorted(self.boundaries)}")
        return self.boundaries[name]


def tumour_in_host(
    comm, *, dim: int = 2, tumour_radius: float = 1.0, host_radius: float | None = 3.0,
    mesh_size: float = 0.25, tumour_mesh_size: float | None = None, geometry_order: int = 1, rank: int = 0,
) -> TissueMesh:
    """Disk (dim=2) or ball (dim=3) tumour of ``tumour_radius`` centred at the origin, in a concentric host.

    ``host_radius=None`` meshes the tumour alone (regions {"tumour"}, boundary {"outer"}).
    ``tumour_mesh_size`` (default ``mesh_size``) is the element size inside the tumour.
    """
    if dim not in (2, 3):
        raise GeometryError(f"dim must be 2 or 3, got {dim}")
    R = float(tumour_radius)
    if not R > 0:
        raise GeometryError(f"tumour_radius must be > 0, got {tumour_radius}")
    if host_radius is not None and not host_radius > R:
        raise GeometryError(f"host_radius {host_radius} must exceed tumour_radius {R}")
    if not mesh_size > 0 or (tumour_mesh_size is not None and not tumour_mesh_size > 0):
        raise GeometryError("mesh sizes must be > 0")
    if geometry_order not in (1, 2):
        raise GeometryError(f"geometry_order must be 1 or 2, got {geometry_order}")
    h_t = float(tumour_mesh_size or mesh_size)
    with_host = host_radius is not None
    regions = dict(REGIONS) if with_host else {"tumour": 1}
    boundaries = dict(BOUNDARIES) if with_host else {"outer": 1}

    def builder(g):
        occ = g.model.occ
        add = (lambda r: occ.addDisk(0, 0, 0, r, r)) if dim == 2 else (lambda r: occ.addSphere(0, 0, 0, r))
        tum = add(R)
        if with_host:
            host = add(float(host_radius))
            occ.fragment([(dim, host)], [(dim, tum)])
        occ.synchronize()
        ents = [t for (_, t) in g.model.getEntities(dim)]
        # the tumour is the entity whose bounding box has half-width R
        tumour_ents, host_ents = [], []
        for e in ents:
            bb = g.model.getBoundingBox(dim, e)
            (tumour_ents if abs(bb[3] - R) < 1e-6 * R else host_ents).append(e)
        if len(tumour_ents) != 1 or (with_host and len(host_ents) != 1):
            raise GeometryError(f"could not identify tumour/host entities ({len(ents)} {dim}D entities)")
        g.model.addPhysicalGroup(dim, tumour_ents, regions["tumour"], "tumour")
        bnd_t = [t for (_, t) in g.model.getBoundary([(dim, tumour_ents[0])], oriented=False, combined=True)]
        if with_host:
            g.model.addPhysicalGroup(dim, host_ents, regions["host"], "host")
            bnd_h = [t for (_, t) in g.model.getBoundary([(dim, host_ents[0])], oriented=False,
                                                           combined=True)]
            outer = sorted(set(bnd_h) - set(bnd_t))
            g.model.addPhysicalGroup(dim - 1, outer, boundaries["outer"], "outer")
            g.model.addPhysicalGroup(dim - 1, sorted(set(bnd_t)), boundaries["interface"], "interface")
        else:
            g.model.addPhysicalGroup(dim - 1, sorted(set(bnd_t)), boundaries["outer"], "outer")
        if h_t < mesh_size:
            fld = g.model.mesh.field
            ball = fld.add("Ball")
            fld.setNumber(ball, "Radius", R)
            fld.setNumber(ball, "VIn", h_t)
            fld.setNumber(ball, "VOut", mesh_size)
            fld.setNumber(ball, "Thickness", 0.5 * R)
            fld.setAsBackgroundMesh(ball)
        g.model.mesh.generate(dim)
        return {}

    opts = mesh_options(mesh_size, geometry_order)
    if h_t < mesh_size:
        opts["Mesh.MeshSizeExtendFromBoundary"] = 0
    data, _ = mesh_and_distribute(comm, rank, dim, builder, prefix="fe2_tumour_in_host", options=opts,
                                  what="the tumour-in-host domain")
    return TissueMesh(data.mesh, data.cell_tags, data.facet_tags, regions, boundaries, {
        "generator": "tumour_in_host", "dim": dim, "tumour_radius": R, "host_radius": host_radius,
        "mesh_size": mesh_size, "tumour_mesh_size": h_t, "geometry_order": geometry_order,
    })


def _read_tissue_model(g, path: str) -> dict:
    """gmsh builder: merge ``path`` and name its physical groups of the top dimension and one below."""
    dim = merge_msh(g, path, "a tissue mesh")
    if not g.model.getPhysicalGroups(dim):
        raise MeshError(f"mesh file '{path}' has no {dim}D physical groups; tag each tissue region with one")
    names = {"region": named_physical_groups(g, dim, path, "region"),
             "boundary": named_physical_groups(g, dim - 1, path, "boundary")}
    return {"gdim": dim, "regions": names["region"], "boundaries": names["boundary"]}


def tissue_from_msh(comm, path: str | os.PathLike, *, rank: int = 0) -> TissueMesh:
    """Read a gmsh ``.msh`` file on ``rank`` and distribute it (collective).

    Physical groups of the top dimension become regions, those one dimension lower
    boundary parts (name -> physical tag; unnamed groups are called ``region_<t>`` /
    ``boundary_<t>``). A planar 2D file gives a 2D mesh.
    """
    path = str(Path(path))
    exists = comm.bcast(os.path.isfile(path) if comm.rank == rank else None, root=rank)
    if not exists:
        raise MeshError(f"mesh file '{path}' does not exist")
    data, info = mesh_and_distribute(comm, rank, None, lambda g: _read_tissue_model(g, path),
                                     prefix="fe2_tissue_msh", options={}, error_cls=MeshError,
                                     what=f"mesh file '{path}'")
    if data.cell_tags is None:
        raise MeshError(f"mesh file '{path}': no cell tags were read")
    facet_tags = data.facet_tags
    if facet_tags is None:
        tdim = data.mesh.topology.dim
        facet_tags = dmesh.meshtags(data.mesh, tdim - 1, np.zeros(0, np.int32), np.zeros(0, np.int32))
    return TissueMesh(data.mesh, data.cell_tags, facet_tags, dict(info["regions"]), dict(info["boundaries"]),
                      {"generator": "tissue_from_msh", "path": path})
