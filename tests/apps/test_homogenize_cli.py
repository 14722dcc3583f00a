"""``fe2 homogenize``: the TOML schema, its one-line errors, the CLI and its output files.

* every example config in ``demos/configs/`` parses and homogenizes (in process,
  collective: also under ``mpirun -n 2``);
* each kind of bad input gives a typed :class:`~fe2.errors.Fe2Error` whose message
  is one line naming the problem (config level and geometry level);
* a non-periodic ``.msh`` under periodic BCs is a :class:`~fe2.errors.MeshError`;
* the CLI (subprocesses, ``serial``): exit codes, one ``fe2: error:`` line on
  stderr, ``result.json`` keys, serial == ``mpirun -n 2``, atomic ``result.json``.
"""

from __future__ import annotations

import itertools
import json
import math
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import numpy as np
import pytest
from mpi4py import MPI

from fe2.apps.homogenize.runner import build_rve, run_homogenization
from fe2.config import HomogenizeConfig, load_homogenize_config, parse_config
from fe2.errors import ConfigError, Fe2Error, GeometryError, MeshError

ROOT = Path(__file__).resolve().parents[2]
CONFIGS = sorted((ROOT / "demos" / "configs").glob("*.toml"))
BIN = Path(sys.executable).parent
MPIRUN = BIN / "mpirun"

HM_TOL = 1e-10

# A small valid config; error cases are edits of it.
BASE = """\
physics = "elasticity"
boundary_conditions = ["kubc", "periodic", "tubc"]

[geometry]
kind = "square_array"
volume_fraction = 0.3
mesh_size = 0.1

[materials.matrix]
young = 1.0
poisson = 0.3

[materials.fibre]
young = 10.0
poisson = 0.3
"""

MATRIX_ONLY = """
[materials.matrix]
young = 1.0
poisson = 0.3
"""


def _write(directory: Path, name: str, text: str) -> Path:
    """Write a file on rank 0 and make it visible to every rank (collective)."""
    path = directory / name
    if MPI.COMM_WORLD.rank == 0:
        path.write_text(text)
    MPI.COMM_WORLD.Barrier()
    return path


def _assert_one_line(err: Exception, *needles: str) -> None:
    assert isinstance(err, Fe2Error) and err.exit_code == 2
    msg = str(err)
    assert msg and "\n" not in msg and msg == msg.strip(), f"not one line: {msg!r}"
    for needle in needles:
        assert needle in msg, f"{needle!r} not in {msg!r}"


def _config(text: str):
    return parse_config(tomllib.loads(text), HomogenizeConfig, "case.toml")


def _write_nonperiodic_msh(path: Path) -> None:
    """Unit square, one phase 'matrix', meshed WITHOUT setPeriodic and with a size field
    that differs between opposite faces (so they cannot match node for node). Rank 0 only."""
    from fe2.geometry._gmsh import gmsh_model

    opts = {
        "Mesh.MeshSizeFromPoints": 0,
        "Mesh.MeshSizeFromCurvature": 0,
        "Mesh.MeshSizeExtendFromBoundary": 0,
        "Mesh.MshFileVersion": 4.1,
    }
    with gmsh_model("test_nonperiodic", opts) as g:
        g.model.occ.addRectangle(0.0, 0.0, 0.0, 1.0, 1.0)
        g.model.occ.synchronize()
        g.model.addPhysicalGroup(2, [1], tag=1, name="matrix")
        g.model.mesh.setSizeCallback(
            lambda dim, tag, x, y, z, lc: 0.07 + 0.06 * x + 0.02 * math.sin(9.0 * y + 3.0 * x)
        )
        try:
            g.model.mesh.generate(2)
            g.write(str(path))
        finally:
            g.model.mesh.removeSizeCallback()


@pytest.fixture
def nonperiodic_msh(shared_tmp_path: Path) -> Path:
    path = shared_tmp_path / "nonperiodic.msh"
    if MPI.COMM_WORLD.rank == 0:
        _write_nonperiodic_msh(path)
    MPI.COMM_WORLD.Barrier()
    return path


def _nonperiodic_config(mesh: Path, bcs: str = '["kubc", "periodic"]') -> str:
    head = f'physics = "elasticity"\nboundary_conditions = {bcs}\n\n'
    return head + f'[geometry]\nkind = "msh"\npath = "{mesh}"\n' + MATRIX_ONLY


