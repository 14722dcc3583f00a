"""``fe2 reactions``: config schema, one-line errors, every mode end to end, MPI consistency.

* every shipped example in ``demos/configs/reactions/`` validates and builds its network;
* each mode (well-mixed with a sweep or from SBML, SSA with the CME check, tau-leaping, hybrid,
  spatial) runs
  in process on a tiny problem — collectively, so also under ``mpirun -n 2`` — and writes its
  CSV / PNG / JSON (/ XDMF) files; numbers in them are checked against what they must be
  (moiety drift at round-off, exact linear solution, CSV == JSON);
* bad input (unknown key, unknown species, negative rate constant, missing file, ...) is a
  one-line :class:`~fe2.errors.ConfigError`, and the CLI turns it into one ``fe2: error:`` line
  and exit code 2 (``serial``: an error under MPI aborts the job by design);
* ``mpirun -n 2`` (subprocess, ``serial``) vs one rank in process: the spatial problem agrees to
  solver round-off (integrals, extrema within 1e-10 relative: direct LU solves on both);
  stochastic results are identical on any number of ranks (one seeded block of trajectories per
  ``SeedSequence`` child), checked in process against the blocks recomputed on one rank.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from mpi4py import MPI

from fe2.cli import main
from fe2.config.reactions import load_reactions
from fe2.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "demos" / "configs" / "reactions").glob("*.toml"))
BIN = Path(sys.executable).parent
MPIRUN = BIN / "mpirun"

CHAIN = """
[network.species]
A = 1.0
B = 0.0
C = 0.0

[network.parameters]
k1 = 2.0
k2 = 1.0

[[network.reactions]]
equation = "A -> B"
k = "k1"

[[network.reactions]]
equation = "B -> C"
k = "k2"
"""

BIRTH_DEATH = """
[network.species]
A = 0

[network.parameters]
k = 5.0
g = 1.0

[[network.reactions]]
equation = "-> A"
k = "k"

[[network.reactions]]
equation = "A ->"
k = "g"
"""

SPATIAL = """mode = "spatial"

[network.species]
A = 0.5
B = 0.5
C = 0.0

[network.parameters]
k = 5.0
kr = 1.0

[[network.reactions]]
equation = "A + B <-> C"
k = "k"
k_reverse = "kr"

