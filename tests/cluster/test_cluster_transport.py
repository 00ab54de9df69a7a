"""The cluster transport on a real local cluster: slot map, routing, redirections, pub/sub.

Loopback only; every I/O test runs under a trio deadline (``fail_after``).
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterator

import pytest
import redis
import trio
from redis.crc import key_slot

from tests.cluster._local import LocalCluster, free_ports
from tests.polling import wait_until
from thoonk_actors.transport import (
    ClusterClient,
    Gap,
    Message,
    RedisConfig,
    Subscription,
    ThoonkClusterDownError,
    ThoonkConnectionError,
    ThoonkTryAgainError,
    open_cluster,
    open_pubsub,
)
from thoonk_actors.transport._cluster import _NodePubSub

DEADLINE_S = 20


def owner_port(local_cluster: LocalCluster, slot: int) -> int:
    """Who serves ``slot``, according to the cluster itself (redis-py, not our map)."""
    with contextlib.closing(local_cluster.client(local_cluster.ports[0])) as c:
        for first, last, primary, *_ in c.execute_command("CLUSTER", "SLOTS"):
            if first <= slot <= last:
                return int(primary[1])
    raise AssertionError(f"nobody serves slot {slot}")


def primary_ports(local_cluster: LocalCluster) -> list[int]:
    ports = []
    for port in local_cluster.ports:
        with contextlib.closing(local_cluster.client(port)) as c:
            if c.info("replication")["role"] == "master":
                ports.append(port)
    return sorted(ports)


def node_id(local_cluster: LocalCluster, port: int) -> str:
    with contextlib.closing(local_cluster.client(port)) as c:
        raw = c.execute_command("CLUSTER", "MYID")
    return raw.decode() if isinstance(raw, bytes) else str(raw)


@contextlib.contextmanager
def migrating(local_cluster: LocalCluster, slot: int, source: int, target: int) -> Iterator[None]:
    """Put ``slot`` in the MIGRATING (source) / IMPORTING (target) state for the block."""
    with (
        contextlib.closing(local_cluster.client(source)) as src,
        contextlib.closing(local_cluster.client(target)) as dst,
    ):
        dst.execute_command("CLUSTER", "SETSLOT", slot, "IMPORTING", node_id(local_cluster, source))
        src.execute_command("CLUSTER", "SETSLOT", slot, "MIGRATING", node_id(local_cluster, target))
        yield


def move_slot(local_cluster: LocalCluster, slot: int, source: int, target: int) -> None:
    """The whole migration of ``slot`` from ``source`` to ``target``."""
    with migrating(local_cluster, slot, source, target):
        finish_migration(local_cluster, slot, source, target)


def finish_migration(local_cluster: LocalCluster, slot: int, source: int, target: int) -> None:
    """Move every key of ``slot`` to ``target`` and give it the slot (every primary told)."""
    with contextlib.closing(local_cluster.client(source)) as src:
        while keys := src.execute_command("CLUSTER", "GETKEYSINSLOT", slot, 100):
            src.execute_command("MIGRATE", "127.0.0.1", target, "", 0, 5000, "KEYS", *keys)
    target_id = node_id(local_cluster, target)
    for port in [target, source, *primary_ports(local_cluster)]:
        with contextlib.closing(local_cluster.client(port)) as c:
            c.execute_command("CLUSTER", "SETSLOT", slot, "NODE", target_id)


def another_primary(local_cluster: LocalCluster, port: int) -> int:
    return next(p for p in primary_ports(local_cluster) if p != port)


class _Script:
    """A script as ``evalsha`` takes it (source + SHA1)."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.sha1 = hashlib.sha1(source.encode()).hexdigest()


# ------------------------------------------------------------------ slot map


async def test_the_slot_map_matches_the_cluster(
    cluster_url: str, local_cluster: LocalCluster
) -> None:
    with trio.fail_after(DEADLINE_S):
        async with open_cluster(cluster_url) as client:
            assert sorted(p for _, p in client.primaries()) == primary_ports(local_cluster)
            for slot in (0, 1, 5460, 5461, 5462, 10922, 10923, 16383, key_slot(b"{emails}")):
                assert client.owner(slot)[1] == owner_port(local_cluster, slot)