# --------------------------------------------------------------------------- examples


def test_examples_cover_every_geometry_kind_and_physics():
    cfgs = [load_homogenize_config(p) for p in CONFIGS]
    kinds = {c.geometry.kind for c in cfgs}
    assert kinds >= {"inclusions", "square_array", "hexagonal_array", "laminate", "random", "msh"}
    assert {c.physics for c in cfgs} == {"elasticity", "conductivity"}
    assert any(getattr(c.geometry, "void", False) for c in cfgs), "no porous example"
    dims = {len(c.geometry.lengths) for c in cfgs if hasattr(c.geometry, "lengths")}
    dims |= {c.geometry.dim for c in cfgs if hasattr(c.geometry, "dim")}
    assert dims == {2, 3}


@pytest.mark.parametrize("path", CONFIGS, ids=[p.stem for p in CONFIGS])
def test_example_config_parses(path: Path):
    cfg = load_homogenize_config(path)
    assert isinstance(cfg, HomogenizeConfig)
    assert set(cfg.boundary_conditions) == {"kubc", "periodic", "tubc"}
    if cfg.geometry.kind == "msh":
        assert Path(cfg.geometry.path).is_absolute() and Path(cfg.geometry.path).is_file()


@pytest.mark.parametrize("path", CONFIGS, ids=[p.stem for p in CONFIGS])
def test_example_config_homogenizes(path: Path):
    """Collective: also runs on every rank under mpirun. No files (out_dir=None)."""
    cfg = load_homogenize_config(path)
    data = run_homogenization(cfg, MPI.COMM_WORLD, None)
    assert set(data["effective"]) == set(cfg.boundary_conditions)
    n = len(data["components"])
    for bc, C in data["effective"].items():
        C = np.asarray(C)
        assert C.shape == (n, n)
        assert np.allclose(C, C.T, rtol=1e-8, atol=1e-10 * np.abs(C).max()), bc
        assert np.all(np.linalg.eigvalsh(0.5 * (C + C.T)) > 0), bc
        assert data["hill_mandel"][bc] < HM_TOL, bc
    # the usual ordering of the diagonal: KUBC >= periodic >= TUBC
    for i in range(n):
        k, p, t = (data["effective"][bc][i][i] for bc in ("kubc", "periodic", "tubc"))
        assert k >= p * (1 - 1e-9) and p >= t * (1 - 1e-9), (i, k, p, t)
    # pores count with their exact fraction, solid phases as measured on the (faceted) mesh
    assert math.isclose(sum(data["volume_fractions"].values()), 1.0, rel_tol=0, abs_tol=1e-2)


# --------------------------------------------------------------------------- config errors

CONFIG_ERRORS = {
    "unknown_top_level_key": ('colour = "red"\n' + BASE, ["colour", "unknown key"]),
    "unknown_nested_key": (BASE.replace("mesh_size", "mesh_sise"), ["geometry.mesh_sise", "unknown key"]),
    "unknown_material_key": (
        BASE.replace("young = 10.0", "yung = 10.0"), ["materials.fibre.yung", "unknown key"]
    ),
    "wrong_type": (
        BASE.replace("mesh_size = 0.1", 'mesh_size = "fine"'), ["geometry.mesh_size", "valid number"]
    ),
    "poisson_one_half": (
        BASE.replace("poisson = 0.3", "poisson = 0.5", 1), ["materials.matrix.poisson", "less than 0.5"]
    ),
    "negative_young": (
        BASE.replace("young = 1.0", "young = -1.0"), ["materials.matrix.young", "must be > 0", "void = true"]
    ),
    "radius_and_volume_fraction": (
        BASE.replace("volume_fraction = 0.3", "volume_fraction = 0.3\nradius = 0.2"),
        ["geometry", "exactly one of volume_fraction and radius"],
    ),
    "neither_radius_nor_volume_fraction": (
        BASE.replace("volume_fraction = 0.3\n", ""), ["geometry", "exactly one of volume_fraction and radius"]
    ),
    "elastic_materials_for_conductivity": (
        BASE.replace('physics = "elasticity"', 'physics = "conductivity"'),
        ["materials.matrix", "conductivity phases need conductivity"],
    ),
    "conductor_material_for_elasticity": (
        BASE.replace("young = 10.0\npoisson = 0.3", "conductivity = 5.0"),
        ["materials.fibre", "elasticity phases need young/poisson"],
    ),
    "duplicate_bc": (
        BASE.replace('["kubc", "periodic", "tubc"]', '["kubc", "periodic", "kubc"]'),
        ["boundary_conditions", "twice"],
    ),
    "unknown_bc": (
        BASE.replace('["kubc", "periodic", "tubc"]', '["kubc", "dirichlet"]'),
        ["boundary_conditions.1", "'kubc', 'periodic' or 'tubc'"],
    ),
    "unknown_geometry_kind": (BASE.replace('"square_array"', '"octet_truss"'), ["geometry", "octet_truss"]),
    "hexagonal_3d": (BASE.replace('"square_array"', '"hexagonal_array"\ndim = 3'), ["geometry", "2D only"]),
    "missing_physics": (BASE.replace('physics = "elasticity"\n', ""), ["physics", "Field required"]),
    "msh_box_min_only": (
        'physics = "elasticity"\n[geometry]\nkind = "msh"\npath = "x.msh"\nbox_min = [0.0, 0.0]\n'
        + MATRIX_ONLY,
        ["geometry", "box_min and box_max"],
    ),
}


