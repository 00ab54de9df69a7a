"""JobBoard: a job queue at a glance — counts, rate, stalled and claimed jobs, actions.

Synopsis::

    board = JobBoard(t.job("emails"))    # or t.job("emails") as a cell's last line
    board                                 # retry / stall / retract with a click

It follows the queue's events; each burst of events triggers one refresh of
the counts and lists (at most a few per second), so a busy queue costs the
board a handful of reads, not one per job.
"""

from __future__ import annotations

import dataclasses
import html
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import ipywidgets as widgets
import trio

from .._errors import NotFoundError, ThoonkError
from ..objects import Job
from ..sync import SyncJob, register_view
from ._common import LiveWidget, describe_error, short_json
from ._throughput import ThroughputPlot

_REFRESH_EVERY = 0.25  # seconds between refreshes while events keep coming
_RATE_WINDOW = 10.0  # seconds the finish rate is averaged over
_PLOT_EVERY = 2.0  # seconds between two samples of a quiet queue, for the plot


@dataclass(frozen=True, slots=True)
class JobRow:
    """One listed job: id, failure count, last error, since when it is claimed, progress.

    ``progress`` is the last fraction its handler reported (None: none), ``info``
    what came with it.
    """

    id: str
    failures: int
    error: str | None
    claimed_ms: int | None = None
    progress: float | None = None
    info: Any = None


