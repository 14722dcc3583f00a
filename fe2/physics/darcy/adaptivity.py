"""Goal-oriented adaptive refinement of a primal Darcy problem, driven by the DWR cell indicators.

:func:`adapt_darcy` repeats solve → DWR estimate of the QoI (:mod:`fe2.physics.darcy.goal_error`) →
Dörfler marking of |η_K| (:func:`fe2.micro.adaptivity.dorfler_marking`, threshold found over all
ranks) → ``dolfinx.mesh.refine`` (Plaza) of the marked cells with the region and boundary tags carried
over (:func:`fe2.geometry.refine.refine_tissue`), until the estimated relative error
|η| / |J_h + η| is at most ``target_error``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
from dolfinx import mesh as dmesh

from fe2.errors import ConfigError, SolverError
from fe2.geometry.refine import refine_tissue
from fe2.macro.dwr import GoalErrorEstimate
from fe2.micro.adaptivity import dorfler_marking
from fe2.physics.darcy.bcs import BoundaryCondition
from fe2.physics.darcy.goal_error import darcy_goal_error
from fe2.physics.darcy.problem import DarcyProblem, DarcyResult
from fe2.physics.darcy.properties import TissueProperties


@dataclass
class DarcyAdaptiveStep:
    """One solve of an adaptive or uniform sequence."""

    dofs: int
    cells: int
    estimate: GoalErrorEstimate = field(repr=False)
    #: the problem, result and region tags of the solve: kept for the last step only (the solvers of
    #: the earlier steps are released: each holds PETSc objects and communicators)
    problem: DarcyProblem | None = field(default=None, repr=False)
    result: DarcyResult | None = field(default=None, repr=False)
    cell_tags: dmesh.MeshTags | None = field(default=None, repr=False)

    @property
    def error(self) -> float:
        return self.estimate.relative_estimate

    def row(self) -> dict:
        e = self.estimate
        return {"dofs": self.dofs, "cells": self.cells, "value": e.value, "estimate": e.estimate,
                "corrected": e.corrected, "relative_estimate": e.relative_estimate,
                "sum_abs_indicators": e.sum_abs_indicators}


def adapt_darcy(
    msh: dmesh.Mesh, cell_tags: dmesh.MeshTags | None, facet_tags: dmesh.MeshTags,
    tissue: dict[int, TissueProperties], bcs: Sequence[BoundaryCondition], *, qoi: str = "outflow",
    boundary_tag: int | None = None, name: str | None = None, target_error: float, degree: int = 1,
    theta: float = 0.5, uniform: bool = False, max_steps: int = 12,
    progress: Callable[[str], None] | None = None,
) -> list[DarcyAdaptiveStep]:
    """Refine until the estimated relative QoI error |η|/|J_h + η| is <= ``target_error`` (collective).

    Returns the steps, the last one meeting the target; SolverError if ``max_steps`` solves do not reach it.
    """
    if not target_error > 0.0:
        raise ConfigError(f"solver.target_error must be positive, got {target_error}")
    if not 0.0 < theta <= 1.0:
        raise ConfigError(f"Dörfler theta must lie in (0, 1], got {theta}")
    steps: list[DarcyAdaptiveStep] = []
    ct, ft = cell_tags, facet_tags
    for _ in range(max_steps):
        problem = DarcyProblem(msh, ct, ft, tissue, bcs=bcs, formulation="primal", degree=degree)
        res = problem.solve()
        est = darcy_goal_error(problem, qoi, boundary_tag, name=name)
        cells = msh.topology.index_map(msh.topology.dim).size_global
        if steps:
            _release(steps[-1])
        steps.append(DarcyAdaptiveStep(est.dofs, cells, est, problem, res, ct))
        if progress is not None:
            progress(f"darcy {'uniform' if uniform else 'adaptive'}: {est.dofs} dofs, J_h {est.value:.6e}, "
                     f"est. rel. error {est.relative_estimate:.3e}")
        if est.relative_estimate <= target_error:
            return steps
        marked = None if uniform else dorfler_marking(np.abs(est.cell_indicators), msh.comm, theta)
        msh, ct, ft = refine_tissue(msh, ct, ft, marked)
    _release(steps[-1])
    raise SolverError(f"solver.target_error {target_error:g} not met in {max_steps} solves "
                      f"(last estimate {steps[-1].error:.3e}); raise solver.max_refinements or the target")


def _release(step: DarcyAdaptiveStep) -> None:
    """Destroy the PETSc objects of a finished step's solver and drop the references (collective)."""
    if step.problem is not None:
        step.problem.destroy()
    step.problem = step.result = step.cell_tags = None