async def test_one_seed_is_enough_and_dead_seeds_are_skipped(local_cluster: LocalCluster) -> None:
    (dead,) = free_ports(1)
    url = f"redis+cluster://127.0.0.1:{dead},127.0.0.1:{local_cluster.ports[4]}"
    with trio.fail_after(DEADLINE_S):
        async with open_cluster(url, connect_timeout=2) as client:
            assert sorted(p for _, p in client.primaries()) == primary_ports(local_cluster)


async def test_no_live_seed_is_a_clear_connection_error() -> None:
    dead = free_ports(2)
    url = "redis+cluster://" + ",".join(f"127.0.0.1:{p}" for p in dead)
    with trio.fail_after(DEADLINE_S):
        with pytest.raises(redis.exceptions.ConnectionError, match="no node of the cluster"):
            async with open_cluster(url, connect_timeout=2):
                pass


@pytest.fixture
def standalone_hostport(redis_server_url: str) -> str:
    """host:port of the session's standalone server (skips when it has no TCP port)."""
    if not redis_server_url.startswith("redis://"):
        pytest.skip("the session's standalone server listens on a unix socket only")
    return redis_server_url.split("://", 1)[1].split("/", 1)[0].rsplit("@", 1)[-1]


async def test_a_standalone_server_is_refused_with_advice(standalone_hostport: str) -> None:
    with trio.fail_after(DEADLINE_S):
        with pytest.raises(redis.exceptions.ConnectionError, match="not a cluster node"):
            async with open_cluster(f"redis+cluster://{standalone_hostport}"):
                pass


# ------------------------------------------------------------------ routing


async def test_keys_go_to_the_primary_of_their_slot(
    cluster_url: str, local_cluster: LocalCluster
) -> None:
    keys = [f"key:{i}" for i in range(60)]
    with trio.fail_after(DEADLINE_S):
        async with open_cluster(cluster_url) as client:
            for i, key in enumerate(keys):
                assert await client.execute("SET", key, i) == b"OK"
            assert [int(await client.execute("GET", k, idempotent=True)) for k in keys] == list(
                range(60)
            )
            replies = await client.pipeline([("INCR", k) for k in keys])
            assert replies == list(range(1, 61))
            assert client.redirects == 0
    used = set()
    for key in keys:
        port = owner_port(local_cluster, key_slot(key.encode()))
        used.add(port)
        with contextlib.closing(local_cluster.client(port)) as c:
            assert c.get(key) is not None  # stored on the owner itself, not redirected
    assert len(used) == 3  # the keys really spread over the three primaries


async def test_scripts_are_loaded_on_every_node_they_run_on(
    cluster_url: str, local_cluster: LocalCluster
) -> None:
    incr = _Script("return redis.call('INCR', KEYS[1])")
    with trio.fail_after(DEADLINE_S):
        async with open_cluster(cluster_url) as client:
            await client.execute("SCRIPT", "FLUSH")  # every primary
            keys = [f"s{i}" for i in range(12)]
            for key in keys:
                assert await client.evalsha(incr, keys=[key]) == 1
            batch = await client.evalsha_many([(incr, [k], []) for k in keys])
            assert batch == [2] * 12
    for port in primary_ports(local_cluster):
        with contextlib.closing(local_cluster.client(port)) as c:
            assert c.script_exists(incr.sha1) == [True]


async def test_a_blocking_call_runs_on_the_key_s_node(cluster_url: str) -> None:
    with trio.fail_after(DEADLINE_S):
        async with open_cluster(cluster_url) as client:
            got: list[object] = []

            async def pop() -> None:
                got.append(
                    await client.execute_blocking(
                        "BLMOVE", "{q}a", "{q}b", "RIGHT", "LEFT", 5, block_s=5
                    )
                )

            async with trio.open_nursery() as nursery:
                nursery.start_soon(pop)
                await trio.testing.wait_all_tasks_blocked()
                await client.execute("LPUSH", "{q}a", "x")
            assert got == [b"x"]