@pytest.mark.parametrize("case", sorted(CONFIG_ERRORS))
def test_config_error_is_one_line(case: str, shared_tmp_path: Path):
    text, needles = CONFIG_ERRORS[case]
    path = _write(shared_tmp_path, f"{case}.toml", text)
    with pytest.raises(ConfigError) as info:
        load_homogenize_config(path)
    _assert_one_line(info.value, f"{case}.toml", *needles)


def test_malformed_toml(shared_tmp_path: Path):
    path = _write(shared_tmp_path, "bad.toml", 'physics = "elasticity\n[geometry]\n')
    with pytest.raises(ConfigError) as info:
        load_homogenize_config(path)
    _assert_one_line(info.value, "bad.toml", "invalid TOML", "line 1")


def test_missing_config_file(shared_tmp_path: Path):
    with pytest.raises(ConfigError) as info:
        load_homogenize_config(shared_tmp_path / "nope.toml")
    _assert_one_line(info.value, "config file not found", "nope.toml")


def test_missing_mesh_file(shared_tmp_path: Path):
    text = 'physics = "elasticity"\n[geometry]\nkind = "msh"\npath = "meshes/absent.msh"\n' + MATRIX_ONLY
    path = _write(shared_tmp_path, "msh.toml", text)
    with pytest.raises(ConfigError) as info:
        load_homogenize_config(path)
    # the relative path is resolved against the config's folder
    absent = str(shared_tmp_path / "meshes" / "absent.msh")
    _assert_one_line(info.value, "geometry.path", "mesh file not found", absent)


def test_valid_base_config_and_defaults():
    cfg = _config(BASE)
    assert cfg.solver.kind == "auto" and cfg.solver.degree == 1 and cfg.output.fields is True
    assert cfg.geometry.element_order == 1 and cfg.geometry.void is False
    cfg = _config(BASE.replace('boundary_conditions = ["kubc", "periodic", "tubc"]\n', ""))
    assert cfg.boundary_conditions == ["kubc", "periodic", "tubc"]


# --------------------------------------------------------------------------- geometry errors

GEOMETRY_ERRORS = {
    "overlapping_inclusions": (
        ('kind = "inclusions"\nlengths = [1.0, 1.0]\nmesh_size = 0.1\n'
        "inclusions = [{center = [0.4, 0.5], radius = 0.2}, {center = [0.6, 0.5], radius = 0.2}]"),
        ["inclusions 0 and 1 overlap"],
    ),
    "overlapping_periodic_images": (
        ('kind = "inclusions"\nlengths = [1.0, 1.0]\nmesh_size = 0.1\n'
        "inclusions = [{center = [0.05, 0.5], radius = 0.2}, {center = [0.9, 0.5], radius = 0.2}]"),
        ["inclusions 0 and 1 overlap", "periodic"],
    ),
    "centre_outside_box": (
        ('kind = "inclusions"\nlengths = [1.0, 1.0]\nmesh_size = 0.1\n'
        "inclusions = [{center = [1.4, 0.5], radius = 0.2}]"),
        ["inclusion 0 centre", "outside the box"],
    ),
    "unpackable_random": (
        'kind = "random"\nlengths = [1.0, 1.0]\nradius = 0.1\nvolume_fraction = 0.75\nmesh_size = 0.1',
        ["cannot pack", "volume fraction 0.75"],
    ),
    "empty_laminate_layer": (
        ('kind = "laminate"\nlengths = [1.0, 1.0]\nfractions = [0.0, 1.0]\nphases = ["matrix", "stiff"]\n'
        "mesh_size = 0.1"),
        ["layer 0", "fraction 0", "empty"],
    ),
    "square_array_fraction_too_large": (
        'kind = "square_array"\nvolume_fraction = 0.9\nmesh_size = 0.1',
        ["square_array", "volume_fraction"],
    ),
}


