"""``fe2 bounds``: bound-convergence studies over RVE size and random realizations.

What is verified, and why the tolerances are what they are:

* ordering: in EVERY realization of every case (main, contrast sweep, pores)
  KUBC ⪰ periodic ⪰ TUBC as quadratic forms — smallest eigenvalue of each
  difference >= -1e-10 of the tensor (nested discrete spaces make it exact;
  a direct solve leaves round-off);
* Hashin–Shtrikman: for 2D random disks at contrast 10 the periodic mean at the
  largest size lies inside the HS bounds (a theorem for isotropic two-phase
  media; the finite-size mean is checked to have converged within its CI);
* variance exponent: Var[k_eff] ∝ (L/ℓ)^-γ with γ = d = 2 for short-range
  correlation; the slow test (60 realizations, 6 sizes) asserts |γ - 2| <= 0.4,
  the quick one (10-16 realizations, 3 sizes) that γ is within 3 standard errors
  of 2 and above 1.2 (it rules out no decay, γ = 0, and surface-like decay, γ = 1);
* resume: a study stopped mid-way (in process, and killed with SIGKILL) and run
  again gives byte-identical tables to an uninterrupted run; a partial last line
  is ignored; an edited config reuses the finished records;
* distribution: the tables do not depend on the number of ranks (each
  realization is solved on COMM_SELF, bit for bit the same), and sizes solved on
  the whole communicator agree to round-off (1e-9 relative);
* statistics helpers against closed forms and synthetic data; config errors are
  one-line ConfigErrors naming the key.
"""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from mpi4py import MPI

from fe2.apps.bounds import (
    StudyInterrupted,
    build_tasks,
    effective_radius,
    read_records,
    realization_seed,
    run_bounds_study,
)
from fe2.apps.bounds import statistics as st
from fe2.config import BoundsConfig, load_bounds_config, parse_config
from fe2.errors import ConfigError, GeometryError

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
COMM = MPI.COMM_WORLD
TABLES = ("statistics.csv", "gaps.csv", "fits.csv", "realizations.csv")
ORDERING_TOL = 1e-10

CONDUCTIVITY = {"matrix": {"conductivity": 1.0}, "inclusion": {"conductivity": 10.0}}
ELASTIC = {"matrix": {"young": 1.0, "poisson": 0.3}, "inclusion": {"young": 10.0, "poisson": 0.25}}


def _cfg(**kw) -> BoundsConfig:
    base = {
        "physics": "conductivity",
        "dim": 2,
        "sizes": [2, 3],
        "realizations": 3,
        "volume_fraction": 0.3,
        "elements_per_radius": 3,
        "seed": 5,
        "materials": CONDUCTIVITY,
    }
    base.update(kw)
    return BoundsConfig.model_validate(base)


def _shared_dir(factory, name: str) -> Path:
    path = str(factory.mktemp(name, numbered=True)) if COMM.rank == 0 else None
    return Path(COMM.bcast(path, root=0))


def _tables(d: Path) -> dict[str, bytes]:
    return {name: (d / name).read_bytes() for name in TABLES}


def _summary_tables(d: Path) -> dict:
    s = json.loads((d / "summary.json").read_text())
    return {"cases": s["cases"], "contrast": s["contrast"]}


