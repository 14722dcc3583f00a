"""Run fe2's SBML importer on the SBML Test Suite semantic cases and count the outcomes.

    python bench/sbml_suite.py [--suite DIR] [--level l3v2] [--cases 1-100,950] [--jobs 2]
                               [--json out.json] [--list wrong,crash]

The suite (https://github.com/sbmlteam/sbml-test-suite, cases/semantic; LGPL, see its
LICENSE.txt) is read from ``--suite``, the env var ``FE2_SBML_TEST_SUITE`` or
/work/shared/sbml-test-suite; it is never a dependency of fe2.

Per time-course case (``testType: TimeCourse`` in NNNNN-model.m): the SBML file of the level
asked for (``--level``; by default the highest level/version the case has) is imported with
:func:`fe2.physics.reactions.sbml_events.model_from_document` (the importer, events
included), integrated by :func:`solve_ivp_reference` (scipy BDF, analytic Jacobian, rtol 1e-10,
atol 1e-6 x the case's absolute tolerance; with events :meth:`SbmlModel.simulate`, the same BDF
stopped and restarted at every event) from ``start`` to ``start + duration``, and compared with
NNNNN-results.csv at the ``steps + 1`` output times by the suite's own rule from
NNNNN-settings.txt: every variable at every time within ``absolute + relative * |expected|``
(a NaN expected value needs a NaN). Outputs are species amounts (``c * V``) or
concentrations as the settings' ``amount:`` / ``concentration:`` lists say, and the values of
parameters / compartments (assignment-rule values included, through the importer's own
translation of the rule).

Outcomes: ``pass``; ``wrong`` (imported and integrated, outside the tolerance: must be 0);
``refused`` (a one-line ConfigError from the importer, grouped by its message with ids and
numbers blanked); ``crash`` (any other exception, or longer than ``--timeout`` seconds).
Cases of other test types (flux balance) are not counted.
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing as mp
import os
import re
import signal
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

DEFAULT_SUITE = Path("/work/shared/sbml-test-suite")
LEVELS = ("l3v2", "l3v1", "l2v5", "l2v4", "l2v3", "l2v2", "l2v1", "l1v2")


def suite_dir(arg: str | None = None) -> Path | None:
    """The ``cases/semantic`` directory, or None when the suite is not on this machine."""
    for cand in (arg, os.environ.get("FE2_SBML_TEST_SUITE"), str(DEFAULT_SUITE)):
        if not cand:
            continue
        p = Path(cand)
        for sub in (p, p / "semantic", p / "cases" / "semantic"):
            if (sub / "00001" / "00001-settings.txt").is_file():
                return sub
    return None


def settings(case: Path) -> dict:
    out: dict = {}
    for line in (case / f"{case.name}-settings.txt").read_text().splitlines():
        if ":" not in line:
            continue
        key, val = (x.strip() for x in line.split(":", 1))
        if key in ("variables", "amount", "concentration"):
            out[key] = [v.strip() for v in val.split(",") if v.strip()]
        elif key in ("start", "duration", "absolute", "relative"):
            out[key] = float(val)
        elif key == "steps":
            out[key] = int(float(val))
    return out


def is_time_course(case: Path) -> bool:
    text = (case / f"{case.name}-model.m").read_text(errors="replace")
    m = re.search(r"testType:\s*(\S+)", text)
    return bool(m) and m.group(1) == "TimeCourse"


def sbml_file(case: Path, level: str | None) -> Path | None:
    order = ([level] if level else []) + ([] if level else list(LEVELS))
    for lv in order:
        f = case / f"{case.name}-sbml-{lv}.xml"
        if f.is_file():
            return f
    return None


def reason_key(msg: str) -> str:
    """A refusal message with its source, ids and numbers blanked (for grouping)."""
    msg = msg.split(": ", 1)[1] if ": " in msg else msg
    msg = re.sub(r"(?<![A-Za-z0-9])'[^']*'", "'…'", msg)  # ids, not the apostrophe of fe2's
    msg = re.sub(r"\b\d+(\.\d+)?(e[-+]?\d+)?\b", "N", msg)
    return msg


def _outputs(imp, net, vals: dict, cfg: dict, times: np.ndarray, c_eval: np.ndarray, model=None):
    """Columns of the variables in cfg['variables'] at ``times`` (shape (n_t, n_var))."""
    import sympy as sp

    from fe2.physics.reactions.sbml import _sym

    species = net.species_names
    known = {**vals, **imp.local_values, **net.parameters}
    for name in imp.delay_terms:  # delay(x, tau): from the run's history, never a constant
        known.pop(name, None)
    cols = []
    for var in cfg["variables"]:
        if var in species:  # a floating species, or a parameter / species with a rate rule
            col = c_eval[:, species.index(var)]
            if var in imp.species and var in cfg.get("amount", []):
                comp = imp.species[var][0].getCompartment()  # a state where events resize it
                col = col * (c_eval[:, species.index(comp)] if comp in species else known[comp])
            cols.append(col)
            continue
        expr = imp.resolve(imp._name(var, "output", {}))  # rateOf: the network's rates
        if var in imp.species:  # boundary / constant / rule species: value in math is c or c V
            s = imp.species[var][0]
            comp = s.getCompartment()
            hosu = s.getHasOnlySubstanceUnits()
            if var in cfg.get("amount", []) and not hosu:
                expr = expr * _sym(comp)
            elif var in cfg.get("concentration", []) and hosu:
                expr = expr / _sym(comp)
        subs = {}
        for x in expr.free_symbols:
            if x.name in species:
                continue
            if x.name == imp.time_name:  # time in a rule no law uses: not a state, just t
                species = [*species, x.name]
                c_eval = np.concatenate([c_eval, times[:, None]], axis=1)
                continue
            if x.name in imp.delay_terms and model is not None and model.delayed is not None:
                species = [*species, x.name]
                c_eval = np.concatenate([c_eval, model.delayed.columns(x.name, times)[:, None]], axis=1)
                continue
            if x.name not in known:
                raise LookupError(f"output {var!r} needs {x.name!r}, which has no value")
            subs[x] = known[x.name]
        expr = expr.subs(subs)
        syms = [sp.Symbol(n, real=True) for n in species]
        f = sp.lambdify(syms, expr, modules="numpy")
        col = np.broadcast_to(np.asarray(f(*c_eval.T), dtype=float), times.shape)
        cols.append(col)
    return np.stack(cols, axis=1)


def run_case(case: Path, level: str | None = None, timeout: float = 60.0) -> tuple[str, str]:
    """(outcome, detail) of one case: pass / wrong / refused / crash / skip."""
    import libsbml

    from fe2.errors import ConfigError
    from fe2.physics.reactions import solve_ivp_reference
    from fe2.physics.reactions.sbml_events import model_from_document

    if not is_time_course(case):
        return "skip", "not a time course"
    xml = sbml_file(case, level)
    if xml is None:
        return "skip", f"no {level} file"
    cfg = settings(case)

    def on_alarm(*_):
        raise TimeoutError(f"longer than {timeout:g} s")

    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(int(math.ceil(timeout)))
    try:
        doc = libsbml.readSBMLFromFile(str(xml))
        try:
            model = model_from_document(doc, xml.name)
            imp, net = model.importer, model.network
            vals = imp.values
        except ConfigError as err:
            return "refused", str(err)
        n = cfg["steps"]
        t0, t1 = cfg["start"], cfg["start"] + cfg["duration"]
        times = t0 + (t1 - t0) * np.arange(n + 1) / n
        times[-1] = t1
        atol = 1e-6 * cfg["absolute"]
        if model.events or model.delays:  # BDF stopped at triggers / with the history of delay
            try:
                c_eval = model.simulate(times, rtol=1e-10, atol=atol)
            except ConfigError as err:
                return "refused", str(err)
        else:
            c_eval = solve_ivp_reference(net, net.initial, (t0, t1), method="BDF", rtol=1e-10,
                                         atol=atol, t_eval=times).c_eval
        try:
            got = _outputs(imp, net, vals, cfg, times, c_eval, model)
        except LookupError as err:
            return "refused", f"runner: {err}"
        return compare(case, cfg, got)
    except Exception as err:  # noqa: BLE001 -- the point is to count every failure mode
        first = str(err).splitlines()[0] if str(err) else ""
        return "crash", f"{type(err).__name__}: {first}"[:300]
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def compare(case: Path, cfg: dict, got: np.ndarray) -> tuple[str, str]:
    """("pass", "") or ("wrong", where) for ``got`` (n_t, n_var) by the suite's rule."""
    csv = case / f"{case.name}-results.csv"
    header = [h.strip() for h in csv.read_text().splitlines()[0].split(",")]
    ref = np.atleast_2d(np.genfromtxt(csv, delimiter=",", skip_header=1))
    # by position after the time column: a variable may be called "Time" (01820)
    exp = np.stack([ref[:, header.index(v, 1)] for v in cfg["variables"]], axis=1)
    if got.shape != exp.shape:
        return "wrong", f"{got.shape} values, expected {exp.shape}"
    with np.errstate(invalid="ignore"):  # inf - inf
        tol = cfg["absolute"] + cfg["relative"] * np.abs(exp)
        ok = (got == exp) | (np.abs(got - exp) <= tol) | (np.isnan(exp) & np.isnan(got))
    if ok.all():
        return "pass", ""
    i, j = np.argwhere(~ok)[0]
    return "wrong", (f"{cfg['variables'][j]} at t = {ref[i, 0]:g}: {got[i, j]:.8g} vs "
                     f"{exp[i, j]:.8g} (tol {tol[i, j]:.2g})")


