"""A job whose claim goes away while a worker holds it is not run / is cancelled (issue 9.5).

Retract (or cancel, or reap) jobs a worker holds: the buffered ones must not
start, the running handler is cancelled through its trio cancel scope, and
the worker says why (the real cause, not "lost"), counting them as revoked.

Testing policy: real Redis, the App in process and a real ``thoonk worker``
process; effects awaited with ``wait_until`` under a trio deadline.
"""

from __future__ import annotations

import json
import logging
import threading

import pytest
import redis
import trio

from tests.polling import eventually, wait_until
from thoonk_actors import contract
from thoonk_actors.contract import JobKeys, NewJob
from thoonk_actors.objects import Thoonk
from thoonk_actors.runtime import App, current_job

from ..contract._redis import raw_client, run
from ._process import worker

DEADLINE = 20


def _blocking_app(url: str) -> tuple[App, list[str], list[str]]:
    """One handler at a time, two prefetched; each handler waits until cancelled."""
    app = App(url, reap_interval=60, heartbeat_interval=0.5, stale_after=5.0)
    started: list[str] = []
    cancelled: list[str] = []

    @app.job("held", concurrency=1, prefetch=2, timeout=60)
    async def work(item: str) -> str:
        started.append(item)
        try:
            await trio.sleep_forever()
        except trio.Cancelled:
            cancelled.append(item)
            raise
        return item  # pragma: no cover

    return app, started, cancelled


async def test_retract_cancels_the_running_handler_and_drops_prefetched_jobs(
    redis_url: str, thoonk: Thoonk, caplog: pytest.LogCaptureFixture
) -> None:
    queue = thoonk.job("held")
    for name in ("a", "b", "c"):
        await queue.publish(name, id=name)
    app, started, cancelled = _blocking_app(redis_url)
    with trio.fail_after(DEADLINE), caplog.at_level(logging.WARNING):
        async with app.open() as running:
            await wait_until(lambda: started == ["a"], what="a running, b and c prefetched")
            assert {i for i, _ in await queue.claimed()} == {"a", "b", "c"}
            # The prefetched ones first: once a's slot is free, b would start at once.
            for name in ("c", "b", "a"):
                await queue.retract(name)
            await wait_until(
                lambda: running.statistics().queue("held").revoked == 3,
                what="three revoked jobs",
            )
            # The slot is free again: a new job runs (b and c would have been first).
            await queue.publish("d", id="d")
            await wait_until(lambda: started == ["a", "d"], what="d started")
            stats = running.statistics().queue("held")
            running.cancel()
    assert cancelled[0] == "a"
    assert (stats.lost, stats.failed, stats.finished) == (0, 0, 0)
    messages = [r.getMessage() for r in caplog.records]
    assert any("job a of 'held' was retracted while its handler ran: handler cancelled" in m
               for m in messages), messages  # fmt: skip
    for name in ("b", "c"):
        assert any(f"job {name} of 'held' was retracted before its handler started" in m
                   for m in messages), messages  # fmt: skip
    assert not any("reaper" in m for m in messages)


async def test_cancel_by_a_person_cancels_the_running_handler(
    redis_url: str, thoonk: Thoonk, caplog: pytest.LogCaptureFixture
) -> None:
    queue = thoonk.job("held")
    await queue.publish("a", id="a")
    app, started, cancelled = _blocking_app(redis_url)
    with trio.fail_after(DEADLINE), caplog.at_level(logging.WARNING):
        async with app.open() as running:
            await wait_until(lambda: started == ["a"], what="a running")
            await queue.cancel("a")  # no token: a person, as with `thoonk cancel`
            await wait_until(lambda: cancelled == ["a"], what="a's handler cancelled")
            # It went back to the queue: the worker claims it again and runs it again.
            await wait_until(lambda: started == ["a", "a"], what="a running again")
            revoked = running.statistics().queue("held").revoked
            running.cancel()
    assert revoked == 1
    assert await queue.failure_count("a") == 1
    assert any("was cancelled by someone else" in r.getMessage() for r in caplog.records)