# ------------------------------------------------------------------------------------- config
@pytest.mark.parametrize(
    "edit, needle",
    [
        ({"sizes": [2, 1.0]}, "sizes: every L/ℓ must be > 1"),
        ({"sizes": [2, 2]}, "listed twice"),
        ({"realizations": [3]}, "realizations: 1 counts given for 2 sizes"),
        ({"realizations": 1}, "at least 2 per size"),
        (
            {"materials": {"matrix": {"conductivity": 1.0}, "fibre": {"conductivity": 2.0}}},
            "'matrix' and 'inclusion'",
        ),
        (
            {"materials": {"matrix": {"void": True}, "inclusion": {"conductivity": 2.0}}},
            "matrix cannot be a void",
        ),
        ({"materials": ELASTIC}, "conductivity phases need conductivity"),
        ({"measures": ["bulk"]}, "not available for conductivity"),
        ({"reference_bc": "tubc", "boundary_conditions": ["kubc", "periodic"]}, "reference_bc"),
        ({"contrast": {"ratios": [10], "sizes": [5]}}, "contrast.sizes"),
        ({"contrast": {"ratios": [0.0]}}, "contrast.ratios.0"),
        ({"tolerances": {"gap": 0.05, "cl": 0.9}}, "tolerances.cl: unknown key"),
        ({"volume_fraction": 1.2}, "volume_fraction"),
        ({"dim": 4}, "dim"),
    ],
)
def test_config_errors_are_one_line(edit, needle):
    data = {
        "physics": "conductivity",
        "sizes": [2, 3],
        "realizations": 3,
        "volume_fraction": 0.3,
        "materials": CONDUCTIVITY,
    }
    data.update(edit)
    with pytest.raises(ConfigError) as err:
        parse_config(data, BoundsConfig, "b.toml")
    msg = str(err.value)
    assert "\n" not in msg and msg.startswith("b.toml: ")
    assert needle in msg, msg


@pytest.mark.parametrize(
    "path", sorted((ROOT / "demos" / "configs" / "bounds").glob("*.toml")), ids=lambda p: p.stem
)
def test_example_bounds_configs_parse(path):
    cfg = load_bounds_config(path)
    assert cfg.sizes and cfg.measure_names


def test_defaults_and_derived_values():
    cfg = _cfg(physics="elasticity", materials=ELASTIC)
    assert cfg.measure_names == ["bulk", "shear"] and cfg.reference == "periodic"
    assert cfg.gap_min == pytest.approx(0.05)  # default 0.1 r, r = 0.5
    assert _cfg(boundary_conditions=["kubc", "tubc"]).reference == "kubc"
    assert _cfg(realizations=[4, 7]).realizations_for(3.0) == 7


# ------------------------------------------------------------------------------------- tasks, seeds, geometry
def test_tasks_seeds_deterministic_and_stable_under_edits():
    """Seeds depend on (base seed, size, realization) only: reordering or adding sizes keeps the old keys."""
    a = build_tasks(_cfg(sizes=[2, 3]))
    b = build_tasks(_cfg(sizes=[3, 2, 4]))
    keys_a = {k for t in a for k, _ in t.items}
    keys_b = {k for t in b for k, _ in t.items}
    assert keys_a < keys_b and len(keys_b - keys_a) == 3
    assert realization_seed(5, 2.0, 1) == realization_seed(5, 2.0, 1) != realization_seed(5, 2.0, 2)
    assert realization_seed(5, 2.0, 1) != realization_seed(6, 2.0, 1)
    # a contrast sweep shares the meshes of the main case (one task per realization, several records)
    cfg = _cfg(contrast={"ratios": [1, 100], "pores": True, "sizes": [2], "realizations": 2})
    tasks = build_tasks(cfg)
    shared = [t for t in tasks if t.size == 2.0 and t.realization == 0 and t.geometry["wrap"]]
    assert len(shared) == 1 and len(shared[0].items) == 3  # main, ratio 1, ratio 100
    pores = [t for t in tasks if not t.geometry["wrap"]]
    assert len(pores) == 2  # pores under TUBC: a packing kept off the faces


@pytest.mark.parametrize("dim, size", [(2, 2.0), (2, 3.5), (3, 1.5), (3, 2.5)])
def test_exact_fraction_radius(dim, size):
    """n whole inclusions of the adjusted radius fill exactly the target fraction."""
    cfg = _cfg(dim=dim, sizes=[size], volume_fraction=0.25)
    r, n = effective_radius(cfg, size)
    L = 2 * cfg.radius * size
    unit = math.pi if dim == 2 else 4 * math.pi / 3
    assert n * unit * r**dim / L**dim == pytest.approx(0.25, rel=1e-14)
    assert abs(r / cfg.radius - 1) < 0.25
    r0, n0 = effective_radius(_cfg(dim=dim, sizes=[size], volume_fraction=0.25, exact_fraction=False), size)
    assert r0 == cfg.radius and n0 == n


