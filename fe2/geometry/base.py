"""The RVE mesh contract shared by the geometry generators and the micro solvers.

An :class:`RVEMesh` is a dolfinx mesh of the *material* part of an axis-aligned
box ``Y = [box_min, box_max]`` (pores are holes: their cells are not in the
mesh), with one integer cell tag per phase. Generators in :mod:`fe2.geometry`
guarantee that opposite box faces match node for node (periodic meshes).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from dolfinx import mesh as dmesh


@dataclass
class RVEMesh:
    """A meshed RVE.

    Attributes:
        mesh: the dolfinx mesh (any communicator), gdim == tdim == dim.
        cell_tags: MeshTags of dimension ``dim``; value = phase id.
        phases: phase name -> tag id for the phases present in the mesh.
        box_min, box_max: corners of the RVE box Y, shape (dim,), in mesh length units.
        void_phases: names of pore phases cut out of the mesh (no cells).
        void_volume_fractions: volume fraction of each void phase, exact from the
            geometry description (the mesh cannot measure a hole).
        periodic: True when the generator made opposite faces match node for node.
        description: free-form provenance (generator name and parameters), JSON-serialisable.
    """

    mesh: dmesh.Mesh
    cell_tags: dmesh.MeshTags
    phases: dict[str, int]
    box_min: np.ndarray
    box_max: np.ndarray
    void_phases: tuple[str, ...] = ()
    void_volume_fractions: dict[str, float] = field(default_factory=dict)
    periodic: bool = True
    description: dict = field(default_factory=dict)

    @property
    def dim(self) -> int:
        """Spatial dimension (2 or 3)."""
        return self.mesh.geometry.dim

    @property
    def lengths(self) -> np.ndarray:
        """Box edge lengths, shape (dim,)."""
        return np.asarray(self.box_max, dtype=float) - np.asarray(self.box_min, dtype=float)

    @property
    def volume(self) -> float:
        """Volume |Y| of the whole box (pores included)."""
        return float(np.prod(self.lengths))

    @property
    def comm(self):
        """The communicator the mesh lives on."""
        return self.mesh.comm
