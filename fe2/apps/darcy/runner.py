"""``fe2 darcy``: tissue perfusion from a validated config — geometry, K (tissue or micro Stokes cells),
Darcy solve with its conservation audit, optional solute transport, and the files a user opens.

Files written to ``out`` (SI throughout; p also in mmHg where printed):

* ``fields.bp`` (VTX, ParaView): pressure ``p`` [Pa], velocity ``u`` [m/s], fibre fraction
  ``fibre_fraction`` [-] and ``K_xx`` [m²/(Pa·s)] when K comes from micro cells, solute ``c``,
  the DWR cell indicators ``dwr_indicator`` with ``[solver] error_estimate`` (:mod:`fe2.apps.darcy.estimate`);
* ``result.json``: units, mesh, tissue data per region, K per region (tensor, SI), the
  permeability cache summary (K/a² per distinct fibre fraction, cell solves, cache hits),
  the fluid audit, timings, the Baxter–Jain comparison where it applies, the solute audit,
  ``error_estimate`` (and ``adaptivity`` for ``target_error`` runs);
* ``profile.csv`` / ``profile.png``: radial pressure profile (tumour_in_host domains), with the
  Baxter–Jain analytic profile for an isolated uniform tumour;
* ``solute_audit.csv`` when ``[solute]`` is given; ``darcy_transient.csv`` (fluid balance per
  step, with the storage rate) for ``[transient]`` runs.

``result.json`` is written last, atomically: a directory without it is an unfinished run.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Literal, cast

import numpy as np
import ufl
from mpi4py import MPI

from fe2.analytic.perfusion import baxter_jain_pressure, baxter_jain_surface_velocity
from fe2.apps.darcy import estimate, output
from fe2.config.darcy import DarcyConfig, RadialFraction, TissueSpec
from fe2.errors import ConfigError, SolverError
from fe2.geometry.tissue import TissueMesh, tissue_from_msh, tumour_in_host
from fe2.io.progress import progress_bar
from fe2.io.results import write_csv_atomic, write_json_atomic
from fe2.materials.contract import LinearTransportLaw
from fe2.materials.state import StateStore
from fe2.physics.darcy import units
from fe2.physics.darcy.bcs import FluxBC, PressureBC
from fe2.physics.darcy.coefficients import QuadratureConductivity
from fe2.physics.darcy.micro_permeability import MicroPermeability
from fe2.physics.darcy.problem import DarcyProblem, DarcyResult
from fe2.physics.darcy.properties import TissueProperties
from fe2.physics.darcy.transport import SoluteProperties, SoluteTransport
from fe2.quadrature import QuadratureFields, evaluate_into

#: most distinct fibre fractions solved one by one in 'exact' mode before asking for 'interpolate'
MAX_EXACT_CELLS = 64

UNITS = {"length": "m", "pressure": "Pa", "time": "s", "velocity": "m/s", "K": "m^2/(Pa s) (= k/mu)",
         "permeability_k": "m^2", "mmHg": units.MMHG, "note": "all values SI; 1 mmHg = 133.322 Pa"}


def build_domain(cfg: DarcyConfig, comm: MPI.Comm) -> TissueMesh:
    d = cfg.domain
    if d.kind == "msh":
        return tissue_from_msh(comm, d.file)
    return tumour_in_host(comm, dim=d.dim, tumour_radius=d.tumour_radius, host_radius=d.host_radius,
                          mesh_size=d.mesh_size, tumour_mesh_size=d.tumour_mesh_size,
                          geometry_order=d.geometry_order)


def tissue_properties(spec: TissueSpec) -> TissueProperties:
    """Preset (Baxter & Jain 1989, converted to SI) overridden by the explicit SI fields."""
    base = {}
    if spec.preset is not None:
        kind = cast(Literal["tumour", "normal"], spec.preset.removeprefix("baxter_jain_"))  # preset: baxter_jain_<kind>
        base = TissueProperties.baxter_jain(kind).to_dict()
        base = {k: base[k] for k in TissueProperties.__dataclass_fields__}
    for k in TissueProperties.__dataclass_fields__:
        v = getattr(spec, k)
        if v is not None:
            base[k] = v
    K = np.asarray(base["K"], dtype=float)
    base["K"] = float(K) if K.ndim == 0 else tuple(map(tuple, K.tolist()))
    return TissueProperties(**base)


def _fraction_at(spec: float | RadialFraction, x: np.ndarray) -> np.ndarray:
    if isinstance(spec, RadialFraction):
        r = np.linalg.norm(x, axis=1)
        (r0, r1), (c0, c1) = spec.radii, spec.values
        s = np.clip((r - r0) / (r1 - r0), 0.0, 1.0)
        return c0 + s * (c1 - c0)
    return np.full(x.shape[0], float(spec))


def micro_conductivity(cfg: DarcyConfig, tm: TissueMesh, tissue: dict[int, TissueProperties],
                       comm: MPI.Comm, quadrature_degree: int = 2
                       ) -> tuple[QuadratureFields, np.ndarray, np.ndarray, MicroPermeability]:
    """K = k(c)/μ at every owned quadrature point from micro Stokes cells (regions without a fibre
    fraction keep their tissue K). Returns (QuadratureFields holding K, fractions (n,) and K (n, d, d)
    per owned point — NaN fraction where the tissue K is used — and the permeability model).

    Both kinds of region go through the micro–macro contract: a tissue region is a
    :class:`~fe2.materials.contract.LinearTransportLaw` of its K, the micro regions one
    :class:`~fe2.physics.darcy.micro_permeability.MicroPermeability` whose point data are the
    fibre fractions. Both are linear: evaluated once, at ∇p = 0 (flux 0), their tangents are K.
    """
    spec = cfg.permeability
    if spec is None:
        raise ConfigError("micro_conductivity needs a [permeability] table")
    msh = tm.mesh
    gdim = msh.geometry.dim
    model = MicroPermeability(spec.fibre_radius, spec.viscosity, comm, arrangement=spec.arrangement, dim=gdim,
                              mesh_size=spec.cell_mesh_size, mode=spec.mode,
                              c_range=cast(tuple[float, float], tuple(spec.c_range)) if spec.c_range else (0.05, 0.5),
                              n_nodes=spec.n_nodes)  # PermeabilitySpec: c_range has two entries
    q = QuadratureFields(msh, quadrature_degree, gdim)
    x = q.evaluate(q.expression(ufl.SpatialCoordinate(msh)))
    tag_of_point = _region_tag_of_points(q, tm)
    fractions = np.full(x.shape[0], np.nan)
    grad_p = np.zeros((x.shape[0], gdim))  # linear models: evaluated once, at ∇p = 0
    tissue_parts = []
    for name, tag in tm.regions.items():
        pts = np.flatnonzero(tag_of_point == tag)
        if name in spec.fibre_fraction:
            fractions[pts] = _fraction_at(spec.fibre_fraction[name], x[pts])
        else:
            tissue_parts.append((LinearTransportLaw(tissue[tag].K_tensor(gdim), kind="darcy"), pts))
    micro = np.flatnonzero(~np.isnan(fractions))
    if spec.mode == "exact":
        distinct = np.unique(np.concatenate(comm.allgather(np.unique(fractions[micro]))))
        if distinct.size > MAX_EXACT_CELLS:
            raise ConfigError(f"permeability: {distinct.size} distinct fibre fractions would need as many cell "
                              f"solves (limit {MAX_EXACT_CELLS} in mode 'exact'); use mode = 'interpolate'")
    for law, pts in tissue_parts:  # the same regions, in the same order, on every rank (collective)
        evaluate_into(q, StateStore(law, pts.size), grad_p[pts], points=pts, raise_as=None)
    store = StateStore(model, micro.size, point_data={"fibre_fraction": fractions[micro]})
    evaluate_into(q, store, grad_p[micro], points=micro, raise_as=None)
    _, K = q.values()
    return q, fractions, K, model


def _region_tag_of_points(q: QuadratureFields, tm: TissueMesh) -> np.ndarray:
    """Region tag of every owned quadrature point, shape (n_points,)."""
    n_owned = q.owned_cells.size
    tag_of_cell = np.zeros(n_owned, dtype=np.int64)
    sel = tm.cell_tags.indices < n_owned
    tag_of_cell[tm.cell_tags.indices[sel]] = tm.cell_tags.values[sel]
    return np.repeat(tag_of_cell, q.n_qp)


def _region_mean(values: np.ndarray, q: QuadratureFields, tm: TissueMesh, comm: MPI.Comm) -> dict[str, list]:
    """Mean over each region's quadrature points of per-point values (n, ...) (collective)."""
    tag_of_point = _region_tag_of_points(q, tm)
    out = {}
    for name, tag in tm.regions.items():
        pts = tag_of_point == tag
        local = values[pts].sum(axis=0) if pts.any() else np.zeros(values.shape[1:])
        n = comm.allreduce(int(pts.sum()))
        out[name] = (comm.allreduce(np.asarray(local), op=MPI.SUM) / max(n, 1)).tolist()
    return out


