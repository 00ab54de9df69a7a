"""A primary SIGKILLed mid-use, on a private cluster (the session's one stays whole).

A smoke test of the failover path: the map is reloaded once the replica took
over, reads go on, the pub/sub connection of the dead node moves and says Gap.
What asynchronous replication loses is not measured here (issue 18, item 3).
"""

from __future__ import annotations

import signal
from collections.abc import Iterator

import pytest
import trio
from redis.crc import key_slot

from tests.cluster._local import ClusterUnavailable, LocalCluster
from thoonk_actors import ThoonkError
from thoonk_actors.embedded import find_redis_server
from thoonk_actors.transport import Gap, Message, open_cluster

DEADLINE_S = 60


@pytest.fixture
def private_cluster() -> Iterator[LocalCluster]:
    try:
        with LocalCluster.start(str(find_redis_server())) as cluster:
            yield cluster
    except ClusterUnavailable as exc:
        pytest.skip(f"cannot start a local Redis Cluster: {exc}")


async def test_a_killed_primary_is_replaced_and_the_client_follows(
    private_cluster: LocalCluster,
) -> None:
    key = "{failover}k"
    slot = key_slot(key.encode())

    def route(channel: bytes) -> bytes | None:
        return b"{failover}"

    with trio.fail_after(DEADLINE_S):
        async with (
            open_cluster(private_cluster.url, reconnect_timeout=1) as client,
            client.open_pubsub(route) as pubsub,
            pubsub.subscribe(["event"]) as sub,
        ):
            await client.execute("SET", key, "kept")
            owner = client.owner(slot)
            # On the replica before the kill (WAIT counts the writes of its own node).
            assert await client.node(owner).execute("WAIT", 1, 5000) == 1
            dead_port = owner[1]
            proc = private_cluster.procs[private_cluster.ports.index(dead_port)]
            proc.send_signal(signal.SIGKILL)
            await trio.to_thread.run_sync(proc.wait)
            while True:  # poll with the deadline above: the cluster needs node-timeout
                try:
                    value = await client.execute("GET", key, idempotent=True)
                    break
                except ThoonkError:
                    await trio.sleep(0.2)
            assert value == b"kept"
            assert client.owner(slot)[1] != dead_port
            assert await sub.receive() == Gap("reconnected")
            await client.node(client.owner(slot)).execute("PUBLISH", "event", "after")
            assert await sub.receive() == Message(b"event", b"after")
