"""Durable publishes: ``publish(..., durable=N)`` waits (Redis ``WAIT``) for N replicas.

The test server has no replica, so a durable publish is never acknowledged:
it must raise NotReplicatedError (the job stays published) within its
``durable_timeout``. A queue's ``durable`` / ``durable_timeout`` settings
make its publishes durable when the call gives no argument (an argument
wins). On the local cluster, with replicas, see
tests/cluster/test_durable_on_cluster.py and test_failover_jobs.py.
"""

from __future__ import annotations

import math
from typing import Any

import pytest
import redis
import trio

from thoonk_actors import BadStoredConfigError, NotReplicatedError, UsageError
from thoonk_actors.objects import Thoonk, open_thoonk
from thoonk_actors.objects import _durability as durability_module
from thoonk_actors.sync import SyncThoonk

from ..contract._redis import snapshot
from ..polling import wait_until

# None is not among them: it means "the queue's setting".
BAD_DURABLE = [-1, 1.0, True, False, "1"]
BAD_TIMEOUT = [0, -1, math.nan, math.inf, True, "1"]


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


# ------------------------------------------------------- the queue's settings

#: A queue setting's wait, ms: short, and far from the 1000 ms default.
SETTING_MS = 50
#: Under it, a wait was the setting's, not the default's (room for a loaded machine).
UNDER_THE_DEFAULT_S = 0.9


async def test_the_queue_setting_makes_publishes_wait_its_timeout(
    thoonk: Thoonk, sync_redis: redis.Redis
) -> None:
    jobs = thoonk.job("durable-setting")
    await jobs.create({"durable": 1, "durable_timeout": SETTING_MS})
    assert sync_redis.hmget(jobs.keys.config, "durable", "durable_timeout") == [b"1", b"50"]
    for publish in (
        lambda: jobs.publish("x", id="one"),
        lambda: jobs.publish_many(["a", "b"], batch=1),
        lambda: jobs.publish_and_wait("y", timeout=5, id="waited"),
    ):
        started = trio.current_time()
        with pytest.raises(NotReplicatedError) as caught:
            await publish()
        took = trio.current_time() - started
        assert (caught.value.acknowledged, caught.value.wanted) == (0, 1)
        assert SETTING_MS / 1000 <= took < UNDER_THE_DEFAULT_S, took
    ids = set(await jobs.available_ids())
    assert {"one", "waited"} <= ids and len(ids) == 4  # raised, and kept


async def test_an_argument_wins_over_the_queue_setting(thoonk: Thoonk) -> None:
    jobs = thoonk.job("durable-wins")
    await jobs.create({"durable": 2, "durable_timeout": SETTING_MS})
    plain = await jobs.publish("x", durable=0)  # no WAIT at all
    plain_many = await jobs.publish_many(["a"], durable=0)
    with pytest.raises(NotReplicatedError) as caught:
        await jobs.publish("y", durable=1)  # the queue's timeout still applies
    assert caught.value.wanted == 1
    started = trio.current_time()
    with pytest.raises(NotReplicatedError):
        await jobs.publish("z", durable_timeout=0.2)  # the queue's replicas, this wait
    assert trio.current_time() - started >= 0.2
    assert set(await jobs.available_ids()) >= {plain, *plain_many}


async def test_unset_settings_are_plain_publishes(thoonk: Thoonk) -> None:
    jobs = thoonk.job("durable-unset")
    await jobs.create({"durable": 0})
    job_id = await jobs.publish("x")
    ids = await jobs.publish_many(["a", "b"])
    never_created = await thoonk.job("durable-nothing").publish("x")
    assert set(await jobs.available_ids()) == {job_id, *ids}
    assert await thoonk.job("durable-nothing").available_ids() == (never_created,)


async def test_a_change_through_this_client_applies_at_once(thoonk: Thoonk) -> None:
    jobs = thoonk.job("durable-change")
    await jobs.create()
    await jobs.publish("plain")  # the settings (none) are kept from here
    await jobs.configure(durable=1, durable_timeout=SETTING_MS)
    with pytest.raises(NotReplicatedError):
        await thoonk.job("durable-change").publish("now durable")
    await jobs.configure(durable=None)
    await jobs.publish("plain again")


async def test_a_change_by_another_client_applies_within_the_keep_time(
    redis_url: str, thoonk: Thoonk, monkeypatch: pytest.MonkeyPatch
) -> None:
    keep_s = 0.3
    monkeypatch.setattr(durability_module, "SETTINGS_TTL_S", keep_s)
    jobs = thoonk.job("durable-elsewhere")
    await jobs.create()
    await jobs.publish("plain")  # kept: not durable
    async with open_thoonk(redis_url) as other:
        await other.job("durable-elsewhere").configure(durable=1, durable_timeout=SETTING_MS)
    changed = trio.current_time()

    async def durable_now() -> bool:
        try:
            await jobs.publish("probe")
        except NotReplicatedError:
            return True
        return False

    await wait_until(durable_now, what="the other client's setting to apply", deadline=5)
    assert trio.current_time() - changed < keep_s + UNDER_THE_DEFAULT_S


async def test_a_bad_stored_setting_refuses_the_publish_and_changes_nothing(
    thoonk: Thoonk, sync_redis: redis.Redis
) -> None:
    jobs = thoonk.job("durable-broken")
    await jobs.create()
    sync_redis.hset(jobs.keys.config, "durable", "many")  # another program wrote it
    before = snapshot(sync_redis)
    with pytest.raises(BadStoredConfigError, match="durable"):
        await jobs.publish("x")
    with pytest.raises(BadStoredConfigError, match="durable"):
        await jobs.publish_many(["x"])
    assert snapshot(sync_redis) == before
    await jobs.publish("x", durable=0)  # an argument needs no setting


def test_the_sync_facade_uses_the_queue_setting(t: SyncThoonk) -> None:
    jobs = t.job("durable-sync-setting")
    jobs.create({"durable": 1, "durable_timeout": SETTING_MS})
    assert jobs.config().durable == 1
    with pytest.raises(NotReplicatedError):
        jobs.publish("x", id="s2")
    assert jobs.available_ids() == ("s2",)
