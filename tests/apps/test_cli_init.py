"""``fe2 init`` templates and ``fe2 SUB --help`` key lists, both generated from the config models.

Every template of every command and kind loads with the command's own loader as written (not
after editing), names every key of the top-level model (set, or commented with its default), and
``--help`` lists the tables and keys with the admissible ranges of the schema.
"""

from __future__ import annotations

import importlib

import pytest
from mpi4py import MPI

from fe2.cli import COMMANDS, main
from fe2.config.schema import EXAMPLES, command_model, help_text, keys, template

CASES = [(c, k) for c, kinds in EXAMPLES.items() for k in kinds]


def _loader(command: str):
    row = next(r for r in COMMANDS if r.name == command)
    module, name = row.load.split(":")
    return getattr(importlib.import_module(module), name)


@pytest.mark.serial
@pytest.mark.parametrize("command, kind", CASES)
def test_template_loads_as_written(command, kind, tmp_path):
    text = template(command, kind)
    path = tmp_path / f"{command}_{kind}.toml"
    path.write_text(text)
    loaded = _loader(command)(path)
    cfg = loaded[0] if isinstance(loaded, tuple) else loaded
    assert type(cfg) is command_model(command)
    for name, f in command_model(command).model_fields.items():  # no key of the schema left out
        key = f.alias or name
        assert f"{key} = " in text or f"[{key}]" in text or f"[{key}." in text, key


def test_every_command_with_a_config_has_a_template_and_a_model():
    with_config = {r.name for r in COMMANDS if r.load is not None}
    assert with_config == set(EXAMPLES)


@pytest.mark.serial
def test_fe2_init_writes_a_file_that_checks(tmp_path, capsys):
    out = tmp_path / "sub" / "run.toml"
    assert main(["init", "run", "--out", str(out)]) == 0
    assert main(["run", str(out), "--check"]) == 0
    assert "valid" in capsys.readouterr().out
    assert main(["init", "run", "--out", str(out)]) == 3  # an existing file is not overwritten
    assert "exists; not overwritten" in capsys.readouterr().err
    assert main(["init", "reactions", "nonsense"]) == 2
    assert "unknown kind 'nonsense' (kinds: well_mixed, spatial)" in capsys.readouterr().err
    assert main(["init", "homogenize", "elasticity"]) == 0  # stdout
    assert 'physics = "elasticity"' in capsys.readouterr().out


def test_help_lists_the_config_keys_with_ranges(capsys):
    with pytest.raises(SystemExit) as info:
        main(["homogenize", "--help"])
    assert info.value.code == 0
    text = capsys.readouterr().out
    if MPI.COMM_WORLD.rank != 0:
        assert text == ""
        return
    assert "--check" in text and "[geometry]" in text and "[solver]" in text
    assert "mesh_size (required): float (> 0)" in text
    assert 'kind = "auto": one of "auto", "direct", "iterative"' in text
    assert "rtol = 1e-12: float (> 0, < 1)" in text
    assert "fe2_rve_" in text  # the PETSc epilog stays
    # materials are a loose table validated per phase: their keys are listed from that model
    assert "  [materials.<name>]" in text and "poisson (required): float (> -1, < 0.5)" in text


def test_help_text_covers_every_table_of_the_schema():
    """Every nested table of the run config is a section of its help (nothing hand-listed)."""
    text = help_text("run")
    tables = {k.table for k in keys(command_model("run"))} - {""}
    assert {"macro", "macro.domain", "macro.dirichlet[]", "loading", "rve", "rve.geometry",
            "rve.materials.<name>", "limits", "output"} <= tables
    for t in tables:
        assert f"  [{t}]" in text
    assert "poisson (required): float (> -1, < 0.5)" in text
