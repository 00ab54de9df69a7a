"""JobBoard: a job queue at a glance — counts, rate, stalled and claimed jobs, actions.

Synopsis::

    board = JobBoard(t.job("emails"))    # or t.job("emails") as a cell's last line
    board                                 # retry / stall / retract with a click

It follows the queue's events; each burst of events triggers one refresh of
the counts and lists (at most a few per second), so a busy queue costs the
board a handful of reads, not one per job.
"""

from __future__ import annotations

import html
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import ipywidgets as widgets
import trio

from ..objects import Job
from ..sync import SyncJob, register_view
from ._common import LiveWidget, describe_error

_REFRESH_EVERY = 0.25  # seconds between refreshes while events keep coming
_RATE_WINDOW = 10.0  # seconds the finish rate is averaged over


@dataclass(frozen=True, slots=True)
class JobRow:
    """One listed job: id, failure count, last error, and since when it is claimed."""

    id: str
    failures: int
    error: str | None
    claimed_ms: int | None = None


class JobBoard(LiveWidget):
    """A live board of one job queue with retry / stall / retract actions."""

    def __init__(self, job: SyncJob, *, limit: int = 20) -> None:
        self.job = job
        self.limit = limit
        self.counts: dict[str, int] = {}
        self.rate = 0.0
        self.stalled: list[JobRow] = []
        self.claimed: list[JobRow] = []
        self._finish_history: list[tuple[float, int]] = []
        self.header = widgets.HTML()
        self.counts_html = widgets.HTML()
        self.status = widgets.HTML()
        self._stalled_rows = _Rows(limit, [("Retry", self.retry), ("Retract", self.retract)])
        self._claimed_rows = _Rows(limit, [("Stall", self.stall), ("Retract", self.retract)])
        self.stalled_box = self._stalled_rows.box
        self.claimed_box = self._claimed_rows.box
        self._own(*self._stalled_rows.made, *self._claimed_rows.made)
        self.refresh_button = widgets.Button(description="Refresh")
        self.refresh_button.on_click(lambda _: self._wake())
        self._dirty: trio.Event | None = None
        super().__init__(
            [
                widgets.HBox([self.header, self.refresh_button]),
                self.counts_html,
                self.status,
                widgets.HTML("<b>Stalled</b> (waiting for a person)"),
                self.stalled_box,
                widgets.HTML("<b>Claimed</b> (being worked on)"),
                self.claimed_box,
            ],
            portal=job._portal,
        )
        self._start(self._follow)

    # --------------------------------------------------------------- actions

    def retry(self, job_id: str) -> None:
        """Queue a stalled job again."""
        self._act("Retried", self.job.retry, job_id)

    def stall(self, job_id: str) -> None:
        """Put a claimed job aside (its worker's finish will then be refused)."""
        self._act("Stalled", self.job.stall, job_id)

    def retract(self, job_id: str) -> None:
        """Remove a job, whatever its state."""
        self._act("Retracted", self.job.retract, job_id)

    def _act(self, verb: str, action: Any, job_id: str) -> None:
        try:
            action(job_id)
        except Exception as exc:
            self._say(describe_error(exc), error=True)
            return
        self._say(f"{verb} {html.escape(job_id)}.")

    def _wake(self) -> None:
        dirty = self._dirty
        if dirty is not None:
            self._portal.run_sync(dirty.set)

    # ----------------------------------------------------------- live state

    async def _follow(self) -> None:
        job: Job = self.job._obj  # type: ignore[assignment]
        self._dirty = trio.Event()
        async with job.events() as events, trio.open_nursery() as nursery:
            nursery.start_soon(self._refresher, job)
            async for event in events:
                # every event (and a gap) means: look again soon
                del event
                self._dirty.set()

    async def _refresher(self, job: Job) -> None:
        while True:
            await self._refresh(job)
            assert self._dirty is not None
            await self._dirty.wait()
            self._dirty = trio.Event()
            await trio.sleep(_REFRESH_EVERY)  # let a burst of events settle into one refresh

    async def _refresh(self, job: Job) -> None:
        stats = await job.statistics()
        claimed = await job.claimed()
        stalled_ids = await job.stalled_ids()
        self.counts = {
            "available": stats.available,
            "claimed": stats.claimed,
            "stalled": stats.stalled,
            "finished": stats.finishes,
            "published": stats.publishes,
            "workers": stats.workers_alive,
        }
        now = time.monotonic()
        self._finish_history = [
            (t, n) for t, n in self._finish_history if now - t <= _RATE_WINDOW
        ] + [(now, stats.finishes)]
        first_t, first_n = self._finish_history[0]
        self.rate = (stats.finishes - first_n) / (now - first_t) if now > first_t else 0.0
        self.stalled = [await self._row(job, i) for i in stalled_ids[: self.limit]]
        self.claimed = [
            await self._row(job, i, claimed_ms) for i, claimed_ms in claimed[: self.limit]
        ]
        self._healthy()
        self._render()

    async def _row(self, job: Job, job_id: str, claimed_ms: int | None = None) -> JobRow:
        return JobRow(
            job_id, await job.failure_count(job_id), await job.last_error(job_id), claimed_ms
        )

    def _render(self) -> None:
        c = self.counts
        cells = "".join(
            f'<td style="padding:0 1em"><div style="font-size:1.6em">{c[k]:,}</div>'
            f'<div style="color:#666">{k}</div></td>'
            for k in ("available", "claimed", "stalled", "finished", "published", "workers")
        )
        with self.hold_sync():
            header = f"<b>{html.escape(self.job.name)}</b> — job queue"
            if self.header.value != header:
                self.header.value = header
            self.counts_html.value = (
                f"<table><tr>{cells}<td style='padding:0 1em'><div style='font-size:1.6em'>"
                f"{self.rate:,.1f}</div><div style='color:#666'>finished/s</div></td></tr></table>"
            )
            self._stalled_rows.show(self.stalled, c.get("stalled", 0))
            self._claimed_rows.show(self.claimed, c.get("claimed", 0))

    def state(self) -> dict[str, Any]:
        """What the board shows, as plain data (for tests and debugging)."""
        return {
            "counts": dict(self.counts),
            "stalled": [(r.id, r.failures, r.error) for r in self.stalled],
            "claimed": [(r.id, r.failures) for r in self.claimed],
            "status": self.status.value,
            "rate": self.rate,
        }


