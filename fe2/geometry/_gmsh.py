"""Private gmsh plumbing shared by the RVE generators.

* :func:`gmsh_model` — a scoped gmsh model on the calling rank: initializes gmsh
  only when nobody else did, uses a fresh model name, restores every option it
  touched and removes the model (and finalizes, if it initialized) on exit.
* :func:`set_box_periodicity` — makes opposite faces of the box periodic
  (``setPeriodic`` on every face piece, slave = max face, master = min face).
* :func:`mesh_and_distribute` — runs a model builder on one rank, broadcasts any
  failure as a typed error to every rank, then calls the collective
  :func:`dolfinx.io.gmsh.model_to_mesh`.

All gmsh calls happen on the builder rank only; the other ranks take part in
the broadcast and in ``model_to_mesh``, nothing else.
"""

from __future__ import annotations

import itertools
import os
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

import numpy as np

from fe2.errors import Fe2Error, GeometryError, MeshError

_counter = itertools.count()


@contextmanager
def gmsh_model(prefix: str, options: dict[str, float] | None = None) -> Iterator[Any]:
    """Yield the ``gmsh`` module with a fresh current model named ``<prefix>_<pid>_<n>``.

    ``options`` (numeric gmsh options) are set for the duration and restored on exit.
    """
    import gmsh

    initialized_here = not gmsh.isInitialized()
    if initialized_here:
        # interruptible=False: do not install a SIGINT handler (works off the main thread).
        gmsh.initialize(interruptible=False)
    opts = {"General.Terminal": 0, **(options or {})}
    saved = {}
    name = f"{prefix}_{os.getpid()}_{next(_counter)}"
    try:
        for key, val in opts.items():
            saved[key] = gmsh.option.getNumber(key)
            gmsh.option.setNumber(key, val)
        gmsh.model.add(name)
        yield gmsh
    finally:
        try:
            if name in gmsh.model.list():
                gmsh.model.setCurrent(name)
                gmsh.model.remove()
            for key, val in saved.items():
                gmsh.option.setNumber(key, val)
        finally:
            if initialized_here:
                gmsh.finalize()


def mesh_options(mesh_size: float, element_order: int) -> dict[str, float]:
    """gmsh options for a quasi-uniform mesh of size ``mesh_size``."""
    return {
        "Mesh.MeshSizeMax": float(mesh_size),
        "Mesh.MeshSizeMin": 0.0,
        "Mesh.MeshSizeFromPoints": 0,
        "Mesh.MeshSizeExtendFromBoundary": 1,
        "Mesh.ElementOrder": int(element_order),
        "Mesh.SecondOrderLinear": 0,
        "Mesh.HighOrderOptimize": 0,
        # Tight bounding boxes for the OCC entities (face entity look-up).
        "Geometry.OCCBoundsUseStl": 1,
    }


def merge_msh(g, path: str, what: str) -> int:
    """Merge a ``.msh`` file into the fresh gmsh model ``g``; returns its dimension (2 or 3).
    MeshError when it cannot be read or is not a 2D/3D mesh with elements (``what``: 'an RVE mesh'...).
    """
    try:
        g.merge(path)
    except Exception as exc:
        raise MeshError(f"cannot read mesh file '{path}': {exc}") from exc
    dim = g.model.getDimension()
    if dim not in (2, 3):
        raise MeshError(f"mesh file '{path}' has dimension {dim}; {what} must be 2D or 3D")
    etypes, _, _ = g.model.mesh.getElements(dim)
    if len(etypes) == 0:
        raise MeshError(f"mesh file '{path}' contains no {dim}D elements (is it a mesh file?)")
    return dim


def named_physical_groups(g, dim: int, path: str, unnamed_prefix: str) -> dict[str, int]:
    """Physical groups of dimension ``dim`` as name -> tag (unnamed: ``<prefix>_<tag>``);
    MeshError when two groups share a name.
    """
    named: dict[str, int] = {}
    for _, tag in g.model.getPhysicalGroups(dim):
        name = g.model.getPhysicalName(dim, tag) or f"{unnamed_prefix}_{tag}"
        if name in named:
            raise MeshError(f"mesh file '{path}': physical name '{name}' is used by two {dim}D groups")
        named[name] = int(tag)
    return named


def _face_entities(gmsh, dim: int, d: int, value: float, box_min, box_max, eps: float) -> list[int]:
    """Tags of the (dim-1)-entities lying in the plane ``x_d = value`` of the box."""
    lo = np.zeros(3)
    hi = np.zeros(3)
    lo[:dim] = box_min - eps
    hi[:dim] = box_max + eps
    lo[dim:] = -eps
    hi[dim:] = eps
    lo[d] = value - eps
    hi[d] = value + eps
    cand = gmsh.model.getEntitiesInBoundingBox(*lo, *hi, dim - 1)
    tags = []
    for _, tag in cand:
        bmin = np.array(gmsh.model.getBoundingBox(dim - 1, tag)[:3])
        bmax = np.array(gmsh.model.getBoundingBox(dim - 1, tag)[3:])
        if abs(bmin[d] - value) <= eps and abs(bmax[d] - value) <= eps:
            tags.append(tag)
    return tags


