"""Geometry and constraints of a Stokes permeability cell (:mod:`fe2.micro.stokes`).

* :class:`FibreCell` / :func:`square_fibre_cell`: the pore space of regular fibre (2D) and
  sphere (3D) arrays, meshed periodic with gmsh (obstacles are holes).
* :func:`stokes_prolongation`: the 0/1 prolongation P (full → reduced) of the Taylor–Hood block
  system. A velocity node on a max face takes the column of its image on the min faces (corners
  and edges straight to one master), wall nodes (exterior facets not on a box face) have empty
  rows (no slip, v = 0); the pressure is periodic with one gauge node fixed. P is laid out in
  dolfinx's monolithic block layout: on each rank its owned velocity dofs, then its pressure dofs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
from dolfinx import fem
from dolfinx import mesh as dmesh
from mpi4py import MPI
from petsc4py import PETSc

from fe2.errors import ConfigError, GeometryError
from fe2.geometry.base import RVEMesh
from fe2.geometry.inclusions import hexagonal_array, square_array
from fe2.micro import constraints

__all__ = ["FibreCell", "square_fibre_cell", "stokes_prolongation", "wall_nodes"]


# ----------------------------------------------------------------------------- cells
@dataclass(frozen=True)
class FibreCell:
    """Parameters of a regular fibre (2D) / sphere (3D) cell; hashable, for caches over c.

    Attributes:
        solid_fraction: c, area (2D) or volume (3D) fraction of the obstacles.
        arrangement: 'square' (square 2D / simple cubic 3D, one obstacle per cell)
            or 'hexagonal' (2D only, cell a × a√3 with two fibres).
        dim: 2 (fibres) or 3 (spheres, 'square' only).
        length: cell edge (square) or fibre spacing (hexagonal), mesh units.
        mesh_size: target element size; default length / 20.
        element_order: geometry order 2 (default: curved obstacle walls, K converges
            like O(h^3..4)) or 1 (straight cells: the polygonal wall limits K to O(h²)).
    """

    solid_fraction: float
    arrangement: Literal["square", "hexagonal"] = "square"
    dim: int = 2
    length: float = 1.0
    mesh_size: float | None = None
    element_order: int = 2

    @property
    def radius(self) -> float:
        """Obstacle radius from c: c L² = π a² (square), c √3 L² = 2π a² (hex), c L³ = 4/3 π a³."""
        c, L = float(self.solid_fraction), float(self.length)
        if self.arrangement == "hexagonal":
            return math.sqrt(c * math.sqrt(3.0) * L * L / (2.0 * math.pi))
        if self.dim == 2:
            return math.sqrt(c * L * L / math.pi)
        return (3.0 * c * L**3 / (4.0 * math.pi)) ** (1.0 / 3.0)

    def build(self, comm: MPI.Comm) -> RVEMesh:
        """Mesh the fluid part of the cell (obstacles are holes), collective on comm."""
        if self.arrangement == "hexagonal":
            if self.dim != 2:
                raise ConfigError("a hexagonal fibre cell is 2D only")
            return hexagonal_array(
                comm, volume_fraction=self.solid_fraction, mesh_size=self.mesh_size, spacing=self.length,
                void=True, element_order=self.element_order,
            )
        if self.arrangement != "square":
            raise ConfigError(f"arrangement must be 'square' or 'hexagonal', got {self.arrangement!r}")
        return square_array(
            comm, volume_fraction=self.solid_fraction, mesh_size=self.mesh_size, length=self.length,
            dim=self.dim, void=True, element_order=self.element_order,
        )


def square_fibre_cell(
    comm: MPI.Comm, solid_fraction: float, *, mesh_size: float | None = None, length: float = 1.0,
    element_order: int = 2,
) -> RVEMesh:
    """The pore space of the 2D square array of fibres at solid fraction c (radius a = L√(c/π))."""
    return FibreCell(solid_fraction, "square", 2, length, mesh_size, element_order).build(comm)


# ----------------------------------------------------------------------------- constraints
def _owner_starts(comm: MPI.Comm, n_owned: int) -> np.ndarray:
    """Start of each rank's contiguous range, shape (size + 1,)."""
    counts = np.asarray(comm.allgather(int(n_owned)), dtype=np.int64)
    return np.concatenate([[0], np.cumsum(counts)])


