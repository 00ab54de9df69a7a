"""Job queues against a real Redis: every operation, its stored state and its events.

redis-py (``sync_redis``) is the independent witness of what is stored; events
are received on a subscription opened before acting.
"""

from __future__ import annotations

import os
import uuid

import pytest
import redis
import trio

from thoonk_actors import (
    ClaimLostError,
    DuplicateIdError,
    InvalidConfigError,
    InvalidIdError,
    InvalidNameError,
    JsonCodec,
    NotClaimedError,
    NotFoundError,
    NotStalledError,
    PayloadError,
    PayloadTooLargeError,
    ResultTimeoutError,
    WrongTypeError,
)
from thoonk_actors.objects import Thoonk
from thoonk_actors.objects._job import _uuid4

from ..contract._redis import snapshot
from ..polling import wait_until
from ._events import next_event


async def test_publish_stores_the_original_layout(thoonk: Thoonk, sync_redis: redis.Redis) -> None:
    emails = thoonk.job("emails")
    async with emails.events(["publish"]) as events:
        job_id = await emails.publish({"to": "a@example.org", "n": 1})
        event = await next_event(events)
    assert (event.event, event.id, event.data) == ("publish", job_id, None)
    assert len(job_id) == 36 and job_id.count("-") == 4  # a UUID v4, as the JS client makes
    assert sync_redis.lrange("job.ids:emails", 0, -1) == [job_id.encode()]
    assert sync_redis.hget("job.items:emails", job_id) == b'{"to":"a@example.org","n":1}'
    assert sync_redis.zscore("job.published:emails", job_id) is not None
    assert sync_redis.get("job.publishes:emails") == b"1"
    assert sync_redis.smembers("jobs") == {b"emails"}
    assert await emails.item(job_id) == {"to": "a@example.org", "n": 1}


async def test_queue_order_matches_the_original(thoonk: Thoonk) -> None:
    jobs = thoonk.job("order")
    for name in ("A", "B"):
        await jobs.publish(name, id=name)
    for name in ("C", "D"):
        await jobs.publish(name, id=name, priority=True)
    got = [(await jobs.get(timeout=0)) for _ in range(4)]
    assert [j.id for j in got if j] == ["D", "C", "A", "B"]
    assert await jobs.get(timeout=0) is None


async def test_claim_finish_with_result_and_the_exact_finish_event(
    thoonk: Thoonk, sync_redis: redis.Redis
) -> None:
    jobs = thoonk.job("work")
    job_id = await jobs.publish({"x": 1})
    async with jobs.events(["claim", "finish"]) as events:
        job = await jobs.get(timeout=5)
        assert job is not None
        assert (job.id, job.item, job.failures, job.queue) == (job_id, {"x": 1}, 0, "work")
        assert (await next_event(events)).event == "claim"
        assert [i for i, _ in await jobs.claimed()] == [job_id]
        assert sync_redis.hget("job.owners:work", job_id) == f"test-worker:{job.token}".encode()
        await jobs.finish(job, {"ok": True})
        finish = await next_event(events)
    assert (finish.event, finish.id, finish.data) == ("finish", job_id, b'{"ok":true}')
    # the job is gone from every state; only the counters and the result remain
    assert sync_redis.exists("job.items:work", "job.claimed:work", "job.ids:work") == 0
    assert sync_redis.zscore("job.published:work", job_id) is None
    assert sync_redis.get("job.finishes:work") == b"1"
    # a late waiter still gets the result
    assert await jobs.wait_result(job_id, timeout=5) == {"ok": True}


async def test_raw_finish_payload_bytes_without_and_with_empty_result(
    thoonk: Thoonk, sync_redis: redis.Redis
) -> None:
    jobs = thoonk.job("payloads")
    pubsub = sync_redis.pubsub()
    pubsub.subscribe("event.job.finish:payloads")
    assert pubsub.get_message(timeout=5)["type"] == "subscribe"  # type: ignore[index]
    for result in (None, ""):
        job_id = await jobs.publish(1)
        job = await jobs.get(timeout=5)
        assert job is not None
        await jobs.finish(job, result)
        message = None
        with trio.fail_after(10):
            while message is None:
                message = pubsub.get_message(timeout=0.05)
                await trio.lowlevel.checkpoint()
        expected = job_id.encode() if result is None else job_id.encode() + b'\x00""'
        assert message["data"] == expected
    pubsub.close()