async def test_a_reaped_claim_cancels_the_running_handler_naming_the_reaper(
    redis_url: str, thoonk: Thoonk, sync_redis: redis.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    queue = thoonk.job("held")
    await queue.publish("a", id="a")
    app, started, cancelled = _blocking_app(redis_url)
    with trio.fail_after(DEADLINE), caplog.at_level(logging.WARNING):
        async with app.open() as running:
            await wait_until(lambda: started == ["a"], what="a running")
            # The claim looks older than the queue's timeout: a reaper takes it back.
            sync_redis.zadd(JobKeys.of("held").claimed, {"a": 1})
            report = await queue.reap()
            assert [r.id for r in report.reaped] == ["a"]
            await wait_until(lambda: cancelled == ["a"], what="a's handler cancelled")
            await wait_until(lambda: len(started) == 2, what="a claimed and run again")
            running.cancel()
    assert any(
        "job a of 'held' was reaped (reaped: claim not renewed within its lease" in r.getMessage()
        for r in caplog.records
    )


async def test_a_thread_handler_whose_job_is_retracted_is_not_reported(
    redis_url: str, thoonk: Thoonk
) -> None:
    app = App(redis_url, reap_interval=60, heartbeat_interval=0.5, stale_after=5.0)
    go = threading.Event()
    started: list[str] = []

    @app.job("held", concurrency=1, prefetch=0, timeout=60)
    def work(item: str) -> str:
        started.append(current_job().id)
        go.wait(10)
        return item

    queue = thoonk.job("held")
    await queue.publish("a", id="a")
    with trio.fail_after(DEADLINE):
        async with app.open() as running:
            await wait_until(lambda: started == ["a"], what="a running in its thread")
            await queue.retract("a")
            await wait_until(
                lambda: running.statistics().queue("held").revoked == 1, what="a revoked"
            )
            go.set()
            await queue.publish("b", id="b")
            await wait_until(lambda: started == ["a", "b"], what="b started")
            await wait_until(
                lambda: running.statistics().queue("held").finished == 1, what="b finished"
            )
            stats = running.statistics().queue("held")
    assert (stats.lost, stats.failed, stats.revoked) == (0, 0, 1)


def test_worker_process_drops_retracted_jobs(redis_url: str, sync_redis: redis.Redis) -> None:
    keys = JobKeys.of("faults")
    client = raw_client(redis_url)
    items = [NewJob(n, json.dumps({"i": i, "sleep": 60, "mark": True}).encode())
             for i, n in enumerate(("a", "b", "c"))]  # fmt: skip
    run(client, contract.job_publish_many(keys, items))
    try:
        with worker(
            redis_url, "--grace", "2", T_CONCURRENCY="1", T_PREFETCH="2", T_TIMEOUT="120"
        ) as proc:
            eventually(lambda: sync_redis.smembers("started") == {b"a"}, "a running")
            eventually(lambda: sync_redis.zcard(keys.claimed) == 3, "b and c prefetched")
            # The prefetched ones first: once a's slot is free, b would start at once.
            for name in ("c", "b", "a"):
                run(client, contract.job_retract(keys, name))
            run(client, contract.job_publish(keys, "d", b'{"i": 3, "mark": true}'))
            eventually(lambda: int(sync_redis.get(keys.finishes) or 0) == 1, "d finished")
            assert sync_redis.smembers("started") == {b"a", b"d"}
    finally:
        client.close()
    stderr = proc.stderr_text
    assert proc.returncode == 0, stderr
    assert "job a of 'faults' was retracted while its handler ran: handler cancelled" in stderr
    assert "job b of 'faults' was retracted before its handler started" in stderr
    assert "reaper" not in stderr


async def test_a_claim_gone_without_a_watched_event_is_found_by_the_lease_renewal(
    redis_url: str, thoonk: Thoonk, caplog: pytest.LogCaptureFixture
) -> None:
    # A person finishes the job by id (no token): the finish event is not one the
    # worker watches, so the refused touch of its lease loop is what finds it.
    app = App(redis_url, reap_interval=60, heartbeat_interval=0.5, stale_after=5.0)
    started: list[str] = []
    cancelled: list[str] = []

    @app.job("held", concurrency=1, prefetch=0, timeout=3)
    async def work(item: str) -> str:
        started.append(item)
        try:
            await trio.sleep_forever()
        except trio.Cancelled:
            cancelled.append(item)
            raise
        return item  # pragma: no cover

    queue = thoonk.job("held")
    await queue.publish("a", id="a")
    with trio.fail_after(DEADLINE), caplog.at_level(logging.WARNING):
        async with app.open() as running:
            await wait_until(lambda: started == ["a"], what="a running")
            await queue.finish("a", "done by hand")
            await wait_until(lambda: cancelled == ["a"], what="a's handler cancelled")
            stats = running.statistics().queue("held")
    assert (stats.revoked, stats.timed_out, stats.lost) == (1, 0, 0)
    assert any(
        "job a of 'held' was finished by someone else while its handler ran" in r.getMessage()
        for r in caplog.records
    )
