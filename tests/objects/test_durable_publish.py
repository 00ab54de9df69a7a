"""Durable publishes: ``publish(..., durable=N)`` waits (Redis ``WAIT``) for N replicas.

The test server has no replica, so a durable publish is never acknowledged:
it must raise NotReplicatedError (the job stays published) within its
``durable_timeout``. On the local cluster, with replicas, see
tests/cluster/test_failover_jobs.py.
"""

from __future__ import annotations

import math
from typing import Any

import pytest
import redis

from thoonk_actors import NotReplicatedError, UsageError
from thoonk_actors.objects import Thoonk
from thoonk_actors.sync import SyncThoonk

from ..contract._redis import snapshot

BAD_DURABLE = [-1, 1.0, True, False, "1", None]
BAD_TIMEOUT = [0, -1, math.nan, math.inf, True, "1", None]


BAD_ARGS = [({"durable": d}, "durable must be an int >= 0") for d in BAD_DURABLE] + [
    ({"durable": 1, "durable_timeout": w}, "durable_timeout must be") for w in BAD_TIMEOUT
]


@pytest.mark.parametrize(("kwargs", "match"), BAD_ARGS)
async def test_bad_durable_arguments_are_refused_and_nothing_is_published(
    thoonk: Thoonk, sync_redis: redis.Redis, kwargs: dict[str, Any], match: str
) -> None:
    jobs = thoonk.job("durable-bad")
    await jobs.publish("before")
    before = snapshot(sync_redis)
    with pytest.raises(UsageError, match=match):
        await jobs.publish("x", **kwargs)
    with pytest.raises(UsageError, match=match):
        await jobs.publish_many(["x", "y"], **kwargs)
    assert snapshot(sync_redis) == before


async def test_no_replica_acknowledges_so_it_raises_and_the_job_stays(thoonk: Thoonk) -> None:
    jobs = thoonk.job("durable-alone")
    with pytest.raises(NotReplicatedError, match="not known to be replicated") as caught:
        await jobs.publish({"n": 1}, id="j1", durable=1, durable_timeout=0.05)
    assert (caught.value.job_ids, caught.value.acknowledged, caught.value.wanted) == (
        ["j1"],
        0,
        1,
    )
    assert await jobs.available_ids() == ("j1",)


async def test_publish_many_durable_names_every_job_and_keeps_them(thoonk: Thoonk) -> None:
    jobs = thoonk.job("durable-many")
    with pytest.raises(NotReplicatedError) as caught:
        await jobs.publish_many(range(5), batch=2, durable=2, durable_timeout=0.05)
    assert len(caught.value.job_ids) == 5 and caught.value.wanted == 2
    assert set(await jobs.available_ids()) == set(caught.value.job_ids)


async def test_durable_zero_is_a_plain_publish(thoonk: Thoonk) -> None:
    jobs = thoonk.job("durable-zero")
    job_id = await jobs.publish("x", durable=0)
    ids = await jobs.publish_many(["a", "b"], durable=0)
    assert set(await jobs.available_ids()) == {job_id, *ids}


async def test_a_refusal_is_raised_before_the_replica_count(thoonk: Thoonk) -> None:
    from thoonk_actors import DuplicateIdError

    jobs = thoonk.job("durable-dup")
    await jobs.publish("x", id="same")
    with pytest.raises(DuplicateIdError):
        await jobs.publish("y", id="same", durable=1, durable_timeout=0.05)


async def test_a_lost_script_cache_is_reloaded(thoonk: Thoonk, sync_redis: redis.Redis) -> None:
    jobs = thoonk.job("durable-noscript")
    sync_redis.script_flush()
    with pytest.raises(NotReplicatedError):
        await jobs.publish("x", id="after-flush", durable=1, durable_timeout=0.05)
    assert await jobs.available_ids() == ("after-flush",)


def test_the_sync_facade_passes_durable_through(t: SyncThoonk) -> None:
    jobs = t.job("durable-sync")
    with pytest.raises(NotReplicatedError):
        jobs.publish("x", id="s1", durable=1, durable_timeout=0.05)
    with pytest.raises(UsageError):
        jobs.publish("x", durable=-1)
    assert jobs.available_ids() == ("s1",)