[spatial]
mesh = { length = [1.0, 0.5], cells = [8, 4] }
diffusivity = { A = 0.05, B = 0.005 }
initial = { A = "1 + 0.5*cos(pi*x)", B = "1 + 0.5*cos(pi*x)*cos(2*pi*y)" }
t_end = 0.1
dt = 0.02
scheme = "strang"
output_every = 2
"""


def _write(directory: Path, name: str, text: str) -> Path:
    """Write on rank 0, visible to every rank (collective)."""
    path = directory / name
    if MPI.COMM_WORLD.rank == 0:
        path.write_text(text)
    MPI.COMM_WORLD.Barrier()
    return path


def _run(directory: Path, text: str, name: str = "case") -> tuple[dict, Path]:
    cfg = _write(directory, f"{name}.toml", text)
    out = directory / f"out_{name}"
    assert main(["reactions", str(cfg), "--out", str(out)]) == 0
    MPI.COMM_WORLD.Barrier()
    return json.loads((out / "result.json").read_text()), out


def _csv(path: Path) -> tuple[list[str], np.ndarray]:
    with path.open() as fh:
        rows = list(csv.reader(fh))
    return rows[0], np.array(rows[1:], dtype=float)


# --------------------------------------------------------------------------- examples
@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_example_configs_validate(path: Path):
    cfg, net = load_reactions(path)
    assert cfg.section is not None and net.n_species >= 1


def test_examples_cover_every_mode():
    modes = {load_reactions(p)[0].mode for p in EXAMPLES}
    assert modes == {"well_mixed", "stochastic", "spatial"}
    methods = {load_reactions(p)[0].stochastic.method for p in EXAMPLES if load_reactions(p)[0].mode == "stochastic"}
    assert {"ssa", "hybrid"} <= methods


# --------------------------------------------------------------------------- modes
def test_well_mixed_sweep_matches_exact_chain_and_keeps_moieties(shared_tmp_path):
    """A -> B -> C, one node per k1: exact solution known; adaptive ROS2 at rtol 1e-4 gives a
    global error of 0.25 rtol (measured at rtol 1e-6..1e-8; asserted 2 rtol); A + B + C
    conserved to round-off (1e-12)."""
    text = ('mode = "well_mixed"\n' + CHAIN + '\n[units]\ntime = "s"\namount = "mM"\n\n[well_mixed]\n'
            'method = "ros2"\nt_end = 2.0\nn_out = 11\nrtol = 1e-4\natol = 1e-9\n'
            'sweep = { parameter = "k1", values = [2.0, 3.0, 5.0] }\n')
    res, out = _run(shared_tmp_path, text)
    assert res["mode"] == "well_mixed" and res["n_nodes"] == 3 and res["moiety_drift"] <= 1e-12
    assert res["moieties"] == ["A + B + C"]
    assert res["time_scales"]["initial"]["stiffness_ratio"] == pytest.approx(2.0, rel=1e-12)  # k1/k2
    header, data = _csv(out / "timeseries.csv")
    assert header == ["time", "node", "k1", "A", "B", "C"]
    assert res["timeseries"]["units"]["time"] == "s" and res["timeseries"]["units"]["A"] == "mM"
    for k1 in (2.0, 3.0, 5.0):
        rows = data[data[:, 2] == k1]
        t = rows[:, 0]
        a = np.exp(-k1 * t)
        b = k1 / (1.0 - k1) * (np.exp(-k1 * t) - np.exp(-t))
        assert np.max(np.abs(rows[:, 3] - a)) <= 2e-4 and np.max(np.abs(rows[:, 4] - b)) <= 2e-4
    assert (out / "trajectories.png").stat().st_size > 1000


def test_well_mixed_bdf_reference_single_node(shared_tmp_path):
    text = 'mode = "well_mixed"\n' + CHAIN + '\n[well_mixed]\nmethod = "bdf"\nt_end = 1.0\nn_out = 5\n'
    res, out = _run(shared_tmp_path, text)
    header, data = _csv(out / "timeseries.csv")
    assert header == ["time", "A", "B", "C"]
    assert np.allclose(data[:, 1], np.exp(-2.0 * data[:, 0]), atol=1e-5)
    assert res["final"]["A"][0] == pytest.approx(data[-1, 1], rel=1e-14)


def test_well_mixed_rodas4(shared_tmp_path):
    """method = "rodas4" (compiled where a C compiler is available): A = exp(-2 t) of the chain to
    1e-6 at rtol 1e-8 (global error a few rtol)."""
    text = ('mode = "well_mixed"\n' + CHAIN + '\n[well_mixed]\nmethod = "rodas4"\nt_end = 1.0\nn_out = 5\n'
            'rtol = 1e-8\natol = 1e-12\n')
    res, out = _run(shared_tmp_path, text, "rodas4")
    _header, data = _csv(out / "timeseries.csv")
    assert res["method"] == "rodas4" and np.allclose(data[:, 1], np.exp(-2.0 * data[:, 0]), rtol=0, atol=1e-6)


def test_well_mixed_from_sbml(shared_tmp_path):
    """``sbml = ...`` goes through fe2.physics.reactions.sbml.load_sbml (the SBML enzyme model of
    tests/data: E + S <-> C -> E + P, E0 = 1, S0 = 10): moieties E + C and S + C + P found and
    kept to round-off by ROS2."""
    sbml = ROOT / "tests" / "data" / "sbml" / "enzyme_mm.xml"
    text = f'mode = "well_mixed"\nsbml = "{sbml}"\n\n[well_mixed]\nt_end = 1.0\nn_out = 3\nrtol = 1e-4\n'
    res, out = _run(shared_tmp_path, text, "sbml")
    assert sorted(res["moieties"]) == ["E + C", "S + C + P"] and res["moiety_drift"] <= 1e-12
    header, data = _csv(out / "timeseries.csv")
    assert header == ["time", "E", "S", "C", "P"] and np.allclose(data[0, 1:], [1.0, 10.0, 0.0, 0.0])


def test_stochastic_ssa_with_cme_histogram(shared_tmp_path):
    """Birth–death from 0 by SSA: exact law Poisson(5 (1 - e^-t)); the CME reference in the
    result must be that law (truncation leak ~1e-14 at max_count = 40) and the sample within
    3x the sampling TV of it."""
    text = ('mode = "stochastic"\n' + BIRTH_DEATH + '\n[stochastic]\nmethod = "ssa"\nt_end = 3.0\n'
            'n_out = 7\nn_trajectories = 1000\nblock_size = 300\nseed = 4\nhistogram = ["A"]\n'
            'cme = true\ncme_max_count = 40\n')
    res, out = _run(shared_tmp_path, text)
    from scipy.stats import poisson

    h = res["histograms"]["A"]["cme"]
    q = poisson.pmf(np.arange(41), 5.0 * (1.0 - np.exp(-3.0)))
    assert np.max(np.abs(np.array(h["probability"]) - q)) <= 1e-10 and abs(h["truncation_leak"]) <= 1e-10
    assert h["tv_distance"] <= 3.0 * h["tv_sampling_expected"]
    header, data = _csv(out / "timeseries.csv")
    assert header == ["time", "A_mean", "A_std"] and data.shape == (7, 3)
    assert data[-1, 1] == pytest.approx(res["final"]["A"]["mean"], rel=1e-14)
    assert abs(data[-1, 1] - 5.0 * (1 - np.exp(-3.0))) <= 4.0 * np.sqrt(5.0 / 1000)
    assert (out / "histogram_A.png").stat().st_size > 1000 and (out / "trajectories.png").is_file()
    # rank-independent: blocks of 300, 300, 300, 100 trajectories from SeedSequence(4) children,
    # whichever rank ran them; recomputed here on this rank alone
    from fe2.physics.reactions import gillespie

    _, net = load_reactions(shared_tmp_path / "case.toml")
    seeds = np.random.SeedSequence(4).spawn(4)
    x = np.concatenate([gillespie(net, np.linspace(0, 3, 7), n_traj=n, seed=sd).x[-1, :, 0]
                        for n, sd in zip((300, 300, 300, 100), seeds, strict=False)])
    assert res["final"]["A"]["mean"] == x.mean() and res["histograms"]["A"]["probability"] == (
        np.bincount(x) / x.size).tolist()


def test_stochastic_tau_leap_and_hybrid_run(shared_tmp_path):
    text = ('mode = "stochastic"\n' + BIRTH_DEATH + '\n[stochastic]\nmethod = "tau_leap"\ntau = 0.05\n'
            't_end = 2.0\nn_out = 5\nn_trajectories = 200\nhistogram = ["A"]\n')
    res, out = _run(shared_tmp_path, text, "tau")
    assert res["method"] == "tau_leap" and res["leaps"] >= 200 * 40 and (out / "histogram_A.png").is_file()
    # hybrid with omega: the network in concentrations (A0 = 0, birth 5 /s in a volume of 100):
    # counts ~ 500, continuous by the threshold; the mean follows the RRE 500 (1 - e^-t)
    text = ('mode = "stochastic"\n' + BIRTH_DEATH + '\n[stochastic]\nmethod = "hybrid"\nomega = 100.0\n'
            'threshold = 20.0\nrtol = 1e-6\nt_end = 2.0\nn_out = 5\nn_trajectories = 4\n')
    res, out = _run(shared_tmp_path, text, "hybrid")
    assert res["hybrid"]["partition"]["continuous"] == ["A"] and res["events"] == 0
    assert res["final"]["A"]["mean"] == pytest.approx(500.0 * (1 - np.exp(-2.0)), rel=1e-4)


def test_spatial_writes_fields_and_conserves_moieties(shared_tmp_path):
    res, out = _run(shared_tmp_path, SPATIAL, "spatial")
    assert res["steps"] == 5 and res["moiety_drift"] <= 1e-12
    assert (out / "species.xdmf").is_file() and (out / "species.h5").is_file()
    header, data = _csv(out / "integrals.csv")
    assert header == ["time", "A", "B", "C"] and np.allclose(data[:, 0], [0.0, 0.04, 0.08, 0.1])
    # A + C and B + C integrals constant (no-flux diffusion, moiety-preserving reaction step)
    assert np.allclose(data[:, 1] + data[:, 3], data[0, 1] + data[0, 3], rtol=1e-12)
    assert np.allclose(data[:, 2] + data[:, 3], data[0, 2] + data[0, 3], rtol=1e-12)
    assert 0.0 < res["min"]["C"] <= res["max"]["C"]


# --------------------------------------------------------------------------- errors
BAD = [
    ('mode = "well_mixed"\n' + CHAIN + "\n[well_mixed]\nt_end = 1.0\nn_outs = 5\n", "well_mixed.n_outs: unknown key"),
    (
        'mode = "well_mixed"\n'
        + CHAIN.replace('equation = "B -> C"', 'equation = "B -> X"')
        + "\n[well_mixed]\nt_end = 1.0\n",
        "unknown species 'X'",
    ),
    (
        'mode = "well_mixed"\n' + CHAIN.replace("k2 = 1.0", "k2 = -1.0") + "\n[well_mixed]\nt_end = 1.0\n",
        "k = -1 is negative",
    ),
    ('mode = "well_mixed"\nnetwork = "missing.toml"\n\n[well_mixed]\nt_end = 1.0\n', "network: file not found"),
    ('mode = "well_mixed"\nsbml = "missing.xml"\n\n[well_mixed]\nt_end = 1.0\n', "sbml: file not found"),
    (
        'mode = "stochastic"\n' + CHAIN.replace("A = 1.0", "A = 0.5") + "\n[stochastic]\nt_end = 1.0\n",
        "initial values must be integer counts",
    ),
    (
        'mode = "stochastic"\n' + BIRTH_DEATH + '\n[stochastic]\nt_end = 1.0\nhistogram = ["Z"]\n',
        "stochastic.histogram: unknown species 'Z'",
    ),
    ('mode = "stochastic"\n' + BIRTH_DEATH + '\n[stochastic]\nmethod = "tau_leap"\nt_end = 1.0\n', "needs tau"),
    ('mode = "spatial"\n' + BIRTH_DEATH + "\n[well_mixed]\nt_end = 1.0\n", "needs a [spatial] table"),
    (SPATIAL.replace('scheme = "strang"', 'scheme = "leapfrog"'), "unknown scheme 'leapfrog'"),
    (SPATIAL.replace("dt = 0.02", "dt = 0.03"), "does not divide"),
    (SPATIAL.replace('A = "1 + 0.5*cos(pi*x)"', 'A = "1 + q*x"'), "unknown name(s) q"),
    (SPATIAL.replace('A = "1 + 0.5*cos(pi*x)"', "A = -1.0"), "spatial.initial.A: initial value -1 is negative"),
    (
        'mode = "well_mixed"\n'
        + CHAIN
        + '\n[well_mixed]\nt_end = 1.0\nsweep = { parameter = "k2", values = [1.0, -2.0] }\n',
        "well_mixed.sweep (k2 = -2)",
    ),
    ('mode = "well_mixed"\n' + CHAIN + '\n[well_mixed]\nmethod = "rodas5"\nt_end = 1.0\n', "well_mixed.method"),
    ('mode = "well_mixed"\n' + CHAIN + '\n[well_mixed]\nbackend = "c"\nt_end = 1.0\n',
     "backend is for method = 'rodas4'"),
]


def test_bad_configs_are_one_line_config_errors(shared_tmp_path):
    for i, (text, needle) in enumerate(BAD):
        path = _write(shared_tmp_path, f"bad{i}.toml", text)
        with pytest.raises(ConfigError) as err:
            load_reactions(path)
        msg = str(err.value)
        assert "\n" not in msg and needle in msg and str(path) in msg, (i, msg)
        assert err.value.exit_code == 2


@pytest.mark.serial
def test_cli_bad_config_exit_code_2_one_line(tmp_path, capsys):
    """Unknown key, unknown species in a reaction, negative rate constant, missing file."""
    for i, (text, needle) in enumerate(BAD[:4]):
        path = tmp_path / f"bad{i}.toml"
        path.write_text(text)
        assert main(["reactions", str(path), "--out", str(tmp_path / "out")]) == 2
        err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
        assert len(err) == 1 and err[0].startswith("fe2: error: ") and needle in err[0], (i, err)
        assert not (tmp_path / "out" / "result.json").exists()


# --------------------------------------------------------------------------- MPI consistency
def _env() -> dict:
    env = {**os.environ, "MPLBACKEND": "Agg", "OMP_NUM_THREADS": "1"}
    env["PATH"] = f"{BIN}:{env.get('PATH', '')}"  # mpich's hydra needs hydra_pmi_proxy on PATH
    return env


@pytest.mark.serial
@pytest.mark.skipif(not MPIRUN.exists(), reason="no mpirun next to the interpreter")
def test_spatial_two_ranks_agree_with_one(tmp_path):
    cfg = tmp_path / "spatial.toml"
    cfg.write_text(SPATIAL)
    assert main(["reactions", str(cfg), "--out", str(tmp_path / "n1")]) == 0
    cmd = [
        str(MPIRUN),
        "-n",
        "2",
        sys.executable,
        "-m",
        "fe2.cli",
        "reactions",
        str(cfg),
        "--out",
        str(tmp_path / "n2"),
    ]
    p = subprocess.run(cmd, cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    a, b = (json.loads((tmp_path / n / "result.json").read_text()) for n in ("n1", "n2"))
    assert a["ranks"] == 1 and b["ranks"] == 2 and a["n_dofs"] == b["n_dofs"]
    for key in ("integrals_final", "min", "max"):
        for sp_name in a[key]:
            assert b[key][sp_name] == pytest.approx(a[key][sp_name], rel=1e-10), (key, sp_name)