def test_unwrapped_packing_keeps_off_the_faces():
    from fe2.geometry import random_inclusions

    incs = random_inclusions([4.0, 4.0], 0.5, 0.3, seed=3, min_gap=0.05, face_gap=0.1, wrap=False)
    c = np.array([i.center for i in incs])
    assert len(incs) == round(0.3 * 16 / (math.pi * 0.25))
    assert np.all(c - 0.5 >= 0.1 - 1e-12) and np.all(c + 0.5 <= 4.0 - 0.1 + 1e-12)
    with pytest.raises(GeometryError, match="does not fit inside the box"):
        random_inclusions([1.05, 1.05], 0.5, 0.6, seed=3, min_gap=0.05, wrap=False)


# ------------------------------------------------------------------------------------- statistics
def test_sample_stats_student_t():
    x = np.array([1.0, 2.0, 4.0, 7.0])
    s = st.sample_stats(x)
    sd = np.std(x, ddof=1)
    t = 3.182446305284263  # t_{0.975, 3}
    assert s.mean == 3.5 and s.std == pytest.approx(sd, rel=1e-15)
    assert s.ci == pytest.approx(t * sd / 2, rel=1e-12)
    assert s.pi == pytest.approx(t * sd * math.sqrt(1.25), rel=1e-12)
    assert st.sample_stats([2.0]).std == 0.0 and math.isnan(st.sample_stats([2.0]).ci)


def test_power_law_fit_exact_and_weighted():
    x = np.array([2.0, 3.0, 4.0, 6.0, 8.0])
    f = st.power_law_fit(x, 0.7 * x**-1.3)
    assert f.exponent == pytest.approx(1.3, rel=1e-12) and f.prefactor == pytest.approx(0.7, rel=1e-12)
    assert f.stderr < 1e-10
    fw = st.power_law_fit(x, 0.7 * x**-1.3, sigma_log=np.full(5, 0.1))
    # exact data: chi2 = 0, so the error is the weights' own: 0.1 / sqrt(sum (log x - mean)^2)
    lx = np.log(x)
    assert fw.stderr == pytest.approx(0.1 / np.sqrt(np.sum((lx - lx.mean()) ** 2)), rel=1e-10)
    assert st.size_for_tolerance(f, 0.7 * 10.0**-1.3) == pytest.approx(10.0, rel=1e-10)


def test_variance_power_law_on_synthetic_normal_samples():
    """Normal samples with Var = 0.3 L^-2: the fitted γ is within 3 of its own standard errors of 2
    (200 trials: the pooled mean within 3 standard errors of the mean, i.e. no bias)."""
    rng = np.random.default_rng(0)
    sizes = np.array([2.0, 3.0, 4.0, 6.0, 8.0])
    counts = np.array([40, 30, 20, 12, 6])
    gam, se = [], []
    for _ in range(200):
        v = [
            np.var(rng.normal(0.0, math.sqrt(0.3 * L**-2.0), n), ddof=1)
            for L, n in zip(sizes, counts, strict=True)
        ]
        f = st.variance_power_law(sizes, v, counts)
        gam.append(f.exponent)
        se.append(f.stderr)
    gam = np.array(gam)
    assert abs(gam.mean() - 2.0) < 3 * gam.std() / math.sqrt(gam.size)
    assert np.mean(np.abs(gam - 2.0) <= 1.96 * np.array(se)) > 0.85  # coverage of the 95 % interval


def test_realizations_needed_and_smallest_meeting():
    n = st.realizations_needed(std=0.1, mean=1.0, tol=0.01)
    assert st.t_quantile(n) * 0.1 / math.sqrt(n) <= 0.01 < st.t_quantile(n - 1) * 0.1 / math.sqrt(n - 1)
    assert st.smallest_meeting([2, 4, 8], [0.2, 0.04, 0.03], 0.05) == 4.0
    assert st.smallest_meeting([2, 4, 8], [0.01, 0.06, 0.03], 0.05) == 8.0  # a lucky dip at 2 does not count
    assert st.smallest_meeting([2, 4, 8], [0.2, 0.1, 0.06], 0.05) is None


