"""WorkerPanel driven by a real in-kernel worker: progress, buttons, slider, errors.

As in ``test_views.py`` the widgets run without a kernel (a dummy comm) and
the assertions read their model state (``get_state()``): what a notebook
would show. Every wait polls with a deadline.
"""

from __future__ import annotations

import threading

import pytest

from thoonk_actors.sync import SyncThoonk
from thoonk_actors.widgets import WorkerPanel

from ..polling import eventually

pytest.importorskip("ipywidgets")

N = 1_000


def test_progress_reaches_100_percent_for_1000_jobs(t: SyncThoonk) -> None:
    def square(n: int) -> int:
        return n * n

    jobs = t.job("panel-progress")
    worker = t.process("panel-progress", square, concurrency=4)
    panel = worker.view()
    try:
        assert isinstance(panel, WorkerPanel)
        eventually(lambda: panel.counts.get("published") == 0, "the first refresh")
        jobs.publish_many(range(N))
        stats = worker.wait(timeout=60)
        assert stats.finished == N
        eventually(
            lambda: panel.progress.get_state()["value"] == N, "the progress bar to reach 100 %"
        )
        state = panel.progress.get_state()
        assert (state["value"], state["max"], state["bar_style"]) == (N, N, "success")
        assert "1,000 / 1,000 finished (100 %)" in panel.progress_label.get_state()["value"]
        eventually(lambda: panel.state()["finished"] == N, "the worker's own count")
        assert panel.state()["failed"] == 0
        assert "finished/s" in panel.stats_html.value
        assert panel.start_button.get_state()["disabled"] is True
        assert panel.stop_button.get_state()["disabled"] is False
        assert "running" in panel.header.value and "square" in panel.header.value
        assert tuple(panel.errors.get_state()["outputs"]) == ()
        assert "none" in panel.errors_header.value
    finally:
        panel.close()
        worker.stop()


def test_start_stop_and_concurrency_from_the_panel(t: SyncThoonk) -> None:
    jobs = t.job("panel-control")
    worker = t.process("panel-control", lambda item: item, concurrency=2)
    panel = worker.view()
    try:
        eventually(lambda: panel.state()["state"] == "running", "the running worker")
        assert panel.concurrency.get_state()["value"] == 2

        panel.stop_button.click()
        eventually(lambda: worker.state == "stopped", "the worker to stop")
        eventually(
            lambda: (
                panel.start_button.get_state()["disabled"] is False
                and panel.stop_button.get_state()["disabled"] is True
            ),
            "Start enabled, Stop disabled",
        )
        eventually(lambda: "Stopped." in panel.status.value, "the status line")
        jobs.publish_many(range(10))
        eventually(lambda: panel.counts.get("available") == 10, "the queued jobs shown")
        assert panel.progress.get_state()["value"] == 0  # stopped: nothing taken

        panel.start_button.click()
        eventually(lambda: worker.running, "the worker to start again")
        assert worker.wait(timeout=30).finished == 10
        eventually(lambda: panel.progress.get_state()["value"] == 10, "the progress bar")

        panel.concurrency.value = 7  # what letting go of the slider does
        eventually(
            lambda: worker.concurrency == 7 and worker.running, "a restart with concurrency 7"
        )
        eventually(lambda: worker.statistics().concurrency == 7, "the new run")
        eventually(lambda: "Concurrency 7." in panel.status.value, "the status line")
        jobs.publish_many(range(5))
        assert worker.wait(timeout=30).finished == 15  # counts carry on across the restart

        worker.restart(concurrency=3)  # from code: the slider follows
        eventually(lambda: panel.concurrency.get_state()["value"] == 3, "the slider to follow")
        assert worker.concurrency == 3 and worker.running
    finally:
        panel.close()
        worker.stop()


def test_handler_errors_show_in_the_output_with_their_job_ids(
    t: SyncThoonk, quiet_runtime: None
) -> None:
    def picky(item: dict[str, str]) -> str:
        if item["to"].endswith("invalid"):
            raise ValueError(f"cannot send to {item['to']}")
        return "sent"

    jobs = t.job("panel-errors")
    worker = t.process("panel-errors", picky, concurrency=2, max_cancels=2)
    panel = worker.view()
    try:
        good = jobs.publish({"to": "ada@example.org"})
        bad = jobs.publish({"to": "nobody@invalid"})
        stats = worker.wait(timeout=30)
        assert (stats.finished, stats.failed, stats.stalled) == (1, 2, 1)
        assert jobs.wait_result(good, timeout=5) == "sent"

        def outputs_text() -> str:
            return "".join(o.get("text", "") for o in panel.errors.get_state()["outputs"])

        eventually(lambda: outputs_text().count(bad) >= 3, "both failures in the Output")
        text = outputs_text()
        assert f"job {bad} (attempt 1): ValueError: cannot send to nobody@invalid" in text
        assert f"job {bad} (attempt 2): ValueError: cannot send to nobody@invalid" in text
        assert "in picky" in text  # the latest traceback
        assert "2 handler exceptions in all" in panel.errors_header.value
        shown = (bad, "ValueError: cannot send to nobody@invalid")
        assert panel.state()["errors"] == [shown, shown]
        # One job stalled: the bar stays short of 100 %.
        eventually(lambda: panel.state()["progress"] == (1, 2), "1 of 2 finished")
        assert "(50 %)" in panel.progress_label.value
        assert panel.progress.get_state()["bar_style"] == "info"
        eventually(lambda: panel.counts.get("stalled") == 1, "the stalled job counted")
    finally:
        panel.close()
        worker.stop()


def test_panel_actions_report_errors_in_the_status_line(t: SyncThoonk) -> None:
    worker = t.process("panel-bad-action", lambda item: item, concurrency=2)
    panel = worker.view()
    try:
        panel.set_concurrency(0)
        # InvalidConfigError: a UsageError naming the option
        eventually(lambda: "InvalidConfigError" in panel.status.value, "the refusal")
        assert worker.concurrency == 2 and worker.running
        eventually(lambda: panel.concurrency.value == 2, "the slider back at 2")
    finally:
        panel.close()
        worker.stop()


def test_the_panel_follows_a_worker_driven_from_another_thread(t: SyncThoonk) -> None:
    worker = t.process("panel-threads", lambda item: item, concurrency=2)
    panel = worker.view()
    try:
        stopper = threading.Thread(target=worker.stop)
        stopper.start()
        stopper.join(30)
        eventually(lambda: panel.state()["state"] == "stopped", "the stopped state")
        eventually(lambda: "stopped" in panel.header.value, "the header")
    finally:
        panel.close()
