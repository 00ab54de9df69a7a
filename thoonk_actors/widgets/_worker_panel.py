"""WorkerPanel: an in-kernel worker at a glance — start/stop, concurrency, progress, errors.

Synopsis::

    worker = t.process("emails", send, concurrency=4)
    panel = WorkerPanel(worker)           # or worker.view(), or `worker` as a cell's last line
    panel                                  # Start / Stop, a concurrency slider, a progress bar

What it shows:

* **progress** — the queue's ``finishes`` out of its ``publishes``, the
  absolute counters of ``Job.statistics()`` (counted since the queue was
  created; ``delete()`` resets them). So 100 % means every job ever
  published to the queue was finished, by this worker or any other; jobs
  that were stalled or retracted never finish and keep the bar short.
* **rate** and the worker's own counts — the runtime's ``QueueStatistics``
  of this worker (finished, failed, stalled, running, in flight), across
  its restarts.
* **last errors** — the handler's exceptions with the id of the job that
  raised them, in an ``Output`` widget, with the latest traceback.

It is refreshed from the worker's state (the runtime's live statistics,
twice a second), its queue's events and its errors, at most every
:data:`REFRESH_EVERY` seconds, all changes of a refresh in one
``hold_sync()``. The buttons and the slider act without blocking the
kernel: a graceful stop may take the worker's grace period.
"""

from __future__ import annotations

import html
import math
import threading
from collections.abc import Awaitable, Callable
from typing import Any

import ipywidgets as widgets
import trio

from ..objects import Job
from ..runtime import QueueStatistics
from ..sync import HandlerError, WorkerHandle, register_view
from ._common import LiveWidget, describe_error
from ._throughput import ThroughputPlot

#: Seconds between two refreshes, at most (a busy worker changes all the time).
REFRESH_EVERY = 0.25
#: Seconds between two samples of a quiet worker's queue, for the plot.
PLOT_EVERY = 2.0


