"""Widgets at scale: paging 10,000 items, a bounded widget count, throttled redraws.

Counts are of live widget models (``ipywidgets.Widget.widgets``, what a
kernel keeps and a browser mirrors) after thousands of real updates, and
after ``close()``. As elsewhere, the widgets run without a kernel and the
assertions read their model state.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from thoonk_actors.sync import SyncFeed, SyncThoonk
from thoonk_actors.widgets import FeedView, JobBoard

from ..polling import eventually

ipywidgets = pytest.importorskip("ipywidgets")

from thoonk_actors.widgets._feed_view import RENDER_EVERY, ROW_HEIGHT  # noqa: E402


def live_widgets() -> int:
    """``len(ipywidgets.Widget.widgets)``, without its deprecation warning (ipywidgets 8)."""
    from ipywidgets.widgets import widget as widget_module

    instances = getattr(widget_module, "_instances", None)
    return len(instances if instances is not None else ipywidgets.Widget.widgets)


def publish_n(t: SyncThoonk, feed: SyncFeed, n: int, prefix: str) -> list[str]:
    """``n`` publishes, one command each, run in the connection's loop (fast)."""

    async def publish() -> list[str]:
        return [await feed.aio.publish({"n": k}, id=f"{prefix}{k}") for k in range(n)]

    ids: list[str] = t.portal.run(publish)
    return ids


def test_feed_view_pages_10000_items_newest_first_with_the_total(t: SyncThoonk) -> None:
    feed = t.feed("big")
    ids = publish_n(t, feed, 10_000, "i")
    view = FeedView(feed, page_size=25)
    try:
        eventually(lambda: view.total == 10_000, "the whole feed read")
        newest_first = ids[::-1]
        assert view.ids() == newest_first[:25]
        assert "10,000 items" in view.header.get_state()["value"]
        assert "1&ndash;25 of 10,000, newest first" in view.page_label.get_state()["value"]
        assert len(view.list.get_state()["children"]) == 25
        assert view.newer_button.disabled and not view.older_button.disabled

        view.older_button.click()
        assert view.page == 1 and view.ids() == newest_first[25:50]
        assert "26&ndash;50 of 10,000" in view.page_label.value
        view.show_page(10**6)  # clipped to the last page: the oldest items
        assert view.page == 399 and view.ids() == newest_first[-25:]
        assert view.older_button.disabled and not view.newer_button.disabled
        view.newer_button.click()
        assert view.ids() == newest_first[-50:-25]

        # Readable at any size: rows of a fixed height that never shrink, a list
        # that scrolls vertically, and no horizontal scrollbar.
        for row in view.list.children:
            layout = row.layout.get_state()
            assert (layout["height"], layout["min_height"]) == (ROW_HEIGHT, ROW_HEIGHT)
            assert layout["flex"] == "0 0 auto"
        list_layout = view.list.layout.get_state()
        assert list_layout["overflow"] == "hidden auto" and list_layout["max_height"]
        assert view.layout.get_state()["overflow"].startswith("hidden")
    finally:
        view.close()


def test_feed_view_widget_count_is_bounded_and_close_frees_everything(t: SyncThoonk) -> None:
    feed = t.feed("churn")
    before = live_widgets()
    view = FeedView(feed, page_size=20)
    try:
        publish_n(t, feed, 100, "a")
        eventually(lambda: view.total == 100, "the first 100 items")
        made = live_widgets() - before
        publish_n(t, feed, 3_000, "b")
        eventually(lambda: view.total == 3_100, "3,100 items")
        feed.retract("b2999")
        eventually(lambda: view.total == 3_099, "a retract")
        assert view.ids()[0] == "b2998"
        # Thousands of updates made no widget: the rows are reused.
        assert live_widgets() - before == made
        assert made <= 20 * 8 + 40  # a row is an HBox, an HTML, a Button + layouts and styles
    finally:
        view.close()
    assert live_widgets() == before, "close() leaves no widget behind"


def test_job_board_widget_count_is_bounded_with_2000_jobs(t: SyncThoonk) -> None:
    jobs = t.job("crowd")
    jobs.create({"max_cancels": 1})
    before = live_widgets()
    board = JobBoard(jobs, limit=10)
    try:
        eventually(lambda: board.counts.get("available") == 0, "the first refresh")
        made = live_widgets() - before
        jobs.publish_many(range(2_000))
        claimed = jobs.claim_many(300)
        for job in claimed[:150]:
            jobs.cancel(job, error="ValueError: bad")  # max_cancels 1: stalled
        eventually(
            lambda: (board.counts.get("stalled"), board.counts.get("claimed")) == (150, 150),
            "150 stalled and 150 claimed",
        )
        eventually(
            lambda: "140 more" in getattr(board.stalled_box.children[-1], "value", ""),
            "10 rows and 140 more",
        )
        assert len(board.stalled_box.children) == 11 and len(board.state()["stalled"]) == 10
        jobs.finish_many([(job, None) for job in claimed[150:]])
        eventually(
            lambda: (
                [getattr(w, "value", "") for w in board.claimed_box.children] == ["<i>none</i>"]
            ),
            "the claimed jobs finished",
        )
        assert live_widgets() - before == made
    finally:
        board.close()
    assert live_widgets() == before, "close() leaves no widget behind"


def test_worker_panel_close_frees_everything(t: SyncThoonk) -> None:
    before = live_widgets()
    worker = t.process("panel-close", lambda item: item, concurrency=2)
    try:
        panel = worker.view()
        eventually(lambda: panel.state()["state"] == "running", "the first refresh")
        assert live_widgets() > before
        panel.close()
        panel.close()  # idempotent
        assert live_widgets() == before
    finally:
        worker.stop()


def test_a_burst_of_3000_publishes_makes_few_redraws(t: SyncThoonk) -> None:
    feed = t.feed("burst")
    started = time.monotonic()
    view = FeedView(feed, page_size=10)
    header_changes: list[Any] = []
    label_changes: list[Any] = []
    view.header.observe(header_changes.append, names="value")
    for label in view._labels:
        label.observe(label_changes.append, names="value")
    try:
        eventually(lambda: view.renders >= 1, "the first redraw")
        publish_n(t, feed, 3_000, "x")
        eventually(lambda: view.total == 3_000, "all 3,000 items shown")
        elapsed = time.monotonic() - started
        # Redraws are spaced by RENDER_EVERY whatever the event rate; each one
        # changes the header once and at most a page of labels.
        assert view.renders <= 2 + elapsed / RENDER_EVERY
        assert len(header_changes) <= view.renders
        assert len(label_changes) <= view.renders * 10
        assert view.ids() == [f"x{k}" for k in range(2_999, 2_989, -1)]
    finally:
        view.close()
