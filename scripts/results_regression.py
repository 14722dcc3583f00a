"""Run every example config and compare the numbers of two such runs (refactoring guard).

    python scripts/results_regression.py run OUT_DIR [--only SUBSTRING]
    python scripts/results_regression.py compare BASE_DIR NEW_DIR

``run`` executes each TOML under ``demos/configs`` with the ``fe2`` subcommand it
belongs to and keeps every JSON result it writes (result.json, summary.json,
homogenization.json …) as ``OUT_DIR/<config stem>/``. Configs whose full size
takes tens of minutes (PFHub to t = 1e4, bound studies with hundreds of
realizations) are shrunk by the line substitutions in :data:`SHRINK` — the same
substitutions in both runs, so the comparison is still like for like.

``compare`` walks both trees, pairs every number at the same JSON path and
prints the largest absolute and relative differences (relative to
max(|a|, |b|, 1e-300)); keys that hold wall or CPU times, dates and paths are
skipped. Exit code 1 when a path or file exists on one side only.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = ROOT / "demos" / "configs"

#: config path (relative to demos/configs) -> list of (regex, replacement) on its lines
SHRINK: dict[str, list[tuple[str, str]]] = {
    "phasefield/pfhub_bm1a.toml": [(r"^cells = .*", "cells = [50, 50]"), (r"^t_end = .*", "t_end = 20.0"),
                                   (r"^times = .*", "times = [1.0, 5.0, 10.0, 20.0]")],
    "phasefield/pfhub_bm1b.toml": [(r"^cells = .*", "cells = [50, 50]"), (r"^t_end = .*", "t_end = 20.0"),
                                   (r"^times = .*", "times = [1.0, 5.0, 10.0, 20.0]")],
    "phasefield/pfhub_bm1a_homogenize.toml": [(r"^cells = .*", "cells = [50, 50]"), (r"^t_end = .*", "t_end = 50.0"),
                                              (r"^times = .*", "times = [0.0, 25.0, 50.0]")],
    "bounds/random_disks_elastic.toml": [(r"^sizes = \[2, 3, 4, 6, 8\]", "sizes = [2, 3]"),
                                         (r"^realizations = \[.*", "realizations = 3"),
                                         (r"^sizes = \[2, 4, 8\]", "sizes = [2, 3]"),
                                         (r"^realizations = 12", "realizations = 2"),
                                         (r"^ratios = .*", "ratios = [1, 3]")],
    "bounds/random_disks_conductivity.toml": [(r"^sizes = \[2, 3, 4, 6, 8\]", "sizes = [2, 3]"),
                                              (r"^realizations = 20", "realizations = 3"),
                                              (r"^sizes = \[2, 4, 8\]", "sizes = [2, 3]"),
                                              (r"^realizations = 10", "realizations = 2"),
                                              (r"^ratios = .*", "ratios = [1, 3]")],
    "bounds/random_spheres_elastic_3d.toml": [(r"^sizes = .*", "sizes = [1.5, 2]"),
                                              (r"^realizations = .*", "realizations = 2")],
}

#: keys whose values are timings, dates, versions or paths: not compared
SKIP_KEY = re.compile(
    r"(time|timing|busy|_s$|seconds|date|version|path|file|host|elapsed|wall|cpu|started|finished)", re.I
)


def command_of(rel: str) -> str:
    top = rel.split("/")[0]
    return {"bounds": "bounds", "darcy": "darcy", "phasefield": "phasefield", "reactions": "reactions",
            "run": "run"}.get(top, "homogenize")


def run_all(out: Path, only: str | None) -> int:
    out.mkdir(parents=True, exist_ok=True)
    fe2 = Path(sys.executable).with_name("fe2")
    failed = 0
    for path in sorted(CONFIGS.rglob("*.toml")):
        rel = path.relative_to(CONFIGS).as_posix()
        if rel.startswith("reactions/networks/") or (only and only not in rel):
            continue
        stem = rel.removesuffix(".toml").replace("/", "__")
        text = path.read_text()
        for pat, rep in SHRINK.get(rel, []):
            text, n = re.subn(pat, rep, text, flags=re.M)
            if n == 0:
                raise SystemExit(f"{rel}: shrink pattern {pat!r} matched nothing")
        cfg = path.with_name(f".regression_{path.stem}.tmp")  # beside the original: relative mesh paths still resolve
        cfg.write_text(text)
        target = out / stem
        try:
            proc = subprocess.run([str(fe2), command_of(rel), str(cfg), "--out", str(target)],
                                  capture_output=True, text=True, env={**os.environ, "CI": "1"})
        finally:
            cfg.unlink()
        status = "ok" if proc.returncode == 0 else f"FAILED rc={proc.returncode}: {proc.stderr.strip()[-300:]}"
        failed += proc.returncode != 0
        print(f"{rel:55s} {status}", flush=True)
    return 1 if failed else 0


def _numbers(obj, prefix=""):
    if isinstance(obj, dict):
        for k, v in obj.items():
            if SKIP_KEY.search(str(k)):
                continue
            yield from _numbers(v, f"{prefix}/{k}")
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from _numbers(v, f"{prefix}[{i}]")
    elif isinstance(obj, bool) or obj is None:
        yield prefix, obj
    elif isinstance(obj, (int, float)):
        yield prefix, float(obj)
    else:
        yield prefix, obj


def compare(a: Path, b: Path) -> int:
    def results(root: Path) -> set[Path]:  # ADIOS2's profiling.json holds only timings
        return {p.relative_to(root) for p in root.rglob("*.json")
                if "checkpoint" not in p.parts and p.name != "profiling.json"}

    files_a, files_b = results(a), results(b)
    bad = 0
    for only in sorted(files_a ^ files_b):
        print(f"only in {'base' if only in files_a else 'new'}: {only}")
        bad = 1
    worst_abs, worst_rel = (0.0, ""), (0.0, "")
    n = 0
    for rel in sorted(files_a & files_b):
        na = dict(_numbers(json.loads((a / rel).read_text())))
        nb = dict(_numbers(json.loads((b / rel).read_text())))
        for key in sorted(set(na) ^ set(nb)):
            print(f"{rel}: key {key} on one side only")
            bad = 1
        for key in set(na) & set(nb):
            x, y = na[key], nb[key]
            if isinstance(x, float) and isinstance(y, float):
                n += 1
                if math.isnan(x) and math.isnan(y):
                    continue
                d = abs(x - y)
                r = d / max(abs(x), abs(y), 1e-300)
                if d > worst_abs[0]:
                    worst_abs = (d, f"{rel}:{key} {x!r} vs {y!r}")
                if r > worst_rel[0]:
                    worst_rel = (r, f"{rel}:{key} {x!r} vs {y!r}")
            elif x != y:
                print(f"{rel}:{key} differs: {x!r} vs {y!r}")
                bad = 1
    print(f"{len(files_a & files_b)} files, {n} numbers compared")
    print(f"largest absolute difference {worst_abs[0]:.3e}  {worst_abs[1]}")
    print(f"largest relative difference {worst_rel[0]:.3e}  {worst_rel[1]}")
    return bad


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="what", required=True)
    r = sub.add_parser("run")
    r.add_argument("out", type=Path)
    r.add_argument("--only")
    c = sub.add_parser("compare")
    c.add_argument("base", type=Path)
    c.add_argument("new", type=Path)
    args = p.parse_args()
    return run_all(args.out, args.only) if args.what == "run" else compare(args.base, args.new)


if __name__ == "__main__":
    sys.exit(main())
