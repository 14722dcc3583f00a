"""fe2.io.progress: fraction done and the linear estimate of the time left."""

from __future__ import annotations

import pytest

from fe2.io import progress
from fe2.io.progress import Eta

pytestmark = pytest.mark.serial


def test_eta_extrapolates_linearly_from_the_segment_start(monkeypatch):
    """Started at 20 %, 30 s later at 50 %: 0.3 done in 30 s, 0.5 left -> 50 s."""
    now = {"t": 100.0}
    monkeypatch.setattr(progress.time, "monotonic", lambda: now["t"])
    eta = Eta(0.2, every_s=10.0)
    assert eta.text(0.2, "of t_end") == "20 % of t_end"  # no progress yet: no estimate
    now["t"] = 130.0
    assert eta.text(0.5, "of t_end") == "50 % of t_end, ~0:50 left"
    assert eta.text(1.0) == "100 %"
    assert eta.due() and not eta.due()  # 30 s since the start, then 0 s since the last
    now["t"] = 130.0 + 3 * 3600
    assert eta.text(0.6) == "60 %, ~3:00:30 left"  # 0.4 done in 3 h 30 s, 0.4 left
