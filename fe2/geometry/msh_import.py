"""Import a user gmsh ``.msh`` file as an :class:`RVEMesh`.

Physical groups of the top dimension become the phases (name -> physical tag;
an unnamed group ``t`` is called ``phase_t``); every cell must belong to exactly
one of them. The box defaults to the global bounding box of the mesh nodes.

The file is read on one rank and distributed with
:func:`dolfinx.io.gmsh.model_to_mesh`, the routine behind
:func:`dolfinx.io.gmsh.read_from_msh`. ``read_from_msh`` itself is not called
because it initializes *and finalizes* gmsh unconditionally, which would tear
down a gmsh session owned by the caller.

``periodic`` is True only when opposite faces match node for node (checked
here with :func:`~fe2.geometry.validation.periodicity_mismatch`, to
``1e-10 max(L)``); the micro solver rejects a non-periodic mesh under periodic
boundary conditions.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from numpy.typing import ArrayLike

from fe2.errors import MeshError
from fe2.geometry import validation as val
from fe2.geometry._gmsh import merge_msh, mesh_and_distribute, named_physical_groups
from fe2.geometry.base import RVEMesh

__all__ = ["rve_from_msh"]

#: Node-matching tolerance (times the largest box edge) for declaring a mesh periodic.
PERIODIC_RTOL = 1e-10


def _read_model(g, path: str) -> dict:
    """gmsh builder: merge the file into the fresh model and describe its phases."""
    dim = merge_msh(g, path, "an RVE mesh")
    if not g.model.getPhysicalGroups(dim):
        raise MeshError(f"mesh file '{path}' has no {dim}D physical groups; tag each phase with one")
    phases = named_physical_groups(g, dim, path, "phase")
    if dim == 2:
        coords = g.model.mesh.getNodes()[1].reshape(-1, 3)
        span = float(np.ptp(coords[:, :2], axis=0).max())
        if float(np.ptp(coords[:, 2])) > 1e-12 * max(span, 1.0):
            raise MeshError(f"mesh file '{path}' is a 2D mesh that is not planar (z varies)")
    return {"gdim": dim, "phases": phases}


def rve_from_msh(
    comm,
    path: str | os.PathLike,
    *,
    box: tuple[ArrayLike, ArrayLike] | None = None,
    rank: int = 0,
    void_phases: Sequence[str] = (),
    void_volume_fractions: dict[str, float] | None = None,
) -> RVEMesh:
    """Read ``path`` (gmsh ``.msh``) on ``rank`` and distribute it over ``comm`` (collective).

    Args:
        comm: communicator of the resulting mesh.
        path: the ``.msh`` file (needs to exist on ``rank`` only).
        box: ``(box_min, box_max)``, each shape (dim,); default: global bounding box.
        rank: rank that reads the file.
        void_phases: names of pore phases that have no cells in the file.
        void_volume_fractions: their volume fractions; with a single void phase it
            may be omitted and is then measured as ``1 - (solid volume) / |Y|``.

    Raises:
        MeshError: missing/unreadable file, no physical group of the top
            dimension, untagged cells, nodes outside ``box``, bad void data.
    """
    path = str(Path(path))
    exists = comm.bcast(os.path.isfile(path) if comm.rank == rank else None, root=rank)
    if not exists:
        raise MeshError(f"mesh file '{path}' does not exist")

    data, info = mesh_and_distribute(
        comm, rank, None, lambda g: _read_model(g, path), prefix="fe2_msh_import", options={},
        error_cls=MeshError, what=f"mesh file '{path}'",
    )
    mesh = data.mesh
    dim = mesh.geometry.dim
    phases: dict[str, int] = dict(info["phases"])
    if data.cell_tags is None:
        raise MeshError(f"mesh file '{path}': no cell tags were read")

    from mpi4py import MPI

    x = mesh.geometry.x[:, :dim]
    lo = np.min(x, axis=0) if x.size else np.full(dim, np.inf)
    hi = np.max(x, axis=0) if x.size else np.full(dim, -np.inf)
    gmin = np.zeros(dim)
    gmax = np.zeros(dim)
    comm.Allreduce(lo, gmin, op=MPI.MIN)
    comm.Allreduce(hi, gmax, op=MPI.MAX)
    if box is None:
        box_min, box_max = gmin, gmax
    else:
        try:
            box_min = np.asarray(box[0], dtype=float).reshape(dim)
            box_max = np.asarray(box[1], dtype=float).reshape(dim)
        except (ValueError, TypeError, IndexError) as exc:
            raise MeshError(
                f"box must be (box_min, box_max) with {dim} coordinates each, got {box!r}"
            ) from exc
        if not np.all(np.isfinite(box_min)) or not np.all(np.isfinite(box_max)):
            raise MeshError(f"box corners must be finite, got {box!r}")
    if np.any(box_max - box_min <= 0.0):
        raise MeshError(f"the RVE box {val.box_string(box_min, box_max)} of '{path}' has a non-positive edge")
    if box is not None:
        val.check_mesh_in_box(mesh, box_min, box_max)
        tol = 1e-6 * float(np.max(box_max - box_min))
        if np.any(gmin - box_min > tol) or np.any(box_max - gmax > tol):
            raise MeshError(
                f"box_min/box_max: the RVE box {val.box_string(box_min, box_max)} is larger than the mesh of "
                f"'{path}' ({val.box_string(gmin, gmax)}); the RVE would hold empty space (give the mesh's box, "
                "or omit box_min/box_max)")

    counts = val.phase_cell_counts(data.cell_tags, phases, comm)
    empty = [n for n, c in counts.items() if c == 0]
    if empty:
        raise MeshError(f"mesh file '{path}': phase '{empty[0]}' has no cells")
    box_vol = float(np.prod(box_max - box_min))
    volumes = val.phase_volumes(mesh, data.cell_tags, phases)
    measured = {k: v / box_vol for k, v in volumes.items()}

    voids = tuple(void_phases)
    for v in voids:
        if v in phases:
            raise MeshError(f"void phase '{v}' has cells in '{path}'; a pore must be a hole in the mesh")
    vvf = dict(void_volume_fractions or {})
    if voids and not vvf:
        if len(voids) > 1:
            raise MeshError("give void_volume_fractions for each of several void phases")
        vvf = {voids[0]: max(0.0, 1.0 - sum(measured.values()))}
    if set(vvf) != set(voids):
        raise MeshError(f"void_volume_fractions keys {sorted(vvf)} do not match void_phases {list(voids)}")

    mismatch = val.periodicity_mismatch(mesh, box_min, box_max)
    periodic = bool(np.all(mismatch <= PERIODIC_RTOL * float(np.max(box_max - box_min))))
    desc = {
        "generator": "rve_from_msh",
        "path": path,
        "volume_fractions": measured,
        "periodicity_mismatch": [None if not math.isfinite(m) else float(m) for m in mismatch],
    }
    return RVEMesh(
        mesh=mesh,
        cell_tags=data.cell_tags,
        phases=phases,
        box_min=box_min,
        box_max=box_max,
        void_phases=voids,
        void_volume_fractions={k: float(v) for k, v in vvf.items()},
        periodic=periodic,
        description=desc,
    )
