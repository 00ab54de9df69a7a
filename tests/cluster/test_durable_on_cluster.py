"""Durable publishes on the session cluster: WAIT runs on the queue's own primary.

Each primary has one replica, so ``durable=1`` is acknowledged; ``durable=2``
cannot be (NotReplicatedError, the job kept). WAIT counts the writes of its
own connection, so it must run on the node of the queue's slot: the test
reads each node's ``INFO commandstats`` to see where it ran. The queue's
``durable`` / ``durable_timeout`` settings (its config hash, in its own slot)
do the same for publishes that give no argument.
"""

from __future__ import annotations

import contextlib

import pytest
import trio
from redis.crc import key_slot

from tests.cluster._local import LocalCluster
from thoonk_actors import NotReplicatedError
from thoonk_actors.objects import Thoonk

DEADLINE_S = 15


def _waits(cluster: LocalCluster) -> dict[int, int]:
    """WAIT calls so far, per node port."""
    counts: dict[int, int] = {}
    for port in cluster.ports:
        with contextlib.closing(cluster.client(port)) as c:
            counts[port] = int(c.info("commandstats").get("cmdstat_wait", {}).get("calls", 0))
    return counts


@pytest.mark.parametrize("name", ["emails", "reports", "thumbnails"])
async def test_a_durable_publish_waits_on_the_queue_primary(
    cthoonk: Thoonk, local_cluster: LocalCluster, name: str
) -> None:
    jobs = cthoonk.job(name)
    owner = cthoonk.redis.owner(int(key_slot(jobs.keys.items.encode())))  # type: ignore[union-attr]
    # Scripts loaded first: after a NOSCRIPT the pipeline (and its WAIT) is sent
    # again. Twice: the second run uses the light form (ACL checked once, _client.py).
    warm: list[str] = []
    for _ in range(2):
        warm += [await jobs.publish("warm-up"), *await jobs.publish_many(["w1", "w2"], batch=2)]
    before = _waits(local_cluster)
    with trio.fail_after(DEADLINE_S):
        job_id = await jobs.publish({"n": 1}, durable=1)
        ids = await jobs.publish_many(range(5), batch=2, durable=1)
    after = _waits(local_cluster)
    grew = {port for port in after if after[port] != before[port]}
    assert grew == {owner[1]}, f"WAIT ran on {grew}, the queue lives on {owner[1]}"
    assert after[owner[1]] - before[owner[1]] == 2  # one per publish call
    assert set(await jobs.available_ids()) == {job_id, *ids, *warm}
    # On the replica too: read it there (a replica answers reads of its own data).
    replica_port = local_cluster.ports[local_cluster.ports.index(owner[1]) + 3]
    with contextlib.closing(local_cluster.client(replica_port)) as replica:
        replica.execute_command("READONLY")
        stored = {k.decode() for k in replica.hkeys(jobs.keys.items)}
    assert stored == {job_id, *ids, *warm}


async def test_more_replicas_than_the_shard_has_raise_and_keep_the_job(cthoonk: Thoonk) -> None:
    jobs = cthoonk.job("emails")
    with trio.fail_after(DEADLINE_S), pytest.raises(NotReplicatedError) as caught:
        await jobs.publish("x", id="two-replicas", durable=2, durable_timeout=0.1)
    assert (caught.value.acknowledged, caught.value.wanted) == (1, 2)
    assert await jobs.available_ids() == ("two-replicas",)


async def test_the_queue_setting_waits_on_the_queue_primary(
    cthoonk: Thoonk, local_cluster: LocalCluster
) -> None:
    jobs = cthoonk.job("settled")
    await jobs.create({"durable": 1, "durable_timeout": 5000})
    owner = cthoonk.redis.owner(int(key_slot(jobs.keys.items.encode())))  # type: ignore[union-attr]
    for _ in range(2):  # scripts loaded, the light form in use (see the test above)
        await jobs.publish("warm-up", durable=1)
        await jobs.publish_many(["w1", "w2"], durable=1)
    before = _waits(local_cluster)
    with trio.fail_after(DEADLINE_S):
        job_id = await jobs.publish({"n": 1})
        ids = await jobs.publish_many(range(3))
    after = _waits(local_cluster)
    grew = {port for port in after if after[port] != before[port]}
    assert grew == {owner[1]} and after[owner[1]] - before[owner[1]] == 2
    assert {job_id, *ids} <= set(await jobs.available_ids())


async def test_a_queue_asking_more_replicas_than_the_shard_has_raises(cthoonk: Thoonk) -> None:
    jobs = cthoonk.job("overasked")
    await jobs.create({"durable": 2, "durable_timeout": 100})
    with trio.fail_after(DEADLINE_S), pytest.raises(NotReplicatedError) as caught:
        await jobs.publish("x", id="two-replicas")
    assert (caught.value.acknowledged, caught.value.wanted) == (1, 2)
    assert await jobs.available_ids() == ("two-replicas",)
    await jobs.publish("y", id="one", durable=1)  # the argument wins
