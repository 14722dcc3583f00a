"""Macro domains for FE² (gmsh), with named boundary tags.

Every generator returns a :class:`MacroMesh`: the dolfinx mesh on ``comm``, the
facet tags and a name -> tag map of the boundary parts, so loads refer to
names ("left", "hole", ...), never to bare integers.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from dolfinx import mesh as dmesh

from fe2.errors import GeometryError
from fe2.geometry._gmsh import mesh_and_distribute, mesh_options


@dataclass
class MacroMesh:
    """A macro domain: mesh, facet tags and their names; lengths in the user's unit."""

    mesh: dmesh.Mesh
    facet_tags: dmesh.MeshTags
    boundaries: dict[str, int]
    description: dict = field(default_factory=dict)

    def tag(self, name: str) -> int:
        """Facet tag of a named boundary part (GeometryError naming the known ones)."""
        if name not in self.boundaries:
            raise GeometryError(f"unknown boundary {name!r}; this domain has {sorted(self.boundaries)}")
        return self.boundaries[name]


def _tag_box_faces(g, dim: int, lo, hi, names: list[str], eps: float) -> dict[str, list[int]]:
    """Physical groups of the faces of the box [lo, hi] lying on each coordinate plane."""
    found: dict[str, list[int]] = {}
    axes = "xyz"[:dim]
    for a, ax in enumerate(axes):
        for side, val in (("min", lo[a]), ("max", hi[a])):
            bmin = [lo[i] - eps for i in range(dim)] + [-eps] * (3 - dim)
            bmax = [hi[i] + eps for i in range(dim)] + [eps] * (3 - dim)
            bmin[a], bmax[a] = val - eps, val + eps
            ents = [t for (dd, t) in g.model.getEntitiesInBoundingBox(*bmin, *bmax, dim - 1)]
            found[f"{ax}{side}"] = ents
    return found


def plate_with_hole(
    comm, *, width: float = 1.0, height: float = 1.0, radius: float = 0.2, mesh_size: float = 0.05,
    hole_mesh_size: float | None = None, rank: int = 0,
) -> MacroMesh:
    """Quarter of a plate with a central circular hole (2D), symmetric about x = 0 and y = 0.

    Domain: [0, width] x [0, height] minus the disk of ``radius`` centred at the origin.
    Boundaries: "left" (x = 0, symmetry), "bottom" (y = 0, symmetry), "right"
    (x = width, loaded), "top" (y = height), "hole".
    """
    if not (0 < radius < min(width, height)):
        raise GeometryError(f"hole radius {radius} must lie in (0, min(width, height) = {min(width, height)})")
    if mesh_size <= 0:
        raise GeometryError(f"mesh_size must be > 0, got {mesh_size}")
    h_hole = hole_mesh_size or mesh_size / 3.0
    names = {"left": 1, "bottom": 2, "right": 3, "top": 4, "hole": 5}

    def builder(g):
        occ = g.model.occ
        plate = occ.addRectangle(0, 0, 0, width, height)
        disk = occ.addDisk(0, 0, 0, radius, radius)
        occ.cut([(2, plate)], [(2, disk)])
        occ.synchronize()
        eps = 1e-7 * max(width, height)
        faces = _tag_box_faces(g, 2, [0, 0], [width, height], list(names), eps)
        curves = {c for (_, c) in g.model.getEntities(1)}
        straight = {
            "left": faces["xmin"], "bottom": faces["ymin"], "right": faces["xmax"], "top": faces["ymax"],
        }
        hole = sorted(curves - {c for v in straight.values() for c in v})
        for name, ents in {**straight, "hole": hole}.items():
            g.model.addPhysicalGroup(1, ents, names[name], name)
        surf = [s for (_, s) in g.model.getEntities(2)]
        g.model.addPhysicalGroup(2, surf, 1, "plate")
        # refine towards the hole, where the stress concentrates
        field = g.model.mesh.field
        dist = field.add("Distance")
        field.setNumbers(dist, "CurvesList", hole)
        thr = field.add("Threshold")
        field.setNumber(thr, "InField", dist)
        field.setNumber(thr, "SizeMin", h_hole)
        field.setNumber(thr, "SizeMax", mesh_size)
        field.setNumber(thr, "DistMin", 0.0)
        field.setNumber(thr, "DistMax", 2.0 * radius)
        field.setAsBackgroundMesh(thr)
        g.model.mesh.generate(2)
        return {}

    opts = mesh_options(mesh_size, 1)
    opts["Mesh.MeshSizeExtendFromBoundary"] = 0
    data, _ = mesh_and_distribute(comm, rank, 2, builder, prefix="fe2_plate_with_hole", options=opts,
                                  what="the plate with a hole")
    return MacroMesh(data.mesh, data.facet_tags, names, {
        "generator": "plate_with_hole", "width": width, "height": height, "radius": radius,
        "mesh_size": mesh_size, "hole_mesh_size": h_hole,
    })


def bar(comm, *, lengths=(4.0, 1.0, 1.0), mesh_size: float = 0.25, rank: int = 0) -> MacroMesh:
    """A 3D rectangular bar [0, L] x [0, W] x [0, H]; boundaries "xmin", "xmax", "ymin", "ymax", "zmin", "zmax"."""
    L = np.asarray(lengths, dtype=float)
    if L.shape != (3,) or np.any(L <= 0):
        raise GeometryError(f"bar lengths must be 3 positive numbers, got {lengths}")
    names = {"xmin": 1, "xmax": 2, "ymin": 3, "ymax": 4, "zmin": 5, "zmax": 6}

    def builder(g):
        g.model.occ.addBox(0, 0, 0, *L)
        g.model.occ.synchronize()
        faces = _tag_box_faces(g, 3, [0, 0, 0], L, list(names), 1e-7 * L.max())
        for name, ents in faces.items():
            g.model.addPhysicalGroup(2, ents, names[name], name)
        g.model.addPhysicalGroup(3, [v for (_, v) in g.model.getEntities(3)], 1, "bar")
        g.model.mesh.generate(3)
        return {}

    data, _ = mesh_and_distribute(comm, rank, 3, builder, prefix="fe2_bar", options=mesh_options(mesh_size, 1),
                                  what="the bar")
    return MacroMesh(data.mesh, data.facet_tags, names, {"generator": "bar", "lengths": L.tolist(),
                                                           "mesh_size": mesh_size})
