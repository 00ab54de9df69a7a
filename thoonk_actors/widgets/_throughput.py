"""ThroughputPlot: finished/s and queue depth over the last minutes, drawn live.

Synopsis::

    plot = ThroughputPlot(window=300)
    plot.sample(finishes=stats.finishes, depth=stats.available)  # at each refresh
    plot.draw()                                                   # at most once a second
    plot.widget                                                   # put it in a VBox

Drawn with **bqplot** (the ``plots`` extra: ``pip install 'thoonk-actors[plots]'``):
its figures are ipywidgets themselves, so a redraw sends two short arrays
through the same comm as the rest of the view — no image re-encoding as
with an ``Output`` redrawn by matplotlib, no extra JavaScript to ship. It is
maintained with ipywidgets and ships its JupyterLab extension in the wheel.
Without bqplot the plot is one line of text that says how to get it; the
samples are kept either way (``points()``).
"""

from __future__ import annotations

import collections
import time
import warnings
from typing import Any

import ipywidgets as widgets

#: Seconds of history shown.
WINDOW = 300.0
#: Seconds shown at least, while the history is shorter than the window.
MIN_SPAN = 30.0
#: Seconds between two redraws of the figure, at most.
DRAW_EVERY = 1.0


def _bqplot() -> Any:
    try:
        with warnings.catch_warnings():
            # bqplot's own traitlets usage warns on import; not ours to fix
            warnings.simplefilter("ignore", DeprecationWarning)
            import bqplot  # type: ignore[import-untyped,import-not-found,unused-ignore]
    except ImportError:
        return None
    return bqplot


class ThroughputPlot:
    """Finished jobs per second and queue depth, sampled by a view and drawn with bqplot."""

    def __init__(self, *, window: float = WINDOW, height: str = "180px") -> None:
        self.window = window
        self._samples: collections.deque[tuple[float, int, int]] = collections.deque()
        self._drawn_at = 0.0
        self.made: list[widgets.Widget] = []
        bq = _bqplot()
        self.available = bq is not None
        if bq is None:
            self.widget: widgets.Widget = widgets.HTML(
                '<span style="color:#666">A live throughput plot needs bqplot: '
                "<code>pip install 'thoonk-actors[plots]'</code></span>"
            )
            self.made.append(self.widget)
            return
        x = self._x = bq.LinearScale(min=-window, max=0.0)
        # No padding: the axes start at 0 (padding showed "-29 finished/s").
        y_rate = bq.LinearScale(min=0.0, allow_padding=False)
        y_depth = bq.LinearScale(min=0.0, allow_padding=False)
        self._rate = bq.Lines(
            x=[], y=[], scales={"x": x, "y": y_rate}, colors=["#1f77b4"],
            labels=["finished/s"], display_legend=True,
        )  # fmt: skip
        self._depth = bq.Lines(
            x=[], y=[], scales={"x": x, "y": y_depth}, colors=["#ff7f0e"],
            labels=["queued"], display_legend=True, line_style="dashed",
        )  # fmt: skip
        axes = [
            bq.Axis(scale=x, label="seconds ago", num_ticks=6),
            bq.Axis(scale=y_rate, side="left", label="finished/s", num_ticks=4),
            bq.Axis(scale=y_depth, side="right", label="queued", num_ticks=4),
        ]
        figure = bq.Figure(
            marks=[self._rate, self._depth],
            axes=axes,
            fig_margin={"top": 10, "bottom": 35, "left": 55, "right": 55},
            legend_location="top-left",
            padding_y=0.0,
            layout=widgets.Layout(width="auto", height=height),
        )
        self.widget = figure
        self.made.extend([figure, x, y_rate, y_depth, self._rate, self._depth, *axes])

    def sample(self, *, finishes: int, depth: int, at: float | None = None) -> None:
        """Record the queue's ``finishes`` counter and its depth (available jobs) now."""
        now = time.monotonic() if at is None else at
        samples = self._samples
        if samples and now <= samples[-1][0]:
            samples[-1] = (samples[-1][0], finishes, depth)
        else:
            samples.append((now, finishes, depth))
        while len(samples) > 2 and samples[1][0] < now - self.window:
            samples.popleft()

    def points(self, now: float | None = None) -> list[tuple[float, float, int]]:
        """``(seconds ago, finished/s since the previous sample, depth)``, oldest first."""
        now = time.monotonic() if now is None else now
        found = []
        previous: tuple[float, int, int] | None = None
        for at, finishes, depth in self._samples:
            if previous is not None and at > previous[0]:
                rate = max(0, finishes - previous[1]) / (at - previous[0])
                found.append((at - now, rate, depth))
            previous = (at, finishes, depth)
        return [p for p in found if p[0] >= -self.window]

    def draw(self, *, force: bool = False, now: float | None = None) -> bool:
        """Redraw the figure (at most every :data:`DRAW_EVERY` s unless ``force``)."""
        clock = time.monotonic()
        if not self.available or (not force and clock - self._drawn_at < DRAW_EVERY):
            return False
        self._drawn_at = clock
        now = clock if now is None else now
        points = self.points(now)
        xs = [p[0] for p in points]
        # a short history fills the plot (at least the last 30 s are shown)
        self._x.min = max(-self.window, min([*xs, -MIN_SPAN]))
        with self._rate.hold_sync(), self._depth.hold_sync():
            self._rate.x, self._rate.y = xs, [p[1] for p in points]
            self._depth.x, self._depth.y = xs, [p[2] for p in points]
        return True

    def close(self) -> None:
        """Close every widget the plot made."""
        for widget in self.made:
            widget.close()
        self.made.clear()