async def test_keyless_commands(cluster_url: str) -> None:
    with trio.fail_after(DEADLINE_S):
        async with open_cluster(cluster_url) as client:
            assert await client.execute("PING") == b"PONG"
            seconds, _ = await client.execute("TIME")
            assert int(seconds) > 0


# ------------------------------------------------------------- redirections


async def test_a_stale_map_is_corrected_by_moved(
    cluster_url: str, local_cluster: LocalCluster
) -> None:
    key = "{stale}k"
    slot = key_slot(key.encode())
    right = owner_port(local_cluster, slot)
    wrong = another_primary(local_cluster, right)
    with trio.fail_after(DEADLINE_S):
        async with open_cluster(cluster_url) as client:
            client._slots[slot] = ("127.0.0.1", wrong)  # as if the map were old
            seen = client.refreshes
            assert await client.execute("SET", key, "v") == b"OK"
            assert client.redirects == 1
            assert client.owner(slot) == ("127.0.0.1", right)
            await client.refresh(seen=seen)  # joins (or follows) the background reload
            assert client.refreshes > seen
            assert await client.execute("GET", key) == b"v"
            assert client.redirects == 1


async def test_a_migrated_slot_is_followed(cluster_url: str, local_cluster: LocalCluster) -> None:
    key = "{moving}k"
    slot = key_slot(key.encode())
    source = owner_port(local_cluster, slot)
    target = another_primary(local_cluster, source)
    try:
        with trio.fail_after(DEADLINE_S):
            async with open_cluster(cluster_url) as client:
                await client.execute("SET", key, "before")
                with migrating(local_cluster, slot, source, target):
                    # The key is still on the source: served there, no redirection.
                    assert await client.execute("GET", key) == b"before"
                    finish_migration(local_cluster, slot, source, target)
                # Our map still names the source: MOVED, followed.
                assert await client.execute("GET", key) == b"before"
                assert client.redirects >= 1
                assert client.owner(slot) == ("127.0.0.1", target)
                assert (
                    await client.evalsha(_Script("return redis.call('GET', KEYS[1])"), keys=[key])
                    == b"before"
                )
    finally:
        move_slot(local_cluster, slot, target, source)  # give it back


async def test_nodes_that_send_a_slot_to_each_other_are_waited_for(
    cluster_url: str, local_cluster: LocalCluster
) -> None:
    """A move not every node has taken in: MOVED back and forth until they agree.

    Nodes agree on a slot's owner through the cluster bus's gossip, so right
    after a move two nodes can each name the other (seen in the suite: a slot
    given away and back by an earlier test). The call waits for them, bounded
    by reconnect_timeout, instead of bouncing MAX_REDIRECTS times at once.
    """
    key = "{bounce}k"
    slot = key_slot(key.encode())
    owner = owner_port(local_cluster, slot)
    other = another_primary(local_cluster, owner)
    owner_id, other_id = node_id(local_cluster, owner), node_id(local_cluster, other)

    def set_owner(port: int, node: str) -> None:
        with contextlib.closing(local_cluster.client(port)) as c:
            c.execute_command("CLUSTER", "SETSLOT", slot, "NODE", node)

    # The owner gives the slot to `other`, which is not told: each sends it to the other.
    set_owner(owner, other_id)
    try:
        with trio.fail_after(DEADLINE_S):
            async with open_cluster(cluster_url, reconnect_timeout=10) as client:

                async def agree_once_bounced() -> None:
                    await wait_until(lambda: client.retries >= 1, what="a bounce waited for")
                    await trio.to_thread.run_sync(set_owner, owner, owner_id)

                async with trio.open_nursery() as nursery:
                    nursery.start_soon(agree_once_bounced)
                    assert await client.execute("SET", key, "v") == b"OK"
                assert client.redirects >= 2
                assert await client.execute("GET", key) == b"v"
                await client.execute("DEL", key)
    finally:
        set_owner(owner, owner_id)


