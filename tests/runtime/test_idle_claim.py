"""The idle worker's claim, sent behind its wait on the blocking connection (issue 13).

An idle worker sends ``BLMOVE`` and the claim script in one write: the server
runs the claim as soon as the wait ends. What must hold whatever cuts the
wait (a stop, a ``schedule`` event waking the claimer, a killed connection,
a script cache flushed): no job is lost or finished twice, and a claim that
ran is never left claimed by nobody.

Testing policy: real Redis (a fresh database per test), workers in this
process, effects watched through a subscription opened before anything is
published and through the queue's statistics; every wait polls with a trio
deadline. Which calls the worker sends is seen by counting our own client's
calls (the transport methods are wrapped, not replaced: every call still
goes to Redis).
"""

from __future__ import annotations

import collections
import logging
import math
from collections.abc import Callable
from typing import Any

import pytest
import redis
import trio

from tests.polling import wait_until
from thoonk_actors import UsageError
from thoonk_actors.objects import Events, ObjectEvent, open_thoonk
from thoonk_actors.runtime import App
from thoonk_actors.transport import RedisClient

DEADLINE = 30


def fast_app(url: str) -> App:
    return App(url, reap_interval=0.1, heartbeat_interval=0.2, stale_after=2.0)


def blocked_waits(witness: redis.Redis) -> list[int]:
    """Ids of this database's connections blocked in BLMOVE (an idle worker's wait)."""
    db = int(witness.connection_pool.connection_kwargs.get("db", 0))
    return [
        int(c["id"])
        for c in witness.client_list()
        if c.get("cmd") == "blmove" and "b" in c["flags"] and int(c["db"]) == db
    ]


async def count_events(events: Events, into: dict[str, collections.Counter[str]]) -> None:
    async for event in events:
        assert isinstance(event, ObjectEvent), f"the test's subscription missed events: {event!r}"
        into[event.event][event.id] += 1


