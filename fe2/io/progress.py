"""Fraction done and time left of a long run, for the progress lines of rank 0.

The remaining time is the elapsed wall time extrapolated linearly in the fraction done since
this segment started (a restarted run counts from its restart): with adaptive time steps that
grow, or load steps that are cut, it is an estimate, and it says so by its ``~``.
"""

from __future__ import annotations

import time


def _clock(seconds: float) -> str:
    s = int(round(seconds))
    h, rem = divmod(s, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


class Eta:
    """``Eta(start)``: ``text(fraction, "of t_end")`` -> ``"43 % of t_end, ~1:23 left"``.

    Also a pacer: :meth:`due` is True every ``every_s`` seconds of wall time, so a run whose
    output interval is long still shows that it is alive.
    """

    def __init__(self, start_fraction: float = 0.0, every_s: float = 10.0) -> None:
        self.t0 = time.monotonic()
        self.f0 = float(start_fraction)
        self.every_s = every_s
        self._last = self.t0

    def text(self, fraction: float, of: str = "") -> str:
        """``"43 % <of>, ~1:23 left"`` (the part after the comma once there is progress to extrapolate)."""
        fraction = min(max(float(fraction), 0.0), 1.0)
        done = f"{100.0 * fraction:.0f} %" + (f" {of}" if of else "")
        progress = fraction - self.f0
        if progress <= 0.0 or fraction >= 1.0:
            return done
        left = (time.monotonic() - self.t0) * (1.0 - fraction) / progress
        return f"{done}, ~{_clock(left)} left"

    def due(self) -> bool:
        """True once every ``every_s`` seconds (then the clock restarts)."""
        now = time.monotonic()
        if now - self._last >= self.every_s:
            self._last = now
            return True
        return False


__all__ = ["Eta"]
