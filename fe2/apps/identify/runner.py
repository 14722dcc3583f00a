"""``fe2 identify``: structural and practical identifiability of a reaction network's parameters.

Steps (all on rank 0 — small dense problems — with the result or the error broadcast to every
rank, so every rank ends alike):

1. structural, local: rank of ``dy/d ln theta / sigma`` at ``structural.points`` random points
   (:func:`~fe2.physics.reactions.identifiability.local_rank_test`) at the design times (or the
   calibration file's);
2. structural, symbolic: the observability rank test of the parameter-augmented system
   (:func:`~fe2.physics.reactions.identifiability.symbolic_rank_test`), when asked for;
3. data: read ``[data]`` files, or simulate ``[synthetic]`` ones (calibration and validation
   from independent seeds, written as CSV with units);
4. fit on the calibration data only; profiles of every parameter; PNG of each;
5. validation: the fitted model's prediction of the validation data, no refit.

Files in ``out``: ``result.json`` (last), ``profile_<name>.png``, ``fit.png`` and with
``[synthetic]`` ``calibration.csv``, ``validation.csv``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from mpi4py import MPI
from scipy.stats import chi2 as chi2_dist

from fe2.apps.identify.data import read_time_course, write_time_course
from fe2.apps.identify.plots import plot_fit, plot_profile, safe_name
from fe2.collective import on_root
from fe2.config.identify import IdentifyConfig
from fe2.io.results import write_json_atomic
from fe2.physics.reactions import profile_likelihood as pl
from fe2.physics.reactions.identifiability import local_rank_test, random_points, symbolic_rank_test
from fe2.physics.reactions.network import Network
from fe2.physics.reactions.sensitivity import SensitivityModel, initial_name

CONVENTIONS = {
    "parameters": "linear values in result.json; fits, profiles and null directions in natural-log coordinates",
    "likelihood": "Gaussian noise with the known sigma of [noise]; 2 Delta NLL = chi2(theta) - chi2_min",
    "intervals": "pointwise profile-likelihood intervals: {theta_j : 2 Delta NLL <= chi2_1(level)}",
    "verdicts": "finite: both interval ends within the bounds; one-sided: one end at a bound; "
                "flat: no end within the bounds (practically non-identifiable)",
    "validation": "prediction of the validation file by the calibration fit, without refitting; "
                  "consistent when chi2 lies in the central 95 % of chi2_N (N data)",
}


def run_identify(cfg: IdentifyConfig, network: Network, comm: MPI.Comm, out: str | Path,
                 progress: Callable[[str], None] | None = None) -> dict:
    """Run ``cfg``; return the result dict also written to ``out/result.json``."""
    say = progress or (lambda msg: None)
    out = Path(out)
    if comm.rank == 0:
        out.mkdir(parents=True, exist_ok=True)
    tic = time.perf_counter()

    def work() -> dict:
        res = _analyse(cfg, network, out, say if comm.rank == 0 else (lambda m: None))
        res.update(ranks=comm.size, wall_time=time.perf_counter() - tic, config=cfg.model_dump(mode="json"))
        write_json_atomic(out / "result.json", res)
        return res

    return on_root(comm, work)


def _metrics(model: SensitivityModel, theta: np.ndarray, data: pl.TimeCourse, sigma: np.ndarray,
             integ: dict[str, Any], n_fitted: int) -> dict:
    sim = model.simulate(theta, data.times, sensitivities=False, **integ)
    res = data.values - sim.y
    r = res / sigma[None, :]
    chi2 = float(np.sum(r**2))
    dof = r.size - n_fitted
    cdf = float(chi2_dist.cdf(chi2, dof)) if dof > 0 else float("nan")
    return {"n_data": int(r.size), "degrees_of_freedom": dof, "chi2": chi2,
            "normalized_chi2": chi2 / dof if dof > 0 else None,
            "chi2_cdf": cdf, "consistent_with_noise_model": bool(0.025 < cdf < 0.975),
            "rmse": dict(zip(data.names, np.sqrt(np.mean(res**2, axis=0)).tolist(), strict=True)),
            "sigma": dict(zip(data.names, sigma.tolist(), strict=True))}


def _analyse(cfg: IdentifyConfig, network: Network, out: Path, say: Callable[[str], None]) -> dict:
    model = SensitivityModel(network, list(cfg.parameters), cfg.observables, list(cfg.initial))
    names = model.theta_names
    specs = [*cfg.parameters.values(), *cfg.initial.values()]
    units = ([s.unit or "-" for s in cfg.parameters.values()]
             + [s.unit or cfg.units.amount for s in cfg.initial.values()])
    lower = np.array([s.lower for s in specs])
    upper = np.array([s.upper for s in specs])
    nominal = model.nominal()
    sigma = np.asarray(cfg.sigma())
    integ: dict[str, Any] = {"method": cfg.integrator.method, "rtol": cfg.integrator.rtol,
                             "atol": cfg.integrator.atol}
    files: list[str] = []
    result: dict = {"conventions": CONVENTIONS, "parameters": names,
                    "units": {"time": cfg.units.time, "amount": cfg.units.amount,
                              **dict(zip(names, units, strict=True))},
                    "observables": {k: str(v) for k, v in model.observables.items()},
                    "bounds": {n: [float(lo), float(hi)] for n, lo, hi in zip(names, lower, upper, strict=True)},
                    "nominal": dict(zip(names, nominal.tolist(), strict=True))}

    cal = val = None
    truth = None
    if cfg.synthetic is not None:
        truth = nominal.copy()
        for k, v in cfg.synthetic.truth.items():
            truth[names.index(k if k in cfg.parameters else initial_name(k))] = v
        assert cfg.design is not None  # the validator requires [design] without [data]
        times = np.linspace(0.0, cfg.design.t_end, cfg.design.n_times)
        seeds = np.random.SeedSequence(cfg.synthetic.seed).spawn(2)
        cal = pl.synthetic_data(model, truth, times, sigma, np.random.default_rng(seeds[0]), **integ)
        val = pl.synthetic_data(model, truth, times, sigma, np.random.default_rng(seeds[1]), **integ)
        write_time_course(out / "calibration.csv", cal, cfg.units.time, cfg.units.amount)
        write_time_course(out / "validation.csv", val, cfg.units.time, cfg.units.amount)
        files += ["calibration.csv", "validation.csv"]
        result["synthetic"] = {"truth": dict(zip(names, truth.tolist(), strict=True)), "seed": cfg.synthetic.seed,
                               "calibration": "calibration.csv", "validation": "validation.csv",
                               "seeds": "calibration and validation noise from SeedSequence(seed).spawn(2)"}
        say(f"synthetic data: {times.size} times x {len(model.observable_names)} observable(s), "
            f"seed {cfg.synthetic.seed}")
    elif cfg.data is not None:
        cal = read_time_course(cfg.data.calibration, cfg, "data.calibration")
        if cfg.data.validation is not None:
            val = read_time_course(cfg.data.validation, cfg, "data.validation")

    times = (np.linspace(0.0, cfg.design.t_end, cfg.design.n_times) if cfg.design is not None
             else cal.times)  # type: ignore[union-attr]  # the validator requires data without [design]
    st = cfg.structural
    pts = random_points(lower, upper, st.points, st.seed)
    local = local_rank_test(model, times, sigma, pts, st.rel_tol, **integ)
    result["structural_local"] = local.to_dict() | {"times": times.tolist()}
    say(f"local rank test: rank {local.rank} of {len(names)} at {st.points} random point(s); "
        f"non-identifiable: {', '.join(n for n, ok in local.identifiable.items() if not ok) or 'none'}")
    sym = None
    if st.symbolic:
        known = ({s.name: s.initial for s in network.species if s.name not in cfg.initial}
                 if st.symbolic_initial == "configured" else None)
        sym = symbolic_rank_test(network, list(cfg.parameters), cfg.observables, seed=st.seed,
                                 max_order=st.max_order, known_initial=known)
        result["structural_symbolic"] = sym.to_dict() | {"initial_state": st.symbolic_initial}
        say(f"symbolic rank test: {sym.status}, rank {sym.rank} of {len(sym.unknowns)} ({sym.reason})")

    verdicts: dict[str, dict] = {}
    for n in names:
        row: dict = {"structural_local": "identifiable" if local.identifiable[n] else "not identifiable"}
        if sym is not None and sym.status != "skipped":
            ok = sym.identifiable.get(n)  # inconclusive: a lower rank bound, only "identifiable" is final
            no = "not identifiable" if sym.status == "conclusive" else "undecided (test inconclusive)"
            row["structural_symbolic"] = None if ok is None else ("identifiable" if ok else no)
        verdicts[n] = row

    if cal is not None:
        prob = pl.LeastSquares(model, cal, sigma, lower, upper, **integ)
        rng = np.random.default_rng(cfg.fit.seed)
        starts = np.vstack([np.log(nominal), np.log(random_points(lower, upper, cfg.fit.starts - 1,
                                                                   int(rng.integers(2**31))))])
        best = pl.fit(prob, starts)
        theta_hat = np.exp(best.log_theta)
        result["calibration"] = best.to_dict(names) | {"metrics": _metrics(model, theta_hat, cal, sigma, integ,
                                                                              len(names))}
        say(f"fit: chi2 = {best.chi2:.4g} on {best.n_data} data, estimate "
            + ", ".join(f"{n} = {v:.4g}" for n, v in zip(names, theta_hat, strict=True)))
        thr = pl.threshold(cfg.profile.level)
        warnings: list[str] = []
        result["profiles"] = {"level": cfg.profile.level, "threshold": thr, "coordinates": "ln theta"}
        for j, n in enumerate(names):
            prof = pl.profile(prob, best, j, level=cfg.profile.level, max_points=cfg.profile.max_points,
                              increment=cfg.profile.increment)
            png = f"profile_{safe_name(n)}.png"
            plot_profile(out / png, prof, units[j], thr, cfg.profile.level, float(theta_hat[j]),
                         None if truth is None else float(truth[j]), (float(lower[j]), float(upper[j])))
            files.append(png)
            result["profiles"][n] = prof.to_dict() | {"png": png}
            verdicts[n].update(practical=prof.verdict, estimate=float(theta_hat[j]),
                               interval=[prof.lower, prof.upper], end_limited_by_bounds_of=prof.limited_by)
            if prof.better_optimum is not None:
                warnings.append(f"profile {n} met chi2 = {prof.better_optimum:.6g} < chi2_min = {best.chi2:.6g}: "
                                "the fit was not the global optimum (raise fit.starts)")
            say(f"profile {n}: {prof.verdict}, interval [{prof.lower}, {prof.upper}]"
                + (f" (ends set by the bounds of {', '.join(prof.limited_by)})" if prof.limited_by else ""))
        if val is not None:
            result["validation"] = _metrics(model, theta_hat, val, sigma, integ, 0)
            m = result["validation"]
            say(f"validation: normalized chi2 = {m['normalized_chi2']:.3g}, consistent with the noise model: "
                f"{m['consistent_with_noise_model']}")
        t_fine = np.linspace(0.0, float(max(cal.times[-1], val.times[-1] if val is not None else 0.0)), 201)
        sim = model.simulate(theta_hat, t_fine, sensitivities=False, **integ)
        plot_fit(out / "fit.png", t_fine, sim.y, cal, val, sigma, cfg.units.time, cfg.units.amount)
        files.append("fit.png")
        result["solves"] = prob.n_solves
        result["warnings"] = warnings
        for w in warnings:
            say(f"warning: {w}")
    result["verdicts"] = verdicts
    result["files"] = [*files, "result.json"]
    return result
