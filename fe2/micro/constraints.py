"""Boundary conditions of an RVE as a prolongation from a reduced space.

Every RVE condition on the fluctuation w is written as ``w = P ŵ``: ``P`` maps
reduced unknowns to the full dof vector (one entry 1.0 per constrained row,
empty rows where w = 0). The reduced system is ``PᵀKP ŵ = Pᵀf``.

* KUBC: nodes on the box faces have empty rows (w = 0 on ∂Y).
* periodic: a node on a "max" face takes the column of its image on the "min"
  faces (corners and edges map straight to their single master, never through
  a chain); one gauge node has an empty row (w is periodic only up to a
  translation, and fixing it at one node changes no strain or stress).
* TUBC: P is the identity; the translations are removed by pinning one node
  (see :func:`rigid_pin_nodes`); the rotations by a zero boundary-mean rotation of
  the fluctuation (see :mod:`fe2.micro.traction`).

Works on one rank and on a distributed mesh: masters found on another rank are
matched through an all-gather of the (few) boundary nodes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from mpi4py import MPI
from petsc4py import PETSc
from scipy.spatial import cKDTree

from fe2.errors import MeshError


@dataclass
class NodeMap:
    """Reduced numbering of the owned nodes of a (blocked) function space.

    Attributes:
        column: (n_owned,) global reduced node index per owned node, -1 where w = 0.
        n_reduced_owned: number of reduced nodes owned by this rank.
        n_reduced_global: total number of reduced nodes.
    """

    column: np.ndarray
    n_reduced_owned: int
    n_reduced_global: int


def face_masks(x: np.ndarray, box_min: np.ndarray, box_max: np.ndarray, rel_tol: float = 1e-8):
    """Which nodes lie on the min / max faces: two bool arrays of shape (n, d)."""
    lengths = box_max - box_min
    tol = rel_tol * lengths
    on_min = np.abs(x - box_min) <= tol
    on_max = np.abs(x - box_max) <= tol
    return on_min, on_max


def _number_kept(comm: MPI.Intracomm, keep: np.ndarray) -> tuple[np.ndarray, int, int]:
    """Contiguous global numbering of the kept owned nodes, in rank order."""
    n_keep = int(np.count_nonzero(keep))
    offset = comm.exscan(n_keep) if comm.size > 1 else 0
    offset = 0 if offset is None else int(offset)
    total = comm.allreduce(n_keep)
    col = np.full(keep.shape[0], -1, dtype=np.int64)
    col[keep] = offset + np.arange(n_keep, dtype=np.int64)
    return col, n_keep, total


def kubc_node_map(comm: MPI.Intracomm, x: np.ndarray, box_min: np.ndarray, box_max: np.ndarray) -> NodeMap:
    """w = 0 on every node of the box faces. x: owned node coordinates (n, d)."""
    on_min, on_max = face_masks(x, box_min, box_max)
    keep = ~(on_min.any(axis=1) | on_max.any(axis=1))
    col, n_own, total = _number_kept(comm, keep)
    return NodeMap(col, n_own, total)


def identity_node_map(comm: MPI.Intracomm, n_owned: int) -> NodeMap:
    """No constraint (TUBC): every owned node keeps its own column."""
    col, n_own, total = _number_kept(comm, np.ones(n_owned, dtype=bool))
    return NodeMap(col, n_own, total)


def periodic_node_map(
    comm: MPI.Intracomm, x: np.ndarray, box_min: np.ndarray, box_max: np.ndarray, rel_tol: float = 1e-8,
    *, removed: np.ndarray | None = None, gauge: bool = True, axes: tuple[int, ...] | None = None,
) -> NodeMap:
    """Pair every node on a max face with its image on the min faces; fix one gauge node.

    ``axes`` (default: all) are the directions that are periodic; the faces normal to the others
    are ordinary boundaries (e.g. PFHub BM7: periodic in x₁, Dirichlet faces in x₂).

    ``removed`` (bool per owned node, e.g. no-slip wall nodes of a Stokes cell) get no column
    (the field is zero there) and a slave takes its master's, so a removed node crossing a box
    face is removed on both sides. ``gauge=False`` fixes no extra node (when ``removed`` already
    takes out the translations).

    Raises:
        MeshError: when a node has no periodic partner (the mesh is not periodic), naming the
            node and the distance to the nearest candidate, or when a removed node is paired
            with a kept one (a non-periodic obstacle).
    """
    removed = np.zeros(x.shape[0], dtype=bool) if removed is None else np.asarray(removed, dtype=bool)
    d = x.shape[1]
    lengths = box_max - box_min
    on_min, on_max = face_masks(x, box_min, box_max, rel_tol)
    if axes is not None:
        if not axes or any(a not in range(d) for a in axes):
            raise ValueError(f"periodic axes must be a non-empty subset of 0..{d - 1}, got {axes}")
        other = [a for a in range(d) if a not in axes]
        on_min[:, other] = False
        on_max[:, other] = False

    # A face that is not matched node for node cannot be periodic: compare counts.
    for a in range(d):
        n_lo = comm.allreduce(int(np.count_nonzero(on_min[:, a])))
        n_hi = comm.allreduce(int(np.count_nonzero(on_max[:, a])))
        if n_lo != n_hi:
            raise MeshError(
                f"mesh is not periodic: face x{a + 1}=min has {n_lo} nodes but x{a + 1}=max has {n_hi};"
                " periodic conditions need opposite faces that match node for node"
            )

    slave = on_max.any(axis=1)
    image = np.where(on_max, box_min, x)  # fold max faces onto min faces, corners in one step
    col, n_own, total = _number_kept(comm, ~slave & ~removed)

    # Masters that a slave can point to lie on some min face.
    cand = (~slave) & on_min.any(axis=1)
    gathered_x = comm.allgather(x[cand])
    gathered_c = comm.allgather(col[cand])
    master_x = np.concatenate(gathered_x) if gathered_x else np.zeros((0, d))
    master_c = np.concatenate(gathered_c) if gathered_c else np.zeros(0, dtype=np.int64)
    master_r = np.concatenate(comm.allgather(removed[cand])).astype(bool)

    n_slaves = int(np.count_nonzero(slave))
    problem = ""
    if n_slaves:
        if master_x.shape[0] == 0:
            problem = "mesh is not periodic: nodes on the max faces but none on the min faces"
        else:
            tree = cKDTree(master_x / lengths)
            dist, idx = tree.query(image[slave] / lengths)
            bad = dist > rel_tol * 10.0
            mismatch = master_r[idx] != removed[slave] if master_r.size else np.zeros(0, dtype=bool)
            if np.any(bad):
                k = int(np.flatnonzero(bad)[0])
                p = x[slave][k]
                problem = (
                    f"mesh is not periodic: node at {np.array2string(p, precision=6)} has no partner on the"
                    f" opposite face (nearest candidate {dist[k] * float(np.max(lengths)):.3e} away);"
                    " generate the mesh with periodic faces (gmsh setPeriodic)"
                )
            elif np.any(mismatch):
                k = int(np.flatnonzero(mismatch)[0])
                problem = (
                    f"obstacles are not periodic: node at {np.array2string(x[slave][k], precision=6)} is"
                    " on a wall on one box face and in the fluid on the opposite face"
                )
            else:
                col[slave] = master_c[idx]
    # Raise on every rank together (a rank-local raise would leave the others in the next collective).
    problems = [msg for msg in comm.allgather(problem) if msg]
    if problems:
        raise MeshError(problems[0])

    if not gauge:
        return NodeMap(col, n_own, total)
    # Gauge: the reduced node 0 (and every image of it) is fixed, w = 0 there.
    gauge_rank = comm.allreduce(comm.rank if n_own > 0 else comm.size, op=MPI.MIN)
    col = np.where(col == 0, -1, col - 1)
    col[col < -1] = -1
    if comm.rank == gauge_rank:
        n_own -= 1
    return NodeMap(col, n_own, total - 1)


def prolongation(comm: MPI.Comm, node_map: NodeMap, n_owned_nodes: int, bs: int) -> PETSc.Mat:
    """The (full x reduced) 0/1 matrix P for a blocked space with block size bs."""
    cols_node = node_map.column
    has = cols_node >= 0
    rows_per_node = has.astype(np.int32)
    indptr = np.zeros(n_owned_nodes * bs + 1, dtype=PETSc.IntType)
    indptr[1:] = np.cumsum(np.repeat(rows_per_node, bs))
    comp = np.arange(bs, dtype=np.int64)
    indices = (cols_node[has][:, None] * bs + comp[None, :]).ravel().astype(PETSc.IntType)
    data = np.ones(indices.shape[0], dtype=PETSc.ScalarType)
    P = PETSc.Mat().createAIJ(
        size=((n_owned_nodes * bs, PETSc.DETERMINE), (node_map.n_reduced_owned * bs, PETSc.DETERMINE)),
        bsize=bs,
        csr=(indptr, indices, data),
        comm=comm,
    )
    P.assemble()
    return P


def rigid_pin_nodes(
    comm: MPI.Comm,
    x: np.ndarray,
    global_node: np.ndarray,
    box_min: np.ndarray,
    box_max: np.ndarray,
    bs: int,
) -> list[tuple[int, int, list[int]]]:
    """(owner rank, global node, pinned components) of every pin node, the same on every rank.

    Scalar fields (bs = 1): one node. Vectors: node A nearest to box_min (all
    components: the translations), node B nearest to the corner along x1
    (components 2..), and in 3D node C nearest to the corner along x2
    (component 3); B and C fix the rotations where the space contains them.
    """
    d = x.shape[1]
    lengths = box_max - box_min
    targets: list[tuple[np.ndarray, list[int]]] = [(box_min.copy(), list(range(bs)))]
    if bs > 1:
        b = box_min.copy()
        b[0] = box_max[0]
        targets.append((b, list(range(1, bs))))
        if d == 3:
            c = box_min.copy()
            c[1] = box_max[1]
            targets.append((c, [2]))
    out: list[tuple[int, int, list[int]]] = []
    for target, comps in targets:
        dist = np.linalg.norm((x - target) / lengths, axis=1) if x.shape[0] else np.zeros(0)
        local_best = (float(dist.min()), comm.rank) if dist.size else (np.inf, comm.rank)
        best = comm.allreduce(local_best, op=MPI.MIN)
        node = int(global_node[int(np.argmin(dist))]) if comm.rank == best[1] else -1
        out.append((int(best[1]), comm.bcast(node, root=best[1]), comps))
    return out
