"""The ``fe2`` entry point itself: ``--version``."""

from __future__ import annotations

import pytest

import fe2
from fe2.cli import main

pytestmark = pytest.mark.serial


def test_version_names_fe2_and_its_stack(capsys):
    """``fe2 --version`` exits 0 and prints fe2's version with dolfinx's, PETSc's and Python's."""
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    out = capsys.readouterr().out.strip()
    assert out.startswith(f"fe2 {fe2.__version__} (dolfinx ") and "PETSc 3." in out and "Python 3." in out


@pytest.mark.parametrize("config", ["run/fe2_plate_j2.toml", "phasefield/pfhub_bm1b_small.toml",
                                    "fibre_elastic.toml", "darcy/isolated_tumour.toml"])
def test_check_validates_estimates_and_writes_nothing(capsys, tmp_path, config):
    """``fe2 SUB CONFIG --check``: exit 0, "valid", one line per size estimate with its limit, and no output
    folder created even when --out is given."""
    from pathlib import Path

    cfg = Path(__file__).resolve().parents[2] / "demos" / "configs" / config
    command = {"run": "run", "phasefield": "phasefield", "darcy": "darcy"}.get(config.split("/")[0], "homogenize")
    out = tmp_path / "never"
    assert main([command, str(cfg), "--check", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert f"fe2 {command} {cfg}: valid" in text and "(limit " in text and "nothing written" in text
    assert not out.exists()


def test_check_refuses_a_bad_config_in_one_line(capsys, tmp_path):
    """A config a run would refuse is refused by --check too, with the same one line and exit 2."""
    bad = tmp_path / "bad.toml"
    bad.write_text('physics = "elasticity"\nboundary_conditions = ["kubc"]\n[geometry]\nkind = "square_array"\n'
                   'volume_fraction = 1.5\nmesh_size = 0.1\n[materials.matrix]\nyoung = 1.0\npoisson = 0.3\n'
                   '[materials.fibre]\nyoung = 2.0\npoisson = 0.3\n')
    assert main(["homogenize", str(bad), "--check"]) == 2
    err = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
    assert len(err) == 1 and err[0].startswith("fe2: error:") and "volume_fraction" in err[0]


def test_out_is_required_without_check(capsys):
    """Without --check a config command still needs --out (one line, exit 2)."""
    from pathlib import Path

    cfg = Path(__file__).resolve().parents[2] / "demos" / "configs" / "fibre_elastic.toml"
    assert main(["homogenize", str(cfg)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--out" in err[0]


@pytest.mark.parametrize("good, typo, expected", [
    ("mesh_size = 0.2 }", "mesh_sise = 0.2 }", "macro.domain.mesh_sise: unknown key (did you mean 'mesh_size'?)"),
    ("poisson = 0.35", "poison = 0.35", "rve.materials.matrix.poison: unknown key (did you mean 'poisson'?)"),
    ("[loading]", "[loadings]", "loadings: unknown key (did you mean 'loading'?)"),
    # close to a key of another table only: no suggestion (mesh_size is not a key of [loading])
    ("[loading]", "[loading]\nmesh_sizee = 1", "loading.mesh_sizee: unknown key"),
])
def test_misspelt_key_gets_a_suggestion(capsys, tmp_path, good, typo, expected):
    """An unknown key close to a key of the table it was written in (difflib ratio >= 0.75) is named with
    the likely key; a key of another table is not suggested."""
    from pathlib import Path

    text = (Path(__file__).resolve().parents[2] / "demos" / "configs" / "run" / "fe2_plate_j2.toml").read_text()
    assert good in text
    cfg = tmp_path / "typo.toml"
    cfg.write_text(text.replace(good, typo, 1))
    assert main(["run", str(cfg), "--check"]) == 2
    err = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
    assert len(err) == 1 and expected in err[0]
    if "(did you mean" not in expected:
        assert "did you mean" not in err[0]
