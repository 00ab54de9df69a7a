"""Job workers in one process, against real Redis: outcomes, failures, timeouts, drain.

Testing policy: real Redis (the session's server, a fresh database per
test), effects awaited with ``wait_until`` or pub/sub events under a trio
deadline (``fail_after``), never a bare sleep. Jobs are watched through a
subscription opened before they are published.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
import redis
import trio
import trio.testing

from tests.polling import wait_until
from thoonk_actors import ThoonkConnectionError, UsageError, contract
from thoonk_actors.objects import Events, Job, ObjectEvent, Thoonk, open_thoonk
from thoonk_actors.runtime import App, current_job

DEADLINE = 15


@asynccontextmanager
async def client(url: str) -> AsyncIterator[Thoonk]:
    async with open_thoonk(url) as thoonk:
        yield thoonk


async def next_events(events: Events, count: int) -> list[ObjectEvent]:
    got: list[ObjectEvent] = []
    while len(got) < count:
        event = await events.receive()
        assert isinstance(event, ObjectEvent), f"unexpected {event!r}"
        got.append(event)
    return got


def fast_app(url: str) -> App:
    return App(url, reap_interval=0.1, heartbeat_interval=0.5, stale_after=2.0)


async def test_async_handler_finishes_jobs_with_results(redis_url: str) -> None:
    app = fast_app(redis_url)

    @app.job("double", concurrency=4)
    async def double(item: dict[str, int]) -> dict[str, int]:
        return {"twice": item["n"] * 2}

    with trio.fail_after(DEADLINE):
        async with client(redis_url) as thoonk, app.open():
            queue = thoonk.job("double")
            results = [await queue.publish_and_wait({"n": n}) for n in range(5)]
    assert results == [{"twice": n * 2} for n in range(5)]


async def test_plain_def_runs_in_a_thread_and_sees_its_job(redis_url: str) -> None:
    app = fast_app(redis_url)
    threads: list[bool] = []

    @app.job("sync", concurrency=2)
    def handler(item: str) -> dict[str, Any]:
        threads.append(threading.current_thread() is threading.main_thread())
        job = current_job()
        return {"id": job.id, "item": item, "failures": job.failures}

    with trio.fail_after(DEADLINE):
        async with client(redis_url) as thoonk, app.open():
            queue = thoonk.job("sync")
            result = await queue.publish_and_wait("hello", id="job-1")
    assert result == {"id": "job-1", "item": "hello", "failures": 0}
    assert threads == [False]


async def test_exceptions_cancel_then_stall_at_max_cancels(redis_url: str) -> None:
    app = fast_app(redis_url)
    attempts: list[int] = []

    @app.job("poison", max_cancels=3)
    async def boom(item: Any) -> None:
        attempts.append(current_job().failures)
        raise ValueError("no such mailbox")

    with trio.fail_after(DEADLINE):
        async with client(redis_url) as thoonk:
            queue = thoonk.job("poison")
            await queue.create({"retry_delay": 0})  # no backoff: this test is about counts
            async with queue.events(["cancel", "stall", "finish"]) as events:
                job_id = await queue.publish({"to": "nobody"})
                async with app.open() as running:
                    seen = await next_events(events, 3)
                    await wait_until(
                        lambda: running.statistics().queue("poison").in_flight == 0,
                        what="the stall to be written",
                    )
                    stats = running.statistics().queue("poison")
            assert [(e.event, e.id) for e in seen] == [
                ("cancel", job_id), ("cancel", job_id), ("stall", job_id),
            ]  # fmt: skip
            assert attempts == [0, 1, 2]
            assert await queue.stalled_ids() == (job_id,)
            assert await queue.last_error(job_id) == "ValueError: no such mailbox"
            # The worker's max_cancels is its own; the queue's config is not rewritten.
            assert (await queue.config()).max_cancels == contract.DEFAULT_MAX_CANCELS
    assert (stats.failed, stats.stalled, stats.finished) == (3, 1, 0)


async def test_timeout_cancels_the_handler_and_the_job(redis_url: str) -> None:
    app = fast_app(redis_url)
    cancelled: list[bool] = []

    @app.job("slow", timeout=0.2, max_cancels=2)
    async def sleepy(item: Any) -> None:
        try:
            await trio.sleep_forever()
        except trio.Cancelled:
            cancelled.append(True)
            raise

    with trio.fail_after(DEADLINE):
        async with client(redis_url) as thoonk:
            queue = thoonk.job("slow")
            await queue.create({"retry_delay": 0})
            async with queue.events(["cancel", "stall"]) as events:
                job_id = await queue.publish("zzz")
                async with app.open() as running:
                    seen = await next_events(events, 2)
                    await wait_until(
                        lambda: running.statistics().queue("slow").in_flight == 0,
                        what="the stall to be written",
                    )
                    stats = running.statistics().queue("slow")
            assert [e.event for e in seen] == ["cancel", "stall"]
            assert await queue.last_error(job_id) == "timed out after 0.2s"
            # The worker's timeout is its own lease; the queue's config is not rewritten.
            assert (await queue.config()).timeout == 0
    assert cancelled == [True, True]
    assert (stats.timed_out, stats.failed, stats.stalled) == (2, 2, 1)


async def test_unencodable_result_fails_only_its_job(redis_url: str) -> None:
    app = fast_app(redis_url)

    @app.job("results", max_cancels=1)
    async def handler(item: int) -> Any:
        return {1, 2} if item == 0 else item

    with trio.fail_after(DEADLINE):
        async with client(redis_url) as thoonk:
            queue = thoonk.job("results")
            async with queue.events(["finish", "stall"]) as events:
                ids = await queue.publish_many(range(4))
                async with app.open():
                    seen = await next_events(events, 4)
            assert sorted(e.event for e in seen) == ["finish", "finish", "finish", "stall"]
            assert await queue.stalled_ids() == (ids[0],)
            error = await queue.last_error(ids[0])
            assert error is not None and error.startswith("PayloadError")


async def test_lease_is_renewed_while_jobs_wait_and_run(redis_url: str) -> None:
    # Claimed 2 at a time, each running 0.45 s with a 0.6 s claim timeout: the
    # second waits 0.45 s in the prefetch buffer, then runs, so it is held
    # ~0.9 s. Without renewal the reaper (every 0.1 s) would take it back.
    app = fast_app(redis_url)

    @app.job("lease", concurrency=1, prefetch=1, timeout=0.6)
    async def handler(item: int) -> int:
        await trio.sleep(0.45)
        return item

    with trio.fail_after(DEADLINE):
        async with client(redis_url) as thoonk:
            queue = thoonk.job("lease")
            async with queue.events(["finish", "cancel", "stall"]) as events:
                await queue.publish_many(range(4))
                async with app.open() as running:
                    seen = await next_events(events, 4)
                    stats = running.statistics().queue("lease")
    assert [e.event for e in seen] == ["finish"] * 4
    assert (stats.lost, stats.failed) == (0, 0)


async def test_claim_lost_in_flight_comes_back_long_before_the_timeout(
    redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A claim script that ran but whose reply was lost (the connection broke):
    # its jobs are claimed under this worker's id and nobody knows them. The
    # worker retires that id, so reapers take them back (not after 300 s).
    app = App(redis_url, reap_interval=0.1, heartbeat_interval=0.2, stale_after=2.0)

    @app.job("lossy", timeout=300)
    async def handler(item: int) -> int:
        return item

    lost: list[str] = []
    claim_many = Job.claim_many

    async def claim_then_break(self: Job, max_jobs: int, **options: Any) -> Any:
        jobs = await claim_many(self, max_jobs, **options)
        if jobs and not lost:
            lost.extend(job.id for job in jobs)
            raise ThoonkConnectionError("the connection broke (simulated)")
        return jobs

    monkeypatch.setattr(Job, "claim_many", claim_then_break)
    with trio.fail_after(DEADLINE):
        async with client(redis_url) as thoonk:
            queue = thoonk.job("lossy")
            async with queue.events(["finish", "cancel"]) as events:
                ids = await queue.publish_many(range(5))
                async with app.open() as running:
                    seen = await next_events(events, len(ids) + 5)
                    # A finish event can arrive before the writer counted the reply.
                    await wait_until(
                        lambda: running.statistics().queue("lossy").finished == len(ids),
                        what="the finishes to be counted",
                    )
                    stats = running.statistics().queue("lossy")
    cancels = [e.id for e in seen if e.event == "cancel"]
    finishes = [e.id for e in seen if e.event == "finish"]
    assert sorted(cancels) == sorted(lost) and len(lost) == 5
    assert sorted(finishes) == sorted(ids)
    assert (stats.finished, stats.lost) == (5, 0)


async def test_stop_releases_waiting_jobs_at_once_and_lets_running_ones_finish(
    redis_url: str,
) -> None:
    app = fast_app(redis_url)
    gate = trio.Event()
    started: list[str] = []

    @app.job("drain", concurrency=2, prefetch=2)
    async def handler(item: int) -> int:
        started.append(current_job().id)
        await gate.wait()
        return item

    with trio.fail_after(DEADLINE):
        async with client(redis_url) as thoonk:
            queue = thoonk.job("drain")
            async with queue.events(["claim", "release", "finish", "cancel"]) as events:
                ids = await queue.publish_many(range(6))
                async with app.open() as running:
                    claims = await next_events(events, 4)
                    await wait_until(lambda: len(started) == 2, what="2 handlers to start")
                    running.stop_nowait(grace=30)
                    released = await next_events(events, 2)
                    assert running.state.value == "stopping"
                    gate.set()
                    finished = await next_events(events, 2)
                    await running.wait_stopped()
                    stats = running.statistics().queue("drain")
            assert {e.event for e in claims} == {"claim"}
            assert [e.event for e in released] == ["release", "release"]
            assert [e.event for e in finished] == ["finish", "finish"]
            assert {e.id for e in finished} == set(started)
            assert {e.id for e in released} | set(started) == {e.id for e in claims}
            assert [await queue.failure_count(i) for i in ids] == [0] * 6
            jobs = await queue.statistics()
            assert (jobs.available, jobs.claimed, jobs.finishes) == (4, 0, 2)
    assert (stats.released, stats.finished, stats.failed) == (2, 2, 0)
    assert running.state.value == "stopped"


async def test_grace_over_cancels_handlers_and_releases_their_jobs(redis_url: str) -> None:
    app = fast_app(redis_url)

    @app.job("stuck", concurrency=2, prefetch=1)
    async def handler(item: int) -> None:
        await trio.sleep_forever()

    with trio.fail_after(DEADLINE):
        async with client(redis_url) as thoonk:
            queue = thoonk.job("stuck")
            async with queue.events(["claim"]) as events:
                ids = await queue.publish_many(range(5))
                async with app.open() as running:
                    await next_events(events, 3)
                    await wait_until(
                        lambda: running.statistics().queue("stuck").running == 2,
                        what="2 handlers to run",
                    )
                    await running.stop(grace=0.2)
            jobs = await queue.statistics()
            assert (jobs.available, jobs.claimed, jobs.finishes) == (5, 0, 0)
            assert [await queue.failure_count(i) for i in ids] == [0] * 5
    assert running.statistics().queue("stuck").released == 3


async def test_error_in_the_block_releases_claimed_jobs(redis_url: str) -> None:
    app = fast_app(redis_url)

    @app.job("crash", concurrency=1, prefetch=1)
    async def handler(item: int) -> None:
        await trio.sleep_forever()

    with trio.fail_after(DEADLINE):
        async with client(redis_url) as thoonk:
            queue = thoonk.job("crash")
            await queue.publish_many(range(3))
            with pytest.raises(KeyError, match="mine"):
                async with app.open() as running:
                    await wait_until(
                        lambda: running.statistics().queue("crash").running == 1,
                        what="the handler to run",
                    )
                    raise KeyError("mine")
            jobs = await queue.statistics()
            assert (jobs.available, jobs.claimed, jobs.workers_alive) == (3, 0, 0)


async def test_burst_returns_when_every_queue_is_drained(redis_url: str) -> None:
    app = fast_app(redis_url)
    seen: list[int] = []

    @app.job("a", concurrency=3)
    async def a(item: int) -> None:
        seen.append(item)

    @app.job("b")
    def b(item: int) -> int:
        return item

    with trio.fail_after(DEADLINE):
        async with client(redis_url) as thoonk:
            await thoonk.job("a").publish_many(range(50))
            await thoonk.job("b").publish_many(range(70))
            await app.run(burst=True)
            for name, count in (("a", 50), ("b", 70)):
                jobs = await thoonk.job(name).statistics()
                assert (jobs.available, jobs.claimed, jobs.finishes) == (0, 0, count)
    assert sorted(seen) == list(range(50))


async def test_wait_drained_waits_for_a_job_claimed_elsewhere_until_its_finish_event(
    redis_url: str,
) -> None:
    """Idle here is not drained: the rule waits for the other claimer, woken by its event."""
    app = App(redis_url)  # default reaping: the claim held elsewhere stays claimed

    @app.job("elsewhere")
    async def handler(item: str) -> str:
        return item

    drained: list[bool] = []
    with trio.fail_after(DEADLINE):
        async with client(redis_url) as thoonk:
            queue = thoonk.job("elsewhere")
            await queue.publish("x")
            held = await queue.get(timeout=5)  # claimed before the app's worker starts
            assert held is not None
            async with app.open() as running:

                async def wait() -> None:
                    drained.append(await running.wait_drained())

                async with trio.open_nursery() as nursery:
                    nursery.start_soon(wait)
                    # Everything here waits (no timer in the rule): still not drained.
                    await trio.testing.wait_all_tasks_blocked(cushion=0.2)
                    assert drained == []
                    await queue.finish(held, "done elsewhere")
                assert drained == [True]

                async with trio.open_nursery() as nursery:
                    await queue.publish("later", delay=3600)  # scheduled: work still to do
                    nursery.start_soon(wait)
                    await trio.testing.wait_all_tasks_blocked(cushion=0.2)
                    assert drained == [True]
                    running.stop_nowait()  # stopped first: False
    assert drained == [True, False]


async def test_burst_waits_for_a_feed_actor_to_handle_what_reached_it(redis_url: str) -> None:
    app = fast_app(redis_url)
    started, gate = trio.Event(), trio.Event()
    handled: list[str] = []

    @app.feed("burst-news", snapshot=False)
    async def on_news(event: Any) -> None:
        started.set()
        await gate.wait()
        handled.append(event.id)

    with trio.fail_after(DEADLINE):
        async with client(redis_url) as thoonk, app.open() as running:
            async with trio.open_nursery() as nursery:
                drained: list[bool] = []

                async def wait() -> None:
                    drained.append(await running.wait_drained())

                await thoonk.feed("burst-news").publish("hello", id="1")
                await started.wait()  # the actor is handling it
                nursery.start_soon(wait)
                await trio.testing.wait_all_tasks_blocked(cushion=0.2)
                assert drained == []  # the actor is still handling it
                gate.set()
            assert (drained, handled) == ([True], ["1"])


async def test_statistics_count_and_rate(redis_url: str) -> None:
    app = fast_app(redis_url)

    @app.job("count", concurrency=8)
    async def handler(item: int) -> int:
        return item

    with trio.fail_after(DEADLINE):
        async with client(redis_url) as thoonk:
            await thoonk.job("count").publish_many(range(300))
            async with app.open(burst=True) as running:
                assert running.state.value == "running"
                await running.wait_stopped()
    stats = running.statistics()
    queue = stats.queue("count")
    assert stats.state == "stopped"
    assert (queue.claimed, queue.finished, queue.in_flight, queue.running) == (300, 300, 0, 0)
    assert queue.rate > 0
    assert running.live.value.queue("count").finished == 300
    with pytest.raises(UsageError):
        stats.queue("nope")


async def test_claimer_crash_is_logged_and_restarted(
    redis_url: str, sync_redis: redis.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    app = fast_app(redis_url)

    @app.job("broken")
    async def handler(item: int) -> int:
        return item

    keys = Job.KEYS.of("broken", cluster=False)
    sync_redis.set(keys.ids, "not a list")  # every claim is refused: WRONGTYPE
    with trio.fail_after(DEADLINE):
        async with client(redis_url) as thoonk, app.open() as running:
            await wait_until(
                lambda: any("claimer of 'broken' crashed" in r.message for r in caplog.records),
                what="the crash to be logged",
            )
            sync_redis.delete(keys.ids)
            queue = thoonk.job("broken")
            assert await queue.publish_and_wait(7) == 7
            assert running.state.value == "running"


def test_registration_errors_are_immediate() -> None:
    app = App()

    async def handler(item: Any) -> None: ...

    with pytest.raises(UsageError):
        app.job("q", concurrency=0)(handler)
    with pytest.raises(UsageError):
        app.job("q", timeout=-1)(handler)
    with pytest.raises(UsageError):
        app.job("q", max_cancels=0)(handler)
    with pytest.raises(UsageError):
        app.job("bad{name}")(handler)
    app.job("q")(handler)
    with pytest.raises(UsageError, match="already"):
        app.job("q")(handler)
    with pytest.raises(UsageError):
        App(heartbeat_interval=20, stale_after=15)


async def test_open_without_handlers_is_a_usage_error(redis_url: str) -> None:
    with pytest.raises(UsageError, match="no handlers"):
        async with App(redis_url).open():
            pass  # pragma: no cover