def _block_prolongation(
    comm: MPI.Comm, vmap: constraints.NodeMap, n_v: int, bs: int, qmap: constraints.NodeMap, n_q: int,
) -> PETSc.Mat:
    """The 0/1 matrix P (full → reduced) in dolfinx's monolithic block layout.

    Rows on a rank: its owned velocity dofs (node-major, bs components), then its
    owned pressure dofs. Columns likewise for the reduced unknowns: reduced node g
    of a field, owned by rank s, is column ``col0[s] + (g − start[s]) · bs (+ c)``,
    pressure columns following the velocity ones of the same rank.
    """
    v_start = _owner_starts(comm, vmap.n_reduced_owned)
    q_start = _owner_starts(comm, qmap.n_reduced_owned)
    n_cols_rank = (np.diff(v_start) * bs + np.diff(q_start)).astype(np.int64)
    col0 = np.concatenate([[0], np.cumsum(n_cols_rank)])

    def global_columns(g: np.ndarray, start: np.ndarray, width: int, shift: np.ndarray) -> np.ndarray:
        s = np.searchsorted(start, g, side="right") - 1
        return col0[s] + shift[s] + (g - start[s]) * width

    zero = np.zeros(comm.size, dtype=np.int64)
    gv = vmap.column
    has_v = gv >= 0
    cv = np.full(n_v, -1, dtype=np.int64)
    cv[has_v] = global_columns(gv[has_v], v_start, bs, zero)
    gq = qmap.column
    has_q = gq >= 0
    cq = np.full(n_q, -1, dtype=np.int64)
    cq[has_q] = global_columns(gq[has_q], q_start, 1, np.diff(v_start) * bs)

    comp = np.arange(bs, dtype=np.int64)
    cols_v = np.where(has_v[:, None], cv[:, None] + comp[None, :], -1).ravel()
    cols = np.concatenate([cols_v, cq])
    has = cols >= 0
    indptr = np.zeros(cols.size + 1, dtype=PETSc.IntType)
    indptr[1:] = np.cumsum(has)
    indices = cols[has].astype(PETSc.IntType)
    n_red_local = vmap.n_reduced_owned * bs + qmap.n_reduced_owned
    P = PETSc.Mat().createAIJ(
        size=((n_v * bs + n_q, PETSc.DETERMINE), (n_red_local, PETSc.DETERMINE)),
        csr=(indptr, indices, np.ones(indices.size, dtype=PETSc.ScalarType)),
        comm=comm,
    )
    P.assemble()
    return P


def wall_nodes(V: fem.FunctionSpace, box_min: np.ndarray, box_max: np.ndarray) -> np.ndarray:
    """Owned velocity nodes on obstacle surfaces: exterior facets not on a box face (bool per node)."""
    msh = V.mesh
    d = msh.geometry.dim  # = the topological dimension for an RVE mesh (RVEMesh.dim)
    n_v = V.dofmap.index_map.size_local
    fdim = d - 1
    msh.topology.create_connectivity(fdim, d)
    exterior = dmesh.exterior_facet_indices(msh.topology)
    mid = dmesh.compute_midpoints(msh, fdim, exterior)[:, :d] if exterior.size else np.zeros((0, d))
    on_min, on_max = constraints.face_masks(mid, box_min, box_max)
    walls = exterior[~(on_min.any(axis=1) | on_max.any(axis=1))].astype(np.int32)
    dofs = fem.locate_dofs_topological(V, fdim, walls)
    mask = np.zeros(n_v, dtype=bool)
    mask[dofs[dofs < n_v]] = True
    return mask


def stokes_prolongation(
    V: fem.FunctionSpace, Q: fem.FunctionSpace, box_min: np.ndarray, box_max: np.ndarray,
) -> tuple[PETSc.Mat, tuple[int, int]]:
    """P of the periodic no-slip cell for velocity space ``V`` and pressure space ``Q`` (collective).

    Returns:
        ``(P, (reduced velocity dofs, reduced pressure dofs))``, global counts.

    Raises:
        GeometryError: no obstacle walls (no no-slip surface: unbounded flow).
        MeshError: the mesh or the obstacles are not periodic
            (:func:`fe2.micro.constraints.periodic_node_map`).
    """
    comm = V.mesh.comm
    d = V.mesh.geometry.dim
    bs = V.dofmap.index_map_bs
    n_v = V.dofmap.index_map.size_local
    n_q = Q.dofmap.index_map.size_local
    xv = V.tabulate_dof_coordinates()[:n_v, :d]
    xq = Q.tabulate_dof_coordinates()[:n_q, :d]
    wall = wall_nodes(V, box_min, box_max)
    n_wall = comm.allreduce(int(np.count_nonzero(wall)))
    if n_wall == 0:
        raise GeometryError(
            "the Stokes cell has no obstacle walls: with no no-slip surface the flow is unbounded"
            " (infinite permeability)"
        )
    vmap = constraints.periodic_node_map(comm, xv, box_min, box_max, removed=wall, gauge=False)
    qmap = constraints.periodic_node_map(comm, xq, box_min, box_max)
    n_reduced = (vmap.n_reduced_global * bs, qmap.n_reduced_global)
    return _block_prolongation(comm, vmap, n_v, bs, qmap, n_q), n_reduced