async def test_wrong_token_is_claim_lost_and_changes_nothing(
    thoonk: Thoonk, sync_redis: redis.Redis
) -> None:
    jobs = thoonk.job("fenced")
    job_id = await jobs.publish("x")
    job = await jobs.get(timeout=5)
    assert job is not None
    before = snapshot(sync_redis)
    with pytest.raises(ClaimLostError, match=job_id):
        await jobs.finish(job_id, "stolen", token="999999")
    with pytest.raises(ClaimLostError):
        await jobs.cancel(job_id, token="999999")
    assert snapshot(sync_redis) == before
    # without a token it works like the original client (a person, a JS worker)
    await jobs.finish(job_id)


async def test_finishing_or_cancelling_an_unclaimed_job_is_refused(
    thoonk: Thoonk, sync_redis: redis.Redis
) -> None:
    jobs = thoonk.job("unclaimed")
    job_id = await jobs.publish("x")
    before = snapshot(sync_redis)
    with pytest.raises(NotClaimedError, match="not claimed"):
        await jobs.finish(job_id)
    with pytest.raises(NotClaimedError):
        await jobs.cancel(job_id)
    with pytest.raises(NotClaimedError):
        await jobs.stall(job_id)
    with pytest.raises(NotStalledError):
        await jobs.retry(job_id)
    with pytest.raises(NotFoundError):
        await jobs.retract("no-such-job")
    with pytest.raises(NotFoundError, match="no-such-job"):
        await jobs.item("no-such-job")
    assert snapshot(sync_redis) == before


async def test_cancel_counts_failures_then_stalls_past_max_cancels(
    thoonk: Thoonk, sync_redis: redis.Redis
) -> None:
    jobs = thoonk.job("flaky")
    await jobs.create({"max_cancels": 2})
    job_id = await jobs.publish("x")
    async with jobs.events(["cancel", "stall", "retry"]) as events:
        job = await jobs.get(timeout=5)
        assert job is not None
        first = await jobs.cancel(job, error="ValueError: boom")
        assert (first.outcome, first.count) == ("cancelled", 1)
        event = await next_event(events)
        assert (event.event, event.id, event.data) == ("cancel", job_id, b"1")
        assert await jobs.failure_count(job_id) == 1
        assert await jobs.last_error(job_id) == "ValueError: boom"
        # It waits out its retry backoff (default 1 s + jitter), then get() has it.
        assert await jobs.available_ids() == ()
        [(scheduled_id, due_ms)] = await jobs.scheduled()
        assert scheduled_id == job_id and first.retry_at_ms == due_ms
        assert (await jobs.statistics()).scheduled == 1

        job = await jobs.get(timeout=5)
        assert job is not None and job.failures == 1
        second = await jobs.cancel(job, error="ValueError: again")
        assert (second.outcome, second.count) == ("stalled", 2)
        assert (await next_event(events)).event == "stall"
        assert await jobs.stalled_ids() == (job_id,)
        assert await jobs.available_ids() == ()
        assert sync_redis.zscore("job.published:flaky", job_id) is None  # the original's bug, fixed

        await jobs.retry(job_id)
        assert (await next_event(events)).event == "retry"
    assert await jobs.available_ids() == (job_id,)
    assert await jobs.failure_count(job_id) == 0


async def test_retract_in_every_state_tells_a_waiter(thoonk: Thoonk) -> None:
    jobs = thoonk.job("retracts")
    queued = await jobs.publish("q")
    await jobs.retract(queued)
    assert await jobs.available_ids() == ()
    claimed_id = await jobs.publish("c")
    claimed = await jobs.get(timeout=5)
    assert claimed is not None
    async with trio.open_nursery() as nursery:
        errors: list[BaseException] = []

        async def waiter() -> None:
            try:
                await jobs.wait_result(claimed_id, timeout=10)
            except NotFoundError as exc:
                errors.append(exc)

        nursery.start_soon(waiter)
        await trio.testing.wait_all_tasks_blocked()
        await jobs.retract(claimed_id)
    assert len(errors) == 1 and "retracted" in str(errors[0])
    assert await jobs.claimed() == ()
    with pytest.raises(ClaimLostError):
        await jobs.finish(claimed)


