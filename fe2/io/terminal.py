"""The terminal of one ``fe2`` command: rank-0 lines, progress bars, ``--quiet``, ``--log FILE``, a summary.

:class:`Terminal` is what a command reports to (it is a ``say(str)`` callable, so every runner that
takes ``progress=`` accepts it). Only rank 0 writes; the other ranks' terminals are silent and
never communicate after :func:`open_terminal`.

* Lines: ``[fe2   12.3s] message`` (elapsed wall time since the command started). A message that
  starts with ``warning``/``WARNING`` is a warning: printed also under ``--quiet``.
* Bars (:meth:`Terminal.bar`, through :func:`fe2.io.progress.progress_bar`): a rich bar when stdout
  is a terminal; plain lines (first, every ``every_s`` s, last) when it is not, so CI logs and pipes
  hold no control characters.
* ``--quiet``: only warnings (and the command line's error lines) reach the terminal.
* ``--log FILE``: every line rank 0 would print in full (plain text, bar lines included, warnings,
  the summary, error lines), whatever ``--quiet`` says.
* :meth:`Terminal.summary`: a short table at the end of a command (part, what was solved, its time;
  the total; where the files are), drawn by rich (ASCII when not on a terminal).
* :meth:`Terminal.capture`: while a command runs, Python-level ``print`` output (tables of the
  reports) goes through the terminal too, and Python warnings become one line each.
"""

from __future__ import annotations

import contextlib
import io
import sys
import time
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, TextIO

from fe2.errors import OutputError
from fe2.io.progress import Bar


def _seconds(s: float | None) -> str:
    if s is None:
        return ""
    return f"{s:.2f} s" if s < 10 else f"{s:.1f} s" if s < 600 else f"{s / 60:.1f} min"


def is_warning(line: str) -> bool:
    """Whether a line is a warning (printed under ``--quiet`` too)."""
    return line.lstrip().lower().startswith("warning")


class _Lines(io.TextIOBase):
    """A text stream that hands complete lines to a terminal (sys.stdout while a command runs)."""

    def __init__(self, term: Terminal) -> None:
        self.term = term
        self._buf = ""

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        self._buf += text
        *lines, self._buf = self._buf.split("\n")
        for line in lines:
            self.term.echo(line)
        return len(text)

    def flush(self) -> None:  # partial lines wait for their newline
        pass

    def close_lines(self) -> None:
        if self._buf:
            self.term.echo(self._buf)
            self._buf = ""


