"""Every numeric setting is range-checked against what Redis and Lua represent.

Lua numbers are doubles and the scripts add times to the server clock, so a
setting out of range would silently misbehave (``result_ttl=2**63`` wraps
negative in Lua and ``PEXPIRE`` deletes every result at once). Each bound is
refused with ``InvalidConfigError`` (a ``UsageError``) before anything is sent,
and a DUMP snapshot of the whole keyspace shows that nothing changed. A value
over the bound written by another program is refused by the scripts.
"""

from __future__ import annotations

import math
from typing import Any

import pytest
import redis

from thoonk_actors import BadStoredConfigError, InvalidConfigError, UsageError
from thoonk_actors.contract import MAX_COUNT, MAX_FACTOR, MAX_MS, RANGES, JobKeys
from thoonk_actors.objects import Thoonk, open_thoonk
from thoonk_actors.runtime import App

# Every numeric setting of every type, with its bounds (from the one table).
FIELDS = [
    (kind, field, low, high)
    for kind, rules in RANGES.items()
    for field, (low, high) in rules.items()
]


def snapshot(client: redis.Redis) -> dict[bytes, Any]:
    return {key: client.dump(key) for key in client.keys("*")}


def test_the_bounds_are_what_lua_and_redis_represent() -> None:
    assert MAX_MS == 2**40 and MAX_MS + 2**42 < 2**53  # now (~2**41 ms) + a setting: exact
    assert MAX_COUNT == 2**31 - 1 and MAX_FACTOR == 1000
    assert {field for _, field, _, _ in FIELDS} == {
        "timeout", "max_cancels", "result_ttl", "retry_delay", "retry_delay_max",
        "retry_factor", "max_length", "max_per_second", "max_concurrent", "durable",
        "durable_timeout",
    }  # fmt: skip
    assert all(high <= MAX_MS for _, _, _, high in FIELDS)


def _handle(thoonk: Thoonk, kind: str, name: str) -> Any:
    return {"job": thoonk.job, "feed": thoonk.feed}[kind](name)


@pytest.mark.parametrize(("kind", "field", "low", "high"), FIELDS)
async def test_each_bound_is_accepted_and_one_past_it_refused_changing_nothing(
    redis_url: str, kind: str, field: str, low: int, high: int
) -> None:
    client = redis.Redis.from_url(redis_url)
    async with open_thoonk(redis_url) as thoonk:
        obj = _handle(thoonk, kind, "ranges")
        await obj.create()
        await obj.configure(**{field: low})
        await obj.configure(**{field: high})
        assert getattr(await obj.config(), field) == high
        before = snapshot(client)
        for bad in (low - 1, high + 1, 2**63, -(2**63), float(high), math.nan, math.inf, "1", True):
            with pytest.raises(InvalidConfigError, match=field):
                await obj.configure(**{field: bad})
            assert snapshot(client) == before, bad
        # create refuses them too, before writing anything
        with pytest.raises(InvalidConfigError, match=field):
            await _handle(thoonk, kind, "never").create({field: high + 1})
        assert snapshot(client) == before


async def test_result_ttl_2_63_is_refused_and_results_stay_readable(redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url)
    async with open_thoonk(redis_url) as thoonk:
        job = thoonk.job("ttl")
        await job.create({"result_ttl": 60_000})
        before = snapshot(client)
        with pytest.raises(InvalidConfigError, match="result_ttl"):
            await job.configure(result_ttl=2**63)
        assert snapshot(client) == before
        job_id = await job.publish("x")
        claimed = await job.get(timeout=5)
        assert claimed is not None
        await job.finish(claimed, "done")
        assert await job.wait_result(job_id, 5) == "done"
        assert 0 < client.pttl(JobKeys.of("ttl").result_key(job_id)) <= 60_000


async def test_a_huge_value_written_by_another_program_is_refused_by_the_scripts(
    redis_url: str,
) -> None:
    client = redis.Redis.from_url(redis_url)
    async with open_thoonk(redis_url) as thoonk:
        job = thoonk.job("foreign")
        job_id = await job.publish("x")
        claimed = await job.get(timeout=5)
        assert claimed is not None
        client.hset("job.config:foreign", "result_ttl", str(2**63))
        before = snapshot(client)
        with pytest.raises(BadStoredConfigError, match="result_ttl"):
            await job.finish(claimed, "done")
        assert snapshot(client) == before  # still claimed, no result written
        with pytest.raises(BadStoredConfigError, match="result_ttl"):
            await job.config()
        client.hdel("job.config:foreign", "result_ttl")
        await job.finish(claimed, "done")
        assert await job.wait_result(job_id, 5) == "done"


@pytest.mark.parametrize(
    ("option", "bad"),
    [
        ("concurrency", 0), ("concurrency", 10_001), ("concurrency", 2.0), ("concurrency", True),
        ("prefetch", -1), ("prefetch", 10_001), ("prefetch", "4"),
        ("timeout", 0), ("timeout", -1), ("timeout", math.nan), ("timeout", math.inf),
        ("timeout", MAX_MS / 1000 * 2), ("timeout", True),
        ("max_cancels", 0), ("max_cancels", MAX_COUNT + 1), ("max_cancels", 1.5),
    ],
)  # fmt: skip
def test_runtime_options_out_of_range_are_refused_at_registration(option: str, bad: Any) -> None:
    app = App()

    async def handler(item: Any) -> None: ...

    with pytest.raises(InvalidConfigError, match=option):
        app.job("q", **{option: bad})(handler)
    assert app.jobs == {}


def test_runtime_options_at_their_bounds_are_accepted() -> None:
    app = App()

    async def handler(item: Any) -> None: ...

    app.job("a", concurrency=10_000, prefetch=10_000, timeout=MAX_MS / 1000, max_cancels=MAX_COUNT)(
        handler
    )
    app.job("b", concurrency=1, prefetch=0, timeout=0.001, max_cancels=1)(handler)
    assert sorted(app.jobs) == ["a", "b"]


@pytest.mark.parametrize("batch", [0, 10_001, 2.5, "10", True])
async def test_batch_sizes_are_checked_before_sending(redis_url: str, batch: Any) -> None:
    client = redis.Redis.from_url(redis_url)
    async with open_thoonk(redis_url) as thoonk:
        before = snapshot(client)
        with pytest.raises(InvalidConfigError, match="batch"):
            await thoonk.job("batches").publish_many(["a", "b"], batch=batch)
        with pytest.raises(UsageError, match="max_jobs"):
            await thoonk.job("batches").claim_many(batch if batch != 10_001 else 0)
        assert snapshot(client) == before


@pytest.mark.parametrize("seconds", [-1, math.nan, "5"])
async def test_wait_timeouts_are_checked(redis_url: str, seconds: Any) -> None:
    async with open_thoonk(redis_url) as thoonk:
        with pytest.raises(UsageError, match="timeout"):
            await thoonk.job("waits").wait_result("x", seconds)
        with pytest.raises(UsageError, match="deadline"):
            await thoonk.job("waits").wait_for_work(math.nan)
