"""Ids that other clients may write (not UTF-8, NUL, over 1024 bytes) and batches.

The original JavaScript client accepts any string as a job id, so a job queue
may hold ids our own publish refuses. Our workers must claim, finish, stall and
report them like any other job, and one job whose outcome cannot be written
must never make the others of its batch fail or run again. Real worker
processes, real Redis; observed through Redis only.
"""

from __future__ import annotations

import pytest
import redis
import trio

from tests.faults._lease_procs import workers
from tests.polling import wait_until
from thoonk_actors import InvalidIdError
from thoonk_actors.contract import JobKeys
from thoonk_actors.objects import open_thoonk

pytestmark = pytest.mark.slow

QUEUE = "ids"
KEYS = JobKeys.of(QUEUE)
# Legal for the original client: not UTF-8, a NUL inside, and 2000 bytes long.
FOREIGN_IDS = (b"\xff\xfe-not-utf8", b"nul\0inside", b"L" * 2000)


def _foreign_publish(client: redis.Redis, raw_id: bytes, item: bytes) -> None:
    """What the original JS publish does (LPUSH ids, HSET item, ZADD published)."""
    client.lpush(KEYS.ids, raw_id)
    client.hset(KEYS.items, raw_id, item)
    client.zadd(KEYS.published, {raw_id: 1})
    client.incr(KEYS.publishes)


async def test_foreign_ids_are_finished_beside_30_good_jobs(redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url)
    async with open_thoonk(redis_url) as thoonk:
        job = thoonk.job(QUEUE)
        await job.create(exist_ok=True)
        good = await job.publish_many([{"n": i} for i in range(30)])
        for raw in FOREIGN_IDS:
            _foreign_publish(client, raw, b'"foreign"')
        async with workers(redis_url, L_QUEUE=QUEUE):
            await wait_until(
                lambda: int(client.get(KEYS.finishes) or 0) >= 33,
                what="33 finishes",
                deadline=30,
            )
        runs = client.hgetall("runs")
        assert {runs[i.encode()] for i in good} == {b"1"}
        for raw in FOREIGN_IDS:
            assert runs[raw] == b"1"
            key = KEYS.result_key(raw.decode("utf-8", "surrogateescape"))
            assert client.hget(key, "state") == b"finished"
        # Every foreign result can be waited for, with the id as our claim handed it out.
        for raw in FOREIGN_IDS:
            assert await job.wait_result(raw.decode("utf-8", "surrogateescape"), 5) == "foreign"
        assert int(client.get(KEYS.finishes) or 0) == 33
        assert client.zcard(KEYS.claimed) == 0


async def test_a_member_that_refuses_the_batch_is_stalled_and_the_others_finish(
    redis_url: str,
) -> None:
    client = redis.Redis.from_url(redis_url)
    async with open_thoonk(redis_url) as thoonk:
        job = thoonk.job(QUEUE)
        await job.create(exist_ok=True)
        good = await job.publish_many([{"n": i} for i in range(30)])
        poison = await job.publish({"n": "poison"}, id="poison")
        # Another program planted a string where the poison job's result hash goes:
        # every finish script holding that job is refused as a whole.
        client.set(KEYS.result_key(poison), "not a hash")
        async with workers(redis_url, L_QUEUE=QUEUE, L_CONCURRENCY="16"):
            await wait_until(
                lambda: (
                    int(client.get(KEYS.finishes) or 0) >= 30
                    and client.sismember(KEYS.stalled, poison)
                ),
                what="30 finishes and the poison job stalled",
                deadline=30,
            )
        runs = client.hgetall("runs")
        assert {runs[i.encode()] for i in good} == {b"1"}
        assert runs[poison.encode()] == b"1"
        assert int(client.get(KEYS.finishes) or 0) == 30
        error = await job.last_error(poison)
        assert error is not None and "could not write the outcome" in error
        assert "WrongTypeError" in error


async def test_our_publish_refuses_a_nul_id_but_settles_one_written_by_others(
    redis_url: str,
) -> None:
    client = redis.Redis.from_url(redis_url)
    async with open_thoonk(redis_url) as thoonk:
        job = thoonk.job(QUEUE)
        with pytest.raises(InvalidIdError, match="NUL"):
            await job.publish("x", id="a\0b")
        assert client.exists(KEYS.ids, KEYS.items) == 0
        for raw in FOREIGN_IDS:
            _foreign_publish(client, raw, b'"x"')
        claimed = await job.claim_many(10)
        assert sorted(j.id.encode("utf-8", "surrogateescape") for j in claimed) == sorted(
            FOREIGN_IDS
        )
        first, second, third = sorted(claimed, key=lambda j: j.id)
        outcomes = await job.finish_many([(first, "r1"), (second, None)])
        assert [o.status for o in outcomes] == ["ok", "ok"]
        await job.stall(third, reason="looked odd")
        assert await job.stalled_ids() == (third.id,)
        await job.retry(third.id)
        again = await job.claim_many(1)
        await job.cancel(again[0], error="boom")
        await job.retract(third.id)
        assert client.hlen(KEYS.items) == 0
        with trio.fail_after(5):
            assert await job.wait_result(first.id) == "r1"
