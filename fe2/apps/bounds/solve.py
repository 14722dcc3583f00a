"""Solving one task of a bound-convergence study: mesh one realization, homogenize every pending case.

Compiled forms are cached per rank by :class:`~fe2.micro.forms.FormKey` (the
caller's ``forms_cache``): the JIT runs once per kind of mesh, not once per
realization.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping

import numpy as np
from mpi4py import MPI

from fe2 import config as cfgmod
from fe2.apps.bounds.measures import internal_form
from fe2.apps.bounds.plan import Task
from fe2.apps.bounds.record import BoundsRecord, MeshInfo, RecordTimings
from fe2.materials import IsotropicConductor, IsotropicElastic
from fe2.micro.forms import FormKey, RVEForms, form_key
from fe2.micro.linear_solver import LinearSolverOptions
from fe2.micro.physics import make_physics
from fe2.micro.rve_problem import RVEProblem

__all__ = ["MAX_REDRAWS", "packable_seed", "solve_task"]


def _materials(spec: Mapping[str, Mapping]) -> dict:
    out = {}
    for phase, m in spec.items():
        if m.get("void"):
            continue
        out[phase] = (
            IsotropicElastic(m["young"], m["poisson"])
            if "young" in m
            else IsotropicConductor(m["conductivity"])
        )
    return out


#: How many times a jammed packing is redrawn (with derived seeds) before the realization fails.
MAX_REDRAWS = 20


def packable_seed(geometry: Mapping) -> tuple[int, int]:
    """(seed, redraws): the realization's seed, or the first derived seed whose RSA packing succeeds.

    Random sequential addition can jam for a given seed, most often for pores
    kept off the faces of a small box. The packing is then redrawn with the
    seeds ``SeedSequence(seed, spawn_key=(k,))``, k = 1, 2, ...: deterministic,
    the same on every rank and in every rerun. (Conditioning on packable
    configurations is inherent to RSA; ``packing_redraws`` in the record says
    how often it happened.) Pure numpy: no mesh is built here.
    """
    from fe2.errors import GeometryError
    from fe2.geometry import random_inclusions

    g = geometry
    base = int(g["seed"])
    last: GeometryError | None = None
    for k in range(MAX_REDRAWS + 1):
        seed = (
            base
            if k == 0
            else int(np.random.SeedSequence(base, spawn_key=(k,)).generate_state(1, np.uint32)[0])
        )
        try:
            random_inclusions(
                [g["L"]] * g["dim"],
                g["radius"],
                g["volume_fraction"],
                seed,
                g["min_gap"],
                face_gap=g["min_gap"],
                wrap=g["wrap"],
            )
            return seed, k
        except GeometryError as exc:
            last = exc
    raise GeometryError(f"{last} (and {MAX_REDRAWS} redraws with derived seeds)")


#: the cell tags of every realization (fe2.geometry.random_rve: the matrix is 1, the inclusions 2;
#: pores have no cells), stated in summary.json
PHASE_TAGS = {"matrix": 1, "inclusion": 2}


def solve_task(
    task: Task, comm: MPI.Comm, cfg: cfgmod.BoundsConfig, forms_cache: dict[FormKey, RVEForms], rank: int
) -> Iterator[BoundsRecord]:
    """Mesh one realization on ``comm`` and yield one record per pending material case."""
    from fe2.geometry import random_rve
    from fe2.geometry.voids import remove_phases

    g = task.geometry
    t0 = time.perf_counter()
    seed, redraws = packable_seed(g)
    rve = random_rve(
        comm,
        [g["L"]] * g["dim"],
        g["radius"],
        g["volume_fraction"],
        g["mesh_size"],
        seed=seed,
        min_gap=g["min_gap"],
        face_gap=g["min_gap"],
        wrap=g["wrap"],
        element_order=g["element_order"],
    )
    t_mesh = time.perf_counter() - t0
    physics = make_physics(cfg.physics, g["dim"])
    solver = LinearSolverOptions(kind=cfg.solver.kind, rtol=cfg.solver.rtol)
    for rkey, spec in task.items:
        t1 = time.perf_counter()
        mats = spec["materials"]
        this = remove_phases(rve, ["inclusion"]) if mats["inclusion"].get("void") else rve
        key = form_key(physics, this.mesh, cfg.solver.degree)
        forms = forms_cache.get(key)
        if forms is None:
            forms = forms_cache[key] = RVEForms(comm, physics, key)
        problem = RVEProblem(
            this, physics, _materials(mats), degree=cfg.solver.degree, solver=solver, forms=forms
        )
        res = problem.homogenize(spec["bcs"])
        t2 = time.perf_counter()
        eff = {bc: res.effective(bc) for bc in spec["bcs"]}
        internal = {bc: internal_form(cfg.physics, C) for bc, C in eff.items()}
        ordering = {}
        for hi, lo in (("kubc", "periodic"), ("periodic", "tubc"), ("kubc", "tubc")):
            if hi in internal and lo in internal:
                scale = max(float(np.max(np.abs(internal[hi]))), 1e-300)
                ev = np.linalg.eigvalsh(0.5 * (internal[hi] - internal[lo] + (internal[hi] - internal[lo]).T))
                ordering[f"{hi}-{lo}"] = float(ev[0] / scale)
        info = problem.mesh_info()
        yield BoundsRecord(
            key=rkey,
            geometry_key=task.geometry_key,
            size=task.size,
            realization=task.realization,
            seed=task.seed,
            packing_seed=seed,
            packing_redraws=redraws,
            spec=spec,
            effective=eff,
            hill_mandel={bc: r.hill_mandel_max for bc, r in res.bcs.items()},
            ordering=ordering,
            volume_fractions=res.volume_fractions,
            mesh=MeshInfo(info["cells"], info["dofs"], info["h_min"], info["h_max"]),
            timings=RecordTimings(mesh=t_mesh, solve=t2 - t1),
            rank=rank,
            ranks=comm.size,
        )
        del problem, res, this
        t_mesh = 0.0  # the mesh is charged to the first record of the task