class _Rows:
    """A fixed pool of job rows (label + action buttons), reused by every refresh.

    Made once, so a board watching thousands of jobs keeps ``limit`` rows
    alive, not one set of widgets per refresh.
    """

    def __init__(self, limit: int, actions: list[tuple[str, Callable[[str], None]]]) -> None:
        self.ids: list[str | None] = [None] * limit
        self.labels: list[widgets.HTML] = []
        self.rows: list[widgets.HBox] = []
        for index in range(limit):
            label = widgets.HTML(layout=widgets.Layout(flex="1 1 auto", min_width="0"))
            buttons = []
            for text, action in actions:
                button = widgets.Button(description=text, layout=widgets.Layout(width="7em"))
                button.on_click(lambda _, act=action, i=index: self._act(act, i))
                buttons.append(button)
            self.labels.append(label)
            self.rows.append(
                widgets.HBox(
                    [label, *buttons],
                    layout=widgets.Layout(flex="0 0 auto", align_items="center"),
                )
            )
        self.none = widgets.HTML("<i>none</i>")
        self.more = widgets.HTML()
        self.box = widgets.VBox(
            [self.none],
            layout=widgets.Layout(max_height="20em", overflow="hidden auto"),
        )
        self.made: list[widgets.Widget] = [*self.rows, self.none, self.more]

    def _act(self, action: Callable[[str], None], index: int) -> None:
        job_id = self.ids[index]
        if job_id is not None:
            action(job_id)

    def show(self, rows: list[JobRow], total: int) -> None:
        for index, label in enumerate(self.labels):
            row = rows[index] if index < len(rows) else None
            self.ids[index] = None if row is None else row.id
            if row is None:
                continue
            error = (
                f' <span style="color:#b00020">{html.escape(row.error)}</span>'
                if row.error
                else ""
            )
            text = f"<code>{html.escape(row.id)}</code> failures: {row.failures}{error}"
            if label.value != text:
                label.value = text
        more = total - len(rows)
        self.more.value = f"<i>… and {more:,} more</i>" if more > 0 else ""
        children = [*self.rows[: len(rows)], *([self.more] if more > 0 else [])] or [self.none]
        if list(self.box.children) != children:
            self.box.children = children


register_view("job", JobBoard)
