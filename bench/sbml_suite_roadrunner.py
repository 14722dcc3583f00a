"""libroadrunner on the same SBML Test Suite cases and by the same rule as bench/sbml_suite.py.

    python bench/sbml_suite_roadrunner.py [--suite DIR] [--level l3v2] [--cases 1-100] [--jobs 2]
                                          [--json out.json]

Per time-course case: the same SBML file (``--level``, else the highest the case has) is loaded
by ``roadrunner.RoadRunner``, simulated by its CVODE at rtol 1e-10 / atol 1e-6 x the case's
absolute tolerance (fe2's settings in sbml_suite.py) from ``start`` to ``start + duration`` at
``steps + 1`` points, with the selections ``[S]`` (concentration) or ``S`` (amount) as the
case's settings say and plain ids for parameters / compartments, and compared with
NNNNN-results.csv by the suite's rule (:func:`sbml_suite.compare`). Outcomes: ``pass``,
``wrong``, ``error`` (roadrunner raised while loading or simulating).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import multiprocessing as mp
import sys
from collections import Counter
from pathlib import Path

import numpy as np

_spec = importlib.util.spec_from_file_location("fe2_bench_sbml_suite", Path(__file__).with_name("sbml_suite.py"))
assert _spec is not None and _spec.loader is not None
suite = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(suite)


def run_case(case: Path, level: str | None = None) -> tuple[str, str]:
    import roadrunner

    if not suite.is_time_course(case):
        return "skip", "not a time course"
    xml = suite.sbml_file(case, level)
    if xml is None:
        return "skip", f"no {level} file"
    cfg = suite.settings(case)
    try:
        rr = roadrunner.RoadRunner(str(xml))
        species = set(rr.model.getFloatingSpeciesIds()) | set(rr.model.getBoundarySpeciesIds())
        sel = [f"[{v}]" if v in species and v in cfg.get("concentration", []) else v
               for v in cfg["variables"]]
        rr.timeCourseSelections = ["time", *sel]
        rr.integrator.relative_tolerance = 1e-10
        rr.integrator.absolute_tolerance = 1e-6 * cfg["absolute"]
        t0 = cfg["start"]
        got = np.asarray(rr.simulate(t0, t0 + cfg["duration"], cfg["steps"] + 1))[:, 1:]
    except Exception as err:  # noqa: BLE001 -- every failure of the reference tool is counted
        return "error", f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}"[:200]
    return suite.compare(case, cfg, got)


def _job(args):
    case, level = args
    return Path(case).name, *run_case(Path(case), level)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--suite")
    ap.add_argument("--level", choices=suite.LEVELS)
    ap.add_argument("--cases")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--json")
    a = ap.parse_args()
    root = suite.suite_dir(a.suite)
    if root is None:
        sys.exit("SBML Test Suite not found (--suite or FE2_SBML_TEST_SUITE)")
    jobs = [(str(c), a.level) for c in suite._select(root, a.cases)]
    with mp.get_context("fork").Pool(a.jobs, maxtasksperchild=50) as pool:
        rows = [r for r in pool.imap(_job, jobs, chunksize=4) if r[1] != "skip"]
    counts = Counter(r[1] for r in rows)
    print(f"libroadrunner: {len(rows)} time-course cases ({a.level or 'highest level'}): "
          + ", ".join(f"{k} {counts.get(k, 0)}" for k in ("pass", "wrong", "error")))
    if a.json:
        Path(a.json).write_text(json.dumps({n: {"outcome": o, "detail": d} for n, o, d in rows}, indent=1))


if __name__ == "__main__":
    main()