def set_box_periodicity(gmsh, dim: int, box_min: np.ndarray, box_max: np.ndarray) -> int:
    """Declare every face piece on ``x_d = max`` periodic with its piece on ``x_d = min``.

    Pieces are matched by centre of mass translated by ``L_d`` and by measure
    (length/area), to ``1e-6 * max(L)``. Raises GeometryError if the two faces do
    not decompose into matching pieces (the CAD is not periodic). Must be called
    after ``occ.synchronize`` and before meshing. Returns the number of pairs.
    """
    lengths = box_max - box_min
    lmax = float(np.max(lengths))
    eps = 1e-6 * lmax
    occ = gmsh.model.occ
    fdim = dim - 1
    npairs = 0
    for d in range(dim):
        masters = _face_entities(gmsh, dim, d, box_min[d], box_min, box_max, eps)
        slaves = _face_entities(gmsh, dim, d, box_max[d], box_min, box_max, eps)
        if len(masters) != len(slaves):
            raise GeometryError(
                f"box faces normal to axis {d} are not periodic: {len(masters)} pieces on the min "
                f"face, {len(slaves)} on the max face"
            )
        shift = np.zeros(3)
        shift[d] = lengths[d]
        msig = [(m, np.array(occ.getCenterOfMass(fdim, m)) + shift, occ.getMass(fdim, m)) for m in masters]
        affine = np.eye(4)
        affine[d, 3] = lengths[d]
        used: set[int] = set()
        for s in slaves:
            com = np.array(occ.getCenterOfMass(fdim, s))
            mass = occ.getMass(fdim, s)
            match = [
                m
                for m, mcom, mmass in msig
                if m not in used
                and np.linalg.norm(mcom - com) < eps
                and abs(mmass - mass) < 1e-6 * lmax**fdim
            ]
            if len(match) != 1:
                raise GeometryError(
                    f"face piece {s} on the max face normal to axis {d} has {len(match)} periodic "
                    "partners on the min face; the geometry is not periodic"
                )
            used.add(match[0])
            gmsh.model.mesh.setPeriodic(fdim, [s], [match[0]], affine.ravel().tolist())
            npairs += 1
    return npairs


def _idle_wait(comm, poll_s: float = 0.002) -> None:
    """Barrier that sleeps instead of spinning.

    MPI implementations busy-poll inside blocking collectives; while gmsh meshes
    on one rank the waiting ranks would otherwise steal its CPU cores.
    """
    if comm.size == 1:
        return
    req = comm.Ibarrier()
    while not req.Test():
        time.sleep(poll_s)


def mesh_and_distribute(
    comm,
    rank: int,
    dim: int | None,
    builder: Callable[[Any], dict],
    *,
    prefix: str,
    options: dict[str, float],
    error_cls: type[Fe2Error] = GeometryError,
    what: str = "the RVE",
):
    """Build and mesh a gmsh model on ``rank`` with ``builder(gmsh) -> info``, then distribute.

    ``builder`` runs inside :func:`gmsh_model` on ``rank`` only; it must leave a
    meshed model with physical groups of dimension ``dim``. Its return value (a
    small picklable dict) is broadcast; when ``dim`` is None it must hold the
    geometric dimension as ``info["gdim"]``. A failure on ``rank`` is re-raised on every
    rank as ``error_cls`` (or as the Fe2Error the builder raised) before any
    collective call, so no rank is left waiting. Returns ``(MeshData, info)``.
    """
    from dolfinx.io import gmsh as dgmsh

    with ExitStack() as stack:
        payload: tuple | None = None
        if comm.rank == rank:
            try:
                g = stack.enter_context(gmsh_model(prefix, options))
                payload = ("ok", builder(g))
            except Fe2Error as exc:
                payload = ("err", type(exc), str(exc))
            except Exception as exc:  # noqa: BLE001 -- gmsh raises bare Exception
                payload = ("err", error_cls, f"gmsh failed while building {what}: {exc}")
        _idle_wait(comm)
        payload = comm.bcast(payload, root=rank)
        if payload[0] == "err":
            raise payload[1](payload[2])
        info = payload[1]
        model = None
        if comm.rank == rank:
            import gmsh

            model = gmsh.model
        try:
            gdim = int(info["gdim"]) if dim is None else dim
            data = dgmsh.model_to_mesh(model, comm, rank, gdim=gdim)
        except RuntimeError as exc:  # raised on every rank after a broadcast inside dolfinx
            raise MeshError(f"cannot convert {what} to a dolfinx mesh: {exc}") from exc
    return data, info
