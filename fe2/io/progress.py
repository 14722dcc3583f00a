"""Fraction done and time left of a long loop: :class:`Eta` and the one progress bar, :class:`Bar`.

Every long loop of fe2 (load steps of ``fe2 run``, time integration toward ``t_end``, study records
of ``fe2 bounds``, ensembles of ``fe2 uq``, training paths of ``fe2 reduce``, the time steps of
``fe2 reactions`` and ``fe2 darcy``) reports through :func:`progress_bar`. The bar is local to the
rank that calls it: it never communicates, so it may be updated anywhere in a loop, and only rank
0's terminal shows it (:class:`fe2.io.terminal.Terminal` is silent on the other ranks).

Where the bar goes depends on what the loop was given to report to:

* the command line's :class:`~fe2.io.terminal.Terminal` on a terminal: a rich progress bar (fraction,
  elapsed time, time left) under the loop's own lines;
* the same when stdout is not a terminal (CI, pipes, ``--log``): plain lines, the first update,
  then at most one every ``every_s`` seconds, and the last, with no control characters;
* any other ``say(str)`` callable (a library caller, a test): the same plain lines through it;
* nothing: no output at all.

The remaining time is the elapsed wall time extrapolated linearly in the fraction done since the
bar started (a restarted run counts from its restart): with adaptive time steps that grow, or load
steps that are cut, it is an estimate, and it says so by its ``~``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol


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


class LineSink(Protocol):
    """Where a bar's plain lines go: ``sink(line, forced)`` (forced: a line the loop asked for)."""

    def __call__(self, line: str, forced: bool) -> None: ...


class Bar:
    """Progress of one loop from ``start`` to ``total`` (steps, records, or a time toward ``t_end``).

    :meth:`update` sets the amount done; a plain line goes to ``sink`` on the first update, on the
    last (``done >= total``), when the caller forces one (its own per-step line), and otherwise at
    most every ``every_s`` seconds. ``live`` (set by :class:`~fe2.io.terminal.Terminal` on a
    terminal) is called with the amount done at every update, to redraw a rich bar. No collectives.

    Args:
        description: what is counted, e.g. ``"load path"``, ``"t"``, ``"records"``.
        total: the amount at the end (> 0).
        start: the amount already done (a restart).
        of: words after the percentage in the default line, e.g. ``"of t_end"``.
    """

    def __init__(self, description: str, total: float, *, start: float = 0.0, of: str = "",
                 sink: LineSink | None = None, live: Callable[[float], None] | None = None,
                 on_close: Callable[[Bar], None] | None = None, every_s: float = 10.0) -> None:
        self.description = description
        self.total = max(float(total), 1e-300)
        self.done = float(start)
        self.of = of
        self.sink = sink
        self.live = live
        self.on_close = on_close
        self.t0 = time.monotonic()
        self.wall_s = 0.0
        self.closed = False
        self._eta = Eta(self.done / self.total, every_s=every_s)
        self._updates = 0

    @property
    def fraction(self) -> float:
        return min(max(self.done / self.total, 0.0), 1.0)

    def eta(self, done: float | None = None) -> str:
        """``"43 % of t_end, ~1:23 left"`` for the amount ``done`` (default: done now)."""
        fraction = self.fraction if done is None else min(max(float(done) / self.total, 0.0), 1.0)
        return self._eta.text(fraction, self.of)

    def update(self, done: float, line: str | None = None, *, force: bool = False) -> None:
        """Set the amount done to ``done``; ``line``: the loop's own line (default: description and
        :meth:`eta`), printed when ``force`` or when one is due.
        """
        self.done = float(done)
        self._updates += 1
        if self.live is not None:
            self.live(self.done)
        last = self.done >= self.total * (1.0 - 1e-12)
        due = self._eta.due()
        if self.sink is not None and (force or due or last or self._updates == 1):
            self.sink(line if line is not None else f"{self.description}: {self.eta()}", force)

    def advance(self, amount: float = 1.0, line: str | None = None, *, force: bool = False) -> None:
        """:meth:`update` by ``amount`` more."""
        self.update(self.done + amount, line, force=force)

    def close(self) -> None:
        """The loop ended (also when it failed): the bar stops; its wall time is kept in ``wall_s``."""
        if not self.closed:
            self.closed = True
            self.wall_s = time.monotonic() - self.t0
            if self.on_close is not None:
                self.on_close(self)

    def __enter__(self) -> Bar:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def progress_bar(say: Callable[[str], None] | None, description: str, total: float, *, start: float = 0.0,
                 of: str = "", every_s: float | None = None, lines: bool = True) -> Bar:
    """The bar of one loop, reporting to ``say``: the command line's :class:`~fe2.io.terminal.Terminal`
    (a rich bar on a terminal, plain lines otherwise), any ``say(str)`` callable (plain lines), or
    None (silent). ``lines=False``: no plain lines at all (the loop prints its own line at every
    step, with :meth:`Bar.eta`); only the rich bar, on a terminal. ``every_s``: the pace of the
    plain lines (None: the Terminal's own, else 10 s). See the module docstring.
    """
    from fe2.io.terminal import Terminal

    if isinstance(say, Terminal):
        return say.bar(description, total, start=start, of=of, every_s=every_s, lines=lines)
    pace = 10.0 if every_s is None else every_s
    if say is None or not lines:
        return Bar(description, total, start=start, of=of, every_s=pace)
    plain = say
    return Bar(description, total, start=start, of=of, sink=lambda line, forced: plain(line), every_s=pace)


__all__ = ["Bar", "Eta", "progress_bar"]
