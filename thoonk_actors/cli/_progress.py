"""A progress bar on one terminal line, or plain periodic lines, with notes in between.

Synopsis::

    display = Display(sys.stdout)                  # a bar on a terminal, lines otherwise
    display.note("Published 20,000 jobs.")         # a line that stays (the bar moves below it)
    display.progress(12_000, 20_000, rate=9_500.0, workers=2)
    display.close()                                # the bar's last state stays on screen

On a terminal the bar is redrawn in place with ``\\r`` (at most every
:data:`TTY_EVERY` seconds), shortened to fit the terminal's width (a line
that wrapped could not be redrawn); otherwise a plain line is printed at most
every :data:`PLAIN_EVERY` seconds, and always for the last state.
``quiet=True`` (``--json``) prints nothing at all.
"""

from __future__ import annotations

import shutil
import time
from typing import TextIO

TTY_EVERY = 0.1
PLAIN_EVERY = 0.5
BAR_WIDTH = 24
MIN_BAR_WIDTH = 5
CLEAR_LINE = "\x1b[K"


class Display:
    """Where ``thoonk demo`` writes for people (see the module doc)."""

    def __init__(
        self,
        out: TextIO,
        *,
        quiet: bool = False,
        tty: bool | None = None,
        columns: int | None = None,
    ) -> None:
        self._out = out
        self._quiet = quiet
        self._tty = out.isatty() if tty is None else tty
        self._columns = columns
        self._bar = ""  # what the bar line shows now ("" = no bar on screen)
        self._last: tuple[int, int] | None = None
        self._shown_at = -1e9
        utf8 = (getattr(out, "encoding", None) or "").lower().replace("-", "") == "utf8"
        self._full, self._empty = ("█", "░") if utf8 else ("#", "-")

    def note(self, text: str) -> None:
        """Print a line that stays; on a terminal the bar is drawn again under it."""
        if self._quiet:
            return
        if self._tty and self._bar:
            self._out.write(f"\r{text}{CLEAR_LINE}\n{self._bar}")
        else:
            self._out.write(f"{text}\n")
        self._out.flush()

    def progress(
        self,
        finished: int,
        total: int,
        *,
        rate: float | None = None,
        workers: int | None = None,
        final: bool = False,
    ) -> None:
        """Show ``finished`` of ``total`` (throttled, unless ``final`` or nothing was shown)."""
        if self._quiet:
            return
        now = time.monotonic()
        every = TTY_EVERY if self._tty else PLAIN_EVERY
        if not final and (
            now - self._shown_at < every or (not self._tty and (finished, total) == self._last)
        ):
            return  # too soon, or (as plain lines) nothing new to say
        self._shown_at, self._last = now, (finished, total)
        part = finished / total if total else 1.0
        speed = "" if rate is None else f"  {rate:,.0f} jobs/s"
        alive = "" if workers is None else f"  {workers} worker{'' if workers == 1 else 's'} alive"
        text = f"{finished:,} / {total:,} finished ({part:.0%}){speed}{alive}"
        if self._tty:
            self._bar = self._fit(text, part)
            self._out.write(f"\r{self._bar}{CLEAR_LINE}")
        else:
            self._out.write(f"progress: {text}\n")
        self._out.flush()

    def _fit(self, text: str, part: float) -> str:
        """The bar and ``text`` in less than the terminal's width (the bar shrinks first)."""
        room = (self._columns or shutil.get_terminal_size().columns) - 1
        width = min(BAR_WIDTH, room - len(text) - 2)
        if width < MIN_BAR_WIDTH:
            return text[:room]
        done = min(width, round(part * width))
        return f"{self._full * done}{self._empty * (width - done)}  {text}"

    def close(self) -> None:
        """End the bar's line, leaving it on screen."""
        if self._tty and self._bar and not self._quiet:
            self._out.write("\n")
            self._out.flush()
        self._bar = ""
