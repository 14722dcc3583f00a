"""Refinement of a straight-sided mesh with its cell (region) and facet (boundary) tags carried over.

:func:`refine_tissue` splits the marked cells (None: every cell) with ``dolfinx.mesh.refine`` (Plaza;
the children stay on the rank of their parent): children of a cell take its tag (via
:func:`transfer_cell_tags`, which the RVE refinement uses too); a child facet
lying on a tagged parent facet (barycentric coordinate 0 in the parent cell) takes that facet's tag,
interior facets (material interfaces) included. Straight-sided (order-1) meshes only: a refined polygonal
boundary stays the same polygon. Used by the goal-oriented adaptivity of Darcy
(:mod:`fe2.physics.darcy.adaptivity`) and of the linear macro problem (:mod:`fe2.macro.reaction_error`).
"""

from __future__ import annotations

import numpy as np
from dolfinx import fem
from dolfinx import mesh as dmesh
from mpi4py import MPI

from fe2.errors import ConfigError, MeshError

#: |λ| below this (relative to the parent cell) puts a child facet's midpoint on a parent facet
_ON_FACET = 1e-10


def _geometry_degree(msh: dmesh.Mesh) -> int:
    cmap = msh.geometry.cmaps[0] if hasattr(msh.geometry, "cmaps") else msh.geometry.cmap
    return int(cmap.degree)


def refine_cells(msh: dmesh.Mesh, cells: np.ndarray | None = None) -> tuple[dmesh.Mesh, np.ndarray]:
    """(fine mesh, parent cell of each created cell) with the given owned cells refined (None: every cell).

    Collective; straight-sided meshes only (a ConfigError otherwise). The refined cells stay on the rank
    of their parent.
    """
    if _geometry_degree(msh) != 1:
        raise ConfigError("only straight-sided (geometry order 1) meshes can be refined")
    tdim = msh.topology.dim
    msh.topology.create_entities(1)
    msh.topology.create_connectivity(tdim, 1)
    if cells is None:
        edges = None
    else:
        c2e = msh.topology.connectivity(tdim, 1)
        marked = np.asarray(cells, dtype=np.int32)
        edges = (np.unique(np.concatenate([c2e.links(c) for c in marked])) if marked.size
                 else np.zeros(0, np.int32)).astype(np.int32)
    fine, parent_cell, _ = dmesh.refine(msh, edges, option=dmesh.RefinementOption.parent_cell)
    fine.topology.create_entities(tdim - 1)
    fine.topology.create_connectivity(tdim - 1, tdim)
    return fine, parent_cell


def refine_tissue(msh: dmesh.Mesh, cell_tags: dmesh.MeshTags | None, facet_tags: dmesh.MeshTags | None,
                  cells: np.ndarray | None = None):
    """(fine mesh, cell tags, facet tags) with the given owned cells refined (None: every cell). Collective."""
    fine, parent_cell = refine_cells(msh, cells)
    ct = None if cell_tags is None else transfer_cell_tags(cell_tags, msh, fine, parent_cell)
    ft = None if facet_tags is None else _transfer_facet_tags(facet_tags, msh, fine, parent_cell)
    return fine, ct, ft


