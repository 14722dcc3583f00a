"""fe2.io.terminal and fe2.io.progress: rank-0 lines, bars, --quiet, --log, the summary table.

Off a terminal (CI, pipes, the --log file) every line is plain text: no ESC control character at
all, checked byte for byte. On a terminal (forced here) rich draws the bar with control sequences,
which never reach the log. The CLI tests run ``fe2 homogenize`` on a 76-cell RVE in a subprocess
with stdout piped, as CI does.
"""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pytest

from fe2.io import progress
from fe2.io.progress import progress_bar
from fe2.io.terminal import Terminal

pytestmark = pytest.mark.serial

ESC = "\x1b"


def test_plain_bar_prints_first_forced_paced_and_last(monkeypatch):
    now = {"t": 0.0}
    monkeypatch.setattr(progress.time, "monotonic", lambda: now["t"])
    lines: list[str] = []
    bar = progress_bar(lines.append, "t", 10.0, of="of t_end", every_s=5.0)
    bar.update(1.0)  # the first update prints (0.1 done in 0 s: 0 s left)
    bar.update(2.0)  # not due, not forced
    bar.update(3.0, "own line", force=True)
    now["t"] = 6.0
    bar.update(4.0)  # due: 6 s since the start
    bar.update(10.0)  # the last
    bar.close()
    assert lines == ["t: 10 % of t_end, ~0:00 left", "own line", "t: 40 % of t_end, ~0:09 left", "t: 100 % of t_end"]
    assert progress_bar(None, "x", 2).fraction == 0.0  # silent without a sink


def test_terminal_off_a_terminal_is_plain_text_and_quiet_keeps_warnings(tmp_path):
    out = io.StringIO()
    term = Terminal(0, stream=out, log=tmp_path / "a.log", every_s=3600.0)
    assert not term.interactive  # a StringIO is no terminal
    term("started")
    with term.bar("records", 3) as bar:
        for k in range(1, 4):
            bar.update(k)
    term.warn("WARNING: something")
    term.summary("fe2 test", [("solve", "3 records", 1.5)], "out/: result.json")
    term.close()
    text = out.getvalue()
    assert ESC not in text and text == (tmp_path / "a.log").read_text()
    assert "records: 33 %" in text and "records: 100 %" in text and "records: 67 %" not in text
    assert "| 3 records" in text and "out/: result.json" in text and "total" in text
    quiet = io.StringIO()
    term = Terminal(0, stream=quiet, quiet=True, log=tmp_path / "q.log")
    term("info")
    term("warning: kept")
    term.summary("fe2 test", [("solve", "x", None)])
    term.close()
    shown = quiet.getvalue().splitlines()
    assert len(shown) == 1 and shown[0].endswith("warning: kept")  # the warning only, no info, no summary
    assert "info" in (tmp_path / "q.log").read_text() and "fe2 test" in (tmp_path / "q.log").read_text()
    silent = io.StringIO()
    Terminal(1, stream=silent)("rank 1 says nothing")
    assert silent.getvalue() == ""


def test_terminal_on_a_terminal_draws_rich_and_logs_plain(tmp_path):
    out = io.StringIO()
    term = Terminal(0, stream=out, interactive=True, log=tmp_path / "t.log")
    with term.bar("load path", 2.0) as bar:
        bar.update(1.0, "step 1", force=True)
        bar.update(2.0, "step 2", force=True)
    term.close()
    assert "100%" in out.getvalue()  # the rich bar was drawn
    log = (tmp_path / "t.log").read_text()
    assert ESC not in log and "step 1" in log and "step 2" in log
    assert term.bar_times["load path"] >= 0.0


CONFIG = """\
physics = "conductivity"
boundary_conditions = ["periodic"]

[geometry]
kind = "square_array"
volume_fraction = 0.3
mesh_size = 0.2

[materials.matrix]
conductivity = 1.0

[materials.fibre]
conductivity = 10.0

[output]
fields = false
"""


def _fe2(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "fe2.cli", *args], cwd=tmp_path, capture_output=True, text=True,
                          timeout=600)


def test_cli_piped_quiet_log_and_error(tmp_path):
    (tmp_path / "rve.toml").write_text(CONFIG)
    plain = _fe2(tmp_path, "homogenize", "rve.toml", "--out", "o1")
    assert plain.returncode == 0, plain.stderr
    assert ESC not in plain.stdout and "fe2 homogenize" in plain.stdout and "total" in plain.stdout
    for noise in ("{'", "HDF5-DIAG", "Traceback"):
        assert noise not in plain.stdout + plain.stderr
    quiet = _fe2(tmp_path, "homogenize", "rve.toml", "--out", "o2", "--quiet", "--log", "run.log")
    assert quiet.returncode == 0 and quiet.stdout == "" and quiet.stderr == ""
    log = (tmp_path / "run.log").read_text()
    assert ESC not in log and "homogenize rve.toml" in log and "periodic" in log and "fe2 homogenize" in log
    (tmp_path / "bad.toml").write_text(CONFIG.replace("volume_fraction = 0.3", "volume_fraction = 3.0"))
    bad = _fe2(tmp_path, "homogenize", "bad.toml", "--out", "o3", "--quiet", "--log", "bad.log")
    assert bad.returncode == 2 and bad.stdout == ""
    err = bad.stderr.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("fe2: error:") and "volume_fraction" in err[0]
    assert err[0] in (tmp_path / "bad.log").read_text()