async def test_nodes_that_never_agree_fail_after_reconnect_timeout(
    cluster_url: str, local_cluster: LocalCluster
) -> None:
    key = "{bounce}k"
    slot = key_slot(key.encode())
    owner = owner_port(local_cluster, slot)
    other = another_primary(local_cluster, owner)
    owner_id, other_id = node_id(local_cluster, owner), node_id(local_cluster, other)
    with contextlib.closing(local_cluster.client(owner)) as c:
        c.execute_command("CLUSTER", "SETSLOT", slot, "NODE", other_id)
    try:
        with trio.fail_after(DEADLINE_S):
            async with open_cluster(cluster_url, reconnect_timeout=0.3) as client:
                with pytest.raises(ThoonkClusterDownError, match="MOVED back and forth"):
                    await client.execute("GET", key)
                assert client.retries >= 1
    finally:
        with contextlib.closing(local_cluster.client(owner)) as c:
            c.execute_command("CLUSTER", "SETSLOT", slot, "NODE", owner_id)


async def test_ask_during_a_migration(cluster_url: str, local_cluster: LocalCluster) -> None:
    moved, stays = "{asked}moved", "{asked}stays"
    slot = key_slot(moved.encode())
    source = owner_port(local_cluster, slot)
    target = another_primary(local_cluster, source)
    try:
        with trio.fail_after(DEADLINE_S):
            async with open_cluster(cluster_url) as client:
                await client.execute("SET", moved, "there")
                await client.execute("SET", stays, "here")
                with migrating(local_cluster, slot, source, target):
                    with contextlib.closing(local_cluster.client(source)) as src:
                        src.execute_command(
                            "MIGRATE", "127.0.0.1", target, "", 0, 5000, "KEYS", moved
                        )
                    assert await client.execute("GET", stays) == b"here"
                    assert client.redirects == 0
                    assert await client.execute("GET", moved) == b"there"  # via ASK
                    assert client.redirects == 1
                    script = _Script("return redis.call('GET', KEYS[1])")
                    assert await client.evalsha(script, keys=[moved]) == b"there"
                    assert client.redirects == 2
                    assert client.owner(slot) == ("127.0.0.1", source)  # ASK is not MOVED
    finally:
        finish_migration(local_cluster, slot, source, target)
        move_slot(local_cluster, slot, target, source)  # give it back


async def test_tryagain_is_retried_until_the_migration_ends(
    cluster_url: str, local_cluster: LocalCluster
) -> None:
    """A multi-key command whose keys are split by a migration gets TRYAGAIN."""
    here, there = "{split}here", "{split}there"
    slot = key_slot(here.encode())
    source = owner_port(local_cluster, slot)
    target = another_primary(local_cluster, source)
    try:
        with trio.fail_after(DEADLINE_S):
            async with open_cluster(cluster_url, reconnect_timeout=0.3) as client:
                await client.execute("SET", here, "1")
                await client.execute("SET", there, "2")
                with migrating(local_cluster, slot, source, target):
                    with contextlib.closing(local_cluster.client(source)) as src:
                        src.execute_command(
                            "MIGRATE", "127.0.0.1", target, "", 0, 5000, "KEYS", there
                        )
                    with pytest.raises(ThoonkTryAgainError, match=r"still so after 0\.3 s"):
                        await client.execute("MGET", here, there)
            async with open_cluster(cluster_url, reconnect_timeout=10) as client:
                with migrating(local_cluster, slot, source, target):
                    async with trio.open_nursery() as nursery:
                        got: list[object] = []

                        async def mget() -> None:
                            got.append(await client.execute("MGET", here, there))

                        nursery.start_soon(mget)
                        await wait_until(lambda: client.retries >= 1, what="a TRYAGAIN")
                        await trio.to_thread.run_sync(
                            finish_migration, local_cluster, slot, source, target
                        )
                assert got == [[b"1", b"2"]]
                # A retry that lands while the source is still MIGRATING follows
                # an ASK (which, rightly, does not change the map); the next
                # call meets the MOVED and the map names the new owner.
                assert await client.execute("GET", here) == b"1"
                assert client.owner(slot) == ("127.0.0.1", target)
    finally:
        move_slot(local_cluster, slot, target, source)  # give it back