async def test_duplicate_id_is_refused_until_retracted(
    thoonk: Thoonk, sync_redis: redis.Redis
) -> None:
    jobs = thoonk.job("dups")
    await jobs.publish("first", id="dup")
    before = snapshot(sync_redis)
    with pytest.raises(DuplicateIdError, match="dup"):
        await jobs.publish("second", id="dup")
    assert snapshot(sync_redis) == before
    await jobs.retract("dup")
    await jobs.publish("third", id="dup")
    assert await jobs.item("dup") == "third"


async def test_bad_input_is_refused_before_anything_is_written(
    thoonk: Thoonk, sync_redis: redis.Redis
) -> None:
    jobs = thoonk.job("strict", codec=JsonCodec(max_size=1000))
    await jobs.publish("ok")
    before = snapshot(sync_redis)
    with pytest.raises(PayloadTooLargeError):
        await jobs.publish("x" * 2000)
    with pytest.raises(PayloadError):
        await jobs.publish({1, 2, 3})
    with pytest.raises(PayloadError):
        await jobs.publish(float("nan"))
    with pytest.raises(InvalidIdError):
        await jobs.publish("x", id="bad\x00id")
    with pytest.raises(InvalidIdError):
        await jobs.publish("x", id="")
    with pytest.raises(InvalidNameError):
        thoonk.job("bad{name}")
    with pytest.raises(InvalidNameError):
        thoonk.job("")
    with pytest.raises(InvalidConfigError, match="max_cancel"):
        await jobs.create({"max_cancel": 3})
    with pytest.raises(InvalidConfigError):
        await jobs.create({"timeout": -1})
    assert snapshot(sync_redis) == before


async def test_wrong_key_type_left_by_someone_else(thoonk: Thoonk, sync_redis: redis.Redis) -> None:
    sync_redis.set("job.ids:broken", "not a list")
    jobs = thoonk.job("broken")
    before = snapshot(sync_redis)
    with pytest.raises(WrongTypeError, match=r"job\.ids:broken"):
        await jobs.publish("x")
    with pytest.raises(WrongTypeError):
        await jobs.get(timeout=0)
    assert snapshot(sync_redis) == before


async def test_blocking_get_is_woken_by_a_publish(thoonk: Thoonk, sync_redis: redis.Redis) -> None:
    jobs = thoonk.job("wake")
    got: list[str] = []

    async def worker() -> None:
        job = await jobs.get()
        assert job is not None
        got.append(job.item)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(worker)
        await wait_until(lambda: _blocked_on(sync_redis, "blmove"), what="get to block")
        await jobs.publish("hello")
    assert got == ["hello"]


def _blocked_on(r: redis.Redis, command: str) -> bool:
    return any(c.get("cmd") == command for c in r.client_list())


async def test_cancelled_blocking_get_leaves_the_job_for_the_next(
    thoonk: Thoonk, sync_redis: redis.Redis
) -> None:
    jobs = thoonk.job("cancelled-get")
    with trio.move_on_after(0.3) as scope:
        await jobs.get()
    assert scope.cancelled_caught
    job_id = await jobs.publish("still here")
    assert sync_redis.lrange("job.ids:cancelled-get", 0, -1) == [job_id.encode()]
    job = await jobs.get(timeout=5)
    assert job is not None and job.id == job_id


async def test_get_with_timeout_returns_none(thoonk: Thoonk) -> None:
    jobs = thoonk.job("empty")
    with trio.fail_after(10):
        assert await jobs.get(timeout=0.2) is None


async def test_publish_and_wait_with_a_concurrent_worker(thoonk: Thoonk) -> None:
    jobs = thoonk.job("echo")

    async def worker(task_status: trio.TaskStatus[None]) -> None:
        task_status.started()
        while True:
            job = await jobs.get()
            assert job is not None
            await jobs.finish(job, {"echo": job.item})

    async with trio.open_nursery() as nursery:
        await nursery.start(worker)
        results = []
        for i in range(20):
            results.append(await jobs.publish_and_wait(i, timeout=10))
        nursery.cancel_scope.cancel()
    assert results == [{"echo": i} for i in range(20)]


async def test_wait_result_times_out_clearly(thoonk: Thoonk) -> None:
    jobs = thoonk.job("slow")
    job_id = await jobs.publish("never finished")
    with pytest.raises(ResultTimeoutError, match=r"did not finish within 0\.2 s"):
        await jobs.wait_result(job_id, timeout=0.2)


