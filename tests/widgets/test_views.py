"""Widgets driven by real events: their state after publish, retract, finish, retry.

The widgets run without a kernel (ipywidgets uses a dummy comm); their model
state is what a notebook would show. Every wait polls with a deadline.
"""

from __future__ import annotations

import pytest

from thoonk_actors.sync import SyncThoonk
from thoonk_actors.widgets import FeedView, JobBoard

from ..polling import eventually

pytest.importorskip("ipywidgets")


def test_feed_view_follows_publish_edit_retract(t: SyncThoonk) -> None:
    news = t.feed("news")
    news.publish({"title": "before"}, id="old")
    view = FeedView(news)
    try:
        eventually(lambda: view.ids() == ["old"], "the initial items")
        news.publish({"title": "fresh"}, id="new")
        eventually(lambda: view.ids() == ["new", "old"], "a publish to show, newest first")
        news.publish({"title": "edited"}, id="old")
        eventually(
            lambda: view.state()["items"].get("old") == {"title": "edited"}, "an edit to show"
        )
        assert view.ids() == ["old", "new"]  # an edit moves the item to the newest place
        news.retract("new")
        eventually(lambda: view.ids() == ["old"], "a retract to show")
        assert "1 item" in view.header.get_state()["value"]
        rows = view.list.get_state()["children"]
        assert len(rows) == 1
    finally:
        view.close()


def test_feed_view_publish_box_and_retract_button(t: SyncThoonk) -> None:
    news = t.feed("clicks")
    view = FeedView(news)
    try:
        eventually(lambda: "0 items" in view.header.value, "the empty feed")
        view.entry.value = '{"title": "typed"}'
        view.id_box.value = "typed-1"
        view.publish_button.click()
        assert news.get("typed-1") == {"title": "typed"}
        eventually(lambda: view.ids() == ["typed-1"], "the published item")
        view.entry.value = "just text"
        new_id = view.publish_from_entry()
        assert new_id is not None and news.get(new_id) == "just text"
        eventually(lambda: len(view.ids()) == 2, "both items")
        row = view.row_of("typed-1")
        assert row is not None
        row.children[1].click()  # the Retract button
        assert not news.has("typed-1")
        eventually(lambda: view.ids() == [new_id], "the retract")
        view.entry.value = "   "
        assert view.publish_from_entry() is None
        assert "Type an item first" in view.status.value
    finally:
        view.close()


def test_job_board_counts_and_actions(t: SyncThoonk) -> None:
    jobs = t.job("board")
    jobs.create({"max_cancels": 1})
    board = JobBoard(jobs)
    try:
        first = jobs.publish("a")
        second = jobs.publish("b")
        eventually(lambda: board.counts.get("available") == 2, "two available jobs")
        job = jobs.get(timeout=5)
        assert job is not None and job.id == first
        eventually(lambda: [r[0] for r in board.state()["claimed"]] == [first], "a claim")
        jobs.finish(job)
        eventually(lambda: board.counts.get("finished") == 1, "a finish")
        failing = jobs.get(timeout=5)
        assert failing is not None and failing.id == second
        jobs.cancel(failing, error="ValueError: no")  # max_cancels 1: stalled at once
        eventually(
            lambda: (
                board.state()["stalled"] == [(second, 0, "ValueError: no")]
                or board.state()["stalled"] == [(second, 1, "ValueError: no")]
            ),
            "a stalled job with its error",
        )
        board.retry(second)  # what the Retry button does
        eventually(lambda: board.counts.get("available") == 1, "the retried job queued")
        assert board.state()["stalled"] == []
        assert "Retried" in board.status.value
        board.retry(second)  # not stalled any more: a clear error in the status line
        assert "NotStalledError" in board.status.value
        board.retract(second)
        eventually(lambda: board.counts.get("available") == 0, "the retract")
    finally:
        board.close()


def test_job_board_shows_a_progress_bar_per_running_job(t: SyncThoonk) -> None:
    jobs = t.job("board-progress")
    board = JobBoard(jobs)
    try:
        jobs.publish("a")
        jobs.publish("b")
        running = jobs.get(timeout=5)
        quiet = jobs.get(timeout=5)
        assert running is not None and quiet is not None
        assert jobs.progress(running, 0.4, {"step": "upload"}) is True  # the sync twin
        eventually(lambda: board.state()["progress"] == {running.id: 0.4}, "the progress")
        rows = board._claimed_rows

        def bar_of(job_id: str) -> tuple[float, str, str]:
            i = rows.ids.index(job_id)
            return rows.bars[i].value, rows.bars[i].layout.visibility, rows.labels[i].value

        eventually(lambda: bar_of(running.id)[:2] == (0.4, "visible"), "the bar drawn")
        assert "40%" in bar_of(running.id)[2] and "upload" in bar_of(running.id)[2]
        assert bar_of(quiet.id)[1] == "hidden"  # it reported nothing
        jobs.finish(running)
        eventually(lambda: board.state()["progress"] == {}, "the finish to clear it")
    finally:
        board.close()


def test_last_expression_of_a_cell_shows_the_widget(t: SyncThoonk) -> None:
    bundle = t.feed("display")._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    job_bundle = t.job("display")._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in job_bundle


def test_job_board_counts_scheduled_jobs(t: SyncThoonk) -> None:
    jobs = t.job("board-scheduled")
    jobs.publish("now")
    board = JobBoard(jobs)
    try:
        eventually(lambda: board.counts.get("available") == 1, "one available job")
        assert board.counts["scheduled"] == 0
        later = jobs.publish("later", delay=300)  # its schedule event refreshes the board
        eventually(lambda: board.counts.get("scheduled") == 1, "a scheduled job counted")
        shown = '>1</div><div style="color:#666">scheduled<'
        eventually(lambda: shown in board.counts_html.value, "the count shown")
        jobs.retract(later)
        eventually(lambda: board.counts.get("scheduled") == 0, "the retract")
    finally:
        board.close()