# ----------------------------------------------------------------- elasticity study with a contrast sweep
@pytest.fixture(scope="module")
def elastic_study(tmp_path_factory):
    out = _shared_dir(tmp_path_factory, "bounds_elastic")
    cfg = _cfg(
        physics="elasticity",
        materials=ELASTIC,
        sizes=[2, 4],
        realizations=4,
        measures=["bulk", "shear", "C11"],
        contrast={"ratios": [1, 100], "pores": True, "sizes": [2, 4], "realizations": 3},
    )
    return cfg, run_bounds_study(cfg, COMM, out), out


def test_every_realization_is_ordered(elastic_study):
    """KUBC ⪰ periodic ⪰ TUBC in every record of every case, pores included."""
    _, summary, out = elastic_study
    records = read_records(out)
    assert len(records) == 4 * 2 + 3 * 2 * 3  # main + (ratio 1, ratio 100, pores)
    for rec in records.values():
        for pair, ev in rec.ordering.items():
            assert ev >= -ORDERING_TOL, (pair, ev, rec.size, rec.realization)
        assert max(rec.hill_mandel.values()) < 1e-10
    for case in summary["cases"].values():
        assert case["ordering"]["violations"] == 0
    # pores under TUBC: kept off the faces, so TUBC is defined
    assert not summary["cases"]["pores"]["wrap"]


def test_hill_mandel_above_tolerance_is_flagged(elastic_study, monkeypatch):
    """The summary flags Hill–Mandel residuals above the declared tolerance (none in the real study;
    a tolerance no residual can meet reaches the flagged path)."""
    import fe2.apps.bounds.summary as summary_mod

    cfg, summary, out = elastic_study
    assert summary["warnings"] == []
    assert all(c["hill_mandel_violations"] == 0 and c["hill_mandel_tolerance"] == 1e-10
               for c in summary["cases"].values())
    monkeypatch.setattr(summary_mod, "hill_mandel_tolerance", lambda kind, rtol: -1.0)
    flagged = summary_mod.summarize(cfg, read_records(out))
    assert flagged["cases"]["main"]["hill_mandel_violations"] == 4 * 2
    assert len(flagged["warnings"]) == len(flagged["cases"])
    assert all("exceeds its tolerance" in w and "\n" not in w for w in flagged["warnings"])


def test_gap_grows_with_contrast_and_vanishes_at_one(elastic_study):
    _, summary, _ = elastic_study
    for m in ("bulk", "shear"):
        by = {c["case"]: c["relative_gap"] for c in summary["contrast"][m]}
        for size in ("2.0", "4.0"):
            assert abs(by["ratio_1"][size]["mean"]) < 1e-10  # homogeneous body: all BCs agree
            assert by["ratio_100"][size]["mean"] > by["main"][size]["mean"] > 0.05
            assert by["pores"][size]["mean"] > 0.05
        # the gap of the main case closes with size
        assert by["main"]["4.0"]["mean"] < by["main"]["2.0"]["mean"]


def test_elastic_means_inside_hashin_shtrikman(elastic_study):
    """Periodic mean bulk and shear moduli at L/ℓ = 4 inside HS (plane strain, measured fraction)."""
    _, summary, _ = elastic_study
    for case in ("main", "ratio_100", "pores"):
        for m in ("bulk", "shear", "C11"):
            b = summary["cases"][case]["reference_bounds"][m]
            assert b["inside_hashin_shtrikman"], (case, m, b)
            lo, hi = b["hashin_shtrikman"]
            assert b["reuss"] <= lo + 1e-12 and hi <= b["voigt"] + 1e-12


