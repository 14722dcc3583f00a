"""PFHub benchmark 7 set up on fe2's Allen–Cahn solver, with the benchmark's own boundaries.

The domain [0, 1] × [0, 0.5] as an n × n/2 lattice of squares split in triangles, periodic in x
(the periodic Newton's ``periodic_axes=(0,)``), η = 1 on y = 0 and η = 0 on y = 0.5 (nodes held
at those values), the manufactured source and initial field of :mod:`fe2.analytic.pfhub_bm7`.
Used by tests/physics/phasefield/test_pfhub_bm7.py and bench/pfhub_bm7.py.
"""

from __future__ import annotations

import numpy as np
from dolfinx import mesh
from mpi4py import MPI

from fe2.analytic import pfhub_bm7 as bm7
from fe2.physics.phasefield.allen_cahn import AllenCahn
from fe2.physics.phasefield.energies import DoubleWell
from fe2.physics.phasefield.stepping import Scheme


def on_walls(x: np.ndarray) -> np.ndarray:
    """The Dirichlet nodes: y = 0 and y = 0.5 (x of shape (gdim, n))."""
    return (np.abs(x[1] - bm7.DOMAIN[0][1]) < 1e-9) | (np.abs(x[1] - bm7.DOMAIN[1][1]) < 1e-9)


def initial_field(x: np.ndarray, p: bm7.BM7Parameters = bm7.BM7A) -> np.ndarray:
    """η_sol(x, 0) inside, the benchmark's Dirichlet data 1 / 0 on the walls."""
    v = bm7.exact(x, 0.0, p)
    v[np.abs(x[1] - bm7.DOMAIN[0][1]) < 1e-9] = 1.0
    v[np.abs(x[1] - bm7.DOMAIN[1][1]) < 1e-9] = 0.0
    return v


def bm7_allen_cahn(comm: MPI.Comm, n: int, degree: int = 2, p: bm7.BM7Parameters = bm7.BM7A, *,
                   scheme: Scheme = "secant_cn") -> AllenCahn:
    """The BM7 problem on an n × n/2 lattice (n even), P_degree, initial field set (t = 0).

    Quadrature degree 2·degree + 4 (the source and the quartic bulk term are integrated well
    past the element's order). The caller runs it (``run(8.0, ...)``), measures with
    :func:`fe2.analytic.pfhub_bm7.l2_error` and closes it.
    """
    if n < 2 or n % 2:
        raise ValueError(f"n must be an even number >= 2, got {n}")
    m = mesh.create_rectangle(comm, [list(bm7.DOMAIN[0]), list(bm7.DOMAIN[1])], [n, n // 2])
    ac = AllenCahn(m, DoubleWell(1.0, 0.0, 1.0), kappa=p.kappa, mobility=1.0, boundary="periodic",
                   periodic_axes=(0,), held=on_walls, degree=degree, quadrature_degree=2 * degree + 4,
                   source=lambda x, t: bm7.source_ufl(x, t, p), scheme=scheme)
    ac.set_initial_condition(lambda x: initial_field(x, p))
    return ac