class Terminal:
    """Rank-0 output of one command (see the module docstring).

    Args:
        rank: this process's rank; every rank but 0 is silent.
        quiet: print warnings only.
        log: a file that receives every line in plain text (rank 0 opens it, ``"w"``).
        stream: where lines go (default: ``sys.stdout`` when the terminal is made).
        interactive: draw rich bars and tables (default: ``stream`` is a terminal and not quiet).
        every_s: pace of the plain progress lines.
    """

    def __init__(self, rank: int = 0, *, quiet: bool = False, log: str | Path | None = None,
                 stream: TextIO | None = None, interactive: bool | None = None, every_s: float = 10.0) -> None:
        self.active = rank == 0
        self.quiet = quiet
        self.every_s = every_s
        self.stream = stream if stream is not None else sys.stdout
        if interactive is None:
            isatty = getattr(self.stream, "isatty", None)
            interactive = bool(isatty and isatty())
        self.interactive = bool(interactive) and self.active and not quiet
        self.t0 = time.perf_counter()
        self.log_path = Path(log) if log is not None else None
        self._log: TextIO | None = None
        if self.active and self.log_path is not None:
            try:
                self._log = self.log_path.open("w", encoding="utf-8")
            except OSError as err:
                raise OutputError(f"--log {self.log_path}: cannot write it ({err.strerror or err})") from None
        self._console: Any = None  # rich Console of the terminal (made at its first use)
        self._progress: Any = None  # rich Progress while a bar is open (interactive only)
        self._open: list[Bar] = []
        self.bar_times: dict[str, float] = {}  #: wall time of each closed bar, by its description

    # ------------------------------------------------------------------ lines
    @property
    def elapsed_s(self) -> float:
        return time.perf_counter() - self.t0

    def __call__(self, msg: str) -> None:
        """A progress line, stamped with the elapsed time (a warning when it starts with 'warning')."""
        line = f"[fe2 {self.elapsed_s:7.1f}s] {msg}"
        self._emit(line, always=is_warning(msg))

    def warn(self, msg: str) -> None:
        """A warning: one line, also under ``--quiet``."""
        self._emit(msg, always=True)

    def echo(self, line: str) -> None:
        """A line as it is (tables, results); a warning when it starts with 'warning'."""
        self._emit(line, always=is_warning(line))

    def _emit(self, line: str, always: bool = False, log: bool = True, screen: bool = True) -> None:
        if not self.active:
            return
        if log and self._log is not None:
            self._log.write(line + "\n")
            self._log.flush()
        if not screen or (self.quiet and not always):
            return
        if self._progress is not None:  # above the live bar
            from rich.text import Text

            self._console_().print(Text(line), soft_wrap=True)
        else:
            print(line, file=self.stream, flush=True)

    def log_only(self, line: str) -> None:
        """A line for the log file only (the command line's error lines, printed on stderr)."""
        self.stop()
        self._emit(line, screen=False)

    # ------------------------------------------------------------------ bars
    def _console_(self):
        if self._console is None:
            from rich.console import Console

            self._console = Console(file=self.stream, highlight=False, markup=False, emoji=False)
        return self._console

    def bar(self, description: str, total: float, *, start: float = 0.0, of: str = "",
            every_s: float | None = None, lines: bool = True) -> Bar:
        """A progress bar (see :class:`fe2.io.progress.Bar`): rich on a terminal, plain lines otherwise."""
        live = None
        if self.interactive:
            from rich.progress import (
                BarColumn,
                Progress,
                TaskProgressColumn,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            if self._progress is None:
                self._progress = Progress(TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(),
                                          TimeElapsedColumn(), TextColumn("left"), TimeRemainingColumn(),
                                          console=self._console_(), transient=False, redirect_stdout=False,
                                          redirect_stderr=False)
                self._progress.start()
            prog = self._progress
            task = prog.add_task(description, total=float(total), completed=float(start))

            def live(done: float) -> None:
                prog.update(task, completed=done)

        b = Bar(description, total, start=start, of=of, sink=self._bar_line if lines else None, live=live,
                on_close=self._bar_closed, every_s=self.every_s if every_s is None else every_s)
        self._open.append(b)
        return b

    def _bar_line(self, line: str, forced: bool) -> None:
        # a forced line is the loop's own (shown above a live bar); a paced one only when there is no bar
        if forced or not self.interactive:
            self(line)
        else:
            self._emit(f"[fe2 {self.elapsed_s:7.1f}s] {line}", screen=False)

    def _bar_closed(self, b: Bar) -> None:
        self.bar_times[b.description] = self.bar_times.get(b.description, 0.0) + b.wall_s
        if b in self._open:
            self._open.remove(b)
        if not self._open:
            self.stop()

    def stop(self) -> None:
        """Stop a live bar (its last state stays on the screen)."""
        if self._progress is not None:
            self._progress.stop()
            self._progress = None

    # ------------------------------------------------------------------ the summary
    def summary(self, title: str, rows: Sequence[tuple[str, str, float | None]], files: str | None = None) -> None:
        """A table: one row per part (name, what was solved, its wall time or None), the total, the files."""
        if not self.active:
            return
        from rich import box
        from rich.console import Console
        from rich.table import Table
        from rich.text import Text

        def table(style) -> Table:
            t = Table(title=Text(title), box=style, show_edge=False, title_justify="left")
            t.add_column("part")
            t.add_column("what")
            t.add_column("time", justify="right")
            for part, what, secs in rows:
                t.add_row(Text(part), Text(what), Text(_seconds(secs)))
            t.add_row(Text("total"), Text(""), Text(_seconds(self.elapsed_s)))
            if files:
                t.add_row(Text("files"), Text(files), Text(""))
            return t

        buf = io.StringIO()
        Console(file=buf, width=110, color_system=None, force_terminal=False, highlight=False, markup=False,
                emoji=False).print(table(box.ASCII))
        plain = [line.rstrip() for line in buf.getvalue().rstrip("\n").splitlines()]
        if self.interactive:
            self.stop()
            for line in plain:
                self._emit(line, screen=False)
            self._console_().print(table(box.SIMPLE_HEAD))
        else:
            for line in plain:
                self._emit(line)

    # ------------------------------------------------------------------ the command's output
    @contextlib.contextmanager
    def capture(self) -> Iterator[None]:
        """While a command runs: ``print`` output and Python warnings go through this terminal."""
        lines = _Lines(self)
        previous = warnings.showwarning

        def show(message, category, filename, lineno, file=None, line=None) -> None:
            self.warn(f"warning: {category.__name__}: {str(message).splitlines()[0] if str(message) else ''}")

        warnings.showwarning = show
        try:
            with contextlib.redirect_stdout(lines):
                yield
        finally:
            lines.close_lines()
            warnings.showwarning = previous
            self.stop()

    def close(self) -> None:
        """Stop any bar, close the log."""
        self.stop()
        if self._log is not None:
            self._log.close()
            self._log = None


def open_terminal(comm, quiet: bool = False, log: str | None = None) -> Terminal:
    """The terminal of a command on ``comm`` (collective: a ``--log`` rank 0 cannot write fails on every rank)."""
    failure = None
    term = None
    try:
        term = Terminal(comm.rank, quiet=quiet, log=log)
    except OutputError as err:
        failure = str(err)
    if comm.size > 1:
        failure = comm.bcast(failure, root=0)
    if failure is not None:
        if term is not None:
            term.close()
        agreed = OutputError(failure)
        agreed.collective = True
        raise agreed
    assert term is not None
    return term


__all__ = ["Terminal", "is_warning", "open_terminal"]
