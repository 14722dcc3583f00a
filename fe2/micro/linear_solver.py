"""Linear-solver settings of RVE (and macro mechanics) systems, turned into KSPs by the solver layer.

:meth:`LinearSolverOptions.create_ksp` builds the KSP with
:func:`fe2.solvers.options.create_ksp` under a stable prefix — ``fe2_rve_``
for every RVE system (linear load cases, the micro Newton of nonlinear RVEs),
``fe2_macro_`` for the macro Newton — so the options here are defaults that a
user's ``-fe2_rve_ksp_type cg`` (command line or TOML ``[petsc]``) overrides.
Global (unprefixed) PETSc options are never written.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from petsc4py import PETSc

from fe2.errors import ConfigError
from fe2.solvers.options import create_ksp, solve_checked

#: 'auto' switches 3D problems to CG + GAMG above this many dofs.
AUTO_ITERATIVE_DOFS = 50_000


@dataclass(frozen=True)
class LinearSolverOptions:
    """How the reduced RVE system is solved.

    Attributes:
        kind: 'direct' (MUMPS Cholesky, factorization reused over load cases),
            'iterative' (CG + GAMG with the rigid-body near null space), or
            'auto' (the default): iterative for 3D problems above
            ``AUTO_ITERATIVE_DOFS`` dofs, direct otherwise. Periodic coupling
            turns the cell into a torus whose nested-dissection separators are
            twice as large: measured on a 3D fibre RVE of 32k dofs, MUMPS needs
            5.3e10 flops for the periodic operator against 7.7e9 (KUBC), so
            direct factorization stops paying off for large 3D cells.
        rtol: relative residual tolerance of the iterative solver.
        max_it: iteration limit of the iterative solver.
    """

    kind: Literal["auto", "direct", "iterative"] = "auto"
    rtol: float = 1e-12
    max_it: int = 5000

    def __post_init__(self) -> None:
        if self.kind not in ("auto", "direct", "iterative"):
            raise ConfigError(f"solver kind must be 'auto', 'direct' or 'iterative', got {self.kind!r}")
        if not (0.0 < self.rtol < 1.0):
            raise ConfigError(f"solver rtol must be in (0, 1), got {self.rtol}")

    def resolved(self, dim: int, n_dofs: int) -> LinearSolverOptions:
        """Replace kind 'auto' by the concrete choice for a problem of this size."""
        if self.kind != "auto":
            return self
        kind: Literal["direct", "iterative"] = "iterative" if (dim == 3 and n_dofs > AUTO_ITERATIVE_DOFS) else "direct"
        return LinearSolverOptions(kind=kind, rtol=self.rtol, max_it=self.max_it)

    def petsc_options(self) -> dict[str, str | float | int]:
        if self.kind == "auto":
            raise ValueError("resolve kind 'auto' with .resolved(dim, n_dofs) first")
        if self.kind == "direct":
            return {
                "ksp_type": "preonly",
                "pc_type": "cholesky",
                "pc_factor_mat_solver_type": "mumps",
            }
        return {
            "ksp_type": "cg",
            "pc_type": "gamg",
            "ksp_rtol": self.rtol,
            "ksp_atol": 1e-300,
            "ksp_max_it": self.max_it,
            "pc_gamg_threshold": 0.02,
            "mg_levels_ksp_type": "chebyshev",
            "mg_levels_pc_type": "jacobi",
        }

    def create_ksp(self, A: PETSc.Mat, prefix: str = "fe2_rve_") -> PETSc.KSP:
        """A KSP on operator ``A`` (its communicator) under the stable options ``prefix``, configured
        from :meth:`petsc_options` where the user set nothing (kind must be resolved).
        """
        ksp = create_ksp(A.getComm(), prefix, self.petsc_options())
        ksp.setOperators(A)
        if self.kind == "iterative":
            ksp.setInitialGuessNonzero(False)
        return ksp


__all__ = ["AUTO_ITERATIVE_DOFS", "LinearSolverOptions", "solve_checked"]