class WorkerPanel(LiveWidget):
    """A live panel of one in-kernel worker (see the module doc)."""

    def __init__(
        self,
        worker: WorkerHandle,
        *,
        errors_shown: int = 5,
        max_concurrency: int = 64,
        plot: bool = True,
    ) -> None:
        self.worker = worker
        self.errors_shown = errors_shown
        self.statistics: QueueStatistics | None = None
        self.counts: dict[str, int] = {}
        self.shown_errors: list[HandlerError] = []
        self._error_count = -1
        self._pending = 0  # actions started from the panel and not finished yet
        self._pending_lock = threading.Lock()  # bumped in the kernel's thread, dropped in the loop
        self._syncing = False  # the panel itself is moving the slider
        self.header = widgets.HTML()
        self.start_button = widgets.Button(
            description="Start", button_style="success", layout=widgets.Layout(width="7em")
        )
        self.stop_button = widgets.Button(
            description="Stop", button_style="warning", layout=widgets.Layout(width="7em")
        )
        self.start_button.on_click(lambda _: self.start())
        self.stop_button.on_click(lambda _: self.stop())
        self.concurrency = widgets.IntSlider(
            value=worker.concurrency,
            min=1,
            max=max(max_concurrency, worker.concurrency),
            description="concurrency",
            continuous_update=False,  # one restart when the slider is let go
            style={"description_width": "initial"},
        )
        self.concurrency.observe(self._on_concurrency, names="value")
        self.progress = widgets.IntProgress(
            value=0, min=0, max=0, bar_style="info", layout=widgets.Layout(width="60%")
        )
        self.progress_label = widgets.HTML()
        self.stats_html = widgets.HTML()
        self.status = widgets.HTML()
        self.errors_header = widgets.HTML()
        self.plot = ThroughputPlot() if plot else None
        if self.plot is not None:
            self._own(*self.plot.made)
        self.errors = widgets.Output(
            layout=widgets.Layout(max_height="16em", overflow="auto", border="1px solid #ddd")
        )
        super().__init__(
            [
                self.header,
                widgets.HBox([self.start_button, self.stop_button, self.concurrency]),
                widgets.HBox([self.progress, self.progress_label]),
                self.stats_html,
                *([self.plot.widget] if self.plot is not None else []),
                self.status,
                self.errors_header,
                self.errors,
            ],
            portal=worker._portal,
        )
        self._start(self._follow)

    # --------------------------------------------------------------- actions

    def start(self) -> None:
        """Start the worker again (what the Start button does; returns at once)."""
        self._act("Starting…", "Started.", self.worker._astart)

    def stop(self, grace: float | None = None) -> None:
        """Stop the worker gracefully (what the Stop button does; returns at once)."""
        self._act("Stopping (running jobs may finish)…", "Stopped.", self.worker._astop, grace)

    def set_concurrency(self, concurrency: int) -> None:
        """Restart the worker with ``concurrency`` handlers (what the slider does)."""
        self._act(
            f"Restarting with concurrency {concurrency}…",
            f"Concurrency {concurrency}.",
            self.worker._arestart,
            concurrency,
            None,
        )

    def _on_concurrency(self, change: dict[str, Any]) -> None:
        if not self._syncing and change["new"] != self.worker.concurrency:
            self.set_concurrency(int(change["new"]))

    def _act(
        self, doing: str, done: str, action: Callable[..., Awaitable[None]], *args: Any
    ) -> None:
        # In the loop and not awaited: a graceful stop may take the grace period,
        # and the kernel must stay responsive meanwhile.
        self._say(doing)
        self._count_pending(+1)

        async def act() -> None:
            try:
                await action(*args)
            except Exception as exc:
                self._say(describe_error(exc), error=True)
            else:
                self._say(done)
            finally:
                self._count_pending(-1)

        try:
            self._portal.spawn(act)
        except Exception as exc:
            self._count_pending(-1)
            self._say(describe_error(exc), error=True)

    def _count_pending(self, delta: int) -> None:
        with self._pending_lock:
            self._pending += delta

    # ----------------------------------------------------------- live state

    async def _follow(self) -> None:
        worker = self.worker
        job: Job = worker._portal.resource.job(worker.name)
        while True:
            seen = worker._changes.value
            await self._refresh(job)
            # a plot samples a quiet queue too, every few seconds
            with trio.move_on_after(PLOT_EVERY if self.plot is not None else math.inf):
                await worker._wait_changed(seen)
            await trio.sleep(REFRESH_EVERY)  # the bound on the refresh rate

    async def _refresh(self, job: Job) -> None:
        stats = await job.statistics()
        self.statistics = self.worker._snapshot()
        self.counts = {
            "published": stats.publishes,
            "finished": stats.finishes,
            "available": stats.available,
            "claimed": stats.claimed,
            "stalled": stats.stalled,
        }
        if self.plot is not None:
            self.plot.sample(finishes=stats.finishes, depth=stats.available)
        self._healthy()
        self._render()

    def _render(self) -> None:
        worker = self.worker
        stats = self.statistics
        assert stats is not None
        published, finished = self.counts["published"], self.counts["finished"]
        percent = 100.0 * finished / published if published else 0.0
        running = worker.running
        errors_changed = worker.error_count != self._error_count
        with self.hold_sync():
            self.header.value = (
                f"<b>{html.escape(worker.name)}</b> — in-kernel worker "
                f"<code>{html.escape(getattr(worker.fn, '__qualname__', repr(worker.fn)))}</code>"
                f" · <b>{worker.state}</b>"
            )
            self.start_button.disabled = running
            self.stop_button.disabled = not running
            if self._pending == 0 and self.concurrency.value != worker.concurrency:
                self._syncing = True
                try:
                    self.concurrency.max = max(self.concurrency.max, worker.concurrency)
                    self.concurrency.value = worker.concurrency
                finally:
                    self._syncing = False
            # max before value: a value above the old max would be clipped
            self.progress.max = published
            self.progress.value = min(finished, published)
            self.progress.bar_style = "success" if published and finished >= published else "info"
            self.progress_label.value = (
                f"&nbsp;{finished:,} / {published:,} finished ({percent:.0f} %)"
            )
            self.stats_html.value = self._stats_table(stats)
            failure = worker.failure
            self._set_problem(
                "worker",
                None
                if failure is None
                else "The worker stopped: " + html.escape(f"{type(failure).__name__}: {failure}"),
            )
            if errors_changed:
                self._render_errors()
        if self.plot is not None:
            self.plot.draw()

    def _stats_table(self, stats: QueueStatistics) -> str:
        mine = [
            ("finished/s", f"{stats.rate:,.1f}"),
            ("running", f"{stats.running:,}"),
            ("in flight", f"{stats.in_flight:,}"),
            ("finished", f"{stats.finished:,}"),
            ("failed", f"{stats.failed:,}"),
            ("stalled", f"{stats.stalled:,}"),
        ]
        queue = [(k, f"{self.counts[k]:,}") for k in ("available", "claimed", "stalled")]
        cell = (
            '<td style="padding:0 0.8em"><div style="font-size:1.4em">{}</div>'
            '<div style="color:#666">{}</div></td>'
        )
        return (
            "<table><tr>"
            '<td style="color:#666;padding-right:0.5em">this worker</td>'
            + "".join(cell.format(v, k) for k, v in mine)
            + '<td style="color:#666;padding:0 0.5em 0 1.5em">queue</td>'
            + "".join(cell.format(v, k) for k, v in queue)
            + "</tr></table>"
        )

    def _render_errors(self) -> None:
        worker = self.worker
        self._error_count = worker.error_count
        self.shown_errors = worker.errors()[-self.errors_shown :]
        if not self.shown_errors:
            self.errors_header.value = "<b>Last errors</b> — none"
            self.errors.outputs = ()
            return
        self.errors_header.value = (
            f"<b>Last errors</b> — {worker.error_count:,} handler exception"
            f"{'' if worker.error_count == 1 else 's'} in all"
        )
        lines = "".join(
            f"job {e.job_id} (attempt {e.failures + 1}): {e.error}\n" for e in self.shown_errors
        )
        latest = self.shown_errors[-1]
        self.errors.outputs = (
            {"output_type": "stream", "name": "stderr", "text": lines},
            {
                "output_type": "stream",
                "name": "stderr",
                "text": f"\nlatest, job {latest.job_id}:\n{latest.traceback}",
            },
        )

    def state(self) -> dict[str, Any]:
        """What the panel shows, as plain data (for tests and debugging)."""
        stats = self.statistics
        return {
            "state": self.worker.state,
            "concurrency": self.concurrency.value,
            "progress": (self.progress.value, self.progress.max),
            "counts": dict(self.counts),
            "finished": None if stats is None else stats.finished,
            "failed": None if stats is None else stats.failed,
            "rate": None if stats is None else stats.rate,
            "errors": [(e.job_id, e.error) for e in self.shown_errors],
            "status": self.status.value,
        }


register_view("worker", WorkerPanel)