def baxter_jain_comparison(cfg: DarcyConfig, tissue: dict[int, TissueProperties], res: DarcyResult,
                           r: np.ndarray, p_num: np.ndarray) -> dict | None:
    """Analytic comparison for an isolated uniform tumour (one region, isotropic tissue K, p = 0 on the
    surface, no lymphatics); None otherwise.
    """
    d = cfg.domain
    if (d.kind != "tumour_in_host" or d.host_radius is not None or len(tissue) != 1 or cfg.permeability
            or cfg.transient is not None):
        return None
    props = next(iter(tissue.values()))
    bcs = cfg.boundary
    if props.L_pL_SV != 0 or np.asarray(props.K).ndim != 0 or not (
            len(bcs) == 1 and bcs[0].pressure == 0.0):
        return None
    R, alpha = d.tumour_radius, props.alpha(d.tumour_radius)
    p_exact = baxter_jain_pressure(r, R, alpha, props.p_e, dim=d.dim)
    ok = np.isfinite(p_num)
    u_R = baxter_jain_surface_velocity(R, alpha, props.p_e, props.K_scalar(), dim=d.dim)
    # L2 error over the tumour, the exact profile interpolated in P3 (its own error ~ h^4: negligible)
    from dolfinx import fem

    msh = res.p.function_space.mesh
    pe = fem.Function(fem.functionspace(msh, ("Lagrange", 3)))
    pe.interpolate(lambda x: baxter_jain_pressure(np.linalg.norm(x[:d.dim], axis=0), R, alpha, props.p_e,
                                                  dim=d.dim))
    comm = msh.comm
    err2 = comm.allreduce(fem.assemble_scalar(fem.form((res.p - pe) ** 2 * ufl.dx)), op=MPI.SUM)
    ref2 = comm.allreduce(fem.assemble_scalar(fem.form(pe**2 * ufl.dx)), op=MPI.SUM)
    return {"alpha": alpha, "p_e_Pa": props.p_e, "surface_velocity_exact_m_s": u_R,
            "pressure_L2_rel_error": float(np.sqrt(err2 / ref2)),
            "profile_max_abs_error_Pa": float(np.max(np.abs(p_num[ok] - p_exact[ok]))),
            "profile_note": "pointwise samples of p (piecewise constant for 'mixed': O(h) pointwise)",
            "p_exact": p_exact}


