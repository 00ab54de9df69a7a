"""Progress of a claimed job: stored, announced, fenced, checked, throttled, cleaned up.

Real Redis; redis-py snapshots prove that a refused report changes nothing.
"""

from __future__ import annotations

import math
from typing import Any

import pytest
import redis
import trio
import trio.testing

from tests.polling import wait_until
from thoonk_actors import ClaimLostError, PayloadError, ResultTimeoutError, UsageError
from thoonk_actors.contract import JobProgress
from thoonk_actors.objects import ClaimedJob, Job, Thoonk

from ..contract._redis import snapshot
from ._events import next_event


async def claimed(jobs: Job, item: Any = "x") -> ClaimedJob:
    await jobs.publish(item)
    [job] = await jobs.claim_many(1)
    return job


async def test_a_report_is_stored_and_announced(thoonk: Thoonk, sync_redis: redis.Redis) -> None:
    jobs = thoonk.job("p")
    job = await claimed(jobs)
    async with jobs.events(["progress"]) as events:
        assert await jobs.progress(job, 0.25, {"step": "render", "n": 3}) is True
        event = await next_event(events)
    stored = await jobs.progress_of(job.id)
    assert stored is not None
    assert (stored.id, stored.fraction, stored.info) == (job.id, 0.25, {"step": "render", "n": 3})
    assert (event.event, event.id) == ("progress", job.id)
    assert event.data == b'0.25\x00%d\x00{"step":"render","n":3}' % stored.at_ms
    assert sync_redis.hget("job.progress:p", job.id) == event.data
    assert await jobs.progress_all() == (stored,)


@pytest.mark.parametrize("fraction", [-0.01, 1.01, math.nan, math.inf, "0.5", True, None])
async def test_a_fraction_outside_0_1_is_refused_and_changes_nothing(
    thoonk: Thoonk, sync_redis: redis.Redis, fraction: Any
) -> None:
    jobs = thoonk.job("p")
    job = await claimed(jobs)
    before = snapshot(sync_redis)
    with pytest.raises(UsageError, match="from 0 to 1"):
        await jobs.progress(job, fraction)
    assert snapshot(sync_redis) == before


@pytest.mark.parametrize(("info", "match"), [({1, 2}, "JSON"), ("x" * 5000, "4096")])
async def test_info_that_is_not_small_json_is_refused(
    thoonk: Thoonk, sync_redis: redis.Redis, info: Any, match: str
) -> None:
    jobs = thoonk.job("p")
    job = await claimed(jobs)
    before = snapshot(sync_redis)
    with pytest.raises(PayloadError, match=match):
        await jobs.progress(job, 0.5, info)
    assert snapshot(sync_redis) == before


async def test_only_the_holder_of_the_claim_may_report(
    thoonk: Thoonk, sync_redis: redis.Redis
) -> None:
    jobs = thoonk.job("p")
    job = await claimed(jobs)
    await jobs.release(job)
    [again] = await jobs.claim_many(1)  # the same job, another claim
    before = snapshot(sync_redis)
    with pytest.raises(ClaimLostError):
        await jobs.progress(job, 0.5)
    assert snapshot(sync_redis) == before
    with pytest.raises(UsageError, match="ClaimedJob"):
        await jobs.progress(job.id, 0.5)  # type: ignore[arg-type]
    assert await jobs.progress(again, 0.5) is True


async def _finish(jobs: Job, job: ClaimedJob) -> None:
    await jobs.finish(job, "done")


async def _finish_many(jobs: Job, job: ClaimedJob) -> None:
    await jobs.finish_many([(job, "done")])


async def _cancel(jobs: Job, job: ClaimedJob) -> None:
    await jobs.cancel(job)


async def _stall(jobs: Job, job: ClaimedJob) -> None:
    await jobs.stall(job)


async def _retract(jobs: Job, job: ClaimedJob) -> None:
    await jobs.retract(job.id)


async def _reap(jobs: Job, job: ClaimedJob) -> None:
    await jobs.configure(timeout=60_000)
    await jobs.thoonk.execute("ZADD", jobs.keys.claimed, 1, job.id)  # claimed long ago
    report = await jobs.reap()
    assert [r.id for r in report.reaped] == [job.id]


async def _release_then_reap(jobs: Job, job: ClaimedJob) -> None:
    await jobs.release(job)
    await jobs.reap()


ENDINGS = {
    "finish": _finish,
    "finish_many": _finish_many,
    "cancel": _cancel,
    "stall": _stall,
    "retract": _retract,
    "reap": _reap,
    "release_then_reap": _release_then_reap,
}


@pytest.mark.parametrize("ending", list(ENDINGS))
async def test_the_stored_progress_goes_when_the_claim_ends(
    thoonk: Thoonk, sync_redis: redis.Redis, ending: str
) -> None:
    jobs = thoonk.job("p")
    other = await claimed(jobs, "other")  # a bystander claim keeps its progress
    job = await claimed(jobs)
    await jobs.progress(job, 0.5)
    await jobs.progress(other, 0.75)
    await ENDINGS[ending](jobs, job)
    assert await jobs.progress_of(job.id) is None
    kept = await jobs.progress_of(other.id)
    assert kept is not None and kept.fraction == 0.75


async def test_a_tight_loop_writes_at_most_one_report_per_interval(
    thoonk: Thoonk, mock_clock: trio.testing.MockClock
) -> None:
    jobs = thoonk.job("p")
    job = await claimed(jobs)
    async with jobs.events(["progress"]) as events:
        written = [await jobs.progress(job, n / 100) for n in range(1, 50)]
        assert written == [True] + [False] * 48  # the clock stands still
        mock_clock.jump(jobs.progress_interval)
        assert await jobs.progress(job, 0.6) is True
        assert await jobs.progress(job, 0.7) is False
        assert await jobs.progress(job, 1.0) is True  # the end is always written
        fractions = [float((await next_event(events)).data.split(b"\0")[0]) for _ in range(3)]
    assert fractions == [0.01, 0.6, 1.0]
    stored = await jobs.progress_of(job.id)
    assert stored is not None and stored.fraction == 1.0


async def test_wait_result_follows_progress_until_the_result(thoonk: Thoonk) -> None:
    jobs = thoonk.job("p")
    jobs.progress_interval = 0
    job = await claimed(jobs)
    await jobs.progress(job, 0.25, {"step": 1})  # reported before anyone waits: stored
    seen: list[JobProgress] = []
    result: list[Any] = []

    async def waiter() -> None:
        result.append(await jobs.wait_result(job.id, timeout=10, on_progress=seen.append))

    async with trio.open_nursery() as nursery:
        nursery.start_soon(waiter)
        await wait_until(lambda: len(seen) == 1, what="the stored progress")
        await jobs.progress(job, 0.5, {"step": 2})
        await wait_until(lambda: len(seen) == 2, what="the reported progress")
        await jobs.finish(job, "done")
    assert result == ["done"]
    assert [(p.fraction, p.info) for p in seen] == [(0.25, {"step": 1}), (0.5, {"step": 2})]


async def test_wait_result_with_on_progress_raises_its_own_errors_plainly(
    thoonk: Thoonk,
) -> None:
    jobs = thoonk.job("p")
    job = await claimed(jobs)
    with pytest.raises(ResultTimeoutError):  # itself, not inside an ExceptionGroup
        await jobs.wait_result(job.id, timeout=0.2, on_progress=print)