def count_claims(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """Count job/claim scripts sent alone (``evalsha``) and behind a wait."""
    counts = {"alone": 0, "behind": 0}
    evalsha = RedisClient.evalsha
    behind = RedisClient.evalsha_behind_block

    async def counted_evalsha(self: RedisClient, script: Any, *args: Any, **kw: Any) -> Any:
        if script.name == "job/claim":
            counts["alone"] += 1
        return await evalsha(self, script, *args, **kw)

    async def counted_behind(
        self: RedisClient, blocking: Any, script: Any, *a: Any, **kw: Any
    ) -> Any:
        if script.name == "job/claim":
            counts["behind"] += 1
        return await behind(self, blocking, script, *a, **kw)

    monkeypatch.setattr(RedisClient, "evalsha", counted_evalsha)
    monkeypatch.setattr(RedisClient, "evalsha_behind_block", counted_behind)
    return counts


async def test_wait_and_claim_returns_the_claim_a_cancel_did_not_cut(
    redis_url: str, sync_redis: redis.Redis
) -> None:
    with trio.fail_after(DEADLINE):
        async with open_thoonk(redis_url) as thoonk:
            queue = thoonk.job("objects")
            await queue.create()
            # The claim script loaded, in the form sent from now on (its ACL check
            # passed: the light one). NOSCRIPT behind a cut wait: not run, the cancel raises.
            for _ in range(2):
                assert await queue.claim_many(1) == []
            for publish_first in (False, True):
                scope = trio.CancelScope()
                got: list[Any] = []

                async def claim(scope: trio.CancelScope = scope, got: list[Any] = got) -> None:
                    with scope:
                        got.append(await queue.wait_and_claim(5))
                        await trio.lowlevel.checkpoint()  # the cancel is seen here
                        got.append("not cancelled")

                async with trio.open_nursery() as nursery:
                    nursery.start_soon(claim)
                    await wait_until(lambda: bool(blocked_waits(sync_redis)), what="the wait")
                    if publish_first:
                        # The publish serves the wait and the claim runs behind it
                        # before the publish's reply comes back; then the cut lands.
                        job_id = await queue.publish("served")
                    scope.cancel()
                assert scope.cancelled_caught
                if publish_first:
                    [jobs] = got
                    assert [(j.id, j.item) for j in jobs] == [(job_id, "served")]
                    await queue.finish(jobs[0])
                else:
                    assert got == [[]]  # the wait ended early, the claim found nothing
            stats = await queue.statistics()
            with pytest.raises(UsageError):
                await queue.wait_and_claim(1, until=math.nan)
    assert (stats.available, stats.claimed, stats.finishes) == (0, 0, 1)


async def test_an_idle_worker_claims_behind_its_wait_in_one_round_trip(
    redis_url: str, sync_redis: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    counts = count_claims(monkeypatch)
    app = fast_app(redis_url)

    @app.job("idle", concurrency=1)
    async def echo(item: int) -> int:
        return item

    with trio.fail_after(DEADLINE):
        async with open_thoonk(redis_url) as thoonk, app.open():
            queue = thoonk.job("idle")
            await wait_until(lambda: bool(blocked_waits(sync_redis)), what="the worker to wait")
            start = dict(counts)
            for i in range(20):
                assert await queue.publish_and_wait(i) == i
    # Each job woke the wait and was claimed behind it: no claim of its own.
    assert counts["alone"] == start["alone"]
    assert counts["behind"] - start["behind"] >= 20


async def test_stops_cutting_the_idle_wait_at_many_moments_lose_nothing(
    redis_url: str, sync_redis: redis.Redis
) -> None:
    seen: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    published: list[str] = []
    rounds = 24
    with trio.fail_after(DEADLINE * 3):
        async with open_thoonk(redis_url) as thoonk:
            queue = thoonk.job("cut")
            async with queue.events(["claim", "finish", "release", "cancel"]) as events:
                async with trio.open_nursery() as watcher:
                    watcher.start_soon(count_events, events, seen)
                    for r in range(rounds):
                        app = fast_app(redis_url)

                        @app.job("cut", concurrency=1)
                        async def echo(item: int) -> int:
                            return item

                        async with app.open() as running:
                            await wait_until(
                                lambda: bool(blocked_waits(sync_redis)), what="the worker to wait"
                            )

                            # The publish serves the wait and the claim runs behind it;
                            # the stop lands before, during or after that, by round.
                            async def publish(r: int = r) -> None:
                                published.append(await queue.publish(r))

                            async with trio.open_nursery() as nursery:
                                nursery.start_soon(publish)
                                for _ in range(r % 8):
                                    await trio.lowlevel.checkpoint()
                                running.stop_nowait(grace=5)
                            await running.wait_stopped()
                        stats = await queue.statistics()
                        # A claim that ran behind a cut wait was read and settled:
                        # nothing is left claimed by the stopped worker.
                        assert stats.claimed == 0, f"round {r}: a claim left behind"
                    # What was released (or never claimed) is finished by a last worker.
                    last = fast_app(redis_url)

                    @last.job("cut", concurrency=1)
                    async def finish(item: int) -> int:
                        return item

                    await last.run(burst=True)
                    await wait_until(
                        lambda: set(seen["finish"]) == set(published), what="every finish event"
                    )
                    watcher.cancel_scope.cancel()
            stats = await queue.statistics()
            failures = [await queue.failure_count(i) for i in published]
    assert len(published) == rounds
    assert max(seen["finish"].values()) == 1
    assert seen["cancel"] == collections.Counter()  # nothing reaped, nothing failed
    assert failures == [0] * rounds
    assert sum(seen["claim"].values()) == sum(seen["finish"].values()) + sum(
        seen["release"].values()
    )
    assert (stats.available, stats.claimed, stats.finishes) == (0, 0, rounds)


async def test_a_scheduled_job_cuts_the_wait_and_no_claim_id_is_retired(
    redis_url: str, sync_redis: redis.Redis
) -> None:
    # A delayed publish wakes the claimer (its wait would stop at a stale due
    # time): the wait is ended with CLIENT UNBLOCK and the claim behind it read,
    # so the worker keeps its claim id (a wait dropped unread would retire it).
    app = fast_app(redis_url)

    @app.job("later", concurrency=2)
    async def echo(item: int) -> int:
        return item

    with trio.fail_after(DEADLINE):
        async with open_thoonk(redis_url) as thoonk, app.open():
            queue = thoonk.job("later")
            await wait_until(lambda: bool(blocked_waits(sync_redis)), what="the worker to wait")
            (worker, _), *others = await queue.workers()
            assert others == []
            async with queue.events(["finish"]) as events:
                delayed = [await queue.publish(i, delay=0.05 * (i % 3)) for i in range(12)]
                now = [await queue.publish(100 + i) for i in range(4)]
                done: set[str] = set()
                while done != set(delayed) | set(now):
                    event = await events.receive()
                    assert isinstance(event, ObjectEvent)
                    done.add(event.id)
            workers = [w for w, _ in await queue.workers()]
    assert workers == [worker]  # never retired: no ``worker.1``


async def test_a_flushed_script_cache_while_idle_still_claims(
    redis_url: str, sync_redis: redis.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    app = fast_app(redis_url)

    @app.job("flushed", concurrency=1)
    async def echo(item: int) -> int:
        return item

    with trio.fail_after(DEADLINE):
        async with open_thoonk(redis_url) as thoonk, app.open():
            queue = thoonk.job("flushed")
            assert await queue.publish_and_wait(1) == 1  # every script loaded
            for i in range(3):
                await wait_until(lambda: bool(blocked_waits(sync_redis)), what="the worker to wait")
                sync_redis.script_flush()  # the claim queued behind the wait gets NOSCRIPT
                assert await queue.publish_and_wait(i) == i
            (worker, _), *others = await queue.workers()
    assert others == [] and "." not in worker.rsplit(":", 1)[1]  # not retired
    noisy = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert noisy == [], [r.getMessage() for r in noisy]


async def test_the_blocking_connection_killed_while_waiting_loses_no_job(
    redis_url: str, sync_redis: redis.Redis
) -> None:
    # The claim behind a killed wait may have run (its reply lost): the worker
    # claims under a new id and the old one leaves, so a reaper brings such jobs
    # back; every job is finished exactly once, soon.
    app = fast_app(redis_url)

    @app.job("killed", concurrency=1)
    async def echo(item: int) -> int:
        return item

    kill: Callable[[int], Any] = lambda victim: sync_redis.client_kill_filter(_id=victim)  # noqa: E731
    finished: collections.Counter[str] = collections.Counter()
    with trio.fail_after(DEADLINE * 2):
        async with open_thoonk(redis_url) as thoonk, app.open():
            queue = thoonk.job("killed")
            async with queue.events(["finish"]) as events:

                async def count() -> None:
                    async for event in events:
                        assert isinstance(event, ObjectEvent)
                        finished[event.id] += 1

                ids: list[str] = []
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(count)
                    for i in range(10):
                        await wait_until(
                            lambda: bool(blocked_waits(sync_redis)), what="the worker to wait"
                        )
                        victims = blocked_waits(sync_redis)
                        if i % 2:
                            ids.append(await queue.publish(i))  # served, then killed: a race
                        for victim in victims:
                            kill(victim)
                        if not i % 2:
                            ids.append(await queue.publish(i))
                    await wait_until(
                        lambda: set(finished) == set(ids), what="every job to finish", deadline=20
                    )
                    nursery.cancel_scope.cancel()
            stats = await queue.statistics()
    assert max(finished.values()) == 1
    assert (stats.available, stats.claimed, stats.finishes) == (0, 0, 10)
