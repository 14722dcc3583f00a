"""An L-shaped (re-entrant corner) tissue domain: the standard test of singularities and adaptivity.

Domain: (−1, 1)² minus the quadrant [0, 1) × (−1, 0]; re-entrant corner at the origin (interior
angle 3π/2, so the pressure behaves like r^{2/3} there and its gradient is unbounded).
Boundaries: ``inlet`` = 1 (x = −1), ``outlet`` = 2 (x = 1, 0 ≤ y ≤ 1); the rest is untagged
(impermeable). One region, ``tissue`` = 1. Structured right-diagonal triangles, n cells per unit
length. Lengths in the caller's unit.
"""

from __future__ import annotations

import basix.ufl
import numpy as np
from dolfinx import mesh as dmesh

from fe2.errors import GeometryError
from fe2.geometry.tissue import TissueMesh


def l_shaped_domain(comm, n: int = 4) -> TissueMesh:
    """The L-shaped domain with ``2n × 2n`` squares (minus a quadrant), each cut into two triangles."""
    if n < 1:
        raise GeometryError(f"L-shaped domain needs n >= 1 cells per unit length, got {n}")
    tdim = 2
    cells, points = _cells_and_points(n, comm.rank == 0)
    msh = dmesh.create_mesh(comm, cells, _coordinate_element(), points,
                            partitioner=dmesh.create_cell_partitioner(dmesh.GhostMode.shared_facet, 2))
    msh.topology.create_connectivity(tdim - 1, tdim)
    inlet = dmesh.locate_entities_boundary(msh, tdim - 1, lambda x: np.isclose(x[0], -1.0))
    outlet = dmesh.locate_entities_boundary(msh, tdim - 1, lambda x: np.isclose(x[0], 1.0))
    idx = np.concatenate([inlet, outlet])
    val = np.concatenate([np.full(inlet.size, 1), np.full(outlet.size, 2)]).astype(np.int32)
    order = np.argsort(idx)
    ft = dmesh.meshtags(msh, tdim - 1, idx[order].astype(np.int32), val[order])
    imap = msh.topology.index_map(tdim)
    cells = np.arange(imap.size_local + imap.num_ghosts, dtype=np.int32)
    ct = dmesh.meshtags(msh, tdim, cells, np.ones(cells.size, dtype=np.int32))
    return TissueMesh(msh, ct, ft, {"tissue": 1}, {"inlet": 1, "outlet": 2},
                      {"kind": "l_shape", "n": n, "reentrant_corner": [0.0, 0.0]})


def _coordinate_element():
    return basix.ufl.element("Lagrange", "triangle", 1, shape=(2,), dtype=np.float64)


def _cells_and_points(n: int, here: bool) -> tuple[np.ndarray, np.ndarray]:
    """Triangles and vertices of the L (all on rank 0: the partitioner distributes them, with a shared-facet
    ghost layer, which the interior-facet integrals of the error indicators need).
    """
    if not here:
        return np.zeros((0, 3), dtype=np.int64), np.zeros((0, 2))
    m = 2 * n
    xs = np.linspace(-1.0, 1.0, m + 1)
    X, Y = np.meshgrid(xs, xs, indexing="ij")
    points = np.column_stack([X.ravel(), Y.ravel()])
    vid = np.arange((m + 1) ** 2).reshape(m + 1, m + 1)
    cells = []
    for i in range(m):
        for j in range(m):
            if xs[i] >= -1e-12 and xs[j + 1] <= 1e-12:  # the removed quadrant x > 0, y < 0
                continue
            a, b, c, d = vid[i, j], vid[i + 1, j], vid[i + 1, j + 1], vid[i, j + 1]
            cells += [[a, b, c], [a, c, d]]
    used = np.unique(np.asarray(cells))
    renum = np.full(points.shape[0], -1, dtype=np.int64)
    renum[used] = np.arange(used.size)
    return renum[np.asarray(cells, dtype=np.int64)], points[used]