@pytest.mark.parametrize("case", sorted(GEOMETRY_ERRORS))
def test_geometry_error_is_one_line(case: str):
    geom, needles = GEOMETRY_ERRORS[case]
    cfg = _config('physics = "elasticity"\n[geometry]\n' + geom + "\n" + MATRIX_ONLY)
    with pytest.raises(GeometryError) as info:
        build_rve(cfg.geometry, MPI.COMM_WORLD)
    _assert_one_line(info.value, *needles)


def test_geometry_keys_reach_the_generator():
    """No accepted key is silently dropped on the way to the generator (laminate element_order)."""
    cfg = _config(
        'physics = "elasticity"\n[geometry]\nkind = "laminate"\nlengths = [1.0, 0.5]\naxis = 1\n'
        'fractions = [0.25, 0.75]\nphases = ["matrix", "stiff"]\nmesh_size = 0.25\nelement_order = 2\n'
        + MATRIX_ONLY
    )
    rve = build_rve(cfg.geometry, MPI.COMM_WORLD)
    assert rve.description["element_order"] == 2
    assert rve.mesh.geometry.cmaps[0].degree == 2
    assert rve.description["axis"] == 1
    assert rve.description["exact_volume_fractions"] == {"matrix": 0.25, "stiff": 0.75}


def test_nonperiodic_mesh_under_periodic_bc(nonperiodic_msh: Path):
    from fe2.materials import IsotropicElastic
    from fe2.micro.physics import make_physics
    from fe2.micro.rve_problem import RVEProblem

    cfg = _config(_nonperiodic_config(nonperiodic_msh))
    rve = build_rve(cfg.geometry, MPI.COMM_WORLD)
    assert rve.periodic is False
    problem = RVEProblem(rve, make_physics("elasticity", 2), {"matrix": IsotropicElastic(1.0, 0.3)})
    result, fields = problem.solve("kubc")  # fine without periodicity
    assert result.hill_mandel_max < HM_TOL
    for u in fields:
        u.destroy()
    with pytest.raises(MeshError) as info:
        problem.solve("periodic")
    _assert_one_line(info.value, "not periodic")


def test_failed_run_writes_no_result_json(nonperiodic_msh: Path, shared_tmp_path: Path):
    """Meshing and the KUBC solve succeed, the periodic solve fails: no result.json, no .tmp."""
    out = shared_tmp_path / "out"
    cfg = _config(_nonperiodic_config(nonperiodic_msh))
    with pytest.raises(MeshError, match="not periodic"):
        run_homogenization(cfg, MPI.COMM_WORLD, out)
    MPI.COMM_WORLD.Barrier()
    assert not (out / "result.json").exists()
    assert not (out / "result.json.tmp").exists()


# --------------------------------------------------------------------------- CLI (subprocesses)


def _env() -> dict:
    env = {**os.environ, "MPLBACKEND": "Agg", "PYVISTA_OFF_SCREEN": "true", "OMP_NUM_THREADS": "1"}
    env["PATH"] = f"{BIN}:{env.get('PATH', '')}"  # mpich's hydra needs hydra_pmi_proxy on PATH
    return env


def _fe2(*args: str, ranks: int = 1, cwd: Path | None = None) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "fe2.cli", *args]
    if ranks > 1:
        cmd = [str(MPIRUN), "-n", str(ranks), *cmd]
    return subprocess.run(cmd, cwd=cwd or ROOT, env=_env(), capture_output=True, text=True, timeout=300)


def _error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.strip()]


