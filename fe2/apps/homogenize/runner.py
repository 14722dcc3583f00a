"""``fe2 homogenize``: one RVE, its effective tensor under each BC, files for ParaView.

Output layout of ``OUT``::

    OUT/result.json                 effective tensors (Voigt), Hill–Mandel residuals, fractions, mesh, timings
    OUT/fields/<bc>_<case>.xdmf     total field u and fluctuation w per BC and unit load case
    OUT/fluctuation.png             one fluctuation component (periodic, first load case)

``result.json`` is written last and atomically: if it exists, the run finished.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TypedDict

import numpy as np
from mpi4py import MPI

from fe2 import config as cfgmod
from fe2.errors import ConfigError
from fe2.geometry.base import RVEMesh
from fe2.geometry.voids import remove_phases
from fe2.io.fields import gather_p1_field, write_rve_fields
from fe2.io.plots import plot_field_png
from fe2.io.results import write_json_atomic
from fe2.materials import IsotropicConductor, IsotropicElastic
from fe2.micro.error_estimate import homogenize_with_estimates
from fe2.micro.linear_solver import LinearSolverOptions
from fe2.micro.physics import make_physics, physics_class
from fe2.micro.rve_problem import RVEProblem


class _ArrayArgs(TypedDict):
    """Keyword arguments shared by :func:`~fe2.geometry.square_array` and :func:`~fe2.geometry.hexagonal_array`."""

    radius: float | None
    volume_fraction: float | None
    mesh_size: float
    inclusion_phase: str
    matrix_phase: str
    void: bool
    element_order: int


def build_rve(geometry: cfgmod.Geometry, comm: MPI.Comm) -> RVEMesh:
    """Mesh the RVE described by a validated geometry config."""
    from fe2 import geometry as geo

    g = geometry
    if isinstance(g, cfgmod.InclusionsGeometry):
        incs = [geo.Inclusion(tuple(i.center), i.radius, i.phase) for i in g.inclusions]
        return geo.inclusion_rve(
            comm, g.lengths, incs, g.mesh_size, matrix_phase=g.matrix_phase,
            void_phases=tuple(g.void_phases), element_order=g.element_order, min_gap=g.min_gap,
        )
    if isinstance(g, cfgmod.ArrayGeometry):
        kwargs: _ArrayArgs = {
            "radius": g.radius, "volume_fraction": g.volume_fraction, "mesh_size": g.mesh_size,
            "inclusion_phase": g.inclusion_phase, "matrix_phase": g.matrix_phase, "void": g.void,
            "element_order": g.element_order,
        }
        if g.kind == "square_array":
            return geo.square_array(comm, dim=g.dim, **kwargs)
        return geo.hexagonal_array(comm, **kwargs)
    if isinstance(g, cfgmod.LaminateGeometry):
        return geo.laminate_rve(
            comm, g.lengths, g.axis, g.fractions, g.phases, g.mesh_size, element_order=g.element_order
        )
    if isinstance(g, cfgmod.RandomGeometry):
        return geo.random_rve(
            comm, g.lengths, radius=g.radius, volume_fraction=g.volume_fraction, seed=g.seed,
            min_gap=g.min_gap, mesh_size=g.mesh_size, inclusion_phase=g.inclusion_phase,
            matrix_phase=g.matrix_phase, void=g.void, element_order=g.element_order,
        )
    box = None
    if g.box_min is not None and g.box_max is not None:
        box = (np.asarray(g.box_min, float), np.asarray(g.box_max, float))
    return geo.rve_from_msh(comm, g.path, box=box)


def void_phases_from_config(cfg: cfgmod.HomogenizeConfig) -> list[str]:
    """Phases given as ``void = true`` (pores)."""
    return [name for name, m in cfg.materials.items() if isinstance(m, cfgmod.VoidMaterial)]


def materials_from_config(cfg: cfgmod.HomogenizeConfig) -> dict[str, object]:
    """Phase name -> material object, for the non-void phases (a plugin physics builds its own)."""
    out: dict[str, object] = {}
    for name, m in cfg.materials.items():
        if isinstance(m, cfgmod.VoidMaterial):
            continue
        if isinstance(m, cfgmod.ElasticMaterial):
            out[name] = IsotropicElastic(m.young, m.poisson)
        elif isinstance(m, cfgmod.ConductorMaterial):
            out[name] = IsotropicConductor(m.conductivity)
        else:
            out[name] = physics_class(cfg.physics).material_from_table(m)
    return out


def case_labels(physics: str, dim: int) -> tuple[str, ...]:
    """File labels of the unit load cases: E11, E22, E12 ... or G1, G2 (gradients), from the physics."""
    return make_physics(physics, dim).case_labels()


def run_homogenization(
    cfg: cfgmod.HomogenizeConfig, comm: MPI.Comm, out_dir: str | Path | None, progress=None,
    forms_cache: dict | None = None,
) -> dict:
    """Build the RVE, solve each BC, write fields / PNG / result.json. Returns the result dict.

    ``forms_cache``: a dict shared by the runs of an ensemble (``fe2 uq``): the compiled forms are
    kept there by :class:`~fe2.micro.forms.FormKey` and reused for every mesh of the same kind.
    """
    say = progress or (lambda msg: None)
    if out_dir is not None and comm.rank == 0:
        # A result.json left by an earlier run in OUT would make a failed run look finished.
        (Path(out_dir) / "result.json").unlink(missing_ok=True)
    t0 = time.perf_counter()
    rve = build_rve(cfg.geometry, comm)
    voids = void_phases_from_config(cfg)
    stray = [v for v in voids if v not in rve.phases and v not in rve.void_phases]
    if stray:
        raise ConfigError(f"materials: void phase(s) {stray} not in the RVE (phases: {sorted(rve.phases)})")
    meshed_voids = [v for v in voids if v in rve.phases]
    rve = remove_phases(rve, meshed_voids)
    t_mesh = time.perf_counter() - t0
    physics = make_physics(cfg.physics, rve.dim)
    forms = None
    if forms_cache is not None:
        from fe2.micro.forms import RVEForms, form_key

        key = form_key(physics, rve.mesh, cfg.solver.degree)
        forms = forms_cache.get(key)
        if forms is None:
            forms = forms_cache[key] = RVEForms(comm, physics, key)
    say(f"meshed RVE: {rve.mesh.topology.index_map(rve.dim).size_global} cells in {t_mesh:.2f} s")
    adaptivity = None
    if cfg.solver.target_error is not None:
        problem, hom, fields, adaptivity = _adapt(cfg, rve, physics, say)
        rve = problem.rve
    else:
        problem = RVEProblem(
            rve, physics, materials_from_config(cfg), degree=cfg.solver.degree,
            solver=LinearSolverOptions(kind=cfg.solver.kind, rtol=cfg.solver.rtol), forms=forms,
        )
        if cfg.solver.error_estimate:
            hom, fields = homogenize_with_estimates(problem, cfg.boundary_conditions, keep_fields=True,
                                                    progress=say)
        else:
            hom, fields = problem.homogenize(cfg.boundary_conditions, keep_fields=True, progress=say)
    hom.timings["mesh_s"] = t_mesh
    data = hom.to_dict()
    data["geometry"] = rve.description
    # which integer of the phase tags (cell data 'phase' of fields/*, the mesh's cell tags) is which phase
    data["phase_tags"] = {name: int(tag) for name, tag in rve.phases.items()}
    data["config"] = cfg.model_dump()
    data["units"] = "as given in the config (fe2 does not convert units)"
    if adaptivity is not None:
        data["adaptivity"] = adaptivity
    if out_dir is not None:
        out = Path(out_dir)
        labels = case_labels(physics.name, rve.dim)
        written: list[str] = []
        if cfg.output.fields:
            for bc, vecs in fields.items():
                for j, u in enumerate(vecs):
                    affine = _affine_part(problem, hom.bcs[bc].load_cases[j].driver if bc != "tubc"
                                          else hom.bcs[bc].load_cases[j].mean_strain)
                    paths = write_rve_fields(out / "fields" / f"{bc}_{labels[j]}", problem.V, u, affine,
                                             rve.cell_tags)
                    affine.destroy()
                    written.extend(str(p.relative_to(out)) for p in paths)
            data["fields"] = written
            png_bc = "periodic" if "periodic" in fields else next(iter(fields))
            lc0 = hom.bcs[png_bc].load_cases[0]
            data["figure"] = _fluctuation_png(problem, fields[png_bc][0],
                                              lc0.mean_strain if png_bc == "tubc" else lc0.driver, png_bc,
                                              labels[0], out / "fluctuation.png")
        write_json_atomic(out / "result.json", data, comm)
    for vecs in fields.values():
        for u in vecs:
            u.destroy()
    return data


def _adapt(cfg: cfgmod.HomogenizeConfig, rve: RVEMesh, physics, say):
    """Solve every BC with its estimate, refine one mesh for all of them (Dörfler θ = 0.5 on Σ over BCs and
    load cases of η_K / ⟨σ:ε⟩), until every load case's estimated relative energy error is <= target_error.
    Returns (problem, hom, fields, record) of the last mesh. Collective; ConfigError if max_refinements
    refinements do not reach the target, or if a mesh must be refined that has curved cells (refine_rve).
    """
    from fe2.micro.adaptivity import dorfler_marking, refine_rve, relative_energy_indicators

    target, steps, last = cfg.solver.target_error, [], float("nan")
    assert target is not None
    for k in range(cfg.solver.max_refinements + 1):
        problem = RVEProblem(rve, physics, materials_from_config(cfg), degree=cfg.solver.degree,
                             solver=LinearSolverOptions(kind=cfg.solver.kind, rtol=cfg.solver.rtol))
        hom, fields = homogenize_with_estimates(problem, cfg.boundary_conditions, keep_fields=True, progress=say)
        errors = {bc: hom.bcs[bc].error_estimate.max_relative_energy_error for bc in cfg.boundary_conditions}
        info = problem.mesh_info()
        steps.append({"dofs": int(info["dofs"]), "cells": int(info["cells"]), "max_relative_energy_error": errors})
        say(f"adaptive: {info['dofs']} dofs, est. relative energy error "
            + ", ".join(f"{bc} {e:.3e}" for bc, e in errors.items()) + f" (target {target:g})")
        last = max(errors.values())
        if last <= target:
            return problem, hom, fields, {"target_error": target, "marking": "Doerfler theta = 0.5 on the sum over "
                                          "BCs and load cases of eta_K / <sigma:eps>", "steps": steps}
        eta = np.sum([relative_energy_indicators(hom.bcs[bc], hom.bcs[bc].error_estimate)
                      for bc in cfg.boundary_conditions], axis=0)
        for vecs in fields.values():
            for u in vecs:
                u.destroy()
        problem.destroy()
        if k < cfg.solver.max_refinements:
            rve = refine_rve(rve, dorfler_marking(eta, rve.mesh.comm, 0.5))
    raise ConfigError(f"solver.target_error {target:g} not met after {cfg.solver.max_refinements} refinements "
                      f"(last estimate {last:.3e})")


def _affine_part(problem: RVEProblem, strain):
    """Σ_k E_k A_k: the (interpolated) affine field the load case's total field u was built with —
    E the driver (KUBC, periodic) or the mean strain Ē of the unit stress (TUBC).
    """
    a = problem.A[0].duplicate()
    a.set(0.0)
    for k, ek in enumerate(strain):
        if ek != 0.0:
            a.axpy(float(ek), problem.A[k])
    return a


def _fluctuation_png(problem: RVEProblem, u, strain, bc: str, label: str, path: Path) -> str:
    """PNG of the first component of the fluctuation w = u - E·x (rank 0 draws); a fluctuation that
    is round-off relative to the total field u (a laminate under a load it carries uniformly) is
    drawn as uniform, not as magnified noise.
    """
    from petsc4py import PETSc

    scale = u.norm(PETSc.NormType.NORM_INFINITY)  # collective: every rank, before the rank-0 branch
    w = u.copy()
    affine = _affine_part(problem, strain)
    w.axpy(-1.0, affine)
    affine.destroy()
    w.ghostUpdate()
    arr = w.getArray(readonly=True)
    bs = problem.bs
    from dolfinx import fem

    f = fem.Function(problem.V)
    f.x.petsc_vec.setArray(arr)
    f.x.scatter_forward()
    values = f.x.array.reshape(-1, bs)[:, 0]
    gathered = gather_p1_field(problem.V, values)
    w.destroy()
    if gathered is not None:
        pts, cells, vals = gathered
        comp = "w1" if bs > 1 else "w"
        plot_field_png(pts, cells, vals, path, f"{bc}: fluctuation {comp} under unit {label}",
                       label=f"{comp} [length × applied {label}]", length_unit="length of the config",
                       scale=scale)
    return path.name


def print_effective_table(data: dict) -> None:
    """Diagonal and the (1,2) entry of each effective tensor (Voigt notation), and Hill–Mandel residuals."""
    comps = data["components"]
    pairs = [(i, i) for i in range(len(comps))] + [(0, 1)]
    sym = "C" if data["physics"] == "elasticity" else "K"
    head = "".join(f"{sym + comps[i] + comps[j]:>11s}" for i, j in pairs)
    print(f"{'BC':9s}{head}{'Hill-Mandel':>13s}")
    for bc, C in data["effective"].items():
        vals = "".join(f" {C[i][j]:10.5g}" for i, j in pairs)
        flag = "" if data["details"][bc].get("hill_mandel_ok", True) else "  EXCEEDS TOLERANCE"
        print(f"{bc:9s}{vals}{data['hill_mandel'][bc]:13.1e}{flag}")
