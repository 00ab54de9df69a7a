"""JobBoard tools for a busy queue: filter, stalled pages, bulk retry/retract, one job's
details, and the throughput plot. Real jobs, model state; waits poll with a deadline."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from thoonk_actors.sync import SyncJob, SyncThoonk
from thoonk_actors.widgets import JobBoard, ThroughputPlot

from ..compat.js_client import JsJob
from ..polling import eventually

pytest.importorskip("ipywidgets")


def stall_jobs(jobs: SyncJob, items: list[str]) -> list[str]:
    """Publish ``items`` and stall each one (``max_cancels`` 1: one cancel stalls)."""
    ids = jobs.publish_many(items)
    for job in jobs.claim_many(len(items)):
        jobs.cancel(job, error=f"ValueError: {job.item}")
    return list(ids)


def test_filter_pages_and_bulk_retry_of_stalled_jobs(t: SyncThoonk) -> None:
    jobs = t.job("tools")
    jobs.create({"max_cancels": 1})
    ids = stall_jobs(jobs, [f"item-{n}" for n in range(25)])
    board = JobBoard(jobs, limit=10)
    try:
        eventually(lambda: board.stalled_matching == 25, "25 stalled jobs")
        eventually(lambda: "1&ndash;10 of 25" in board.page_label.value, "the first page")
        board.older_button.click()
        eventually(lambda: "11&ndash;20 of 25" in board.page_label.value, "the second page")
        assert len(board.state()["stalled"]) == 10
        board.show_stalled_page(99)
        eventually(lambda: "21&ndash;25 of 25" in board.page_label.value, "the last page")
        assert board.older_button.disabled

        wanted = ids[3]
        board.filter.value = wanted  # the filter box: only ids that contain the text
        eventually(lambda: [r[0] for r in board.state()["stalled"]] == [wanted], "the filtered row")
        assert "matching" in board.page_label.value
        assert board.retry_all() == 1  # only what matches the filter
        eventually(lambda: board.counts.get("stalled") == 24, "one retried")
        assert jobs.available_ids() == (wanted,)
        assert "Retried 1 stalled job." in board.status_text()

        board.filter.value = ""
        eventually(lambda: board.stalled_matching == 24, "all stalled jobs again")
        assert board.retract_all() == 0  # the first click only asks
        assert board.retract_all_button.description == "Confirm: retract 24"
        assert jobs.statistics().stalled == 24
        board.retract_all_button.click()  # the second click retracts
        eventually(lambda: board.counts.get("stalled") == 0, "all retracted")
        assert jobs.stalled_ids() == ()
        assert board.retract_all_button.description == "Retract all"
    finally:
        board.close()


def test_show_job_gives_state_item_failures_and_last_error(t: SyncThoonk) -> None:
    jobs = t.job("tools-search")
    jobs.create({"max_cancels": 1})
    (stalled,) = stall_jobs(jobs, ["broken"])
    queued = jobs.publish({"n": 1})
    board = JobBoard(jobs, plot=False)
    try:
        found = board.show_job(stalled)
        assert found == {
            "state": "stalled", "item": "broken", "failures": jobs.failure_count(stalled),
            "error": "ValueError: broken",
        }  # fmt: skip
        assert "ValueError: broken" in board.detail.value and "stalled" in board.detail.value
        # Stalling clears the cancel count (the contract's HDEL): no "failures: 0"
        # beside the error, which would tell a person the job never failed.
        assert "failures" not in board.detail.value
        board.search.value = queued
        board.search_button.click()
        assert "queued" in board.detail.value and "{&quot;n&quot;: 1}" in board.detail.value
        assert board.show_job("nope") is None
        assert "No job" in board.detail.value
    finally:
        board.close()


def test_throughput_plot_rates_and_depth() -> None:
    plot = ThroughputPlot(window=60)
    try:
        plot.sample(finishes=0, depth=100, at=1000.0)
        plot.sample(finishes=20, depth=80, at=1002.0)
        plot.sample(finishes=50, depth=50, at=1004.0)
        assert plot.points(now=1004.0) == [(-2.0, 10.0, 80), (0.0, 15.0, 50)]
        plot.sample(finishes=50, depth=50, at=1100.0)  # older samples fall out of the window
        assert plot.points(now=1100.0) == [(0.0, 0.0, 50)]
        if plot.available:  # bqplot installed (the plots extra): the figure's lines follow
            assert plot.draw(force=True, now=1100.0)
            assert list(plot._rate.y) == [0.0] and list(plot._depth.y) == [50]
    finally:
        plot.close()


def test_board_plot_follows_finishes(t: SyncThoonk) -> None:
    jobs = t.job("tools-plot")
    board = JobBoard(jobs)
    try:
        assert board.plot is not None
        jobs.publish_many(range(30))
        for job in jobs.claim_many(30):
            jobs.finish(job)
        eventually(lambda: board.counts.get("finished") == 30, "30 finished")
        eventually(
            lambda: any(rate > 0 for _, rate, _ in board.plot.points())  # type: ignore[union-attr]
            , "a positive finish rate in the plot",
        )  # fmt: skip
    finally:
        board.close()


def test_dashboard_lays_out_boards_by_name_and_object(t: SyncThoonk) -> None:
    from tests.widgets.test_scale import live_widgets
    from thoonk_actors import UsageError
    from thoonk_actors.widgets import Dashboard, FeedView

    t.job("dash-jobs").publish("x")  # registered by its first publish
    t.feed("dash-news").publish({"title": "hello"})
    before = live_widgets()
    dashboard = Dashboard("dash-jobs", t.feed("dash-news"), t=t, columns=2)
    try:
        board, view = dashboard.views
        assert isinstance(board, JobBoard) and isinstance(view, FeedView)
        assert dashboard.layout.grid_template_columns == "repeat(2, minmax(0, 1fr))"
        eventually(lambda: board.counts.get("available") == 1, "the board")
        eventually(lambda: view.total == 1, "the feed")
    finally:
        dashboard.close()
    assert live_widgets() == before
    with pytest.raises(UsageError, match="no job queue or feed named 'nope'"):
        Dashboard("nope", t=t)
    with pytest.raises(UsageError, match="give the connection"):
        Dashboard("dash-jobs")


def test_views_list_a_queue_only_original_js_clients_use(
    t: SyncThoonk, js_job_here: Callable[..., JsJob]
) -> None:
    from thoonk_actors.widgets import Dashboard

    js = js_job_here("js-only")  # the original never writes the `jobs` registry
    js.publish({"n": 1})
    assert t.names("job") == []
    dashboard = Dashboard("js-only", t=t)  # found by its keys
    everything = Dashboard.everything(t)
    try:
        (board,) = dashboard.views
        (other,) = everything.views
        assert isinstance(board, JobBoard) and isinstance(other, JobBoard)
        eventually(lambda: "unregistered" in board.header.value, "the board's header")
        assert board.state()["registered"] is False
        eventually(lambda: board.counts.get("available") == 1, "the board's counts")
        assert t.register("job", "js-only") is True
        board.refresh_button.click()
        eventually(lambda: "unregistered" not in board.header.value, "registered after register")
        assert board.state()["registered"] is True
    finally:
        dashboard.close()
        everything.close()


def test_board_shows_a_queue_held_back_by_its_concurrency_limit(t: SyncThoonk) -> None:
    jobs = t.job("tools-held")
    jobs.create()
    jobs.configure(max_concurrent=1)  # the sync facade sets a limit like any setting
    jobs.publish_many(["a", "b"])
    board = JobBoard(jobs)
    try:
        eventually(lambda: board.counts.get("available") == 2, "the board")
        assert board.state()["held_back"] is None
        [job] = jobs.claim_many(2)  # the limit takes one of the two
        # The counts are redrawn at most a few times a second: wait for the
        # drawing, not only for the state it will show.
        eventually(lambda: board.state()["held_back"] == "concurrency", "held back")
        eventually(lambda: "held back" in board.counts_html.value, "the held-back cell drawn")
        jobs.finish(job)
        eventually(lambda: board.state()["held_back"] is None, "no longer held")
        eventually(lambda: "held back" not in board.counts_html.value, "the cell gone")
    finally:
        board.close()


def test_a_claimed_job_shows_its_failures_only_when_there_are_some(t: SyncThoonk) -> None:
    jobs = t.job("tools-failures")
    jobs.create({"retry_delay": 0})  # a cancelled job is queued again at once
    first, second = jobs.publish_many(["a", "b"])
    jobs.cancel(jobs.get(timeout=5), error="ValueError: once")  # "a" goes back, 1 failure
    claimed = {job.id: job for job in jobs.claim_many(2)}
    assert set(claimed) == {first, second}
    board = JobBoard(jobs, plot=False)
    try:
        eventually(lambda: len(board.state()["claimed"]) == 2, "both claims on the board")
        texts = {label.value for label in board._claimed_rows.labels if label.value}
        (with_failure,) = [text for text in texts if first in text]
        (without,) = [text for text in texts if second in text]
        assert "failures: 1" in with_failure
        assert "failures" not in without
    finally:
        board.close()