REQUIRED_KEYS = {
    "physics", "dim", "notation", "components", "effective", "hill_mandel", "volume_fractions", "mesh",
}
CLI_CONFIG = ROOT / "demos" / "configs" / "random_2d_conductivity.toml"


@pytest.fixture(scope="module")
def serial_cli_run(tmp_path_factory):
    """One serial CLI run of an example config, shared by the tests below."""
    out = tmp_path_factory.mktemp("cli_serial") / "out"
    proc = _fe2("homogenize", str(CLI_CONFIG), "--out", str(out))
    return proc, out


@pytest.mark.serial
def test_cli_good_config(serial_cli_run):
    proc, out = serial_cli_run
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "fe2: error" not in proc.stderr
    data = json.loads((out / "result.json").read_text())
    assert REQUIRED_KEYS <= set(data)
    assert data["physics"] == "conductivity" and data["dim"] == 2
    cfg = load_homogenize_config(CLI_CONFIG)
    assert list(data["effective"]) == cfg.boundary_conditions
    assert list(data["hill_mandel"]) == cfg.boundary_conditions
    for bc in cfg.boundary_conditions:
        assert np.asarray(data["effective"][bc]).shape == (2, 2)
        assert data["hill_mandel"][bc] < HM_TOL
    assert set(data["volume_fractions"]) == {"matrix", "particle"}
    assert data["mesh"]["ranks"] == 1
    assert not (out / "result.json.tmp").exists()
    for rel in data["fields"]:
        assert (out / rel).is_file()
    assert (out / "fluctuation.png").is_file()