async def test_an_unreachable_owner_reloads_the_map(
    cluster_url: str, local_cluster: LocalCluster
) -> None:
    """As after a failover: the node the map names is gone; the reloaded map names another."""
    key = "{failover}k"
    slot = key_slot(key.encode())
    (dead,) = free_ports(1)
    with trio.fail_after(DEADLINE_S):
        async with open_cluster(cluster_url, reconnect_timeout=0.3) as client:
            await client.execute("SET", key, "v")
            client._slots[slot] = ("127.0.0.1", dead)
            seen = client.refreshes
            # A read may be sent again: it is, to the owner of the reloaded map.
            assert await client.execute("GET", key, idempotent=True) == b"v"
            assert client.refreshes == seen + 1
            client._slots[slot] = ("127.0.0.1", dead)
            # A write may have run: not sent again, but the next call goes to the right node.
            with pytest.raises(ThoonkConnectionError):
                await client.execute("SET", key, "w")
            assert client.owner(slot) == ("127.0.0.1", owner_port(local_cluster, slot))
            assert await client.execute("GET", key) == b"v"


async def test_an_unserved_slot_ends_in_a_typed_error(
    cluster_url: str, local_cluster: LocalCluster
) -> None:
    key = "{orphan}k"
    slot = key_slot(key.encode())
    owner = owner_port(local_cluster, slot)
    with contextlib.closing(local_cluster.client(owner)) as c:
        c.execute_command("CLUSTER", "DELSLOTS", slot)
    try:
        with trio.fail_after(DEADLINE_S):
            async with open_cluster(cluster_url, reconnect_timeout=0.5) as client:
                with pytest.raises(ThoonkClusterDownError, match="slot"):
                    await client.execute("SET", key, "v")
    finally:
        with contextlib.closing(local_cluster.client(owner)) as c:
            c.execute_command("CLUSTER", "ADDSLOTS", slot)
        local_cluster.wait_ok()


# ------------------------------------------------------------------ pub/sub


def route_by_name(channel: bytes) -> bytes | None:
    """``ch:n1`` -> ``{n1}`` (what Thoonk does with ``event.<type>.<event>:<name>``)."""
    return b"{%s}" % channel.partition(b":")[2] if b":" in channel else None


def drain(sub: Subscription) -> list[Message | Gap]:
    """Every event buffered in ``sub`` now."""
    got: list[Message | Gap] = []
    while True:
        try:
            got.append(sub.receive_nowait())
        except trio.WouldBlock:
            return got


async def test_pubsub_hears_publishes_made_on_any_node(
    cluster_url: str, local_cluster: LocalCluster
) -> None:
    with trio.fail_after(DEADLINE_S):
        async with open_cluster(cluster_url) as client, client.open_pubsub() as pubsub:
            async with pubsub.subscribe(["news"]) as sub:
                for port in primary_ports(local_cluster):
                    with contextlib.closing(local_cluster.client(port)) as c:
                        c.publish("news", f"from {port}")
                got = [await sub.receive() for _ in range(3)]
    assert sorted(m.data for m in got if isinstance(m, Message)) == sorted(
        f"from {p}".encode() for p in primary_ports(local_cluster)
    )


async def test_pubsub_moves_to_another_node_when_its_node_is_gone(
    cluster_url: str, local_cluster: LocalCluster
) -> None:
    (dead,) = free_ports(1)
    with trio.fail_after(DEADLINE_S):
        async with open_cluster(cluster_url) as client:
            pubsub = _NodePubSub(client, client.config.replace(port=dead))  # its node is gone
            async with trio.open_nursery() as nursery:
                await nursery.start(pubsub._run)
                assert pubsub.config.port != dead
                async with pubsub.subscribe(["news"]) as sub:
                    await client.execute("PUBLISH", "news", "hello")
                    assert await sub.receive() == Message(b"news", b"hello")
                    # Its connection dropped: it comes back with a Gap.
                    with contextlib.closing(local_cluster.client(pubsub.config.port)) as c:
                        c.execute_command("CLIENT", "KILL", "TYPE", "pubsub")
                    assert await sub.receive() == Gap("reconnected")
                    await client.execute("PUBLISH", "news", "again")
                    assert await sub.receive() == Message(b"news", b"again")
                nursery.cancel_scope.cancel()


