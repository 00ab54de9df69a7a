"""Queue limits: ``max_per_second`` and ``max_concurrent``, enforced by the claim script.

Times are the server's (the claim times the script wrote), never the test's
wall clock. The multi-process forms are in tests/runtime/test_limits_processes.py.
"""

from __future__ import annotations

import itertools

import pytest
import redis
import trio

from thoonk_actors import InvalidConfigError
from thoonk_actors.contract import MAX_COUNT, MAX_RATE, HeldBack
from thoonk_actors.objects import Thoonk

from ..compat.js_client import JsJob


def claimed_ms(r: redis.Redis, name: str, job_id: str) -> int:
    return int(r.zscore(f"job.claimed:{name}", job_id) or 0)


@pytest.mark.parametrize(
    "setting", [{"max_per_second": -1}, {"max_per_second": 1.5}, {"max_per_second": True},
                {"max_per_second": "10"}, {"max_per_second": MAX_RATE + 1},
                {"max_concurrent": -1}, {"max_concurrent": MAX_COUNT + 1},
                {"max_concurrent": 2.0}],
)  # fmt: skip
async def test_a_bad_limit_is_a_typed_error_and_changes_nothing(
    thoonk: Thoonk, sync_redis: redis.Redis, setting: dict[str, object]
) -> None:
    jobs = thoonk.job("limited")
    await jobs.create({"max_concurrent": 3})
    before = sync_redis.hgetall("job.config:limited")
    with pytest.raises(InvalidConfigError, match="max_"):
        await jobs.configure(**setting)
    with pytest.raises(InvalidConfigError, match="max_"):
        await thoonk.job("other").create(setting)
    assert sync_redis.hgetall("job.config:limited") == before
    assert not await thoonk.job("other").exists()
    assert (await jobs.config()).max_concurrent == 3


async def test_max_concurrent_caps_the_claimed_jobs_and_a_finish_frees_a_slot(
    thoonk: Thoonk,
) -> None:
    jobs = thoonk.job("two-at-once")
    await jobs.create({"max_concurrent": 2})
    await jobs.publish_many(range(5))
    held: list[HeldBack] = []
    first = await jobs.claim_many(5, on_held=held.append)
    assert len(first) == 2 and [h.reason for h in held] == ["concurrency"]
    assert await jobs.claim_many(5, on_held=held.append) == []
    assert held[-1] == HeldBack("concurrency", 1000)  # the fallback of a silent slot
    stats = await jobs.statistics()
    assert (stats.claimed, stats.available, stats.held_back) == (2, 3, "concurrency")

    await jobs.finish(first[0])
    again = await jobs.claim_many(5, on_held=held.append)
    assert len(again) == 1 and len(held) == 3
    await jobs.configure(max_concurrent=None)  # back to unlimited
    rest = await jobs.claim_many(5, on_held=held.append)
    assert len(rest) == 2 and len(held) == 3
    assert (await jobs.statistics()).held_back is None


async def test_wait_held_returns_when_a_claim_ends_not_at_the_fallback(thoonk: Thoonk) -> None:
    jobs = thoonk.job("slot")
    await jobs.create({"max_concurrent": 1})
    await jobs.publish_many(["a", "b"])
    [running] = await jobs.claim_many(2)
    held: list[HeldBack] = []
    assert await jobs.claim_many(1, on_held=held.append) == []
    fallback = HeldBack(held[0].reason, 600_000)  # so only the event can end the wait
    woke = trio.Event()

    async def waiter() -> None:
        await jobs.wait_held(fallback)
        woke.set()

    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(waiter)
            await trio.testing.wait_all_tasks_blocked(0.05)
            assert not woke.is_set()
            await jobs.cancel(running, retry_delay_ms=0)
    assert woke.is_set()
    assert len(await jobs.claim_many(1)) == 1


async def test_wait_held_returns_at_once_when_a_slot_is_free_already(thoonk: Thoonk) -> None:
    jobs = thoonk.job("free-slot")
    await jobs.create({"max_concurrent": 1})
    with trio.fail_after(10):
        await jobs.wait_held(HeldBack("concurrency", 600_000))


async def test_max_per_second_spaces_claims_by_the_server_clock(
    thoonk: Thoonk, sync_redis: redis.Redis
) -> None:
    jobs = thoonk.job("paced")
    await jobs.create({"max_per_second": 10})  # one claim per 100 ms, burst 100 ms
    await jobs.publish_many(range(4))
    held: list[HeldBack] = []
    [first] = await jobs.claim_many(4, on_held=held.append)
    assert held[0].reason == "rate" and 1 <= held[0].wait_ms <= 100
    assert await jobs.claim_many(4, on_held=held.append) == [] or len(held) == 2
    assert (await jobs.statistics()).held_back == "rate"
    times = [claimed_ms(sync_redis, "paced", first.id)]
    with trio.fail_after(10):
        while len(times) < 4:
            got = await jobs.claim_many(4, on_held=held.append)
            times += [claimed_ms(sync_redis, "paced", job.id) for job in got]
            if not got:
                await jobs.wait_held(held[-1])
    assert all(later - earlier >= 100 for earlier, later in itertools.pairwise(times))


async def test_get_waits_out_the_rate_limit(thoonk: Thoonk, sync_redis: redis.Redis) -> None:
    jobs = thoonk.job("paced-get")
    await jobs.create({"max_per_second": 20})
    await jobs.publish_many(["a", "b", "c"])
    with trio.fail_after(10):
        got = [await jobs.get(timeout=5) for _ in range(3)]
    times = [claimed_ms(sync_redis, "paced-get", job.id) for job in got if job]
    assert len(times) == 3
    assert times[2] - times[0] >= 50  # 20/s: a burst of 2 (100 ms worth), then 50 ms apart


async def test_get_returns_none_at_its_timeout_while_held(thoonk: Thoonk) -> None:
    jobs = thoonk.job("held-get")
    await jobs.create({"max_concurrent": 1})
    await jobs.publish_many(["a", "b"])
    assert await jobs.get(timeout=1) is not None
    with trio.fail_after(10):
        assert await jobs.get(timeout=0.2) is None
    assert (await jobs.statistics()).available == 1


async def test_an_original_style_claim_is_not_limited_but_counts_as_claimed(
    thoonk: Thoonk, redis_url: str
) -> None:
    """The original JS client knows nothing of limits: its BRPOP + get script claims
    whatever is queued. Its claims fill job.claimed, so they hold our claimers back."""
    jobs = thoonk.job("mixed")
    await jobs.create({"max_concurrent": 1, "max_per_second": 1})
    with JsJob(redis_url, "mixed") as js:
        ids = [js.publish({"n": n}) for n in range(4)]
        got = [js.get(timeout=1) for _ in range(3)]
    assert [g[1] for g in got if g] == ids[:3]
    held: list[HeldBack] = []
    assert await jobs.claim_many(1, on_held=held.append) == []
    assert [h.reason for h in held] == ["concurrency"]
