"""Poison jobs: an item no codec can read must not take its batch down (issue 9.1).

Another client may store anything under ``job.items`` (``HSET job.items:q bad
"{nope"``). The claim script commits before we decode, so whatever fails
after it (decode, a RecursionError on deep nesting, a cancel) must be
settled: the poison job ends stalled with a readable last error, the other
jobs of its batch are handled normally, nothing stays claimed.

Testing policy: real Redis (the session's server), the App in process and
a real ``thoonk worker`` process; redis-py is the independent witness.
"""

from __future__ import annotations

import json

import pytest
import redis
import trio

from tests.polling import wait_until
from thoonk_actors import JsonCodec, PayloadError
from thoonk_actors.contract import JobKeys
from thoonk_actors.objects import Thoonk
from thoonk_actors.runtime import App

from ._process import worker
from .conftest import DEEP, plant

DEADLINE = 30


async def test_get_stalls_a_poison_job_and_raises_a_typed_error(
    thoonk: Thoonk, sync_redis: redis.Redis
) -> None:
    queue = thoonk.job("poison")
    plant(sync_redis, "poison", "bad", b"{nope")
    await queue.publish({"n": 1}, id="good")
    with pytest.raises(PayloadError) as caught:
        await queue.get(timeout=0)
    message = str(caught.value)
    assert "'bad'" in message and "stalled" in message and "not valid JSON" in message
    assert await queue.stalled_ids() == ("bad",)
    assert await queue.claimed() == ()
    error = await queue.last_error("bad")
    assert error is not None and error.startswith("PayloadError: ") and "not valid JSON" in error
    job = await queue.get(timeout=0)
    assert job is not None and (job.id, job.item) == ("good", {"n": 1})


async def test_get_stalls_a_job_nested_too_deeply(thoonk: Thoonk, sync_redis: redis.Redis) -> None:
    queue = thoonk.job("poison")
    plant(sync_redis, "poison", "deep", DEEP)
    with pytest.raises(PayloadError, match="nested too deeply"):
        await queue.get(timeout=0)
    assert await queue.stalled_ids() == ("deep",)
    assert "nested too deeply" in (await queue.last_error("deep") or "")


async def test_claim_many_returns_the_good_jobs_and_reports_the_poison(
    thoonk: Thoonk, sync_redis: redis.Redis
) -> None:
    queue = thoonk.job("poison")
    await queue.publish_many([{"n": n} for n in range(5)])
    plant(sync_redis, "poison", "bad", b"{nope")
    await queue.publish_many([{"n": n} for n in range(5, 10)])
    poisoned: list[tuple[str, str]] = []
    jobs = await queue.claim_many(20, on_poison=lambda i, e: poisoned.append((i, e)))
    assert sorted(j.item["n"] for j in jobs) == list(range(10))
    assert [i for i, _ in poisoned] == ["bad"]
    assert poisoned[0][1].startswith("PayloadError: ")
    assert {i for i, _ in await queue.claimed()} == {j.id for j in jobs}
    assert await queue.stalled_ids() == ("bad",)


async def test_a_cancel_after_the_claim_gives_every_job_back(
    thoonk: Thoonk, sync_redis: redis.Redis
) -> None:
    queue = thoonk.job("poison")
    ids = await queue.publish_many([{"n": n} for n in range(3)])
    with trio.CancelScope() as scope:
        scope.cancel()
        await queue.claim_many(10)
    assert scope.cancelled_caught
    assert await queue.claimed() == ()
    assert await queue.available_ids() == tuple(ids)  # same order as before


def _poison_app(url: str) -> tuple[App, list[int]]:
    app = App(url, reap_interval=0.2, heartbeat_interval=0.5, stale_after=2.0)
    seen: list[int] = []

    @app.job("poison", concurrency=4, prefetch=40)
    async def work(item: dict[str, int]) -> int:
        seen.append(item["n"])
        return item["n"]

    return app, seen


async def test_app_finishes_a_batch_around_two_poison_jobs(
    redis_url: str, sync_redis: redis.Redis, thoonk: Thoonk
) -> None:
    queue = thoonk.job("poison")
    await queue.publish_many([{"n": n} for n in range(15)])
    plant(sync_redis, "poison", "bad", b"{nope")
    plant(sync_redis, "poison", "deep", DEEP)
    await queue.publish_many([{"n": n} for n in range(15, 30)])
    app, seen = _poison_app(redis_url)
    with trio.fail_after(DEADLINE):
        async with app.open() as running:
            await wait_until(
                lambda: running.statistics().queue("poison").finished == 30,
                what="the 30 good jobs finished",
            )
            stats = running.statistics().queue("poison")
    assert sorted(seen) == list(range(30))
    assert (stats.poisoned, stats.stalled, stats.failed) == (2, 2, 0)
    assert sorted(await queue.stalled_ids()) == ["bad", "deep"]
    assert await queue.claimed() == ()
    assert "not valid JSON" in (await queue.last_error("bad") or "")
    assert "nested too deeply" in (await queue.last_error("deep") or "")


def test_worker_process_finishes_a_batch_around_a_poison_job(
    redis_url: str, sync_redis: redis.Redis
) -> None:
    keys = JobKeys.of("poison")
    for n in range(15):
        plant(sync_redis, "poison", f"a{n}", json.dumps({"i": n}).encode())
    plant(sync_redis, "poison", "bad", b"{nope")
    plant(sync_redis, "poison", "deep", DEEP)
    for n in range(15, 30):
        plant(sync_redis, "poison", f"b{n}", json.dumps({"i": n}).encode())
    with worker(redis_url, "--burst", T_QUEUE="poison", T_CONCURRENCY="4", T_PREFETCH="40") as proc:
        proc.wait(timeout=60)
    assert proc.returncode == 0, proc.stderr_text
    assert int(sync_redis.get(keys.finishes) or 0) == 30
    assert sync_redis.smembers(keys.stalled) == {b"bad", b"deep"}
    assert sync_redis.zcard(keys.claimed) == 0
    assert b"not valid JSON" in (sync_redis.hget(keys.errors, "bad") or b"")
    assert "job bad of 'poison' stalled without running" in proc.stderr_text


def test_the_json_codec_turns_deep_nesting_into_a_payload_error() -> None:
    with pytest.raises(PayloadError, match="nested too deeply"):
        JsonCodec().decode(DEEP)
    with pytest.raises(PayloadError, match="nested too deeply"):
        JsonCodec().decode_result(DEEP)
    with pytest.raises(PayloadError, match="not valid JSON"):
        JsonCodec().decode(b"{nope")