def _transfer_facet_tags(tags: dmesh.MeshTags, coarse: dmesh.Mesh, fine: dmesh.Mesh,
                         parent_cell: np.ndarray) -> dmesh.MeshTags:
    tdim, fdim = coarse.topology.dim, coarse.topology.dim - 1
    comm = coarse.comm
    coarse.topology.create_connectivity(tdim, fdim)
    fine.topology.create_connectivity(tdim, fdim)
    nf_c = coarse.topology.index_map(fdim)
    tag_of = np.full(nf_c.size_local + nf_c.num_ghosts, -1, dtype=np.int64)
    tag_of[tags.indices] = tags.values
    n_owned = fine.topology.index_map(tdim).size_local
    offset = comm.exscan(int(parent_cell.size)) or 0
    created = np.asarray(fine.topology.original_cell_index[:n_owned], dtype=np.int64) - offset
    parents = parent_cell[created]
    c2f_f = fine.topology.connectivity(tdim, fdim)
    c2f_c = coarse.topology.connectivity(tdim, fdim)
    child_facets = np.array([c2f_f.links(c) for c in range(n_owned)], dtype=np.int32).reshape(n_owned, tdim + 1)
    parent_facets = np.array([c2f_c.links(p) for p in parents], dtype=np.int32).reshape(n_owned, tdim + 1)
    gdim = coarse.geometry.dim
    xc = coarse.geometry.x[:, :gdim]
    verts = xc[coarse.geometry.dofmaps[0][parents]]                    # (n, tdim+1, gdim), facet j opposite vertex j
    mids = dmesh.compute_midpoints(fine, fdim, child_facets.ravel())[:, :gdim].reshape(n_owned, tdim + 1, gdim)
    T = np.transpose(verts[:, 1:, :] - verts[:, :1, :], (0, 2, 1))  # (n, gdim, tdim), gdim = tdim
    lam_rest = np.linalg.solve(T[:, None, :, :], (mids - verts[:, :1, :])[..., None])[..., 0]  # (n, tdim+1, tdim)
    lam = np.concatenate([1.0 - lam_rest.sum(axis=-1, keepdims=True), lam_rest], axis=-1)      # (n, facet, vertex)
    on = np.abs(lam) < _ON_FACET
    idx, vals = [], []
    for j in range(tdim + 1):  # parent facet j = the one opposite parent vertex j
        hit = on[:, :, j]
        value = tag_of[parent_facets[:, j]]
        sel = hit & (value[:, None] >= 0)
        rows, cols = np.nonzero(sel)
        idx.append(child_facets[rows, cols])
        vals.append(value[rows])
    facets = np.concatenate(idx) if idx else np.zeros(0, np.int32)
    values = np.concatenate(vals) if vals else np.zeros(0, np.int64)
    facets, first = np.unique(facets, return_index=True)
    return dmesh.meshtags(fine, fdim, facets.astype(np.int32), values[first].astype(np.int32))


def transfer_cell_tags(tags: dmesh.MeshTags, coarse: dmesh.Mesh, fine: dmesh.Mesh,
                        parent_cell: np.ndarray) -> dmesh.MeshTags:
    """Cell tags of the refined mesh: each child takes its parent's tag; ghost children through a scatter.

    ``parent_cell`` is indexed by the refined cells *as created* on this rank (before
    dolfinx reorders them): owned cell c was created as ``original_cell_index[c] - offset``,
    offset = the cells created on lower ranks. (``dolfinx.mesh.transfer_meshtag`` aborts on
    2 ranks when the refined mesh gains a ghost layer that the parent mesh had not.)
    """
    comm = coarse.comm
    tdim = coarse.topology.dim
    imc = coarse.topology.index_map(tdim)
    parent_value = np.full(imc.size_local + imc.num_ghosts, -1, dtype=np.int64)
    parent_value[tags.indices] = tags.values
    imf = fine.topology.index_map(tdim)
    n_owned, n_all = imf.size_local, imf.size_local + imf.num_ghosts
    offset = comm.exscan(int(parent_cell.size)) or 0
    created = np.asarray(fine.topology.original_cell_index[:n_owned], dtype=np.int64) - offset
    bad = bool(created.size and (created.min() < 0 or created.max() >= parent_cell.size))
    if comm.allreduce(bad, op=MPI.LOR):  # every rank raises together (a scatter follows)
        raise MeshError("refined cells cannot be matched to their parents (dolfinx's cell numbering of the "
                        "refined mesh is not the one this code expects)")
    Q = fem.functionspace(fine, ("DG", 0))
    cell_dof = Q.dofmap.list[:, 0]
    f = fem.Function(Q)
    f.x.array[cell_dof[:n_owned]] = parent_value[parent_cell[created]]
    f.x.scatter_forward()
    values = np.rint(f.x.array[cell_dof[:n_all]]).astype(np.int32)
    cells = np.arange(n_all, dtype=np.int32)
    keep = values >= 0
    return dmesh.meshtags(fine, tdim, cells[keep], values[keep])
