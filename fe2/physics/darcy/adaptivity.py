"""Goal-oriented adaptive refinement of a primal Darcy problem, driven by the DWR cell indicators.

:func:`adapt_darcy` repeats solve → DWR estimate of the QoI (:mod:`fe2.physics.darcy.goal_error`) →
Dörfler marking of |η_K| (:func:`fe2.micro.adaptivity.dorfler_marking`, threshold found over all
ranks) → ``dolfinx.mesh.refine`` (Plaza) of the marked cells, until the estimated relative error
|η| / |J_h + η| is at most ``target_error``. :func:`refine_tissue` carries the region (cell) tags
and the boundary (facet) tags to the refined mesh: children of a cell take its tag; a child facet
lying on a tagged parent facet (barycentric coordinate 0 in the parent cell) takes that facet's tag.
Straight-sided (order-1) meshes only: a refined polygonal boundary stays the same polygon.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
from dolfinx import mesh as dmesh

from fe2.errors import ConfigError, SolverError
from fe2.macro.dwr import GoalErrorEstimate
from fe2.micro.adaptivity import _transfer_cell_tags, dorfler_marking
from fe2.physics.darcy.bcs import BoundaryCondition
from fe2.physics.darcy.goal_error import darcy_goal_error
from fe2.physics.darcy.problem import DarcyProblem, DarcyResult
from fe2.physics.darcy.properties import TissueProperties

#: |λ| below this (relative to the parent cell) puts a child facet's midpoint on a parent facet
_ON_FACET = 1e-10


def _geometry_degree(msh: dmesh.Mesh) -> int:
    cmap = msh.geometry.cmaps[0] if hasattr(msh.geometry, "cmaps") else msh.geometry.cmap
    return int(cmap.degree)


def refine_tissue(msh: dmesh.Mesh, cell_tags: dmesh.MeshTags | None, facet_tags: dmesh.MeshTags | None,
                  cells: np.ndarray | None = None):
    """(fine mesh, cell tags, facet tags) with the given owned cells refined (None: every cell). Collective."""
    if _geometry_degree(msh) != 1:
        raise ConfigError("only straight-sided (geometry_order = 1) meshes can be refined")
    tdim = msh.topology.dim
    msh.topology.create_entities(1)
    msh.topology.create_connectivity(tdim, 1)
    if cells is None:
        edges = None
    else:
        c2e = msh.topology.connectivity(tdim, 1)
        marked = np.asarray(cells, dtype=np.int32)
        edges = (np.unique(np.concatenate([c2e.links(c) for c in marked])) if marked.size
                 else np.zeros(0, np.int32)).astype(np.int32)
    fine, parent_cell, _ = dmesh.refine(msh, edges, option=dmesh.RefinementOption.parent_cell)
    fine.topology.create_entities(tdim - 1)
    fine.topology.create_connectivity(tdim - 1, tdim)
    ct = None if cell_tags is None else _transfer_cell_tags(cell_tags, msh, fine, parent_cell)
    ft = None if facet_tags is None else _transfer_facet_tags(facet_tags, msh, fine, parent_cell)
    return fine, ct, ft


def _transfer_facet_tags(tags: dmesh.MeshTags, coarse: dmesh.Mesh, fine: dmesh.Mesh,
                         parent_cell: np.ndarray) -> dmesh.MeshTags:
    tdim, fdim = coarse.topology.dim, coarse.topology.dim - 1
    comm = coarse.comm
    coarse.topology.create_connectivity(tdim, fdim)
    fine.topology.create_connectivity(tdim, fdim)
    nf_c = coarse.topology.index_map(fdim)
    tag_of = np.full(nf_c.size_local + nf_c.num_ghosts, -1, dtype=np.int64)
    tag_of[tags.indices] = tags.values
    n_owned = fine.topology.index_map(tdim).size_local
    offset = comm.exscan(int(parent_cell.size)) or 0
    created = np.asarray(fine.topology.original_cell_index[:n_owned], dtype=np.int64) - offset
    parents = parent_cell[created]
    c2f_f = fine.topology.connectivity(tdim, fdim)
    c2f_c = coarse.topology.connectivity(tdim, fdim)
    child_facets = np.array([c2f_f.links(c) for c in range(n_owned)], dtype=np.int32).reshape(n_owned, tdim + 1)
    parent_facets = np.array([c2f_c.links(p) for p in parents], dtype=np.int32).reshape(n_owned, tdim + 1)
    gdim = coarse.geometry.dim
    xc = coarse.geometry.x[:, :gdim]
    verts = xc[coarse.geometry.dofmaps[0][parents]]                    # (n, tdim+1, gdim), facet j opposite vertex j
    mids = dmesh.compute_midpoints(fine, fdim, child_facets.ravel())[:, :gdim].reshape(n_owned, tdim + 1, gdim)
    T = np.transpose(verts[:, 1:, :] - verts[:, :1, :], (0, 2, 1))  # (n, gdim, tdim), gdim = tdim
    lam_rest = np.linalg.solve(T[:, None, :, :], (mids - verts[:, :1, :])[..., None])[..., 0]  # (n, tdim+1, tdim)
    lam = np.concatenate([1.0 - lam_rest.sum(axis=-1, keepdims=True), lam_rest], axis=-1)      # (n, facet, vertex)
    on = np.abs(lam) < _ON_FACET
    idx, vals = [], []
    for j in range(tdim + 1):  # parent facet j = the one opposite parent vertex j
        hit = on[:, :, j]
        value = tag_of[parent_facets[:, j]]
        sel = hit & (value[:, None] >= 0)
        rows, cols = np.nonzero(sel)
        idx.append(child_facets[rows, cols])
        vals.append(value[rows])
    facets = np.concatenate(idx) if idx else np.zeros(0, np.int32)
    values = np.concatenate(vals) if vals else np.zeros(0, np.int64)
    facets, first = np.unique(facets, return_index=True)
    return dmesh.meshtags(fine, fdim, facets.astype(np.int32), values[first].astype(np.int32))


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
    """Destroy the KSPs of a finished step's solver and drop the references (collective)."""
    solver = step.problem.solver if step.problem is not None else None
    for name in ("ksp", "ksp_proj"):
        ksp = getattr(solver, name, None)
        if ksp is not None:
            ksp.destroy()
    step.problem = step.result = step.cell_tags = None
