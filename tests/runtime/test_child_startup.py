"""A worker process's start-up cut by a stop, in this process (``runtime/_child.py``).

The process tests (tests/cli/test_worker_signals.py) send a stop at random
moments of a real worker's start-up; the moment that used to leave a worker
waiting for ever (1 stop in ~60 under load) is made here on purpose: the
order lands in the very step in which ``app.open()`` has returned, before
the child has recorded that its app runs. Real Redis, the child's own
``_serve`` (its client, its signal task, its stop levels).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
import redis
import trio

from thoonk_actors.contract import JobKeys
from thoonk_actors.runtime import App, WorkerContext, WorkerSetup
from thoonk_actors.runtime._child import CANCEL, GRACEFUL, _Hook, _serve, _Stop
from thoonk_actors.runtime._running import RunningApp
from thoonk_actors.runtime._signals import SignalLatch

QUEUE = "startup-stop"
#: Far longer than a close takes (milliseconds): reaching it means the worker hangs.
DEADLINE = 15.0


class _StopAsTheAppOpens(_Stop):
    """An order (or a signal) that lands as the app has just opened.

    In a worker the supervisor's order is applied by a callback of the trio
    loop (``run_sync_soon``) and a signal by the signal task, between two
    steps of other tasks: here, the latest such moment before the app runs,
    when ``app.open()`` has returned and the child has not yet recorded the
    running app (no checkpoint in between).
    """

    def __init__(self, level: int) -> None:
        super().__init__(grace=None)
        self.landing = level

    def set_running(self, running: RunningApp) -> None:
        self.raise_to(self.landing, "the order")
        super().set_running(running)


def _app(url: str) -> App:
    app = App(url, grace=5.0)

    @app.job(QUEUE)
    async def work(item: Any) -> Any:
        return item

    return app


async def _serve_with(url: str, stop: _Stop, *, with_hook: bool) -> list[str]:
    """Run the worker's ``_serve`` until it returns (failing after DEADLINE); what the hook saw."""
    seen: list[str] = []

    @asynccontextmanager
    async def open_hook(worker: WorkerContext) -> AsyncIterator[None]:
        seen.append("entered")
        yield
        seen.append("closed")

    hook = None
    if with_hook:
        hook = _Hook(WorkerSetup("tests.runtime.test_child_startup:open_hook"), open_hook, 0)
    with trio.fail_after(DEADLINE):
        await _serve(_app(url), False, stop, SignalLatch(), hook)
    return seen


@pytest.mark.parametrize("with_hook", [False, True], ids=["no hook", "hook"])
async def test_a_stop_as_the_app_opens_stops_it_once_it_runs(
    redis_url: str, sync_redis: redis.Redis, caplog: pytest.LogCaptureFixture, with_hook: bool
) -> None:
    stop = _StopAsTheAppOpens(GRACEFUL)
    caplog.set_level(logging.INFO, logger="thoonk_actors.runtime._child")
    seen = await _serve_with(redis_url, stop, with_hook=with_hook)
    running = stop.running
    assert running is not None and running.stopped
    problems = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert problems == []  # closed by itself, not cut short after a wait, nothing cancelled
    assert "the app is opening; stopping it once it runs" in caplog.text
    assert seen == (["entered", "closed"] if with_hook else [])  # the hook's clean-up ran
    assert sync_redis.zcard(JobKeys.of(QUEUE).workers) == 0  # no heartbeat left behind


async def test_a_third_signal_as_the_app_opens_cancels_it_and_the_worker_ends(
    redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """The cancel lands as the app opened: the child must not wait for a close already over."""
    stop = _StopAsTheAppOpens(CANCEL)
    caplog.set_level(logging.INFO, logger="thoonk_actors.runtime._child")
    seen = await _serve_with(redis_url, stop, with_hook=True)
    running = stop.running
    assert running is not None and running.stopped
    assert "stopped as it started" in caplog.text
    assert seen == ["entered"]  # cancelled: the hook's block ended with Cancelled
