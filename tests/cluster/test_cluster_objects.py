"""Thoonk objects on the local cluster: feeds, jobs, registries in other slots, events."""

from __future__ import annotations

import contextlib

import pytest
import trio
from redis.crc import key_slot

from tests.cluster._local import LocalCluster
from thoonk_actors import NoSuchObjectError
from thoonk_actors.objects import Thoonk, open_thoonk
from thoonk_actors.transport import ClusterClient, Message

DEADLINE_S = 20


def test_cluster_keys_share_one_slot_per_object() -> None:
    from thoonk_actors import contract

    keys = contract.JobKeys.of("emails", cluster=True)
    slots = {key_slot(k if isinstance(k, bytes) else k.encode()) for k in keys.all_keys()}
    assert slots == {key_slot(b"{emails}")}


async def test_a_cluster_url_selects_cluster_mode(cthoonk: Thoonk) -> None:
    assert cthoonk.cluster is True
    assert isinstance(cthoonk.redis, ClusterClient)
    assert cthoonk.redis.where.startswith("redis+cluster://")


async def test_cluster_node_connections_keep_the_reader_task(cthoonk: Thoonk) -> None:
    """Direct replies (a caller reading its own) stay off on a cluster's node connections."""
    job = cthoonk.job("direct-off")
    await job.publish({"n": 1})
    assert isinstance(cthoonk.redis, ClusterClient)
    nodes = cthoonk.redis.primary_clients()
    conns = [await node.connection() for node in nodes]
    for _ in range(3):
        await job.publish({"n": 2})
    assert conns and all(conn.direct_calls == 0 for conn in conns)


async def test_feed_publish_and_items(cthoonk: Thoonk, local_cluster: LocalCluster) -> None:
    with trio.fail_after(DEADLINE_S):
        news = cthoonk.feed("news")
        first = await news.publish({"n": 1})
        second = await news.publish({"n": 2}, id="two")
        assert await news.items() == [(first, {"n": 1}), ("two", {"n": 2})]
        assert second == "two"
        assert await news.length() == 2
        assert await cthoonk.names("feed") == ["news"]
    with contextlib.closing(local_cluster.cluster_client()) as rc:
        assert rc.zcard("feed.ids:{news}") == 2
        assert rc.smembers("feeds") == {b"news"}


async def test_job_publish_claim_finish(cthoonk: Thoonk, local_cluster: LocalCluster) -> None:
    with trio.fail_after(DEADLINE_S):
        emails = cthoonk.job("emails")
        job_id = await emails.publish({"to": "a@example.org"})
        claimed = await emails.get(timeout=5)
        assert claimed is not None
        assert (claimed.id, claimed.item) == (job_id, {"to": "a@example.org"})
        await emails.finish(claimed, "sent")
        assert await emails.available_ids() == ()
        assert await emails.claimed() == ()
        assert await cthoonk.names("job") == ["emails"]
    with contextlib.closing(local_cluster.cluster_client()) as rc:
        assert rc.get("job.finishes:{emails}") == b"1"
        assert rc.hlen("job.items:{emails}") == 0


async def test_a_blocking_claim_waits_on_the_queue_s_node(cthoonk: Thoonk) -> None:
    with trio.fail_after(DEADLINE_S):
        emails = cthoonk.job("waiting")
        got = []

        async def claim() -> None:
            got.append(await emails.get(timeout=10))

        async with trio.open_nursery() as nursery:
            nursery.start_soon(claim)
            await trio.testing.wait_all_tasks_blocked()
            job_id = await emails.publish("late")
        assert got[0] is not None and got[0].id == job_id


async def test_objects_spread_over_the_primaries(cthoonk: Thoonk) -> None:
    assert isinstance(cthoonk.redis, ClusterClient)
    names = [f"q{i}" for i in range(12)]
    with trio.fail_after(DEADLINE_S):
        for name in names:
            await cthoonk.job(name).publish(name)
        owners = {cthoonk.redis.owner(key_slot(f"{{{name}}}".encode())) for name in names}
        assert len(owners) == 3
        assert await cthoonk.names("job") == sorted(names)
        for name in names:
            claimed = await cthoonk.job(name).get(timeout=1)
            assert claimed is not None and claimed.item == name
            await cthoonk.job(name).finish(claimed)


async def test_configure_after_a_publish_that_registered_it(cthoonk: Thoonk) -> None:
    """Standalone, the config script sees the registry; here it cannot (another slot)."""
    with trio.fail_after(DEADLINE_S):
        jobs = cthoonk.job("implicit")
        await jobs.publish("x")
        await jobs.configure(timeout=60_000, max_cancels=None)
        assert (await jobs.config()).timeout == 60_000
        await jobs.configure(timeout=5_000)
        assert (await jobs.config()).timeout == 5_000


async def test_configure_of_a_missing_object_is_still_refused(cthoonk: Thoonk) -> None:
    with trio.fail_after(DEADLINE_S):
        with pytest.raises(NoSuchObjectError):
            await cthoonk.job("never").configure(timeout=1_000)
        assert await cthoonk.names("job") == []


async def test_delete_removes_the_registry_entry_in_its_own_slot(
    cthoonk: Thoonk, local_cluster: LocalCluster
) -> None:
    with trio.fail_after(DEADLINE_S):
        news = cthoonk.feed("gone")
        await news.create()
        assert await cthoonk.names("feed") == ["gone"]
        assert await news.delete() is True
        assert await cthoonk.names("feed") == []
    with contextlib.closing(local_cluster.cluster_client()) as rc:
        assert rc.exists("feed.config:{gone}", "feed.ids:{gone}") == 0


async def test_events_arrive_from_the_object_s_node(cthoonk: Thoonk) -> None:
    with trio.fail_after(DEADLINE_S):
        news = cthoonk.feed("live")
        async with cthoonk.subscribe([news.channel("publish")]) as sub:
            item_id = await news.publish("hello", id="a")
            message = await sub.receive()
        assert isinstance(message, Message)
        assert message.data == f'{item_id}\0"hello"'.encode()


async def test_wait_result_across_the_cluster(cthoonk: Thoonk) -> None:
    with trio.fail_after(DEADLINE_S):
        jobs = cthoonk.job("results")

        async def work() -> None:
            claimed = await jobs.get(timeout=5)
            assert claimed is not None
            await jobs.finish(claimed, {"ok": claimed.item})

        async with trio.open_nursery() as nursery:
            job_id = await jobs.publish(7)
            nursery.start_soon(work)
            assert await jobs.wait_result(job_id, timeout=10) == {"ok": 7}


async def test_discover_scans_every_primary(cluster_url: str) -> None:
    with trio.fail_after(DEADLINE_S):
        async with open_thoonk(cluster_url) as thoonk:
            for i in range(6):
                await thoonk.feed(f"f{i}").publish(i)
            # An object nobody registered (as the original JS client leaves its queues).
            await thoonk.execute("SREM", "feeds", "f3")
            found = await thoonk.discover(["feed"])
        names = {(o.name, o.registered) for o in found.objects}
        assert names == {(f"f{i}", i != 3) for i in range(6)}