async def test_many_waiters_share_one_subscription(thoonk: Thoonk, sync_redis: redis.Redis) -> None:
    jobs = thoonk.job("fanin")
    ids = await jobs.publish_many(range(200))
    results: dict[str, object] = {}

    async def wait(job_id: str) -> None:
        results[job_id] = await jobs.wait_result(job_id, timeout=20)

    async with trio.open_nursery() as nursery:
        for job_id in ids:
            nursery.start_soon(wait, job_id)
        router = await thoonk.result_router(jobs)
        await wait_until(lambda: len(router._waiters) == 200, what="200 waiters registered")
        assert sync_redis.pubsub_numsub("event.job.finish:fanin") == [
            (b"event.job.finish:fanin", 1)
        ]
        claimed = await jobs.claim_many(200)
        outcomes = await jobs.finish_many([(job, job.item * 2) for job in claimed])
        assert all(o.status == "ok" for o in outcomes)
    assert results == {job_id: i * 2 for i, job_id in enumerate(ids)}


async def test_generated_ids_are_uuid4_strings(thoonk: Thoonk) -> None:
    jobs = thoonk.job("uuids")
    ids = [await jobs.publish(i) for i in range(50)] + await jobs.publish_many(range(500))
    assert len(set(ids)) == len(ids)
    for job_id in ids:
        parsed = uuid.UUID(job_id)
        assert (str(parsed), parsed.version, parsed.variant) == (job_id, 4, uuid.RFC_4122)


def test_the_hand_made_uuid4_is_the_stdlibs() -> None:
    raws = [bytes(16), b"\xff" * 16, *(os.urandom(16) for _ in range(2000))]
    for raw in raws:
        assert _uuid4(raw) == str(uuid.UUID(bytes=raw, version=4))


async def test_statistics_are_consistent(thoonk: Thoonk) -> None:
    jobs = thoonk.job("stats")
    await jobs.publish_many(range(10))
    claimed = await jobs.claim_many(4)
    await jobs.finish(claimed[0])
    await jobs.stall(claimed[1])
    stats = await jobs.statistics()
    assert (stats.available, stats.claimed, stats.stalled) == (6, 2, 1)
    assert (stats.publishes, stats.finishes, stats.items) == (10, 1, 9)
    assert stats.workers_alive == 1


async def test_reaper_takes_back_a_timed_out_claim(thoonk: Thoonk) -> None:
    jobs = thoonk.job("timeouts")
    await jobs.create({"timeout": 50})
    job_id = await jobs.publish("x")
    job = await jobs.get(timeout=5)
    assert job is not None
    reaped: list[object] = []

    async def reaped_something() -> bool:
        report = await jobs.reap()
        reaped.extend(report.reaped)
        return bool(report.reaped)

    await wait_until(reaped_something, what="the claim to time out")
    assert [(r.id, r.outcome, r.reason) for r in reaped] == [(job_id, "cancelled", "timeout")]  # type: ignore[attr-defined]
    assert [id for id, _ in await jobs.scheduled()] == [job_id]  # its retry backoff first
    assert await jobs.failure_count(job_id) == 1
    with pytest.raises(ClaimLostError):
        await jobs.finish(job)
    # reaping again finds nothing: the sweep is idempotent
    assert (await jobs.reap()).reaped == ()


async def test_reaper_takes_back_the_claims_of_a_silent_worker(thoonk: Thoonk) -> None:
    jobs = thoonk.job("silent")
    job_id = await jobs.publish("x")
    claimed = await jobs.claim_many(1, worker_id="dead-worker")
    assert [j.id for j in claimed] == [job_id]
    assert (await jobs.reap(stale_ms=60_000)).reaped == ()  # still fresh

    async def reaped() -> bool:
        report = await jobs.reap(stale_ms=20)
        return [(r.id, r.reason) for r in report.reaped] == [(job_id, "owner_gone")]

    await wait_until(reaped, what="the silent worker's claim to be reaped")
    assert [id for id, _ in await jobs.scheduled()] == [job_id]


async def test_release_gives_a_job_back_without_a_failure(thoonk: Thoonk) -> None:
    jobs = thoonk.job("release")
    first = await jobs.publish("first")
    await jobs.publish("second")
    job = await jobs.get(timeout=5)
    assert job is not None and job.id == first
    await jobs.release(job)
    again = await jobs.get(timeout=5)
    assert again is not None and again.id == first and again.failures == 0
    await jobs.touch(again)
    with pytest.raises(ClaimLostError):
        await jobs.touch(job)
