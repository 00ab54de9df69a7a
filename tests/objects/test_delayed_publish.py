"""Delayed jobs: ``publish(item, delay=...)`` / ``at=...`` wait in job.scheduled.

Every time assertion is by the server's clock (TIME, the scores the scripts
wrote), never by the test's own wall clock.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest
import redis
import trio

from thoonk_actors import DuplicateIdError, UsageError
from thoonk_actors.objects import Thoonk, open_thoonk

from ..contract._redis import snapshot
from ._events import next_event


def server_ms(r: redis.Redis) -> int:
    seconds, micros = r.time()
    return int(seconds) * 1000 + int(micros) // 1000


async def test_a_delayed_job_waits_in_scheduled_until_due_by_the_server_clock(
    thoonk: Thoonk, sync_redis: redis.Redis
) -> None:
    jobs = thoonk.job("later")
    before = server_ms(sync_redis)
    async with jobs.events(("publish", "schedule")) as events:
        job_id = await jobs.publish({"n": 1}, delay=0.3)
        published = await next_event(events)
        scheduled = await next_event(events)
    [(sid, due_ms)] = await jobs.scheduled()
    publish_ms = int(sync_redis.zscore("job.published:later", job_id) or 0)
    assert sid == job_id and due_ms == publish_ms + 300 and publish_ms >= before
    assert (published.event, published.id) == ("publish", job_id)
    assert (scheduled.event, scheduled.id, scheduled.data) == ("schedule", job_id, b"%d" % due_ms)
    assert await jobs.available_ids() == ()
    assert (await jobs.statistics()).scheduled == 1
    assert await jobs.item(job_id) == {"n": 1}  # inspection works while it waits

    with trio.fail_after(10):
        while not (claimed := await jobs.claim_many(1)):
            await jobs.wait_for_work(trio.current_time() + 5)
    assert [job.id for job in claimed] == [job_id]
    claim_ms = int(sync_redis.zscore("job.claimed:later", job_id) or 0)
    assert claim_ms >= due_ms  # never early
    assert await jobs.scheduled() == ()


async def test_at_is_an_absolute_time_and_the_past_queues_at_once(
    thoonk: Thoonk, sync_redis: redis.Redis
) -> None:
    jobs = thoonk.job("at")
    due = datetime.now(UTC) + timedelta(hours=1)
    later = await jobs.publish("x", at=due)
    assert await jobs.scheduled() == ((later, math.ceil(due.timestamp() * 1000)),)
    past = await jobs.publish("y", at=datetime.now(UTC) - timedelta(minutes=1))
    zero = await jobs.publish("z", delay=0)
    assert await jobs.available_ids() == (past, zero)
    assert [i for i, _ in await jobs.scheduled()] == [later]


async def test_publish_many_with_a_delay_schedules_the_batch_at_one_due_time(
    thoonk: Thoonk, sync_redis: redis.Redis
) -> None:
    jobs = thoonk.job("batch")
    ids = await jobs.publish_many(["a", "b", "c"], delay=3600)
    scheduled = dict(await jobs.scheduled())
    assert set(scheduled) == set(ids) and len(set(scheduled.values())) == 1
    publish_ms = int(sync_redis.zscore("job.published:batch", ids[0]) or 0)
    assert scheduled[ids[0]] == publish_ms + 3_600_000
    assert await jobs.available_ids() == ()
    assert (await jobs.statistics()).scheduled == 3


async def test_a_scheduled_id_is_taken_and_retract_removes_it(thoonk: Thoonk) -> None:
    jobs = thoonk.job("taken")
    await jobs.publish("x", id="j", delay=3600)
    with pytest.raises(DuplicateIdError):
        await jobs.publish("again", id="j")
    assert await jobs.item("j") == "x"  # inspection sees a scheduled job
    await jobs.retract("j")
    assert all(i != "j" for i, _ in await jobs.scheduled())
    await jobs.publish("new", id="j")  # free again
    assert "j" in await jobs.available_ids()


@pytest.mark.parametrize(
    "kwargs",
    [
        {"delay": -1},
        {"delay": math.nan},
        {"delay": math.inf},
        {"delay": True},
        {"delay": "5"},
        {"at": datetime(2030, 1, 1)},  # naive
        {"at": "2030-01-01"},
        {"delay": 5, "at": datetime.now(UTC)},
        {"delay": 5, "priority": True},
    ],
)
async def test_bad_delays_are_usage_errors_that_change_nothing(
    thoonk: Thoonk, sync_redis: redis.Redis, kwargs: dict[str, object]
) -> None:
    jobs = thoonk.job("bad")
    await jobs.publish("seed")
    before = snapshot(sync_redis)
    with pytest.raises(UsageError):
        await jobs.publish("x", **kwargs)  # type: ignore[arg-type]
    with pytest.raises(UsageError):
        await jobs.publish_many(["x"], **kwargs)  # type: ignore[arg-type]
    assert snapshot(sync_redis) == before


async def test_concurrent_promoters_move_each_due_job_once(
    redis_url: str, sync_redis: redis.Redis
) -> None:
    n = 300
    async with open_thoonk(redis_url) as publisher:
        ids = await publisher.job("many").publish_many(range(n), delay=0.2)
    got: list[str] = []

    async def claimer(index: int) -> None:
        async with open_thoonk(redis_url, worker_id=f"w{index}") as thoonk:
            jobs = thoonk.job("many")
            while len(got) < n:
                batch = await jobs.claim_many(7)
                for job in batch:
                    got.append(job.id)
                    await jobs.finish(job)
                if not batch:
                    await jobs.wait_for_work(trio.current_time() + 0.05)

    with trio.fail_after(30):
        async with trio.open_nursery() as nursery:
            for index in range(4):
                nursery.start_soon(claimer, index)
    assert sorted(got) == sorted(ids)  # each exactly once
    assert sync_redis.zcard("job.scheduled:many") == 0
    assert sync_redis.llen("job.ids:many") == 0


async def test_get_sleeps_until_the_due_time_it_learnt(
    thoonk: Thoonk, sync_redis: redis.Redis
) -> None:
    jobs = thoonk.job("wake")
    job_id = await jobs.publish("x", delay=0.2)
    [(_, due_ms)] = await jobs.scheduled()
    job = await jobs.get(timeout=10)
    assert job is not None and job.id == job_id
    assert int(sync_redis.zscore("job.claimed:wake", job_id) or 0) >= due_ms
