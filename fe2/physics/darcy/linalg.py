"""Assembly and solve plumbing shared by the Darcy and transport solvers.

Their KSPs are built by :func:`fe2.solvers.create_ksp` under the stable prefixes
``fe2_darcy_`` (pressure / mixed system), ``fe2_darcy_proj_`` (primal velocity
recovery) and ``fe2_solute_`` (transport), with :data:`DIRECT_OPTIONS` as the
default; an option the user set under such a prefix wins.
"""

from __future__ import annotations

from dolfinx import fem
from dolfinx.fem import petsc as fem_petsc
from petsc4py import PETSc

from fe2._compat import create_petsc_vector
from fe2.solvers import create_ksp, solve_checked

__all__ = ["DIRECT_OPTIONS", "assemble_rhs", "assemble_vector", "make_ksp", "solve_into"]

#: Default: sparse direct solve (MUMPS LU); symmetric indefinite (mixed) and SPD (primal) alike.
DIRECT_OPTIONS: dict[str, str] = {
    "ksp_type": "preonly", "pc_type": "lu", "pc_factor_mat_solver_type": "mumps",
}


def make_ksp(comm, prefix: str, options: dict | None) -> PETSc.KSP:
    """A KSP under the stable ``prefix`` (``fe2_darcy_``, ``fe2_darcy_proj_``, ``fe2_solute_``),
    configured from ``options`` (default :data:`DIRECT_OPTIONS`) where the user set nothing.
    """
    return create_ksp(comm, prefix, dict(DIRECT_OPTIONS if options is None else options))


def assemble_vector(form: fem.Form, V: fem.FunctionSpace) -> PETSc.Vec:
    """Assemble a linear form into a new vector (ghost contributions summed)."""
    b = create_petsc_vector(V)
    b.zeroEntries()
    fem_petsc.assemble_vector(b, form)
    b.ghostUpdate(addv=PETSc.InsertMode.ADD, mode=PETSc.ScatterMode.REVERSE)
    return b


def assemble_rhs(L: fem.Form, a: fem.Form, bcs: list, V: fem.FunctionSpace) -> PETSc.Vec:
    """RHS with Dirichlet lifting applied."""
    b = create_petsc_vector(V)
    b.zeroEntries()
    fem_petsc.assemble_vector(b, L)
    fem_petsc.apply_lifting(b, [a], bcs=[bcs])
    b.ghostUpdate(addv=PETSc.InsertMode.ADD, mode=PETSc.ScatterMode.REVERSE)
    fem_petsc.set_bc(b, bcs)
    return b


def solve_into(ksp: PETSc.KSP, b: PETSc.Vec, u: fem.Function, what: str) -> int:
    """Solve into ``u`` (ghosts updated); SolverError on divergence or a non-finite result."""
    its = solve_checked(ksp, b, u.x.petsc_vec, what)
    u.x.scatter_forward()
    return its