def _micro_fields(tm: TissueMesh, q, fractions, K_points) -> dict:
    """``fibre_fraction`` and ``K_xx`` as DG0 cell means of the point values (K from micro cells), or {}."""
    if q is None:
        return {}
    from dolfinx import fem

    Q0 = fem.functionspace(tm.mesh, ("DG", 0))
    cf = fem.Function(Q0, name="fibre_fraction")
    kxx = fem.Function(Q0, name="K_xx")
    assert fractions is not None and K_points is not None  # set together with q
    n_owned = q.owned_cells.size
    dofs = Q0.dofmap.list[q.owned_cells, 0]  # cell means of the point values
    cf.x.array[dofs] = np.nan_to_num(fractions, nan=0.0).reshape(n_owned, q.n_qp).mean(axis=1)
    kxx.x.array[dofs] = K_points[:, 0, 0].reshape(n_owned, q.n_qp).mean(axis=1)
    cf.x.scatter_forward()
    kxx.x.scatter_forward()
    return {"fibre_fraction": cf, "K_xx": kxx}


def run_darcy(cfg: DarcyConfig, comm: MPI.Comm, out: str | Path,
              progress: Callable[[str], None] | None = None) -> dict:
    """Run a perfusion study (collective) and write its files to ``out``; returns the result record."""
    say = progress or (lambda msg: None)
    out = Path(out)
    if comm.rank == 0:
        out.mkdir(parents=True, exist_ok=True)
        (out / "result.json").unlink(missing_ok=True)  # a directory without it is unfinished
    comm.Barrier()
    t0 = time.perf_counter()
    tm = build_domain(cfg, comm)
    gdim = tm.mesh.geometry.dim
    n_cells = comm.allreduce(tm.mesh.topology.index_map(tm.mesh.topology.dim).size_local)
    say(f"mesh: {gdim}D, {n_cells} cells, regions {', '.join(sorted(tm.regions))}, "
        f"boundaries {', '.join(sorted(tm.boundaries))}")
    missing = sorted(set(tm.regions) - set(cfg.tissue))
    if missing:
        raise ConfigError(f"[tissue] has no data for region(s) {missing} of the mesh")
    tissue = {tm.region(name): tissue_properties(spec) for name, spec in cfg.tissue.items()}
    bcs = [PressureBC(tm.tag(b.name), b.pressure) if b.pressure is not None
           else FluxBC(tm.tag(b.name), cast(float, b.flux))  # BoundarySpec: exactly one of pressure and flux
           for b in cfg.boundary]

    record: dict = {"units": UNITS, "formulation": cfg.formulation, "degree": cfg.degree,
                    "mesh": {"dim": gdim, "cells": n_cells, **tm.description},
                    "tissue": {name: tissue[tm.region(name)].to_dict() for name in cfg.tissue}}
    K_field, q, fractions, K_points, model = None, None, None, None, None
    if cfg.permeability is not None:
        t1 = time.perf_counter()
        q, fractions, K_points, model = micro_conductivity(cfg, tm, tissue, comm)
        K_field = QuadratureConductivity.from_fields(q)
        interp_error = model.interpolation_error() if model.mode == "interpolate" else None
        perm = model.summary()
        if interp_error is not None:
            perm["interpolation_max_rel_error"] = interp_error
        perm["time_s"] = time.perf_counter() - t1
        perm["K_mean_per_region"] = _region_mean(K_points, q, tm, comm)
        record["permeability"] = perm
        say(f"permeability from {model.stats.cell_solves} micro Stokes cell(s) ({model.mode}), "
            f"{model.stats.cache_hits} cache hits, {perm['time_s']:.1f} s")

    goal = None
    if cfg.solver.target_error is not None:
        tm, problem, res, goal, record["adaptivity"] = estimate.adaptive_solve(cfg, tm, tissue, bcs, say)
        record["mesh"] = {"dim": gdim, "cells": comm.allreduce(tm.mesh.topology.index_map(gdim).size_local),
                          **tm.description}
    else:
        problem = DarcyProblem(tm.mesh, tm.cell_tags, tm.facet_tags, tissue, bcs=bcs, formulation=cfg.formulation,
                               degree=cfg.degree, K_field=K_field)
    static = _micro_fields(tm, q, fractions, K_points)
    frames: list[output.FieldFrames] = []  # the fields series, opened at its first frame

    def frame(sources: dict, t: float) -> None:
        if not frames:
            shapes = {"p": (), "u": (gdim,), **dict.fromkeys(static, ())}
            if goal is not None:
                shapes["dwr_indicator"] = ()
            if cfg.solute is not None:
                shapes["c"] = ()
            frames.append(output.FieldFrames(out / "fields", tm.mesh, shapes, degree=max(1, cfg.degree)))
        frames[0].write({**static, **sources}, t)

    if cfg.transient is None:
        if goal is None:
            res = problem.solve()
            if cfg.solver.estimates:
                goal = estimate.estimate(cfg, tm, problem)
        say(f"darcy: {res.audit.summary()}")
        if goal is not None:
            record["error_estimate"] = goal.to_dict()
            say(f"error estimate: {goal.qoi}: J_h {goal.value:.6e}, eta {goal.estimate:.3e}, "
                f"J_h + eta {goal.corrected:.6e} ({goal.units}), sum |eta_K| {goal.sum_abs_indicators:.3e}")
    else:
        tr_cfg = cfg.transient
        problem.set_pressure(tr_cfg.initial_pressure)
        rows = []
        bar = progress_bar(progress, "flow t", tr_cfg.n_steps * tr_cfg.dt, of="of the transient")
        for k in range(tr_cfg.n_steps):
            res = problem.step(tr_cfg.dt)
            a = res.audit
            if not np.isfinite(a.relative_residual):
                raise SolverError(f"transient Darcy step {k + 1}: the balance residual is not finite (NaN/inf)")
            t_k = (k + 1) * tr_cfg.dt
            rows.append([t_k, a.starling_inflow, a.lymphatic_drainage, a.boundary_outflow,
                         a.storage_rate, a.relative_residual])
            if (k + 1) % cfg.output.fields_every == 0 or k == tr_cfg.n_steps - 1:
                frame({"p": res.p, "u": res.u}, t_k)
            bar.update(t_k, f"darcy: t = {t_k:.4g} s, {a.summary()}  [{bar.eta(t_k)}]",
                       force=k == tr_cfg.n_steps - 1 or (k + 1) % max(1, tr_cfg.n_steps // 5) == 0)
        bar.close()
        write_csv_atomic(out / "darcy_transient.csv", ["time_s", "starling_inflow", "lymphatic_drainage",
                                                       "boundary_outflow", "storage_rate", "relative_residual"],
                         rows, comm)
        record["transient"] = {"dt_s": tr_cfg.dt, "steps": tr_cfg.n_steps, "file": "darcy_transient.csv",
                               "max_relative_residual": max(r[-1] for r in rows)}
    record["darcy"] = res.to_dict()

    if goal is not None:
        static["dwr_indicator"] = estimate.indicator_field(goal, problem)
    t_flow = cfg.transient.n_steps * cfg.transient.dt if cfg.transient is not None else 0.0
    if cfg.solute is None and cfg.transient is None:
        frame({"p": res.p, "u": res.u}, 0.0)  # the steady state: one frame

    if cfg.domain.kind == "tumour_in_host":
        R_out = cfg.domain.host_radius or cfg.domain.tumour_radius
        r, p_num = output.radial_profile(res.p, R_out, n=cfg.output.profile_points)
        bj = baxter_jain_comparison(cfg, tissue, res, r, p_num)
        p_exact = bj.pop("p_exact") if bj else None
        output.write_radial_profile(out / "profile", r, p_num, p_exact, comm)
        record["radial_profile"] = {"file": "profile.csv", "p_center_Pa": float(p_num[0]),
                                    "p_center_mmHg": float(p_num[0]) / units.MMHG}
        if bj:
            record["baxter_jain"] = bj
            say(f"Baxter-Jain (alpha {bj['alpha']:.3g}): relative L2 pressure error {bj['pressure_L2_rel_error']:.2e}")

    if cfg.solute is not None:
        s = cfg.solute
        props = SoluteProperties(D=s.D, uptake=s.uptake, PS_V=s.PS_V, sigma_f=s.sigma_f)
        tr = SoluteTransport.from_darcy(res, tm.cell_tags, dict.fromkeys(tissue, props), dt=s.dt, theta=s.theta,
                                        c_vessel=s.c_vessel)
        solute_rows, worst = [], 0.0
        flow = {"p": res.p, "u": res.u}
        if cfg.transient is None:  # after a transient, its last frame (c = 0) is the injection time already
            frame({**flow, "c": tr.c}, tr.t)  # injection: the solute's initial field (c = 0)
        bar = progress_bar(progress, "solute t", s.n_steps * s.dt, of="of the solute run")
        for k in range(s.n_steps):
            solute_audit = tr.step()
            row = solute_audit.to_dict()
            solute_rows.append(row)
            if not np.isfinite(row["relative_residual"]):
                raise SolverError(f"solute transport step {k + 1}: the balance residual is not finite (NaN/inf)")
            worst = max(worst, abs(row["relative_residual"]))
            if (k + 1) % cfg.output.fields_every == 0 or k == s.n_steps - 1:
                frame({**flow, "c": tr.c}, t_flow + tr.t)
            bar.update(tr.t, f"solute: step {k + 1}/{s.n_steps}, t = {tr.t:.4g} s, relative balance residual "
                             f"{worst:.1e}  [{bar.eta(tr.t)}]",
                       force=k == s.n_steps - 1 or (k + 1) % max(1, s.n_steps // 5) == 0)
        bar.close()
        write_csv_atomic(out / "solute_audit.csv", list(solute_rows[0]), [list(r.values()) for r in solute_rows], comm)
        record["solute"] = {"steps": s.n_steps, "t_end_s": tr.t, "final": solute_rows[-1],
                            "max_relative_residual": worst, "file": "solute_audit.csv"}

    frames[0].close()
    record["fields_series"] = {
        "files": ["fields.bp", "fields.pvd"], "times": frames[0].times, "fields": list(frames[0].targets),
        "note": "one frame per output step ([output] fields_every) of every field, in DG_k; time in s: the "
                "transient flow's time, then (with [solute]) the solute's from its injection at the end of the "
                "flow (t = flow time + solute time, one frame at the injection), carried by the final flow field; c "
                "is 0 before and at the injection; a steady run without solute has one frame at t = 0"}
    record["time_s"] = time.perf_counter() - t0
    record["files"] = sorted(["fields.bp", "fields.pvd"]
                             + (["profile.csv", "profile.png"] if "radial_profile" in record else [])
                             + (["solute_audit.csv"] if cfg.solute else [])
                             + (["darcy_transient.csv"] if cfg.transient else []) + ["result.json"])
    write_json_atomic(out / "result.json", record, comm)
    return record
