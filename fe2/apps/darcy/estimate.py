"""The ``[solver]`` error estimate of ``fe2 darcy``: the DWR estimate of one QoI, optionally with adaptive
refinement to ``target_error`` (:mod:`fe2.physics.darcy.goal_error`, :mod:`fe2.physics.darcy.adaptivity`).

result.json gets ``error_estimate`` (QoI, units, J_h, η, J_h + η, Σ|η_K|, ...) and, for adaptive runs,
``adaptivity`` (one row per solve: dofs, cells, J_h, η, relative estimate); fields.bp gets the cell
indicators η_K as ``dwr_indicator`` (DG0, QoI units).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import numpy as np
from dolfinx import fem

from fe2.config.darcy import DarcyConfig
from fe2.geometry.tissue import TissueMesh
from fe2.macro.dwr import GoalErrorEstimate
from fe2.physics.darcy.adaptivity import adapt_darcy
from fe2.physics.darcy.goal_error import darcy_goal_error
from fe2.physics.darcy.problem import DarcyProblem, DarcyResult


def _qoi(cfg: DarcyConfig, tm: TissueMesh) -> tuple[str, int | None, str | None]:
    name = cfg.qoi_boundary_name()
    return cfg.solver.qoi, (tm.tag(name) if name is not None else None), name


def estimate(cfg: DarcyConfig, tm: TissueMesh, problem: DarcyProblem) -> GoalErrorEstimate:
    """The DWR estimate of the configured QoI for the solved ``problem`` (collective)."""
    qoi, tag, name = _qoi(cfg, tm)
    return darcy_goal_error(problem, qoi, tag, name=name)


def adaptive_solve(cfg: DarcyConfig, tm: TissueMesh, tissue, bcs, say: Callable[[str], None]
                   ) -> tuple[TissueMesh, DarcyProblem, DarcyResult, GoalErrorEstimate, dict]:
    """Refine until ``solver.target_error``; (refined TissueMesh, its problem, result, estimate, record)."""
    qoi, tag, name = _qoi(cfg, tm)
    target = float(cfg.solver.target_error)  # type: ignore[arg-type]  # called only when it is set
    steps = adapt_darcy(tm.mesh, tm.cell_tags, tm.facet_tags, tissue, bcs, qoi=qoi, boundary_tag=tag, name=name,
                        target_error=target, degree=cfg.degree, max_steps=cfg.solver.max_refinements + 1,
                        progress=say)
    last = steps[-1]
    assert last.problem is not None and last.result is not None  # the last step keeps its solve
    refined = replace(tm, mesh=last.problem.mesh, cell_tags=last.cell_tags,
                      facet_tags=last.problem.facet_tags,
                      description={**tm.description, "adaptive_refinements": len(steps) - 1})
    record = {"target_error": target, "marking": "Dörfler, theta = 0.5, on |eta_K|",
              "refinement": "dolfinx.mesh.refine (Plaza) of the marked cells", "steps": [s.row() for s in steps]}
    return refined, last.problem, last.result, last.estimate, record


def indicator_field(est: GoalErrorEstimate, problem: DarcyProblem) -> fem.Function:
    """η_K as a DG0 field ``dwr_indicator`` (owned cells set, ghosts by scatter)."""
    Q = fem.functionspace(problem.mesh, ("DG", 0))
    f = fem.Function(Q, name="dwr_indicator")
    n = est.cell_indicators.size
    f.x.array[Q.dofmap.list[np.arange(n), 0]] = est.cell_indicators
    f.x.scatter_forward()
    return f