class JobBoard(LiveWidget):
    """A live board of one job queue with retry / stall / retract actions.

    Beyond the counts: a throughput plot (finished/s and queue depth over the
    last five minutes, with bqplot), a filter on job ids, pages of stalled
    jobs, bulk Retry / Retract of the stalled jobs that match the filter
    (Retract asks for a second click), and a search box that shows one job's
    item, failures and last error.
    """

    def __init__(self, job: SyncJob, *, limit: int = 20, plot: bool = True) -> None:
        self.job = job
        self.limit = limit
        self.counts: dict[str, int] = {}
        #: False when no registry names the queue (only original JS clients use it).
        self.registered: bool | None = None
        self.held_back: str | None = None  # "rate" / "concurrency": a queue limit holds jobs
        self.rate = 0.0
        self.stalled: list[JobRow] = []
        self.claimed: list[JobRow] = []
        self.stalled_page = 0
        self.stalled_matching = 0  # stalled jobs that match the filter
        self._stalled_all: tuple[str, ...] = ()
        self._id_filter = ""
        self._confirm_retract = False
        self._finish_history: list[tuple[float, int]] = []
        self._claimed_matching = 0
        self.header = widgets.HTML()
        self.counts_html = widgets.HTML()
        self.status = widgets.HTML()
        self._stalled_rows = _Rows(limit, [("Retry", self.retry), ("Retract", self.retract)])
        self._claimed_rows = _Rows(
            limit, [("Stall", self.stall), ("Retract", self.retract)], progress=True
        )
        self.stalled_box = self._stalled_rows.box
        self.claimed_box = self._claimed_rows.box
        self._own(*self._stalled_rows.made, *self._claimed_rows.made)
        self.refresh_button = widgets.Button(description="Refresh")
        self.refresh_button.on_click(lambda _: self._wake())
        self.filter = widgets.Text(
            placeholder="filter: part of a job id", layout=widgets.Layout(width="16em")
        )
        self.filter.observe(lambda change: self.set_filter(change["new"]), names="value")
        self.newer_button = widgets.Button(description="◀", layout=widgets.Layout(width="3em"))
        self.older_button = widgets.Button(description="▶", layout=widgets.Layout(width="3em"))
        self.newer_button.on_click(lambda _: self.show_stalled_page(self.stalled_page - 1))
        self.older_button.on_click(lambda _: self.show_stalled_page(self.stalled_page + 1))
        self.page_label = widgets.HTML()
        self.retry_all_button = widgets.Button(description="Retry all", icon="redo")
        self.retract_all_button = widgets.Button(description="Retract all", icon="trash")
        self.retry_all_button.on_click(lambda _: self.retry_all())
        self.retract_all_button.on_click(lambda _: self.retract_all())
        self.search = widgets.Text(placeholder="job id", layout=widgets.Layout(width="16em"))
        self.search_button = widgets.Button(description="Show job")
        self.search_button.on_click(lambda _: self.show_job(self.search.value.strip()))
        self.detail = widgets.HTML()
        self.plot = ThroughputPlot() if plot else None
        if self.plot is not None:
            self._own(*self.plot.made)
        self._dirty: trio.Event | None = None
        super().__init__(
            [
                widgets.HBox([self.header, self.refresh_button]),
                self.counts_html,
                *([self.plot.widget] if self.plot is not None else []),
                self.status,
                widgets.HBox([self.search, self.search_button]),
                self.detail,
                widgets.HTML("<b>Stalled</b> (waiting for a person)"),
                widgets.HBox(
                    [
                        self.filter,
                        self.newer_button,
                        self.older_button,
                        self.page_label,
                        self.retry_all_button,
                        self.retract_all_button,
                    ],
                    layout=widgets.Layout(align_items="center", flex_flow="row wrap"),
                ),
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

    def set_filter(self, text: str) -> None:
        """Show only the stalled and claimed jobs whose id contains ``text``."""
        self._id_filter = text.strip()
        self.stalled_page = 0
        self._wake()

    def show_stalled_page(self, page: int) -> None:
        """Show page ``page`` of the stalled jobs (0: the first ``limit``)."""
        pages = max(1, -(-self.stalled_matching // self.limit))
        self.stalled_page = max(0, min(page, pages - 1))
        self._wake()

    def matching_stalled(self) -> list[str]:
        """The stalled job ids that match the filter (all pages), as last read."""
        return [i for i in self._stalled_all if self._id_filter in i]

    def retry_all(self) -> int:
        """Retry every stalled job that matches the filter; how many were queued again."""
        return self._bulk("Retried", self.job.retry, self.matching_stalled())

    def retract_all(self) -> int:
        """Retract the stalled jobs that match the filter; the first call only asks to confirm."""
        ids = self.matching_stalled()
        if not self._confirm_retract:
            self._confirm_retract = True
            self.retract_all_button.description = f"Confirm: retract {len(ids):,}"
            self.retract_all_button.button_style = "danger"
            self._say(f"Click again to retract {len(ids):,} stalled jobs.")
            return 0
        self._confirm_retract = False
        self.retract_all_button.description = "Retract all"
        self.retract_all_button.button_style = ""
        return self._bulk("Retracted", self.job.retract, ids)

    def _bulk(self, verb: str, action: Any, ids: list[str]) -> int:
        done = 0
        failed: list[str] = []
        for job_id in ids:
            try:
                action(job_id)
                done += 1
            except ThoonkError as exc:  # e.g. retried elsewhere meanwhile
                failed.append(f"{job_id}: {type(exc).__name__}")
        message = f"{verb} {done:,} stalled job{'' if done == 1 else 's'}."
        if failed:
            message += " Not done: " + html.escape(", ".join(failed[:5]))
        self._say(message, error=bool(failed))
        self._wake()
        return done

    def show_job(self, job_id: str) -> dict[str, Any] | None:
        """Show one job's state, item, failures and last error (what the search box does)."""
        if not job_id:
            self.detail.value = ""
            return None
        try:
            found = self._portal.run(self._describe_job, job_id)
        except Exception as exc:
            self.detail.value = describe_error(exc)
            return None
        if found is None:
            self.detail.value = f"No job <code>{html.escape(job_id)}</code> in this queue."
            return None
        error = found["error"]
        # The contract clears a job's cancel count when it stalls or is retried, so
        # "failures: 0" beside an error would mislead: the count shows when it is not 0.
        failures = f" · failures: {found['failures']}" if found["failures"] else ""
        self.detail.value = (
            f"<code>{html.escape(job_id)}</code> · <b>{found['state']}</b>{failures}"
            f" · item: <code>{html.escape(short_json(found['item']))}</code>"
            + (f' · <span style="color:#b00020">{html.escape(error)}</span>' if error else "")
        )
        return found

    async def _describe_job(self, job_id: str) -> dict[str, Any] | None:
        job: Job = self.job._obj  # type: ignore[assignment]
        try:
            item = await job.item(job_id)
        except NotFoundError:
            return None
        if job_id in await job.stalled_ids():
            state = "stalled"
        elif job_id in dict(await job.claimed()):
            state = "claimed"
        elif job_id in await job.available_ids():
            state = "queued"
        else:
            state = "finished"
        return {
            "state": state,
            "item": item,
            "failures": await job.failure_count(job_id),
            "error": await job.last_error(job_id),
        }

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
            if self.plot is not None and self.plot.available:
                nursery.start_soon(self._tick)
            async for event in events:
                # every event (and a gap) means: look again soon
                del event
                self._dirty.set()

    async def _tick(self) -> None:
        # The plot moves on while the queue is quiet: a refresh every few seconds.
        while True:
            await trio.sleep(_PLOT_EVERY)
            assert self._dirty is not None
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
        self.registered = bool(
            await job.thoonk.execute("SISMEMBER", job.keys.registry, job.name, idempotent=True)
        )
        claimed = await job.claimed()
        stalled_ids = await job.stalled_ids()
        self.counts = {
            "available": stats.available,
            "claimed": stats.claimed,
            "stalled": stats.stalled,
            "scheduled": stats.scheduled,
            "finished": stats.finishes,
            "published": stats.publishes,
            "workers": stats.workers_alive,
        }
        self.held_back = stats.held_back
        now = time.monotonic()
        self._finish_history = [
            (t, n) for t, n in self._finish_history if now - t <= _RATE_WINDOW
        ] + [(now, stats.finishes)]
        first_t, first_n = self._finish_history[0]
        self.rate = (stats.finishes - first_n) / (now - first_t) if now > first_t else 0.0
        if self.plot is not None:
            self.plot.sample(finishes=stats.finishes, depth=stats.available, at=now)
        self._stalled_all = stalled_ids
        wanted = self._id_filter
        matching = [i for i in stalled_ids if wanted in i]
        self.stalled_matching = len(matching)
        pages = max(1, -(-len(matching) // self.limit))
        self.stalled_page = min(self.stalled_page, pages - 1)
        first = self.stalled_page * self.limit
        self.stalled = [await self._row(job, i) for i in matching[first : first + self.limit]]
        claimed_matching = [(i, ms) for i, ms in claimed if wanted in i]
        reported = {p.id: p for p in await job.progress_all()} if claimed_matching else {}
        rows = []
        for i, claimed_ms in claimed_matching[: self.limit]:
            row = await self._row(job, i, claimed_ms)
            if (last := reported.get(i)) is not None:
                row = dataclasses.replace(row, progress=last.fraction, info=last.info)
            rows.append(row)
        self.claimed = rows  # at once: state() never sees a half-built list
        self._claimed_matching = len(claimed_matching)
        self._healthy()
        self._render()

    async def _row(self, job: Job, job_id: str, claimed_ms: int | None = None) -> JobRow:
        return JobRow(
            job_id, await job.failure_count(job_id), await job.last_error(job_id), claimed_ms
        )

    def _render(self) -> None:
        c = self.counts
        cell = (
            '<div style="padding:0 1em 0.3em 0"><div style="font-size:1.6em">{}</div>'
            '<div style="color:#666">{}</div></div>'
        )
        cells = "".join(
            cell.format(f"{c[k]:,}", k)
            for k in (
                "available",
                "claimed",
                "stalled",
                "scheduled",
                "finished",
                "published",
                "workers",
            )
        ) + cell.format(f"{self.rate:,.1f}", "finished/s")
        if self.held_back is not None:  # max_per_second / max_concurrent is holding jobs back
            cells += cell.format(f'<span style="color:#c60">{self.held_back}</span>', "held back")
        with self.hold_sync():
            header = f"<b>{html.escape(self.job.name)}</b> — job queue" + (
                " (unregistered: only other clients use it; <code>t.register('job', name)</code>)"
                if self.registered is False
                else ""
            )
            if self.header.value != header:
                self.header.value = header
            # a wrapping row, not a table: a narrow column (a Dashboard) shows it all
            self.counts_html.value = f'<div style="display:flex;flex-wrap:wrap">{cells}</div>'
            first = self.stalled_page * self.limit
            shown = len(self.stalled)
            self._stalled_rows.show(self.stalled, self.stalled_matching - first)
            self._claimed_rows.show(self.claimed, self._claimed_matching)
            pages = max(1, -(-self.stalled_matching // self.limit))
            self.page_label.value = (
                f"&nbsp;{first + 1:,}&ndash;{first + shown:,} of {self.stalled_matching:,}"
                if shown
                else "&nbsp;none"
            ) + (" matching" if self._id_filter else "")
            self.newer_button.disabled = self.stalled_page == 0
            self.older_button.disabled = self.stalled_page >= pages - 1
            self.retry_all_button.disabled = self.retract_all_button.disabled = not shown
        if self.plot is not None:
            self.plot.draw()

    def state(self) -> dict[str, Any]:
        """What the board shows, as plain data (for tests and debugging)."""
        return {
            "counts": dict(self.counts),
            "registered": self.registered,
            "stalled": [(r.id, r.failures, r.error) for r in self.stalled],
            "claimed": [(r.id, r.failures) for r in self.claimed],
            "progress": {r.id: r.progress for r in self.claimed if r.progress is not None},
            "status": self.status.value,
            "rate": self.rate,
            "held_back": self.held_back,
        }


class _Rows:
    """A fixed pool of job rows (label + action buttons), reused by every refresh.

    Made once, so a board watching thousands of jobs keeps ``limit`` rows
    alive, not one set of widgets per refresh.
    """

    def __init__(
        self,
        limit: int,
        actions: list[tuple[str, Callable[[str], None]]],
        *,
        progress: bool = False,
    ) -> None:
        self.ids: list[str | None] = [None] * limit
        self.labels: list[widgets.HTML] = []
        self.rows: list[widgets.HBox] = []
        #: One progress bar per row (claimed jobs), hidden while its job reported none.
        self.bars: list[widgets.FloatProgress] = []
        for index in range(limit):
            label = widgets.HTML(layout=widgets.Layout(flex="1 1 auto", min_width="0"))
            bar = []
            if progress:
                self.bars.append(
                    widgets.FloatProgress(
                        min=0.0, max=1.0, layout=widgets.Layout(width="8em", visibility="hidden")
                    )
                )
                bar = [self.bars[-1]]
            buttons = []
            for text, action in actions:
                button = widgets.Button(description=text, layout=widgets.Layout(width="7em"))
                button.on_click(lambda _, act=action, i=index: self._act(act, i))
                buttons.append(button)
            self.labels.append(label)
            self.rows.append(
                widgets.HBox(
                    [label, *bar, *buttons],
                    layout=widgets.Layout(flex="0 0 auto", align_items="center"),
                )
            )
        self.none = widgets.HTML("<i>none</i>")
        self.more = widgets.HTML()
        self.box = widgets.VBox(
            [self.none],
            layout=widgets.Layout(max_height="20em", overflow="hidden auto"),
        )
        self.made: list[widgets.Widget] = [*self.rows, *self.bars, self.none, self.more]

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
                f' <span style="color:#b00020">{html.escape(row.error)}</span>' if row.error else ""
            )
            failures = f" failures: {row.failures}" if row.failures else ""  # see show_job
            text = f"<code>{html.escape(row.id)}</code>{failures}{error}"
            if row.progress is not None:
                info = "" if row.info is None else f" {html.escape(short_json(row.info))}"
                text += f" <b>{row.progress:.0%}</b>{info}"
            if label.value != text:
                label.value = text
            if self.bars:
                bar = self.bars[index]
                visibility = "hidden" if row.progress is None else "visible"
                if bar.layout.visibility != visibility:
                    bar.layout.visibility = visibility
                if row.progress is not None and bar.value != row.progress:
                    bar.value = row.progress
        more = total - len(rows)
        self.more.value = f"<i>… and {more:,} more</i>" if more > 0 else ""
        children = [*self.rows[: len(rows)], *([self.more] if more > 0 else [])] or [self.none]
        if list(self.box.children) != children:
            self.box.children = children


register_view("job", JobBoard)
