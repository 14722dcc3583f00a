"""Reaction-network ensembles: the batched path (samples as nodes) vs one fe2 reactions run per sample.

Runs ``fe2 uq demos/configs/uq/enzyme_batched_mc.toml`` (512 Monte Carlo samples of an enzyme
network, three uncertain inputs) in one sitting: batched on 1 and 2 ranks, and with
``[batch] enabled = false`` (one in-process ``fe2 reactions`` run per sample) on 1 and 2 ranks.
Prints the ensemble wall times (``samples.ensemble_wall_s``: the samples only, without start-up and
analysis), the speed-up per-sample / batched on one rank, the 1 -> 2 rank efficiency T1 / (2 T2) of
both paths, the largest relative difference of the QoIs between the paths, and whether 1 and 2
ranks give the same numbers.

Run: ``python bench/uq_reactions_batched.py [--json bench/uq_reactions_batched.json] [--n 512]
[--no-per-sample-2]``.
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
STUDY = ROOT / "demos" / "configs" / "uq" / "enzyme_batched_mc.toml"
BASE = STUDY.parent / "enzyme_well_mixed.toml"


def _run(study: Path, out: Path, ranks: int) -> tuple[dict, dict[int, dict]]:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MPLBACKEND": "Agg", "PATH": f"{BIN}:{os.environ.get('PATH', '')}"}
    cmd = [str(BIN / "mpirun"), "-n", str(ranks), sys.executable, "-m", "fe2.cli", "uq", str(study), "--out", str(out)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=7200)
    if proc.returncode != 0:
        raise SystemExit(f"fe2 uq failed on {ranks} rank(s):\n{proc.stderr[-2000:]}")
    samples = {}
    for f in (out / "samples").glob("rank*.jsonl"):
        for line in f.read_text().splitlines():
            rec = json.loads(line)
            samples[rec["id"]] = rec["qoi"]
    return json.loads((out / "result.json").read_text()), samples


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", type=Path, help="write the record here")
    ap.add_argument("--n", type=int, default=512, help="Monte Carlo samples (default 512)")
    ap.add_argument("--no-per-sample-2", action="store_true", help="skip the per-sample run on 2 ranks")
    args = ap.parse_args()
    runs = {}
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / BASE.name).write_text(BASE.read_text())
        for batched in (True, False):
            text = STUDY.read_text().replace("n = 512", f"n = {args.n}")
            if not batched:
                text = text.replace("[batch]\n", "[batch]\nenabled = false\n")
            study = Path(tmp) / f"study_{'batched' if batched else 'per_sample'}.toml"
            study.write_text(text)
            for ranks in (1, 2):
                if not batched and ranks == 2 and args.no_per_sample_2:
                    continue
                name = f"{'batched' if batched else 'per_sample'}_n{ranks}"
                runs[name] = _run(study, Path(tmp) / name, ranks)
                print(f"{name:16s} {runs[name][0]['samples']['ensemble_wall_s']:9.2f} s  "
                      f"({runs[name][0]['samples']['path']})", flush=True)
    wall = {k: v[0]["samples"]["ensemble_wall_s"] for k, v in runs.items()}
    b1, p1 = runs["batched_n1"][1], runs["per_sample_n1"][1]
    diff = max(abs(b1[i][q] - p1[i][q]) / max(abs(p1[i][q]), 1e-300) for i in p1 for q in p1[i])
    rec = {
        "samples": args.n, "wall_s": wall,
        "speedup_batched_vs_per_sample_1rank": wall["per_sample_n1"] / wall["batched_n1"],
        "efficiency_1_to_2": {k: wall[f"{k}_n1"] / (2.0 * wall[f"{k}_n2"])
                              for k in ("batched", "per_sample") if f"{k}_n2" in wall},
        "max_relative_qoi_difference_batched_vs_per_sample": diff,
        "batched_n1_equals_n2": runs["batched_n1"][0]["mc"] == runs["batched_n2"][0]["mc"],
        "load_average_1min": os.getloadavg()[0],
    }
    print(json.dumps(rec, indent=2))
    if args.json:
        args.json.write_text(json.dumps(rec, indent=2) + "\n")


if __name__ == "__main__":
    main()
