"""PETSc options reach fe2's solvers under their stable prefixes, from the command line and from TOML.

* ``-fe2_rve_ksp_type cg`` on the command line and ``[petsc] fe2_rve_ksp_type = "cg"`` in the
  config both reach the RVE solver: ``-fe2_rve_ksp_view`` prints the KSP as PETSc built it, and
  its type line reads ``cg`` instead of fe2's default ``preonly`` (MUMPS Cholesky).
* The effective tensor does not depend on the choice: CG preconditioned by the exact Cholesky
  factorization converges in one iteration, so the tensors agree to 1e-10 relative (the CG
  tolerance, ksp_rtol 1e-10 set here; the default direct solve is exact to round-off).
* The command line wins over the TOML table; options are removed from the database after
  the run; a key without an fe2 prefix is a one-line error naming it (exit 2).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from petsc4py import PETSc

from fe2.cli import main

pytestmark = pytest.mark.serial  # one in-process CLI run per test; PETSc prints from rank 0 only

CONFIG = """
physics = "conductivity"
boundary_conditions = ["periodic"]
[geometry]
kind = "square_array"
volume_fraction = 0.3
mesh_size = 0.1
[materials.matrix]
conductivity = 1.0
[materials.fibre]
conductivity = 10.0
[output]
fields = false
"""


def _run(tmp_path: Path, name: str, extra_toml: str, args: list[str], capfd) -> tuple[int, str, np.ndarray | None]:
    cfg = tmp_path / f"{name}.toml"
    cfg.write_text(CONFIG + extra_toml)
    out = tmp_path / name
    code = main(["homogenize", str(cfg), "--out", str(out), *args])
    captured = capfd.readouterr()
    result = out / "result.json"
    tensor = np.array(json.loads(result.read_text())["effective"]["periodic"]) if result.is_file() else None
    return code, captured.out + captured.err, tensor


def _ksp_types(text: str) -> set[str]:
    """The set of ``type:`` lines right after each ``KSP Object: (fe2_rve_)`` header of -ksp_view
    (PETSc prints the view once per load-case solve)."""
    lines = text.splitlines()
    return {lines[i + 1].split("type:")[1].strip() for i, line in enumerate(lines)
            if line.startswith("KSP Object: (fe2_rve_)")}


def test_command_line_option_reaches_the_rve_solver(tmp_path: Path, capfd):
    code, text, default = _run(tmp_path, "default", "", ["-fe2_rve_ksp_view"], capfd)
    assert code == 0
    assert _ksp_types(text) == {"preonly"}
    code, text, cg = _run(tmp_path, "cg", "", ["-fe2_rve_ksp_type", "cg", "-fe2_rve_ksp_rtol", "1e-10",
                                               "-fe2_rve_ksp_view"], capfd)
    assert code == 0
    assert _ksp_types(text) == {"cg"}
    assert np.max(np.abs(cg - default)) <= 1e-10 * np.max(np.abs(default))
    assert not PETSc.Options().hasName("fe2_rve_ksp_type")  # removed after the run


def test_toml_petsc_table_reaches_the_rve_solver_and_the_command_line_wins(tmp_path: Path, capfd):
    table = '[petsc]\nfe2_rve_ksp_type = "cg"\nfe2_rve_ksp_view = ""\n'
    code, text, _ = _run(tmp_path, "toml", table, [], capfd)
    assert code == 0
    assert _ksp_types(text) == {"cg"}
    code, text, _ = _run(tmp_path, "both", table, ["-fe2_rve_ksp_type", "gmres"], capfd)
    assert code == 0
    assert _ksp_types(text) == {"gmres"}
    assert not PETSc.Options().hasName("fe2_rve_ksp_view")


@pytest.mark.parametrize("extra_toml, args, key", [
    ("", ["-ksp_type", "cg"], "-ksp_type"),              # unprefixed: argparse rejects it (one line, exit 2)
    ("", ["-fe2_rv_ksp_type", "cg"], "-fe2_rv_ksp_type"),
    ('[petsc]\nksp_type = "cg"\n', [], "petsc.ksp_type"),
    ('[petsc]\nfe2_rve_ksp_type = ["cg"]\n', [], "petsc.fe2_rve_ksp_type"),
])
def test_bad_petsc_option_is_one_line_naming_the_key(tmp_path: Path, capfd, extra_toml, args, key):
    code, text, tensor = _run(tmp_path, "bad", extra_toml, args, capfd)
    assert code == 2
    errors = [line for line in text.splitlines() if line.startswith("fe2: error")]
    assert len(errors) == 1 and key in errors[0], text
    assert tensor is None