def test_report_files(elastic_study):
    _, summary, out = elastic_study
    for name in (*TABLES, "summary.json", "bounds_bulk.png", "variance_shear.png", "contrast_C11.png"):
        assert (out / name).is_file(), name
    assert summary["complete"] and summary["run"]["records_solved"] == 26
    header = (out / "statistics.csv").read_text().splitlines()[0]
    assert header.startswith("case,ratio,size,L,bc,measure,n,mean,std,sem,ci95")
    assert summary["notation"] == "voigt" and summary["measure_definitions"]["bulk"]
    # the phase tags stated are those of a realization's mesh
    from fe2.geometry import random_rve

    rve = random_rve(MPI.COMM_SELF, [2.0, 2.0], 0.4, 0.2, 0.3, seed=1, min_gap=0.05)
    assert summary["phase_tags"] == rve.phases == {"matrix": 1, "inclusion": 2}
    tol = summary["cases"]["main"]["tolerance"]["bulk"]
    assert set(tol) == {"gap", "ci", "single_realization", "mean_converged", "gap_and_ci"}
    assert len(tol["mean_converged"]["drift"]) == 1 and tol["mean_converged"]["relative_to_size"] == 4.0
    # the gap at L/ℓ = 4 is ~0.09 > 0.05 and decays significantly: extrapolated beyond the sizes computed
    assert tol["gap"]["smallest_size"] is None and tol["gap"]["extrapolated_size"] > 4.0


def test_3d_elasticity_runs_and_is_ordered(tmp_path_factory):
    out = _shared_dir(tmp_path_factory, "bounds3d")
    cfg = _cfg(
        physics="elasticity",
        materials=ELASTIC,
        dim=3,
        sizes=[1.5],
        realizations=2,
        volume_fraction=0.2,
        elements_per_radius=2,
    )
    s = run_bounds_study(cfg, COMM, out)
    assert s["cases"]["main"]["ordering"]["violations"] == 0
    assert s["cases"]["main"]["reference_bounds"]["bulk"]["inside_hashin_shtrikman"]


# -------------------------------------------------------------------- conductivity: variance exponent, HS
def _variance_study(out: Path, sizes, realizations, seed=0) -> dict:
    cfg = _cfg(sizes=sizes, realizations=realizations, seed=seed, boundary_conditions=["periodic"])
    return run_bounds_study(cfg, COMM, out)


def test_variance_exponent_quick_and_hs(tmp_path_factory):
    """Quick variant (3 sizes, 16/12/10 realizations): γ consistent with 2 within 3 standard errors and > 1.2;
    the periodic mean at L/ℓ = 8 lies inside HS and agrees with L/ℓ = 4 within the two CIs (converged)."""
    s = _variance_study(_shared_dir(tmp_path_factory, "bounds_var"), [2, 4, 8], [16, 12, 10])
    c = s["cases"]["main"]
    fit = c["fits"]["variance"]["periodic"]["k"]
    assert abs(fit["exponent"] - 2.0) <= 3.0 * fit["stderr"] and fit["exponent"] > 1.2, fit
    assert fit["stderr"] < 0.6  # the check above must be able to tell γ = 2 from γ = 1
    b = c["reference_bounds"]["k"]
    assert b["inside_hashin_shtrikman"], b
    s4, s8 = (e["stats"]["periodic"]["k"] for e in c["sizes"][1:])
    assert abs(s8["mean"] - s4["mean"]) <= s4["ci"] + s8["ci"]


@pytest.mark.slow
def test_variance_exponent_is_dimension(tmp_path_factory):
    """Var[k_eff] of 2D random disks ∝ (L/ℓ)^-γ with |γ - 2| <= 0.4 (6 sizes, 60 realizations each:
    the standard error of γ is ~0.15, so 0.4 is a 2.5-sigma acceptance band around the theory)."""
    s = _variance_study(_shared_dir(tmp_path_factory, "bounds_var_slow"), [2, 3, 4, 6, 8, 12], 60)
    fit = s["cases"]["main"]["fits"]["variance"]["periodic"]["k"]
    assert abs(fit["exponent"] - 2.0) <= 0.4, fit
    assert fit["stderr"] < 0.3
    assert s["cases"]["main"]["reference_bounds"]["k"]["inside_hashin_shtrikman"]


