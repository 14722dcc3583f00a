"""Input checks and mesh measurements for the RVE generators.

Every check raises :class:`~fe2.errors.GeometryError` (bad geometry request) or
:class:`~fe2.errors.MeshError` (unusable mesh) with a one-line message that
names the offending item. The pure-input checks are deterministic numpy code,
so every MPI rank reaches the same verdict without communicating; the mesh
measurements (:func:`phase_volumes`, :func:`check_phases_nonempty`,
:func:`periodicity_mismatch`) are collective over the mesh communicator and
must be called on every rank.

Conventions: lengths in mesh units; ``box_min``/``box_max`` are arrays of shape
``(dim,)``; axis names are ``x, y, z``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

import numpy as np

from fe2.errors import GeometryError, MeshError

if TYPE_CHECKING:  # pragma: no cover
    from dolfinx import mesh as dmesh

    from fe2.geometry.inclusions import Inclusion

AXES = "xyz"

#: Relative tolerance (times the largest box edge) under which two surfaces are
#: considered touching: tangent contacts produce degenerate CAD and slivers.
TOUCH_RTOL = 1e-6


def _fmt(values: Iterable[float]) -> str:
    return "(" + ", ".join(f"{float(v):.6g}" for v in values) + ")"


def box_string(box_min: np.ndarray, box_max: np.ndarray) -> str:
    """``[0,1]x[0,2]`` style description of a box."""
    return "x".join(f"[{lo:.6g},{hi:.6g}]" for lo, hi in zip(box_min, box_max, strict=True))


def check_lengths(lengths: Sequence[float]) -> np.ndarray:
    """Return the box edge lengths as a float array of shape (dim,), dim in {2, 3}."""
    arr = np.asarray(lengths, dtype=float).ravel()
    if arr.size not in (2, 3):
        raise GeometryError(f"box lengths must have 2 or 3 entries, got {arr.size}: {list(arr)}")
    for d, v in enumerate(arr):
        if not math.isfinite(v) or v <= 0.0:
            raise GeometryError(f"box length along {AXES[d]} must be positive and finite, got {v:.6g}")
    return arr


def check_origin(origin: Sequence[float] | None, dim: int) -> np.ndarray:
    """Return the box origin (``box_min``), default zero, shape (dim,)."""
    if origin is None:
        return np.zeros(dim)
    arr = np.asarray(origin, dtype=float).ravel()
    if arr.size != dim or not np.all(np.isfinite(arr)):
        raise GeometryError(f"origin must be {dim} finite numbers, got {list(arr)}")
    return arr


def check_mesh_size(mesh_size: float, lengths: np.ndarray) -> float:
    """Check ``0 < mesh_size <= min(lengths)`` and return it as float."""
    h = float(mesh_size)
    if not math.isfinite(h) or h <= 0.0:
        raise GeometryError(f"mesh_size must be positive and finite, got {h:.6g}")
    if h > float(np.min(lengths)):
        raise GeometryError(
            f"mesh_size {h:.6g} is larger than the smallest box edge {float(np.min(lengths)):.6g}"
        )
    return h


def check_element_order(order: int) -> int:
    """Geometry (coordinate element) order: 1 (straight) or 2 (curved)."""
    if order not in (1, 2):
        raise GeometryError(f"element_order must be 1 or 2, got {order!r}")
    return int(order)


def check_phase_name(name: object, what: str) -> str:
    """A phase name is a non-empty string."""
    if not isinstance(name, str) or not name.strip():
        raise GeometryError(f"{what} must be a non-empty string, got {name!r}")
    return name


def check_fractions(fractions: Sequence[float], phases: Sequence[str]) -> np.ndarray:
    """Laminate layer fractions: one per phase entry, each > 0, summing to 1 (to 1e-9)."""
    f = np.asarray(fractions, dtype=float).ravel()
    if f.size == 0:
        raise GeometryError("a laminate needs at least one layer, got no fractions")
    if f.size != len(phases):
        raise GeometryError(f"got {f.size} layer fractions but {len(phases)} phase names")
    for i, (fi, name) in enumerate(zip(f, phases, strict=True)):
        check_phase_name(name, f"phase name of layer {i}")
        if not math.isfinite(fi) or fi < 0.0:
            raise GeometryError(f"layer {i} ('{name}') has invalid fraction {fi:.6g}")
        if fi == 0.0:
            raise GeometryError(f"layer {i} ('{name}') has fraction 0: the layer would be empty")
    if abs(float(f.sum()) - 1.0) > 1e-9:
        raise GeometryError(f"layer fractions must sum to 1, got {float(f.sum()):.12g}")
    return f


def inclusion_volume(radius: float, dim: int) -> float:
    """Area of a disk (dim 2) or volume of a ball (dim 3)."""
    return math.pi * radius**2 if dim == 2 else 4.0 / 3.0 * math.pi * radius**3


def check_inclusions(
    inclusions: Sequence[Inclusion],
    box_min: np.ndarray,
    box_max: np.ndarray,
    min_gap: float = 0.0,
) -> None:
    """Check a list of inclusions against the periodic box.

    Rejects: wrong dimension, radius <= 0, centre outside the (closed) box,
    an inclusion overlapping its own periodic image (``2 r + min_gap > L``),
    two inclusions closer than ``min_gap`` (minimum-image distance, so images
    across faces count), and boundaries tangent to a box face (degenerate CAD).
    """
    dim = box_min.size
    lengths = box_max - box_min
    lmax = float(np.max(lengths))
    tol = TOUCH_RTOL * lmax
    if not math.isfinite(min_gap) or min_gap < 0.0:
        raise GeometryError(f"min_gap must be >= 0, got {min_gap:.6g}")
    n = len(inclusions)
    centres = np.zeros((n, dim))
    radii = np.zeros(n)
    for i, inc in enumerate(inclusions):
        c = np.asarray(inc.center, dtype=float).ravel()
        if c.size != dim:
            raise GeometryError(f"inclusion {i} centre {_fmt(c)} has {c.size} coordinates, the box has {dim}")
        if not np.all(np.isfinite(c)):
            raise GeometryError(f"inclusion {i} centre {_fmt(c)} is not finite")
        r = float(inc.radius)
        if not math.isfinite(r) or r <= 0.0:
            raise GeometryError(f"inclusion {i} has radius {r:.6g}; the radius must be > 0")
        check_phase_name(inc.phase, f"inclusion {i} phase")
        if np.any(c < box_min - 1e-12 * lmax) or np.any(c > box_max + 1e-12 * lmax):
            raise GeometryError(
                f"inclusion {i} centre {_fmt(c)} lies outside the box {box_string(box_min, box_max)}"
            )
        for d in range(dim):
            if 2.0 * r + min_gap > lengths[d] + 1e-12 * lmax:
                raise GeometryError(
                    f"inclusion {i} (radius {r:.6g}) overlaps its own periodic image along {AXES[d]}: "
                    f"2 r + min_gap = {2 * r + min_gap:.6g} exceeds the box edge {lengths[d]:.6g}"
                )
            for face in (box_min[d], box_max[d]):
                dist = abs(c[d] - face)
                if abs(dist - r) < tol:
                    raise GeometryError(
                        f"inclusion {i} (centre {_fmt(c)}, radius {r:.6g}) is tangent to the face "
                        f"{AXES[d]} = {face:.6g}; move it or change its radius by more than {tol:.3g}"
                    )
        centres[i] = c
        radii[i] = r
    # Pairwise minimum-image distances, one row at a time (O(n^2) memory-light).
    for i in range(n - 1):
        delta = centres[i + 1 :] - centres[i]
        delta -= lengths * np.round(delta / lengths)
        dist = np.sqrt(np.einsum("ij,ij->i", delta, delta))
        need = radii[i + 1 :] + radii[i] + max(min_gap, tol)
        bad = np.flatnonzero(dist < need)
        if bad.size:
            j = i + 1 + int(bad[0])
            raise GeometryError(
                f"inclusions {i} and {j} overlap or touch: periodic centre distance "
                f"{float(dist[bad[0]]):.6g} < r{i} + r{j} + gap = {float(need[bad[0]]):.6g}"
            )


def check_voids(void_phases: Sequence[str], matrix_phase: str) -> tuple[str, ...]:
    """Void phase names: non-empty strings, never the matrix."""
    voids = tuple(void_phases)
    for v in voids:
        check_phase_name(v, "void phase name")
        if v == matrix_phase:
            raise GeometryError(f"the matrix phase '{matrix_phase}' cannot be a void phase")
    return voids


# --------------------------------------------------------------------------- mesh measurements


def owned_cell_volumes(mesh: dmesh.Mesh) -> np.ndarray:
    """Volumes (areas in 2D) of the locally owned cells, shape (num_owned_cells,).

    Exact for affine simplices; for order-2 geometry, |det J| is integrated with a
    Gauss rule that is exact for its polynomial degree. Pure numpy: no form
    compilation, so it is cheap to call from generators and tests.
    """
    import basix

    tdim = mesh.topology.dim
    n_owned = mesh.topology.index_map(tdim).size_local
    dofmap = mesh.geometry.dofmaps[0][:n_owned]
    x = mesh.geometry.x[:, :tdim]
    cmap = mesh.geometry.cmaps[0]
    cell = mesh.topology.cell_type.name
    if cmap.degree == 1 and cell in ("triangle", "tetrahedron"):
        xc = x[dofmap]  # (n, tdim+1, tdim)
        jac = xc[:, 1:, :] - xc[:, :1, :]
        return np.abs(np.linalg.det(jac)) / math.factorial(tdim)
    bcell = getattr(basix.CellType, cell)
    element = basix.create_element(
        basix.ElementFamily.P, bcell, cmap.degree, basix.LagrangeVariant(cmap.variant)
    )
    pts, wts = basix.make_quadrature(bcell, 2 * tdim * cmap.degree)
    dphi = element.tabulate(1, pts)[1 : tdim + 1, :, :, 0]  # (tdim, nq, ndofs)
    xc = x[dofmap]  # (n, ndofs, tdim)
    jac = np.einsum("dqk,nki->nqid", dphi, xc)  # (n, nq, gdim, tdim)
    return np.abs(np.linalg.det(jac)) @ wts


def phase_volumes(mesh: dmesh.Mesh, cell_tags: dmesh.MeshTags, phases: dict[str, int]) -> dict[str, float]:
    """Global volume of each phase (collective: allreduce over ``mesh.comm``)."""
    from mpi4py import MPI

    vols = owned_cell_volumes(mesh)
    n_owned = vols.size
    idx = cell_tags.indices
    keep = idx < n_owned
    idx, vals = idx[keep], cell_tags.values[keep]
    names = list(phases)
    local = np.array([vols[idx[vals == phases[name]]].sum() for name in names], dtype=float)
    total = np.zeros_like(local)
    mesh.comm.Allreduce(local, total, op=MPI.SUM)
    return {name: float(v) for name, v in zip(names, total, strict=True)}


def phase_fractions(
    mesh: dmesh.Mesh, cell_tags: dmesh.MeshTags, phases: dict[str, int], box_volume: float
) -> dict[str, float]:
    """Volume fraction of each phase in the box (collective); an empty phase is a GeometryError."""
    check_phases_nonempty(cell_tags, phases, mesh.comm)
    return {k: v / box_volume for k, v in phase_volumes(mesh, cell_tags, phases).items()}


def phase_cell_counts(cell_tags: dmesh.MeshTags, phases: dict[str, int], comm) -> dict[str, int]:
    """Global number of cells of each phase (collective)."""
    from mpi4py import MPI

    mesh_tdim = cell_tags.dim
    n_owned = cell_tags.topology.index_map(mesh_tdim).size_local
    idx = cell_tags.indices
    vals = cell_tags.values[idx < n_owned]
    names = list(phases)
    local = np.array([np.count_nonzero(vals == phases[n]) for n in names], dtype=np.int64)
    total = np.zeros_like(local)
    comm.Allreduce(local, total, op=MPI.SUM)
    return {n: int(c) for n, c in zip(names, total, strict=True)}


def check_phases_nonempty(cell_tags: dmesh.MeshTags, phases: dict[str, int], comm) -> dict[str, int]:
    """Raise GeometryError if a phase has no cells anywhere (collective). Returns the counts."""
    counts = phase_cell_counts(cell_tags, phases, comm)
    empty = [n for n, c in counts.items() if c == 0]
    if empty:
        raise GeometryError(
            f"phase '{empty[0]}' (tag {phases[empty[0]]}) has no cells after meshing"
            + (f" (also empty: {', '.join(empty[1:])})" if len(empty) > 1 else "")
        )
    return counts


def _face_points(x: np.ndarray, d: int, value: float, tol: float, comm) -> np.ndarray:
    """All (global, deduplicated) geometry nodes with ``|x_d - value| <= tol``."""
    local = x[np.abs(x[:, d] - value) <= tol]
    gathered = comm.allgather(np.ascontiguousarray(local))
    pts = np.concatenate(gathered, axis=0) if gathered else local
    return np.unique(pts, axis=0) if pts.size else pts


def periodicity_mismatch(
    mesh: dmesh.Mesh, box_min: np.ndarray, box_max: np.ndarray, face_rtol: float = 1e-8
) -> np.ndarray:
    """Node-for-node periodicity of opposite box faces, per axis (collective).

    For each axis d, gathers the geometry nodes on ``x_d = box_min[d]`` and on
    ``x_d = box_max[d]`` (within ``face_rtol * max(L)``), shifts the first set by
    ``L_d`` and matches both ways with a KD-tree. Returns shape (dim,): the largest
    distance from any face node to its nearest partner (``inf`` when the face node
    counts differ or a face has no node). A periodic gmsh mesh gives ~1e-16 L.
    """
    from scipy.spatial import cKDTree

    dim = mesh.geometry.dim
    x = mesh.geometry.x[:, :dim]
    box_min = np.asarray(box_min, dtype=float)
    box_max = np.asarray(box_max, dtype=float)
    lengths = box_max - box_min
    tol = face_rtol * float(np.max(lengths))
    out = np.zeros(dim)
    for d in range(dim):
        lo = _face_points(x, d, box_min[d], tol, mesh.comm)
        hi = _face_points(x, d, box_max[d], tol, mesh.comm)
        if lo.shape[0] == 0 or lo.shape[0] != hi.shape[0]:
            out[d] = np.inf
            continue
        shifted = lo.copy()
        shifted[:, d] += lengths[d]
        d1, _ = cKDTree(hi).query(shifted)
        d2, _ = cKDTree(shifted).query(hi)
        out[d] = max(float(d1.max()), float(d2.max()))
    return out


def check_mesh_in_box(mesh: dmesh.Mesh, box_min: np.ndarray, box_max: np.ndarray, rtol: float = 1e-8) -> None:
    """Raise MeshError if a mesh node lies outside the box (collective)."""
    from mpi4py import MPI

    dim = mesh.geometry.dim
    x = mesh.geometry.x[:, :dim]
    tol = rtol * float(np.max(box_max - box_min))
    local = bool(np.any(x < box_min - tol) or np.any(x > box_max + tol)) if x.size else False
    if mesh.comm.allreduce(local, op=MPI.LOR):
        raise MeshError(f"mesh nodes lie outside the given box {box_string(box_min, box_max)}")