async def test_channels_are_subscribed_on_the_node_their_route_names(
    cluster_url: str, local_cluster: LocalCluster
) -> None:
    names = [f"n{i}" for i in range(9)]
    with trio.fail_after(DEADLINE_S):
        async with open_cluster(cluster_url) as client, client.open_pubsub(route_by_name) as pubsub:
            async with pubsub.subscribe([f"ch:{n}" for n in names], ["other*"]) as sub:
                homes = {client.owner(key_slot(f"{{{n}}}".encode())) for n in names}
                assert set(pubsub.node_addresses()) == homes
                assert len(homes) == 3
                # The barrier covers every node: each message published before it is here.
                for n in names:  # published where the channel's object lives, as scripts do
                    home = client.owner(key_slot(f"{{{n}}}".encode()))
                    await client.node(home).execute("PUBLISH", f"ch:{n}", n)
                await client.execute("PUBLISH", "other1", "x")
                await pubsub.barrier()
                got = drain(sub)
            assert sorted(m.data for m in got if isinstance(m, Message)) == sorted(
                [n.encode() for n in names] + [b"x"]
            )


async def test_a_pattern_hears_each_message_once_from_its_home_node(cluster_url: str) -> None:
    names = [f"n{i}" for i in range(9)]
    with trio.fail_after(DEADLINE_S):
        async with open_cluster(cluster_url) as client, client.open_pubsub(route_by_name) as pubsub:
            async with pubsub.subscribe(patterns=["ch:*"]) as sub:
                assert sorted(pubsub.node_addresses()) == sorted(client.primaries())
                for n in names:  # published where the channel's object lives, as scripts do
                    home = client.owner(key_slot(f"{{{n}}}".encode()))
                    await client.node(home).execute("PUBLISH", f"ch:{n}", n)
                await client.execute("PUBLISH", "ch-unrouted", "u")  # not a pattern match
                await pubsub.barrier()
                got = drain(sub)
    assert sorted(m.data for m in got if isinstance(m, Message)) == [n.encode() for n in names]
    assert all(isinstance(m, Message) and m.pattern == b"ch:*" for m in got)


async def test_a_late_bus_copy_is_not_handed_out_while_a_pattern_is_being_placed(
    cluster_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A publish made before the subscription, relayed late by the cluster bus, is not heard.

    The bus can hold a node's copies back for tens of milliseconds (seen on
    6.2 and 7.0: the 2nd and later publishes of a burst, ~40 ms), so a copy
    of a publish made before a pattern subscription can reach another node
    after that node's connection subscribed. Here the copy reaches the first
    primary just as the connection of the channel's home is being opened
    (where the flaky run of the test above was hit by the previous test's
    copies). It was handed out: the first connection stood in for a home
    that had no connection yet.
    """
    with trio.fail_after(DEADLINE_S):
        async with open_cluster(cluster_url) as client, client.open_pubsub(route_by_name) as pubsub:
            first, home = client.primaries()[:2]  # `first`: the connection open_pubsub made
            name = next(
                n
                for n in (f"n{i}" for i in range(100))
                if client.owner(key_slot(f"{{{n}}}".encode())) == home
            )
            channel = f"ch:{name}".encode()
            opening = pubsub._node
            async with (
                open_pubsub(client.node(home).config) as witness,
                witness.subscribe([channel]) as on_home,
            ):

                async def node_with_a_late_copy(config: RedisConfig) -> _NodePubSub:
                    if (config.host, config.port) == home and home not in pubsub.node_addresses():
                        # The late copy, as the first primary's connection sees it...
                        await client.node(first).execute("PUBLISH", channel, "before")
                        await pubsub.barrier()  # (read by every connection open so far)
                        # ...and on the home node, before our connection there exists.
                        assert await on_home.receive() == Message(channel, b"before")
                    return await opening(config)

                monkeypatch.setattr(pubsub, "_node", node_with_a_late_copy)
                async with pubsub.subscribe(patterns=["ch:*"]) as sub:
                    await client.node(home).execute("PUBLISH", channel, "after")
                    await pubsub.barrier()
                    got = drain(sub)
    assert got == [Message(channel, b"after", b"ch:*")]


def test_cluster_client_is_exported() -> None:
    assert ClusterClient.__module__ == "thoonk_actors.transport._cluster"