# -------------------------------------------------------------------------------- resume and distribution
def _resume_cfg() -> BoundsConfig:
    return _cfg(
        sizes=[2, 3],
        realizations=4,
        contrast={"ratios": [100], "pores": True, "sizes": [2], "realizations": 2},
    )


def test_resume_after_interruption_gives_the_same_tables(tmp_path_factory):
    cfg = _resume_cfg()
    ref = _shared_dir(tmp_path_factory, "bounds_ref")
    run_bounds_study(cfg, COMM, ref)
    part = _shared_dir(tmp_path_factory, "bounds_part")
    with pytest.raises(StudyInterrupted):
        run_bounds_study(cfg, COMM, part, stop_after=3)
    done = read_records(part)
    assert 0 < len(done) < len(read_records(ref))
    assert not (part / "summary.json").exists()
    if COMM.rank == 0:  # a write cut short by a kill: half a JSON line at the end of a file
        with (part / "realizations.rank0.jsonl").open("a") as fh:
            fh.write('{"key": "abc", "effective": {"kubc": [[1.0')
    COMM.Barrier()
    s = run_bounds_study(cfg, COMM, part)
    assert s["run"]["records_solved"] == s["run"]["records_total"] - len(done)
    assert _tables(part) == _tables(ref)
    assert _summary_tables(part) == _summary_tables(ref)


def test_edited_config_reuses_finished_records(tmp_path_factory):
    out = _shared_dir(tmp_path_factory, "bounds_edit")
    run_bounds_study(_cfg(sizes=[2, 3], realizations=3), COMM, out)
    s = run_bounds_study(_cfg(sizes=[2, 3, 4], realizations=[3, 5, 3]), COMM, out)
    assert s["run"]["records_solved"] == 2 + 3  # two more at L/ℓ = 3, three at 4
    s = run_bounds_study(_cfg(sizes=[2, 3, 4], realizations=[3, 5, 3]), COMM, out)
    assert s["run"]["records_solved"] == 0


@pytest.mark.parallel
def test_tables_do_not_depend_on_the_number_of_ranks(tmp_path_factory):
    """COMM_WORLD (realizations shared out) vs COMM_SELF on rank 0: byte-identical tables."""
    cfg = _resume_cfg()
    world = _shared_dir(tmp_path_factory, "bounds_world")
    run_bounds_study(cfg, COMM, world)
    alone = _shared_dir(tmp_path_factory, "bounds_self")
    same = None
    if COMM.rank == 0:
        run_bounds_study(cfg, MPI.COMM_SELF, alone)
        same = _tables(world) == _tables(alone)
    assert COMM.bcast(same, root=0)


def test_large_sizes_on_the_whole_communicator(tmp_path_factory):
    """parallel.whole_comm_min_size: the L/ℓ = 3 realizations are distributed meshes; same numbers to
    round-off."""
    a = run_bounds_study(_cfg(), COMM, _shared_dir(tmp_path_factory, "bounds_a"))
    b = run_bounds_study(
        _cfg(parallel={"whole_comm_min_size": 3}), COMM, _shared_dir(tmp_path_factory, "bounds_b")
    )
    assert b["run"]["whole_comm_tasks"] == 3
    # a record solved by all ranks together counts once (it counted once per rank: 36 -> 42 on 2 ranks)
    assert b["run"]["records_solved"] == b["run"]["records_total"] == a["run"]["records_solved"]
    for ea, eb in zip(a["cases"]["main"]["sizes"], b["cases"]["main"]["sizes"], strict=True):
        for bc in ("kubc", "periodic", "tubc"):
            sa, sb = ea["stats"][bc]["k"], eb["stats"][bc]["k"]
            assert sb["mean"] == pytest.approx(sa["mean"], rel=1e-9)
            assert sb["std"] == pytest.approx(sa["std"], rel=1e-6, abs=1e-12)


