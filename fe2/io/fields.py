"""Micro fields for ParaView: XDMF when the field's degree matches the mesh geometry, VTX (.bp) otherwise."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from dolfinx import fem, io
from petsc4py import PETSc


def write_rve_fields(
    path_stem: str | Path,
    V: fem.FunctionSpace,
    total: PETSc.Vec,
    affine: PETSc.Vec | None,
    cell_tags=None,
) -> Path:
    """Write the total field u and the fluctuation w = u - E·x of one load case.

    Args:
        path_stem: output path without suffix, e.g. ``out/fields/periodic_E11``.
        V: the field's function space.
        total: u (full ghosted vector of V).
        affine: the affine part E·(x - x_c) (None for TUBC: w is then u itself).
        cell_tags: phase tags, written alongside (XDMF only) for colouring by phase.

    Returns:
        The path written (``.xdmf`` or ``.bp``).
    """
    msh = V.mesh
    stem = Path(path_stem)
    if msh.comm.rank == 0:
        stem.parent.mkdir(parents=True, exist_ok=True)
    msh.comm.Barrier()
    u = fem.Function(V, name="u")
    total.copy(u.x.petsc_vec)
    u.x.scatter_forward()
    w = fem.Function(V, name="fluctuation")
    w.x.array[:] = u.x.array
    if affine is not None:
        a = fem.Function(V)
        affine.copy(a.x.petsc_vec)
        a.x.scatter_forward()
        w.x.array[:] -= a.x.array
    degree = V.ufl_element().basix_element.degree
    cmap = msh.geometry.cmaps[0] if hasattr(msh.geometry, "cmaps") else msh.geometry.cmap
    if degree == cmap.degree:
        out = stem.with_suffix(".xdmf")
        with io.XDMFFile(msh.comm, out, "w") as xdmf:
            xdmf.write_mesh(msh)
            if cell_tags is not None:
                cell_tags.name = "phase"
                xdmf.write_meshtags(cell_tags, msh.geometry)
            xdmf.write_function(u)
            xdmf.write_function(w)
        return out
    out = stem.with_suffix(".bp")
    with io.VTXWriter(msh.comm, out, [u, w], engine="BP4") as vtx:
        vtx.write(0.0)
    return out


def gather_p1_field(V: fem.FunctionSpace, values: np.ndarray):
    """Gather a scalar nodal field of a P1/P2 space to rank 0 for plotting.

    Args:
        values: (n_local_nodes,) values at this rank's nodes (owned + ghost).

    Returns:
        On rank 0: (points (N, gdim), cells (M, k) vertex-node connectivity, values (N,)),
        with cells using only the element's vertex nodes; None on other ranks.
    """
    msh = V.mesh
    comm = msh.comm
    tdim = msh.topology.dim
    im = V.dofmap.index_map
    n_owned = im.size_local
    x = V.tabulate_dof_coordinates()[:, : msh.geometry.dim]
    global_nodes = np.concatenate([np.arange(im.local_range[0], im.local_range[1]), im.ghosts]).astype(np.int64)
    n_cells = msh.topology.index_map(tdim).size_local
    n_vert = {1: 2, 2: 3, 3: 4}[tdim]
    cells_local = V.dofmap.list[:n_cells, :n_vert]
    cells_global = global_nodes[cells_local]
    parts = comm.gather((global_nodes[:n_owned], x[:n_owned], values[:n_owned], cells_global), root=0)
    if comm.rank != 0:
        return None
    ids = np.concatenate([p[0] for p in parts])
    pts = np.concatenate([p[1] for p in parts])
    vals = np.concatenate([p[2] for p in parts])
    order = np.argsort(ids)
    remap = np.empty(ids.max() + 1, dtype=np.int64)
    remap[ids[order]] = np.arange(ids.size)
    cells = np.concatenate([p[3] for p in parts])
    return pts[order], remap[cells], vals[order]
