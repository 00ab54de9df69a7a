"""Status lines show the current state: an outage while it lasts, cleared when it ends.

A real fault: a private embedded redis-server (its own data dir and unix
socket) is shut down under a live WorkerPanel, FeedView and JobBoard, then
started again on the same socket. Warnings the library logs meanwhile go to
logging and are summarised in one status line, not printed to stderr.
"""

from __future__ import annotations

import logging
import re
import shutil
import tempfile
from collections.abc import Iterator

import pytest

from thoonk_actors.embedded import ensure_embedded_server, stop_embedded_server
from thoonk_actors.sync import SyncThoonk, connect
from thoonk_actors.widgets import FeedView, JobBoard, WarningSummary, WorkerPanel

from ..polling import eventually
from ..sync.test_facade import run_child

pytest.importorskip("ipywidgets")


@pytest.fixture
def data_dir() -> Iterator[str]:
    # Short on purpose: a unix socket path must fit in ~104 bytes.
    root = tempfile.mkdtemp(prefix="thw-", dir="/tmp")
    try:
        yield root
    finally:
        stop_embedded_server(root)
        shutil.rmtree(root, ignore_errors=True)


@pytest.mark.slow
def test_status_lines_show_the_outage_and_clear_when_the_server_is_back(
    data_dir: str, quiet_runtime: None
) -> None:
    server = ensure_embedded_server(data_dir)
    with connect(server.url) as t:
        worker = t.process("recover", lambda item: item, concurrency=2)
        panel = worker.view()
        view = FeedView(t.feed("recover-news"))
        board = JobBoard(t.job("recover"))
        views: list[WorkerPanel | FeedView | JobBoard] = [panel, view, board]
        try:
            assert isinstance(panel, WorkerPanel)
            eventually(lambda: panel.state()["state"] == "running", "the running worker")
            eventually(lambda: "0 items" in view.header.value, "the feed read")
            eventually(lambda: board.counts.get("available") == 0, "the board read")

            stop_embedded_server(data_dir)  # the fault: the server goes away
            board._wake()  # the board looks again now (what its Refresh button does)
            # Shown as soon as the client's reconnect attempts fail, not after its
            # reconnect_timeout (the link state, checked every second).
            eventually(lambda: _retrying(panel), "the panel to show the outage", deadline=20)
            eventually(lambda: _retrying(board), "the board to show the outage", deadline=20)
            assert "retrying" in panel.status_text()

            ensure_embedded_server(data_dir)  # back, on the same socket
            jobs = t.job("recover")
            eventually(lambda: _answers(t), "the connection to come back", deadline=30)
            job_id = jobs.publish("after")
            assert jobs.wait_result(job_id, timeout=30) == "after"
            t.feed("recover-news").publish({"title": "after"}, id="after")
            for widget in views:
                eventually(
                    lambda w=widget: not w.problems() and "retrying" not in w.status_text(),  # type: ignore[misc]
                    f"the {type(widget).__name__} status to clear",
                    deadline=30,
                )
            eventually(lambda: view.ids() == ["after"], "the feed view to follow again")
            eventually(lambda: panel.counts.get("finished") == 1, "the panel to count again")
            assert "Connected again" in panel.status_text()
        finally:
            for widget in views:
                widget.close()
            worker.stop()


def _retrying(widget: WorkerPanel | FeedView | JobBoard) -> bool:
    return any("retrying" in problem for problem in widget.problems())


def _answers(t: SyncThoonk) -> bool:
    try:
        t.execute("PING")
    except Exception:
        return False
    return True


def test_warnings_are_summarised_in_the_status_line_not_printed(t: SyncThoonk) -> None:
    view = FeedView(t.feed("warned"))
    try:
        log = logging.getLogger("thoonk_actors.runtime")
        # Without the summary's handler, Python's last resort would print these to stderr.
        for n in range(3):
            log.warning("job %s failed: ValueError: nope", n)
        eventually(lambda: "latest: job 2 failed" in view.status_text(), "the summary")
        counted = re.search(r"(\d+) warnings logged in the last minute", view.status_text())
        assert counted is not None and int(counted.group(1)) >= 3  # others may log too
        assert any(
            isinstance(h, WarningSummary) for h in logging.getLogger("thoonk_actors").handlers
        )
    finally:
        view.close()
    summary = WarningSummary._installed
    assert summary is None or view not in summary.users, "close() detaches the view"
    if summary is None:  # no other widget alive (other tests may leave some open)
        assert not any(isinstance(h, WarningSummary) for h in log.handlers)


def test_no_warning_reaches_stderr_while_a_view_is_open(redis_url: str) -> None:
    # A child without logging configured, like a fresh kernel: Python's last
    # resort would print the warning to stderr (a widget cell, in Jupyter).
    done = run_child(
        """
        import logging, sys
        from thoonk_actors import sync
        from thoonk_actors.widgets import FeedView

        t = sync.connect()
        log = logging.getLogger("thoonk_actors.transport")
        view = FeedView(t.feed("quiet"))
        log.warning("while open: reconnecting")
        view.close()
        log.warning("after close: printed")
        t.close()
        """,
        redis_url,
    )
    assert done.returncode == 0, done.stderr
    assert "while open" not in done.stderr
    assert "after close: printed" in done.stderr  # the child can print: the check can fail