def test_progress_is_a_few_lines_with_the_fraction_and_time_left():
    """100 records solved at once: the first and the last print (no line per record), each with the
    count of records solved, the fraction done and, before the end, the time left."""
    from fe2.apps.bounds.schedule import Progress

    lines: list[str] = []
    prog = Progress(MPI.COMM_SELF, 100, lines.append, every_s=3600.0)
    for k in range(100):
        prog.record((2.0, k, "main", 0, 0.01))
    prog.finish()
    assert len(lines) == 2
    assert lines[0].startswith("records solved 1/100 [1 %") and "left" in lines[0]
    assert lines[1].startswith("records solved 100/100 [100 %]")


def test_failed_realization_raises_on_every_rank(tmp_path_factory):
    """An impossible packing (2 r + min_gap > L) is a GeometryError on every rank, after the rest finished."""
    cfg = _cfg(sizes=[1.05, 2], realizations=2, exact_fraction=False, min_gap=0.2)
    out = _shared_dir(tmp_path_factory, "bounds_fail")
    with pytest.raises(GeometryError, match="does not fit"):
        run_bounds_study(cfg, COMM, out)
    assert len(read_records(out)) == 2  # the L/ℓ = 2 realizations were kept


# ------------------------------------------------------------------------------------- the CLI (subprocesses)
SMALL_TOML = """\
physics = "conductivity"
sizes = [2, 3]
realizations = 4
volume_fraction = 0.3
elements_per_radius = 3
seed = 11

[materials.matrix]
conductivity = 1.0

[materials.inclusion]
conductivity = 10.0

[contrast]
ratios = [1, 30]
pores = true
sizes = [2]
realizations = 3
"""


def _fe2(args: list[str], **kw) -> subprocess.CompletedProcess:
    env = {**os.environ, "MPLBACKEND": "Agg", "OMP_NUM_THREADS": "1"}
    return subprocess.run(
        [str(BIN / "fe2"), *args], capture_output=True, text=True, env=env, timeout=300, **kw
    )


@pytest.mark.serial
def test_cli_bounds_and_kill_resume(tmp_path):
    cfg = tmp_path / "b.toml"
    cfg.write_text(SMALL_TOML)
    run_bounds_study(load_bounds_config(cfg), MPI.COMM_SELF, tmp_path / "ref")  # the uninterrupted reference
    # kill -9 once a few realizations are on disk, then rerun: nothing finished is lost
    env = {**os.environ, "MPLBACKEND": "Agg", "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(
        [str(BIN / "fe2"), "bounds", str(cfg), "--out", str(tmp_path / "run")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    records = tmp_path / "run" / "realizations.rank0.jsonl"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if records.exists() and len(records.read_bytes().splitlines()) >= 4:
            break
        time.sleep(0.01)
    assert proc.poll() is None, "the study finished before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    n_before = len(read_records(tmp_path / "run"))
    assert 4 <= n_before < 17 and not (tmp_path / "run" / "summary.json").exists()
    again = _fe2(["bounds", str(cfg), "--out", str(tmp_path / "run")])
    assert again.returncode == 0, again.stderr
    assert f": {n_before} already on disk, {17 - n_before} to solve" in again.stdout
    assert f"{17 - n_before} record(s) solved" in again.stdout and f"{n_before} reused from disk" in again.stdout
    assert "Var[k] ∝ (L/ℓ)^-γ, periodic: γ =" in again.stdout and "smallest L/ℓ with gap" in again.stdout
    assert _tables(tmp_path / "run") == _tables(tmp_path / "ref")
    # --fresh discards the records and solves everything again
    fresh = _fe2(["bounds", str(cfg), "--out", str(tmp_path / "run"), "--fresh"])
    assert fresh.returncode == 0 and ": 0 already on disk, 17 to solve" in fresh.stdout
    assert _tables(tmp_path / "run") == _tables(tmp_path / "ref")


@pytest.mark.serial
def test_cli_bounds_bad_config_is_one_line(tmp_path):
    cfg = tmp_path / "b.toml"
    cfg.write_text(SMALL_TOML.replace("sizes = [2, 3]", "sizes = [2, 3]\nsize_list = [4]"))
    proc = _fe2(["bounds", str(cfg), "--out", str(tmp_path / "o")])
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0] == f"fe2: error: {cfg}: size_list: unknown key", proc.stderr
