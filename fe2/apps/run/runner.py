"""``fe2 run``: an FE² macro problem whose material at every quadrature point is an RVE (``[rve]``),
or a single-scale problem with one constitutive law at every point (``[material]``, e.g. a
Cauchy–Born crystal continuum: :mod:`fe2.materials.cauchy_born`).

* The macro mesh is distributed over ``comm``; each rank solves the RVEs of the
  quadrature points it owns, on ``MPI.COMM_SELF`` (one RVE object per rank).
* An RVE whose phases are all elastic is detected as linear: C_hom is computed
  once and used everywhere. Otherwise a nonlinear RVE (J2 phases) is solved at
  every point, with history committed when the macro step converges.

Outputs in OUT: ``displacement.xdmf``, ``stress.xdmf`` (index files over ``series/``),
``load_displacement.csv/png``, ``steps.json``, ``checkpoint/``, and ``result.json``
(written last, atomically): summary, per-step Newton residual histories, micro
statistics and the load-balance report (micro time per rank: min / mean / max);
with ``[solver] error_estimate = true`` (linear micro models) the DWR estimate of the
monitored reaction after the last step (``error_estimate``, :mod:`fe2.macro.reaction_error`); with
``target_error`` the macro mesh is first refined adaptively until that estimate meets it
(``adaptivity`` in result.json: every solve's dofs, cells, J_h and η), and the run uses that mesh.

``--restart`` resumes from the checkpoint (see :mod:`fe2.macro.driver`); the micro
statistics in result.json cover every segment of the run (``segments``: 1 + restarts).
A restart of a finished run (checkpoint at the last load factor and result.json
present) does nothing and says so.
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

import numpy as np
from mpi4py import MPI

from fe2.apps.homogenize.runner import build_rve
from fe2.config.cauchy_born import CauchyBornLawSpec, FormulaSpec, LennardJonesSpec
from fe2.config.run import Bar, ElasticLawSpec, J2LawSpec, LawSpec, NeoHookeanLawSpec, RunConfig
from fe2.errors import ConfigError
from fe2.geometry.macro_domains import MacroMesh, bar, plate_with_hole
from fe2.io.results import write_json_atomic
from fe2.macro.balance import BalancedMaterial
from fe2.macro.driver import Monitor, add_statistics, run_load_steps
from fe2.macro.energy_audit import summarize
from fe2.macro.reaction_error import adapt_reaction, reaction_goal_error
from fe2.macro.small_strain import Dirichlet, QuasiStaticMacroProblem, Traction
from fe2.materials import IsotropicElastic, LinearElasticLaw
from fe2.materials.cauchy_born import CauchyBornLaw
from fe2.materials.contract import MicroModel
from fe2.materials.j2 import J2Plasticity
from fe2.materials.neo_hookean import NeoHookean
from fe2.micro.nonlinear_rve import NonlinearRVEMaterial
from fe2.micro.physics import Elasticity
from fe2.micro.results import MICRO_HILL_MANDEL_TOL, hill_mandel_warning
from fe2.micro.rve_material import LinearRVEMaterial
from fe2.micro.rve_problem import RVEProblem
from fe2.solvers import RankCheckpoint


def build_macro_domain(cfg: RunConfig, comm: MPI.Comm) -> MacroMesh:
    d = cfg.macro.domain
    if isinstance(d, Bar):
        return bar(comm, lengths=d.lengths, mesh_size=d.mesh_size)
    return plate_with_hole(comm, width=d.width, height=d.height, radius=d.radius, mesh_size=d.mesh_size)


def cauchy_born_law(spec: CauchyBornLawSpec):
    """The Cauchy–Born law of a ``model = "cauchy_born"`` spec (its lattice parameter computed here)."""
    from fe2.materials import cauchy_born as cb

    p = spec.potential
    pot: cb.PairPotential
    if isinstance(p, LennardJonesSpec):
        pot = cb.LennardJones(p.epsilon, p.sigma, cutoff=p.cutoff)
    elif isinstance(p, FormulaSpec):
        pot = cb.FormulaPotential(p.expression, p.parameters, cutoff=p.cutoff, length_scale=p.length_scale)
    else:
        pot = cb.Morse(p.depth, p.alpha, p.r0, cutoff=p.cutoff)
    return cb.CauchyBornLaw(pot, cb.lattice(spec.lattice), shells=spec.shells, min_stretch=spec.min_stretch)


def build_law(spec: LawSpec, dim: int) -> MicroModel:
    """One constitutive law from its spec (a single-scale material or an RVE phase)."""
    if isinstance(spec, J2LawSpec):
        return J2Plasticity(spec.young, spec.poisson, spec.sigma_y0, h_iso=spec.h_iso, h_kin=spec.h_kin, dim=dim)
    if isinstance(spec, NeoHookeanLawSpec):
        return NeoHookean(spec.young, spec.poisson, dim=dim)
    if isinstance(spec, CauchyBornLawSpec):
        return cauchy_born_law(spec)
    return LinearElasticLaw.isotropic(spec.young, spec.poisson, dim)


def build_rve_material(cfg: RunConfig):
    """The RVE material of every point (on COMM_SELF): linear (C_hom once) or nonlinear (J2 phases)."""
    assert cfg.rve is not None
    rve = build_rve(cfg.rve.geometry, MPI.COMM_SELF)
    specs = cfg.rve.materials
    unknown = sorted(set(specs) - set(rve.phases))
    if unknown:
        raise ConfigError(f"rve.materials: phase(s) {unknown} not in the RVE (phases: {sorted(rve.phases)})")
    elastic = {k: s for k, s in specs.items() if isinstance(s, ElasticLawSpec)}
    if len(elastic) == len(specs):
        mats = {k: IsotropicElastic(s.young, s.poisson) for k, s in elastic.items()}
        return LinearRVEMaterial(RVEProblem(rve, Elasticity(rve.dim), mats), bc=cfg.rve.bc), rve
    laws = {name: build_law(s, rve.dim) for name, s in specs.items()}
    if cfg.rve.reduced is not None:  # a trained reduced RVE, the full one as its fallback (docs/reduced_rve.md)
        from fe2.micro.reduced import ReducedRVEData, ReducedRVEMaterial

        full = NonlinearRVEMaterial(rve, laws, bc=cfg.rve.bc)
        return ReducedRVEMaterial(ReducedRVEData.load(cfg.rve.reduced), laws, full=full,
                                  indicator_threshold=cfg.rve.reduced_indicator), rve
    return NonlinearRVEMaterial(rve, laws, bc=cfg.rve.bc), rve


def flag_summary(records: list[dict]) -> dict:
    """Per diagnostic ``*_flag`` point field: the first load factor where it fired, and its largest and
    last counts of flagged quadrature points (e.g. ``cb_ellipticity_lost_flag``: loss of strong ellipticity).
    """
    names = sorted({k for r in records for k in r.get("flagged_points", {})})
    out = {}
    for name in names:
        counts = [(r["load_factor"], r.get("flagged_points", {}).get(name, 0)) for r in records]
        fired = [f for f, c in counts if c > 0]
        out[name] = {"first_load_factor": fired[0] if fired else None, "max_points": max(c for _, c in counts),
                     "last_points": counts[-1][1] if counts else 0}
    return out


def fingerprint(cfg: RunConfig) -> str:
    """SHA-256 of the config without ``[loading]``, ``[output]``, ``[limits]`` and ``[petsc]`` (what a
    restart may change: solver options change iterations, not the solution, to solver tolerance).
    """
    data = cfg.model_dump(mode="json", exclude={"loading", "output", "limits", "petsc"})
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


def finished_result(cfg: RunConfig, out: Path, comm: MPI.Comm) -> dict | None:
    """The result of a finished run in ``out`` (checkpoint at the last load factor, result.json there), or None."""
    def done(meta: dict) -> bool:
        return (float(meta["factor"]) >= max(cfg.loading.load_factors) - 1e-14
                and meta.get("fingerprint", "") in ("", fingerprint(cfg)))

    return RankCheckpoint(out / "checkpoint", comm).finished_result(out / "result.json", done)


def run_fe2(cfg: RunConfig, comm: MPI.Comm, out_dir: str | Path, *, restart: bool = False, progress=None) -> dict:
    """Run the FE² problem; returns the result dict written to OUT/result.json."""
    say = progress or (lambda msg: None)
    out = Path(out_dir)
    if restart:
        done = finished_result(cfg, out, comm)
        if done is not None:
            say(f"--restart: the run in {out} is finished (load factor {max(cfg.loading.load_factors):g}); "
                "result.json left as it is")
            return {**done, "_finished_before": True}
    t0 = time.perf_counter()
    domain = build_macro_domain(cfg, comm)
    rve = None
    if cfg.material is not None:  # single scale: one analytic law everywhere (cheap per point: no balancing)
        material = build_law(cfg.material, domain.mesh.geometry.dim)
    else:
        assert cfg.rve is not None
        material, rve = build_rve_material(cfg)
        if comm.size > 1 and cfg.rve.balance and not material.is_linear and cfg.rve.reduced is None:
            material = BalancedMaterial(material, comm)
        if rve.dim != domain.mesh.geometry.dim:
            raise ConfigError(f"the RVE is {rve.dim}D but the macro domain is {domain.mesh.geometry.dim}D")
    dirichlet = [Dirichlet(domain.tag(b.boundary), b.value, b.component) for b in cfg.macro.dirichlet]
    tractions = [Traction(domain.tag(t.boundary), t.value) for t in cfg.macro.traction]
    msh, facet_tags, adaptivity = domain.mesh, domain.facet_tags, None
    if cfg.solver.target_error is not None:  # the config checked the monitor and the linear micro models
        assert cfg.loading.monitor is not None
        say(f"adaptive refinement of the macro mesh to a relative error {cfg.solver.target_error:g} of the reaction")
        adapted = adapt_reaction(msh, facet_tags, material, dirichlet=dirichlet, tractions=tractions,
                                 tag=domain.tag(cfg.loading.monitor.boundary), component=cfg.loading.monitor.component,
                                 target_error=cfg.solver.target_error, degree=cfg.macro.degree,
                                 load_factor=1.0, max_steps=cfg.solver.max_refinements + 1, progress=say)
        msh, facet_tags = adapted.mesh, adapted.facet_tags
        adaptivity = {
            "target_error": cfg.solver.target_error, "marking": "Doerfler theta = 0.5 on |eta_K|",
            "load_factor": 1.0,  # linear: the relative estimate and the marking do not depend on it
            "geometry": "refinement keeps the initial mesh's boundary: a curved boundary (the hole) stays its "
                        "polygon, whose geometry error the estimate does not see",
            "steps": [{"dofs": st.dofs, "cells": st.cells, "value": st.estimate.value,
                       "estimate": st.estimate.estimate, "relative_estimate": st.estimate.relative_estimate}
                      for st in adapted.steps]}
    solver = QuasiStaticMacroProblem(msh, facet_tags, material, degree=cfg.macro.degree,
                                     dirichlet=dirichlet, tractions=tractions)
    n_points = comm.allreduce(solver.n_points)
    kind = "linear (C_hom computed once)" if material.is_linear else "nonlinear (one RVE solve per point)"
    if rve is None:
        kind = f"none: single-scale {type(material).__name__} law"
    say(f"macro: {msh.topology.index_map(msh.topology.dim).size_global} cells, {n_points}"
        f" quadrature points on {comm.size} rank(s); RVE {kind}")
    monitor = None
    if cfg.loading.monitor is not None:
        monitor = Monitor(domain.tag(cfg.loading.monitor.boundary), cfg.loading.monitor.component)

    def log(msg: str) -> None:
        solves = comm.allreduce(material.statistics().solves)
        say(f"{msg}   micro solves {solves}")

    records = run_load_steps(solver, cfg.loading.load_factors, out, monitor=monitor, restart=restart,
                             max_cuts=cfg.loading.max_cuts, log=log, micro_points=cfg.output.micro_points,
                             fingerprint=fingerprint(cfg), progress=progress)
    mine = add_statistics(records.statistics_before, material.statistics())
    stats = mine.reduce(comm)
    micro_t = comm.allgather(float(mine.time_s))
    result = {
        "problem": f"fe2 {solver.kinematics.kind.replace('_', ' ')}",
        "notation": ("stress.xdmf field stress_voigt: sigma in Voigt order (11 22 12 / 11 22 33 23 13 12), "
                     "shear components unscaled"
                     if solver.kinematics.kind == "small_strain" else
                     "stress.xdmf field first_piola: the first Piola-Kirchhoff stress P, row-major (P11 P12 P21 ...)"),
        "units": "as given in the config (fe2 does not convert units); reaction: force (per unit thickness in 2D)",
        "ranks": comm.size,
        "macro_quadrature_points": n_points,
        # which integer of the RVE's cell tags (micro_point<k> files, the RVE mesh) is which phase
        "phase_tags": None if rve is None else {name: int(tag) for name, tag in rve.phases.items()},
        "rve": None if rve is None or cfg.rve is None else {
            "linear": bool(material.is_linear), "bc": cfg.rve.bc, "phases": sorted(rve.phases),
            "dofs": int(rve.mesh.topology.index_map(0).size_global * rve.dim)},
        "material": None if rve is not None else {
            "law": type(material).__name__, **(material.describe() if isinstance(material, CauchyBornLaw) else {})},
        "flagged_points": flag_summary(list(records)),
        "steps": list(records),
        "segments": records.segments,
        "micro": {
            "solves": stats.solves,
            "iterations": stats.iterations,
            "hill_mandel_max": stats.hill_mandel_max,
            "hill_mandel_tolerance": MICRO_HILL_MANDEL_TOL,
            "hill_mandel_ok": stats.hill_mandel_max <= MICRO_HILL_MANDEL_TOL,
            "factorizations": stats.factorizations,
            "factorizations_reused": stats.factorizations_reused,
            "time_per_rank_s": micro_t,
            "load_balance": {"min": min(micro_t), "mean": float(np.mean(micro_t)), "max": max(micro_t),
                             "balanced": isinstance(material, BalancedMaterial),
                             "points_lent": stats.points_lent},
        },
        "energy": {**summarize(records),
                   "units": f"sums over the mesh in stress*length^{solver.dim}"
                            + (" (per unit thickness)" if solver.dim == 2 else "")
                            + "; residuals relative to the step's external work; minima per unit volume (stress)",
                   "per_step": "energy_balance.csv and steps[*].energy"},
        "wall_time_s": time.perf_counter() - t0,  # this segment's
        "config": cfg.model_dump(),
    }
    if cfg.rve is not None and cfg.rve.reduced is not None:  # this segment's split of the solves
        split = material.statistics().reduce(comm)
        result["micro"]["reduced"] = {k: getattr(split, k) for k in ("reduced_solves", "full_solves", "out_of_range",
                                                                      "indicator_max")}
    mon_spec = cfg.loading.monitor
    if adaptivity is not None:
        result["adaptivity"] = adaptivity
    if cfg.solver.estimates and monitor is not None and mon_spec is not None:  # the config requires both
        est = reaction_goal_error(solver, monitor.tag, monitor.component, name=mon_spec.boundary)
        result["error_estimate"] = est.to_dict()
        say(f"error estimate: {est.qoi}: J_h {est.value:.6e}, eta {est.estimate:.3e}, J_h + eta {est.corrected:.6e}")
    hm_warning = hill_mandel_warning("micro solves", stats.hill_mandel_max, MICRO_HILL_MANDEL_TOL)
    result["warnings"] = [] if hm_warning is None else [hm_warning]
    audit = result["energy"]
    audit_warning = None
    if audit["available"] and not audit["within_tolerance"]:
        audit_warning = (f"WARNING: the energy audit does not close: balance residual "
                         f"{audit['max_abs_balance_residual']:.1e} > {audit['tolerance']:.0e} of a step's work, or a "
                         "negative dissipation (see energy_balance.csv: equilibrium, Hill-Mandel and constitutive "
                         "parts)")
        result["warnings"].append(audit_warning)
    write_json_atomic(out / "result.json", result, comm)
    if audit_warning is not None:
        say(audit_warning)
    lb = result["micro"]["load_balance"]
    say(f"done: {len(records)} step(s); micro time per rank min/mean/max {lb['min']:.2f}/{lb['mean']:.2f}/"
        f"{lb['max']:.2f} s; Hill-Mandel max {result['micro']['hill_mandel_max']:.1e}"
        + (f"; energy balance max {result['energy']['max_abs_balance_residual']:.1e} (relative), dissipation "
           f"min {min(result['energy']['min_dissipated'], result['energy']['min_numerical']):.1e}"
           if result["energy"]["available"] else ""))
    if hm_warning is not None:
        say(hm_warning)
    return result