def _job(args):
    case, level, timeout = args
    tic = time.perf_counter()
    out, detail = run_case(Path(case), level, timeout)
    return Path(case).name, out, detail, time.perf_counter() - tic


def _select(root: Path, spec: str | None) -> list[Path]:
    cases = sorted(p for p in root.iterdir() if p.is_dir() and p.name.isdigit())
    if not spec:
        return cases
    keep: set[int] = set()
    for part in spec.split(","):
        lo, _, hi = part.partition("-")
        keep |= set(range(int(lo), int(hi or lo) + 1))
    return [c for c in cases if int(c.name) in keep]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--suite")
    ap.add_argument("--level", choices=LEVELS, help="only this level/version (default: highest)")
    ap.add_argument("--cases", help="e.g. 1-100,950")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--timeout", type=float, default=60.0)
    ap.add_argument("--json", help="write every case's outcome here")
    ap.add_argument("--list", default="wrong,crash", help="outcomes to list case by case")
    a = ap.parse_args()
    root = suite_dir(a.suite)
    if root is None:
        sys.exit("SBML Test Suite not found (--suite or FE2_SBML_TEST_SUITE)")
    jobs = [(str(c), a.level, a.timeout) for c in _select(root, a.cases)]
    import fe2.physics.reactions.sbml  # noqa: F401 -- imported before the workers fork
    tic = time.perf_counter()
    pool = mp.get_context("fork").Pool(a.jobs, maxtasksperchild=50)
    rows = list(pool.imap(_job, jobs, chunksize=4))
    pool.close()  # not terminate(): workers exit on their own (no SIGTERM into PETSc's handler)
    pool.join()
    rows = [r for r in rows if r[1] != "skip"]
    counts = Counter(r[1] for r in rows)
    print(f"{len(rows)} time-course cases ({a.level or 'highest level'}) in "
          f"{time.perf_counter() - tic:.0f} s: " + ", ".join(
              f"{k} {counts.get(k, 0)}" for k in ("pass", "wrong", "refused", "crash")))
    show = set(a.list.split(","))
    for name, out, detail, _ in rows:
        if out in show:
            print(f"  {out:7s} {name}: {detail}")
    for out in ("refused", "crash"):
        groups = Counter(reason_key(d) if out == "refused" else d.split(":")[0]
                         for _, o, d, _ in rows if o == out)
        if groups:
            print(f"{out} by reason:")
            for reason, k in groups.most_common():
                print(f"  {k:5d}  {reason}")
    if a.json:
        Path(a.json).write_text(json.dumps(
            {"level": a.level, "counts": dict(counts),
             "cases": {n: {"outcome": o, "detail": d, "seconds": round(s, 3)}
                       for n, o, d, s in rows}}, indent=1))


if __name__ == "__main__":
    main()
