"""Refinement of RVE meshes: uniform (references, uniform studies) and driven by error indicators.

Notation of exported tensors: Voigt with engineering shear, order 11 22 12 (2D) /
11 22 33 23 13 12 (3D); conductivity: the plain d x d matrix.

* :func:`refine_rve` splits the marked cells (all of them: uniform refinement)
  with ``dolfinx.mesh.refine`` (Plaza) and carries the phase tags over to the
  children. A refined straight-sided mesh has the same polygonal phase geometry,
  so a refined mesh solves *the same discrete problem* more accurately: the
  reference of the effectivity checks. Curved (order-2) meshes cannot be refined
  by dolfinx; the children of a straight-sided mesh keep its straight edges.
* Uniform refinement of a periodic mesh stays periodic (matched boundary edges
  get matched midpoints). Local refinement does not guarantee that the two copies
  of a face are split alike, so :func:`adapt` refuses periodic conditions and the
  refined RVE is marked ``periodic = False``: adaptivity is for KUBC and TUBC.
* :func:`adapt` repeats solve → estimate (:mod:`fe2.micro.error_estimate`) →
  Dörfler marking of the cell indicators → refine, until the estimated
  relative energy error of every load case is at most ``target_error``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace

import numpy as np
from mpi4py import MPI

from fe2.errors import ConfigError
from fe2.geometry.base import RVEMesh
from fe2.geometry.refine import refine_cells, transfer_cell_tags
from fe2.micro.error_estimate import ErrorEstimate, ErrorEstimator
from fe2.micro.linear_solver import LinearSolverOptions
from fe2.micro.physics import Physics
from fe2.micro.results import BCResult
from fe2.micro.rve_problem import RVEProblem


def refine_rve(rve: RVEMesh, cells: np.ndarray | None = None) -> RVEMesh:
    """The RVE with the given owned cells refined (None: every cell), phase tags carried over.

    Collective. The refined cells stay on the rank of their parent.
    """
    msh = rve.mesh
    fine, parent_cell = refine_cells(msh, cells)
    tags = transfer_cell_tags(rve.cell_tags, msh, fine, parent_cell)
    return replace(rve, mesh=fine, cell_tags=tags, periodic=rve.periodic and cells is None,
                   description={**rve.description, "refined": rve.description.get("refined", 0) + 1})


def dorfler_marking(indicators: np.ndarray, comm, theta: float = 0.5) -> np.ndarray:
    """Owned cells of the smallest set whose indicators sum to ``theta`` of the total (bulk criterion).

    Collective: the threshold is found over all ranks (bisection on the indicator value).
    """
    total = comm.allreduce(float(np.sum(indicators)))
    if total <= 0.0:
        return np.zeros(0, dtype=np.int32)
    lo, hi = 0.0, comm.allreduce(float(np.max(indicators)) if indicators.size else 0.0, op=_max_op())
    for _ in range(60):  # the marked sum is monotone in the threshold
        mid = 0.5 * (lo + hi)
        s = comm.allreduce(float(np.sum(indicators[indicators >= mid])))
        if s >= theta * total:
            lo = mid
        else:
            hi = mid
    return np.flatnonzero(indicators >= lo).astype(np.int32)


def relative_energy_indicators(res: BCResult, est: ErrorEstimate) -> np.ndarray:
    """Owned cells' relative energy error indicators of one BC: Σ_j η_K,jj / ⟨σ:ε⟩_j over its load cases."""
    energies = np.array([lc.mean_energy for lc in res.load_cases])
    return est.cell_indicators @ (1.0 / np.maximum(np.abs(energies), 1e-300))


def _max_op():

    return MPI.MAX


@dataclass
class AdaptiveStep:
    """One solve of an adaptive or uniform sequence."""

    dofs: int
    cells: int
    effective_voigt: np.ndarray
    estimate: ErrorEstimate = field(repr=False)
    rve: RVEMesh | None = field(default=None, repr=False)

    @property
    def error(self) -> float:
        """The estimated relative energy error (max over load cases)."""
        return self.estimate.max_relative_energy_error


def _solve_and_estimate(rve, physics, materials, degree, solver, bc) -> tuple[BCResult, ErrorEstimate, int, int]:
    problem = RVEProblem(rve, physics, materials, degree=degree, solver=solver)
    res, fields = problem.solve(bc)
    est = ErrorEstimator(problem).estimate(res, fields)
    for vec in fields:
        vec.destroy()
    info = problem.mesh_info()
    return res, est, int(info["dofs"]), int(info["cells"])


def adapt(
    rve: RVEMesh,
    physics: Physics,
    materials: Mapping[str, object],
    bc: str,
    target_error: float,
    *,
    degree: int = 1,
    solver: LinearSolverOptions | None = None,
    uniform: bool = False,
    theta: float = 0.5,
    max_steps: int = 12,
    progress: Callable[[str], None] | None = None,
) -> list[AdaptiveStep]:
    """Refine until the estimated relative energy error of every load case is <= ``target_error``.

    Args:
        uniform: refine every cell each step (the uniform sequence to compare with).
        theta: Dörfler bulk parameter of the marking.

    Returns:
        The steps, the last one meeting the target.

    Raises:
        ConfigError: periodic BC with local refinement (node matching of opposite
            faces is not kept), or the target not met in ``max_steps`` steps.
    """
    if bc == "periodic" and not uniform:
        raise ConfigError("adaptive refinement keeps no periodic node matching: use kubc or tubc")
    if target_error <= 0.0:
        raise ConfigError(f"target_error must be positive, got {target_error}")
    steps: list[AdaptiveStep] = []
    for _ in range(max_steps):
        res, est, dofs, cells = _solve_and_estimate(rve, physics, materials, degree, solver, bc)
        steps.append(AdaptiveStep(dofs, cells, res.effective_voigt, est, rve))
        if progress is not None:
            progress(f"{bc} {'uniform' if uniform else 'adaptive'}: {dofs} dofs, est. error {steps[-1].error:.3e}")
        if steps[-1].error <= target_error:
            return steps
        eta = relative_energy_indicators(res, est)
        rve = refine_rve(rve, None if uniform else dorfler_marking(eta, rve.mesh.comm, theta))
    raise ConfigError(f"target_error {target_error:g} not met in {max_steps} refinement steps "
                      f"(last estimate {steps[-1].error:.3e})")