@pytest.mark.serial
def test_cli_relative_mesh_path_from_another_cwd(tmp_path: Path):
    """msh_import_elastic.toml names its mesh relative to itself, not to the working directory."""
    cfg = ROOT / "demos" / "configs" / "msh_import_elastic.toml"
    out = tmp_path / "out"
    proc = _fe2("homogenize", str(cfg), "--out", str(out), cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    data = json.loads((out / "result.json").read_text())
    assert set(data["volume_fractions"]) == {"matrix", "fibre"}
    assert max(data["hill_mandel"].values()) < HM_TOL


@pytest.mark.serial
@pytest.mark.parametrize(
    "case", ["unknown_nested_key", "poisson_one_half", "duplicate_bc", "malformed", "missing"]
)
def test_cli_bad_config_exit_2(case: str, tmp_path: Path):
    if case == "malformed":
        path = tmp_path / "bad.toml"
        path.write_text("physics = \n")
    elif case == "missing":
        path = tmp_path / "does_not_exist.toml"
    else:
        path = tmp_path / f"{case}.toml"
        path.write_text(CONFIG_ERRORS[case][0])
    out = tmp_path / "out"
    proc = _fe2("homogenize", str(path), "--out", str(out))
    assert proc.returncode == 2, proc.stdout + proc.stderr
    lines = _error_lines(proc.stderr)
    assert len(lines) == 1 and lines[0].startswith("fe2: error: "), proc.stderr
    assert not (out / "result.json").exists()


@pytest.mark.serial
def test_cli_failed_solve_leaves_no_result_json(tmp_path: Path):
    """Non-periodic mesh under periodic BC: the run fails after meshing and the KUBC solve.

    A result.json left in OUT by an earlier run is removed, so its presence always
    means that this run finished.
    """
    mesh = tmp_path / "nonperiodic.msh"
    _write_nonperiodic_msh(mesh)
    cfg = tmp_path / "nonperiodic.toml"
    cfg.write_text(_nonperiodic_config(mesh))
    out = tmp_path / "out"
    out.mkdir()
    (out / "result.json").write_text('{"stale": true}\n')
    proc = _fe2("homogenize", str(cfg), "--out", str(out))
    assert proc.returncode == 2, proc.stdout + proc.stderr
    lines = _error_lines(proc.stderr)
    assert len(lines) == 1 and lines[0].startswith("fe2: error: ") and "not periodic" in lines[0], proc.stderr
    assert "kubc" in proc.stdout  # the KUBC solve ran before the failure
    assert not (out / "result.json").exists()
    assert not (out / "result.json.tmp").exists()


@pytest.mark.serial
def test_cli_mpirun_matches_serial(serial_cli_run, tmp_path: Path):
    if not MPIRUN.exists():
        pytest.skip(f"no mpirun next to {sys.executable}")
    proc, out = serial_cli_run
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out2 = tmp_path / "out2"
    proc2 = _fe2("homogenize", str(CLI_CONFIG), "--out", str(out2), ranks=2)
    assert proc2.returncode == 0, proc2.stdout + proc2.stderr
    d1 = json.loads((out / "result.json").read_text())
    d2 = json.loads((out2 / "result.json").read_text())
    assert d2["mesh"]["ranks"] == 2
    assert d1["mesh"]["cells"] == d2["mesh"]["cells"]
    assert list(d1["effective"]) == list(d2["effective"])
    for bc in d1["effective"]:
        C1 = np.asarray(d1["effective"][bc])
        C2 = np.asarray(d2["effective"][bc])
        assert np.abs(C2 - C1).max() <= 1e-10 * np.abs(C1).max(), bc
        assert d2["hill_mandel"][bc] < HM_TOL



def test_error_estimate_flag_writes_estimates():
    """[solver] error_estimate = true: every BC carries the p+1 estimate, next to its tensor (collective)."""
    cfg = _config(BASE.replace("mesh_size = 0.1", "mesh_size = 0.2") + "\n[solver]\nerror_estimate = true\n")
    assert cfg.solver.error_estimate
    data = run_homogenization(cfg, MPI.COMM_WORLD, None)
    assert list(data["error_estimate"]) == cfg.boundary_conditions
    for bc in cfg.boundary_conditions:
        err = np.asarray(data["error_estimate"][bc])
        assert err.shape == (3, 3) and np.all(np.diag(err) > 0.0), bc  # the FE tensor is too stiff
        details = data["details"][bc]["error_estimate"]
        assert details["nested"] and details["identity_residual"] < HM_TOL
    assert "error_estimate" not in run_homogenization(_config(BASE), MPI.COMM_WORLD, None)


def test_target_error_refines_one_mesh_until_every_bc_meets_it():
    """[solver] target_error = 1e-2 (KUBC and TUBC, mesh size 0.2): the mesh is refined until the estimated
    relative energy error of every load case of both BCs is below it (every earlier mesh above it, dofs
    growing), and the written tensors and estimates are those of the last mesh (collective)."""
    text = BASE.replace("mesh_size = 0.1", "mesh_size = 0.2")
    text = text.replace('["kubc", "periodic", "tubc"]', '["kubc", "tubc"]')
    cfg = _config(text + "\n[solver]\ntarget_error = 1e-2\n")
    assert cfg.solver.estimates and not cfg.solver.error_estimate
    data = run_homogenization(cfg, MPI.COMM_WORLD, None)
    steps = data["adaptivity"]["steps"]
    assert len(steps) >= 2, steps
    assert all(max(s["max_relative_energy_error"].values()) > 1e-2 for s in steps[:-1])
    assert max(steps[-1]["max_relative_energy_error"].values()) <= 1e-2
    assert all(a["dofs"] < b["dofs"] for a, b in itertools.pairwise(steps))
    for bc in ("kubc", "tubc"):
        assert max(data["details"][bc]["error_estimate"]["relative_energy_error"]) == pytest.approx(
            steps[-1]["max_relative_energy_error"][bc], rel=1e-12)
    # the KUBC >= TUBC ordering holds on the refined mesh too
    assert np.linalg.eigvalsh(np.asarray(data["effective"]["kubc"]) - np.asarray(data["effective"]["tubc"])).min() > 0


@pytest.mark.parametrize("extra, needle", [
    ('\n[solver]\ntarget_error = 1e-2\n', "periodic"),
    ('\n[solver]\nmax_refinements = 2\n', "solver.max_refinements needs solver.target_error"),
    ('\n[solver]\ntarget_error = -1.0\n', "target_error"),
])
def test_target_error_refusals(extra, needle):
    with pytest.raises(ConfigError, match=needle) as exc:
        _config(BASE + extra)
    assert "\n" not in str(exc.value)


def test_dumped_config_reloads_with_the_solver_defaults():
    """result.json stores ``cfg.model_dump()``; it must parse again (max_refinements = 12 without target_error)."""
    cfg = _config(BASE)
    again = parse_config(cfg.model_dump(mode="json", exclude_none=True), HomogenizeConfig, "h.toml")
    assert again.solver == cfg.solver
