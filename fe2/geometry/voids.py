"""Turn meshed phases into pores: remove their cells from an RVE mesh.

A pore is a hole in the mesh (fe2 never uses a near-zero stiffness, which
would make the operator singular or the answer depend on a fudge factor).
Generated geometries cut pores out before meshing; this module does the same
for a mesh that already has cells in a pore phase (a user ``.msh``, or a
material given as ``void = true``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from dolfinx import mesh as dmesh

from fe2.errors import GeometryError
from fe2.geometry.base import RVEMesh
from fe2.geometry.validation import phase_volumes


def remove_phases(rve: RVEMesh, void_phases: Sequence[str]) -> RVEMesh:
    """A new RVEMesh without the cells of ``void_phases`` (collective on rve.comm).

    Volume fractions of the removed phases are measured on the original mesh
    (cell volumes, exact for straight-sided cells) and stored in
    ``void_volume_fractions``. The box and the periodicity flag are unchanged:
    removing the same phase on both sides of a periodic mesh keeps it periodic.

    Raises:
        GeometryError: an unknown phase, or no material phase left.
    """
    voids = tuple(dict.fromkeys(void_phases))
    if not voids:
        return rve
    unknown = [v for v in voids if v not in rve.phases]
    if unknown:
        raise GeometryError(f"void phase(s) {unknown} are not phases of the mesh {sorted(rve.phases)}")
    keep_phases = {name: tag for name, tag in rve.phases.items() if name not in voids}
    if not keep_phases:
        raise GeometryError("every phase of the RVE is a void: no material left to homogenize")
    msh = rve.mesh
    tdim = msh.topology.dim
    vols = phase_volumes(msh, rve.cell_tags, rve.phases)
    n_local = msh.topology.index_map(tdim).size_local
    keep_tags = np.array(sorted(keep_phases.values()), dtype=np.int32)
    tag_of_cell = np.full(n_local + msh.topology.index_map(tdim).num_ghosts, -1, dtype=np.int32)
    tag_of_cell[rve.cell_tags.indices] = rve.cell_tags.values
    cells = np.flatnonzero(np.isin(tag_of_cell[:n_local], keep_tags)).astype(np.int32)
    sub, cell_map, _, _ = dmesh.create_submesh(msh, tdim, cells)
    n_sub = sub.topology.index_map(tdim).size_local + sub.topology.index_map(tdim).num_ghosts
    sub_cells = np.arange(n_sub, dtype=np.int32)
    if hasattr(cell_map, "sub_topology_to_topology"):  # dolfinx >= 0.11
        parent = cell_map.sub_topology_to_topology(sub_cells, inverse=False)
    else:  # dolfinx 0.10 returns the parent indices as an array
        parent = np.asarray(cell_map)[sub_cells]
    sub_tags = dmesh.meshtags(sub, tdim, sub_cells, tag_of_cell[parent])
    box_volume = rve.volume
    void_fractions = dict(rve.void_volume_fractions)
    for v in voids:
        void_fractions[v] = vols[v] / box_volume
    desc = dict(rve.description)
    desc["removed_void_phases"] = list(voids)
    return RVEMesh(
        mesh=sub,
        cell_tags=sub_tags,
        phases=keep_phases,
        box_min=rve.box_min,
        box_max=rve.box_max,
        void_phases=tuple(rve.void_phases) + voids,
        void_volume_fractions=void_fractions,
        periodic=rve.periodic,
        description=desc,
    )
