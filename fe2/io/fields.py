"""Field files: XDMF (or VTX .bp) for ParaView, and the same fields as VTK XML for pyvista.

:func:`write_vtk` is the one VTK writer of fe2 (dolfinx ``VTKFile``: ``<stem>.pvd`` over
``<stem>_p0_000000.vtu`` pieces, a ``.pvtu`` on several ranks): ParaView opens it, and pyvista reads
it without XDMF/HDF5/ADIOS2 (VTK 9.7's XDMF reader crashes on dolfinx XDMF; the venv has no h5py
or adios2). Every function of a call goes into one file: nodal ones (one element for all of them,
higher-order Lagrange cells for P2) as point data, DG0 ones as cell data.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from dolfinx import fem, io
from petsc4py import PETSc


def write_vtk(path: str | Path, functions: Sequence[fem.Function], t: float = 0.0) -> Path:
    """Write ``functions`` (one mesh) at time ``t`` to the VTK collection ``path`` (.pvd), collective."""
    path = Path(path).with_suffix(".pvd")
    msh = functions[0].function_space.mesh
    if msh.comm.rank == 0:
        path.parent.mkdir(parents=True, exist_ok=True)
    msh.comm.Barrier()
    with io.VTKFile(msh.comm, path, "w") as vtk:
        vtk.write_function(list(functions), t)
    return path


def phase_function(msh, cell_tags, name: str = "phase") -> fem.Function:
    """The phase tag of every cell as a DG0 function (cell data in VTK files); untagged cells get -1."""
    Q0 = fem.functionspace(msh, ("DG", 0))
    f = fem.Function(Q0, name=name)
    f.x.array[:] = -1.0
    f.x.array[Q0.dofmap.list[cell_tags.indices, 0]] = cell_tags.values
    f.x.scatter_forward()
    return f


def write_rve_fields(
    path_stem: str | Path,
    V: fem.FunctionSpace,
    total: PETSc.Vec,
    affine: PETSc.Vec | None,
    cell_tags=None,
) -> list[Path]:
    """Write the total field u and the fluctuation w = u - E·x of one load case.

    Both go to ParaView's file (XDMF, or VTX when the degree differs from the geometry's) and,
    with the phase tags as cell data ``phase``, to one VTK file (``<stem>.pvd``, see :func:`write_vtk`).

    Args:
        path_stem: output path without suffix, e.g. ``out/fields/periodic_E11``.
        V: the field's function space.
        total: u (full ghosted vector of V).
        affine: the affine part E·(x - x_c) the field was built with (for TUBC the mean strain Ē
            of the unit stress; None: w is u itself).
        cell_tags: phase tags, written alongside (XDMF only) for colouring by phase.

    Returns:
        The paths written: the ``.xdmf`` (or ``.bp``) file, then the ``.pvd`` file.
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
    vtk_functions = [u, w] + ([phase_function(msh, cell_tags)] if cell_tags is not None else [])
    if degree == cmap.degree:
        out = stem.with_suffix(".xdmf")
        with io.XDMFFile(msh.comm, out, "w") as xdmf:
            xdmf.write_mesh(msh)
            if cell_tags is not None:
                cell_tags.name = "phase"
                xdmf.write_meshtags(cell_tags, msh.geometry)
            xdmf.write_function(u)
            xdmf.write_function(w)
    else:
        out = stem.with_suffix(".bp")
        with io.VTXWriter(msh.comm, out, [u, w], engine="BP4") as vtx:
            vtx.write(0.0)
    return [out, write_vtk(stem.with_suffix(".pvd"), vtk_functions)]


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
