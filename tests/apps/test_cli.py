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
