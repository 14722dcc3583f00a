"""Uniform-traction (TUBC) RVE solve with an exact affine part.

The field is ``u = Ē·(x - x_c) + w``: Ē (the mean strain, unknown) multiplies
the *exact* affine field, and the fluctuation w ∈ V has zero boundary averages
of its strain and of its rotation,

    H_k · w = ∫_{∂Y} sym(w ⊗ n) : S_k ds = 0,    R_m · w = ∫_{∂Y} skew(w ⊗ n) : W_m ds = 0.

The unit stress Σ = S_j is the multiplier-free load on Ē: minimizing
½ a(u, u) − |Y| Σ : Ē gives the bordered system (translations pinned at one node)

    [ K    G    Hᵀ  Rᵀ ] [w]   [  0   ]
    [ Gᵀ  |Y|C  0   0  ] [Ē] = [|Y| Σ ]        C = <C>, exact (the Voigt average)
    [ H    0    0   0  ] [λ]   [  0   ]
    [ R    0    0   0  ] [μ]   [  0   ]

Why not solve K u = H_j in V: when the affine fields are not in V (P1 fields on
curved order-2 cells) testing the equilibrium with them is impossible, so the
mean stress of u misses Σ and Hill–Mandel fails (3e-3 at h = 0.1), and the
PBC admissible set {E·x + w_per} is no subset of V, so PBC ⪰ TUBC fails too.
Here ⟨σ⟩ = Σ is the Ē row itself, ⟨σ:ε⟩ = ⟨σ⟩:⟨ε⟩ follows from a(u, w) = 0,
and periodic/KUBC fluctuations satisfy both constraints, so the bound ordering
holds on any mesh. When V contains the affine fields (P1 on straight cells,
P2 on order-2 cells) the discrete problem is the old one, K u = H_j.

Solution by static condensation: the pinned K (translation pins A and the
rotation pins B, C of :func:`fe2.micro.constraints.rigid_pin_nodes`) is
factorized once; the B/C dofs come back as bordered unknowns, so they pin
nothing. 2n + 2r solves (n load cases, r rotations) give the Schur complement,
a dense (2n + 2r)² system that every load case shares.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from petsc4py import PETSc

from fe2.errors import ConfigError
from fe2.solvers import solve_checked


def _unit(new_vec: Callable[[], PETSc.Vec], comm, dof: int) -> PETSc.Vec:
    e = new_vec()
    e.zeroEntries()
    if comm.rank == 0:
        e.setValue(dof, 1.0)
    e.assemble()
    return e


def solve_tubc(
    ksp: PETSc.KSP,
    K: PETSc.Mat,
    pins: np.ndarray,
    bordered_dofs: Sequence[int],
    G: Sequence[PETSc.Vec],
    H: Sequence[PETSc.Vec],
    R: Sequence[PETSc.Vec],
    c_voigt: np.ndarray,
    volume: float,
    new_vec: Callable[[], PETSc.Vec],
) -> tuple[np.ndarray, list[PETSc.Vec], int]:
    """Mean strains and fluctuations of the unit stresses Σ = S_j, j = 0 … n-1.

    Args:
        ksp: solver of K with rows and columns ``pins`` replaced by the identity.
        K: the full stiffness.
        pins: every pinned global dof owned by this rank (translations and ``bordered_dofs``).
        bordered_dofs: global pinned dofs (same list on every rank) that are unknowns again.
        G, H, R: the assembled load vectors (see :mod:`fe2.micro.forms`).
        c_voigt: exact <C> (Mandel), (n, n).
        volume: |Y|.
        new_vec: a zeroed full vector of the field space.

    Returns:
        (Ē (n_cases, n), fluctuations w_j (full vectors, ghosts not updated), largest solve iteration count).
    """
    comm = K.getComm().tompi4py()
    n, r = len(G), len(R)
    units = [_unit(new_vec, comm, q) for q in bordered_dofs]
    cols = []
    for e in units:
        c = new_vec()
        K.mult(e, c)
        cols.append(c)
    cols += [v.copy() for v in (*G, *H, *R)]
    m = len(cols)
    if len(units) != r:
        raise ConfigError(f"TUBC: the physics pins {len(units)} dof(s) beyond the translations but declares {r} "
                          "rigid rotation(s) (rotation_basis / boundary_rotation); a vector physics must declare "
                          "its rotations for traction conditions")
    # D: the bordered block before condensation (K_QQ, the loads at the bordered dofs, |Y| C)
    D = np.zeros((m, m))
    nq = len(units)
    for a, e in enumerate(units):
        for b in range(m):
            D[a, b] = D[b, a] = cols[b].dot(e)
    D[nq:nq + n, nq:nq + n] = volume * c_voigt
    zeros = np.zeros(len(pins))
    for c in cols:
        c.setValues(pins, zeros)
        c.assemble()
    Z, its = [], 0
    for b, c in enumerate(cols):
        z = new_vec()
        its = max(its, solve_checked(ksp, c, z, f"RVE tubc condensation column {b + 1}"))
        Z.append(z)
    schur = D - np.array([[cols[a].dot(Z[b]) for b in range(m)] for a in range(m)])
    rhs = np.zeros((m, n))
    rhs[nq:nq + n, :] = volume * np.eye(n)
    y = np.linalg.solve(schur, rhs)
    fluct = []
    for j in range(n):
        w = new_vec()
        w.zeroEntries()
        for b in range(m):
            w.axpy(-y[b, j], Z[b])
        for a, e in enumerate(units):
            w.axpy(y[a, j], e)
        fluct.append(w)
    for v in (*units, *cols, *Z):
        v.destroy()
    return y[nq:nq + n, :].T.copy(), fluct, its
