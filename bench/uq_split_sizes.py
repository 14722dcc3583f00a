"""Variance split of the effective stiffness vs RVE size, and the ensemble's 1 -> 2 rank efficiency.

Runs ``fe2 uq demos/configs/uq/homogenize_split_sizes.toml`` (random fibres, one per unit area,
L = 2, 3, 4, 5; outer 32 draws of the two Young's moduli x inner 8 microstructure seeds per size)
under ``mpirun -n 1`` and ``-n 2`` in one sitting, prints the table of the aleatory part
E[Var(C11|θ)] and the epistemic part Var(E[C11|θ]) per size with their bootstrap intervals and
the fitted exponents (aleatory should approach -d = -2, epistemic ~ 0), checks that both rank
counts give the same numbers, and reports the efficiency T1 / (2 T2) of the ensemble (the
samples' wall time as ``fe2 uq`` measures it, without start-up and analysis).

Run: ``python bench/uq_split_sizes.py [--json bench/uq_split.json] [--outer N]``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
STUDY = ROOT / "demos" / "configs" / "uq" / "homogenize_split_sizes.toml"


def _run(study: Path, out: Path, ranks: int) -> dict:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MPLBACKEND": "Agg", "PATH": f"{BIN}:{os.environ.get('PATH', '')}"}
    cmd = [str(BIN / "mpirun"), "-n", str(ranks), sys.executable, "-m", "fe2.cli", "uq", str(study), "--out", str(out)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=3600)
    if proc.returncode != 0:
        raise SystemExit(f"fe2 uq failed on {ranks} rank(s):\n{proc.stderr[-2000:]}")
    return json.loads((out / "result.json").read_text())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", type=Path, help="write the record here")
    ap.add_argument("--outer", type=int, help="outer draws (default: the demo's 32)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        study = Path(tmp) / STUDY.name
        text = STUDY.read_text()
        if args.outer:
            text = text.replace("outer = 32", f"outer = {args.outer}")
        study.write_text(text)
        for name in ("random_fibres_sizes.toml",):
            (Path(tmp) / name).write_text((STUDY.parent / name).read_text())
        res = {n: _run(study, Path(tmp) / f"n{n}", n) for n in (1, 2)}
    one, two = res[1], res[2]
    same = one["split"] == two["split"]
    rec = one["split"]["qoi"]["C11"]
    print(f"{'L':>4s} {'mean C11':>10s} {'aleatory':>11s} {'95% CI':>23s} {'epistemic':>11s} {'95% CI':>23s} "
          f"{'epist. share':>12s}")
    for r in rec["by_scan"]:
        print(f"{r['size']:4.0f} {r['mean']:10.4f} {r['aleatory']:11.3e} [{r['aleatory_ci'][0]:.2e}, "
              f"{r['aleatory_ci'][1]:.2e}] {r['epistemic']:11.3e} [{r['epistemic_ci'][0]:.2e}, "
              f"{r['epistemic_ci'][1]:.2e}] {r['epistemic_share']:12.2f}")
    print(f"fitted exponents: aleatory {rec['exponent_aleatory']:.2f} (expected -2), "
          f"epistemic {rec['exponent_epistemic']:.2f} (expected ~0)")
    t1, t2 = one["samples"]["ensemble_wall_s"], two["samples"]["ensemble_wall_s"]
    eff = t1 / (2.0 * t2)
    load = os.getloadavg()[0]
    print(f"{one['samples']['count']} samples: {t1:.1f} s on 1 rank, {t2:.1f} s on 2 ranks, efficiency {eff:.2f} "
          f"(1-min load average after: {load:.1f}); -n 1 and -n 2 numbers identical: {same}")
    if args.json:
        args.json.write_text(json.dumps({"split": rec, "t1_s": t1, "t2_s": t2, "efficiency": eff,
                                         "identical": same, "load_after": load}, indent=2) + "\n")


if __name__ == "__main__":
    main()
