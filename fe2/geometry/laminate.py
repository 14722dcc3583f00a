"""Periodic laminate RVEs: a box split into layers normal to one axis.

The layers are fused with a CAD fragment, so every interface is shared by the
two layers and carries mesh nodes (conforming interfaces). Several layers may
share a phase name; phase ids are 1, 2, ... in order of first appearance in
``phases``. Lengths in mesh units; the first layer starts at ``origin[axis]``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from fe2.errors import GeometryError
from fe2.geometry import validation as val
from fe2.geometry._gmsh import mesh_and_distribute, mesh_options, set_box_periodicity
from fe2.geometry.base import RVEMesh

__all__ = ["laminate_rve", "layer_bounds"]


def layer_bounds(box_min: float, length: float, fractions: np.ndarray) -> np.ndarray:
    """Interface positions along the lamination axis, shape (n_layers + 1,), ends exact."""
    pos = box_min + length * np.concatenate([[0.0], np.cumsum(fractions)])
    pos[0], pos[-1] = box_min, box_min + length
    return pos


def _build_model(g, dim, box_min, box_max, axis, bounds, layer_phases, phase_ids) -> dict:
    occ = g.model.occ
    layers = []
    for i in range(len(layer_phases)):
        lo = box_min.copy()
        ext = box_max - box_min
        lo[axis] = bounds[i]
        ext[axis] = bounds[i + 1] - bounds[i]
        if dim == 2:
            layers.append((dim, occ.addRectangle(lo[0], lo[1], 0.0, ext[0], ext[1])))
        else:
            layers.append((dim, occ.addBox(*lo, *ext)))
    if len(layers) > 1:
        _, out_map = occ.fragment(layers[:1], layers[1:])
        pieces = [[t for _, t in children] for children in out_map]
    else:
        pieces = [[layers[0][1]]]
    occ.synchronize()
    npairs = set_box_periodicity(g, dim, box_min, box_max)
    for name, pid in phase_ids.items():
        tags = sorted(t for i, p in enumerate(layer_phases) if p == name for t in pieces[i])
        g.model.addPhysicalGroup(dim, tags, tag=pid, name=name)
    g.model.mesh.generate(dim)
    return {"num_gmsh_nodes": int(len(g.model.mesh.getNodes()[0])), "periodic_pairs": npairs}


def laminate_rve(
    comm,
    lengths: Sequence[float],
    axis: int,
    fractions: Sequence[float],
    phases: Sequence[str],
    mesh_size: float,
    *,
    origin: Sequence[float] | None = None,
    element_order: int = 1,
    rank: int = 0,
) -> RVEMesh:
    """Mesh a periodic laminate: layer ``i`` has thickness ``fractions[i] * lengths[axis]``.

    Args:
        comm: MPI communicator of the mesh (collective call).
        lengths: box edge lengths, shape (dim,), dim 2 or 3.
        axis: lamination direction (layer normal), 0 <= axis < dim.
        fractions: layer thickness fractions, each > 0, summing to 1.
        phases: phase name of each layer (names may repeat).
        mesh_size: target element size.
        origin: box corner (default 0).
        element_order: geometry order 1 or 2.
        rank: rank on which gmsh builds the mesh.

    Raises:
        GeometryError: bad axis, a fraction <= 0 (empty layer), fractions not
            summing to 1, bad lengths or mesh size.
    """
    box_len = val.check_lengths(lengths)
    dim = box_len.size
    if not isinstance(axis, (int, np.integer)) or not 0 <= int(axis) < dim:
        raise GeometryError(f"laminate axis must be an integer in [0, {dim - 1}], got {axis!r}")
    axis = int(axis)
    box_min = val.check_origin(origin, dim)
    box_max = box_min + box_len
    h = val.check_mesh_size(mesh_size, box_len)
    order = val.check_element_order(element_order)
    layer_phases = [val.check_phase_name(p, f"phase name of layer {i}") for i, p in enumerate(phases)]
    frac = val.check_fractions(fractions, layer_phases)
    bounds = layer_bounds(box_min[axis], box_len[axis], frac)

    phase_ids: dict[str, int] = {}
    for p in layer_phases:
        phase_ids.setdefault(p, len(phase_ids) + 1)

    def builder(g):
        return _build_model(g, dim, box_min, box_max, axis, bounds, layer_phases, phase_ids)

    data, info = mesh_and_distribute(
        comm, rank, dim, builder, prefix="fe2_laminate_rve", options=mesh_options(h, order),
        what="the laminate RVE",
    )
    measured = val.phase_fractions(data.mesh, data.cell_tags, phase_ids, float(np.prod(box_len)))
    exact = dict.fromkeys(phase_ids, 0.0)
    for p, f in zip(layer_phases, frac, strict=True):
        exact[p] += float(f)
    desc = {
        "generator": "laminate_rve",
        "lengths": box_len.tolist(),
        "origin": box_min.tolist(),
        "axis": axis,
        "fractions": frac.tolist(),
        "phases": layer_phases,
        "interfaces": bounds.tolist(),
        "mesh_size": h,
        "element_order": order,
        "volume_fractions": measured,
        "exact_volume_fractions": exact,
        "num_gmsh_nodes": info["num_gmsh_nodes"],
    }
    return RVEMesh(
        mesh=data.mesh,
        cell_tags=data.cell_tags,
        phases=dict(phase_ids),
        box_min=box_min,
        box_max=box_max,
        periodic=True,
        description=desc,
    )
