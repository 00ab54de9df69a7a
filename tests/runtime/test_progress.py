"""Handlers report progress through ``progress()`` / ``progress_sync()``; callers follow it."""

from __future__ import annotations

import threading
from typing import Any

import pytest
import trio

from tests.polling import wait_until
from thoonk_actors import UsageError, progress, progress_sync
from thoonk_actors.contract import JobProgress
from thoonk_actors.objects import open_thoonk
from thoonk_actors.runtime import App

DEADLINE = 15


def fast_app(url: str) -> App:
    return App(url, reap_interval=0.1, heartbeat_interval=0.5, stale_after=2.0)


@pytest.mark.parametrize("kind", ["async", "thread"])
async def test_a_handler_reports_progress_that_a_waiter_follows(redis_url: str, kind: str) -> None:
    app = fast_app(redis_url)
    written: list[bool] = []
    # The handler holds its claim until the waiter saw the report (a finish removes it).
    seen_it = threading.Event()
    if kind == "async":

        @app.job("steps")
        async def handler(item: int) -> str:
            written.append(await progress(0.5, {"step": item}))
            await trio.to_thread.run_sync(seen_it.wait, 10)
            return "done"

    else:

        @app.job("steps")
        def handler(item: int) -> str:
            written.append(progress_sync(0.5, {"step": item}))
            seen_it.wait(10)
            return "done"

    seen: list[JobProgress] = []
    result: list[Any] = []
    with trio.fail_after(DEADLINE):
        async with open_thoonk(redis_url) as thoonk:
            jobs = thoonk.job("steps")
            job_id = await jobs.publish(7)

            async def waiter() -> None:
                result.append(await jobs.wait_result(job_id, on_progress=seen.append))

            async with trio.open_nursery() as nursery, app.open():
                nursery.start_soon(waiter)
                await wait_until(lambda: bool(seen), what="the progress report")
                seen_it.set()
                await wait_until(lambda: bool(result), what="the result")
            assert await jobs.progress_of(job_id) is None  # the finish removed it
    assert result == ["done"] and written == [True]
    assert [(p.id, p.fraction, p.info) for p in seen] == [(job_id, 0.5, {"step": 7})]


async def test_progress_outside_a_handler_says_where_it_works() -> None:
    with pytest.raises(UsageError, match="inside a job handler"):
        await progress(0.5)
    with pytest.raises(UsageError, match="inside a job handler"):
        progress_sync(0.5)
