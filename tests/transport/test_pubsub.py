"""Pub/sub on the trio transport: acknowledged subscribe, fan-out, reconnect, gaps."""

from __future__ import annotations

import pytest
import redis
import trio

from thoonk_actors import UsageError
from thoonk_actors.transport import Gap, Message, open_pubsub, open_redis

from ..polling import wait_until


async def test_subscribe_is_acknowledged_before_it_returns(redis_url: str) -> None:
    async with open_redis(redis_url) as client, open_pubsub(client.config) as pubsub:
        async with pubsub.subscribe(channels=["t:a"], patterns=["t:p.*"]) as sub:
            # published right after subscribe returns: must not be missed
            assert await client.execute("PUBLISH", "t:a", b"one\x00two") == 1
            assert await client.execute("PUBLISH", "t:p.x", "three") == 1
            with trio.fail_after(10):
                first = await sub.receive()
                second = await sub.receive()
        assert first == Message(b"t:a", b"one\x00two", None)
        assert second == Message(b"t:p.x", b"three", b"t:p.*")


async def test_fan_out_and_unsubscribe_while_running(
    redis_url: str, sync_redis: redis.Redis
) -> None:
    async with open_redis(redis_url) as client, open_pubsub(client.config) as pubsub:
        async with pubsub.subscribe(channels=["t:shared"]) as one:
            async with pubsub.subscribe(channels=["t:shared", "t:only-two"]) as two:
                await client.execute("PUBLISH", "t:shared", "x")
                await client.execute("PUBLISH", "t:only-two", "y")
                with trio.fail_after(10):
                    assert (await one.receive()).data == b"x"  # type: ignore[union-attr]
                    assert [(await two.receive()).data for _ in range(2)] == [b"x", b"y"]  # type: ignore[union-attr]
            # 'two' left: the channel only it wanted is unsubscribed on the server
            await wait_until(
                lambda: sync_redis.pubsub_numsub("t:only-two") == [(b"t:only-two", 0)],
                what="UNSUBSCRIBE of t:only-two",
            )
            assert sync_redis.pubsub_numsub("t:shared") == [(b"t:shared", 1)]
            await client.execute("PUBLISH", "t:shared", "z")
            with trio.fail_after(10):
                assert (await one.receive()).data == b"z"  # type: ignore[union-attr]


async def test_reconnects_resubscribes_and_reports_a_gap(
    redis_url: str, sync_redis: redis.Redis
) -> None:
    async with open_redis(redis_url) as client, open_pubsub(client.config) as pubsub:
        async with pubsub.subscribe(channels=["t:events"], patterns=["t:pat.*"]) as sub:
            await client.execute("PUBLISH", "t:events", "before")
            with trio.fail_after(10):
                assert (await sub.receive()).data == b"before"  # type: ignore[union-attr]
            killed = sync_redis.execute_command("CLIENT", "KILL", "TYPE", "pubsub")
            assert killed >= 1
            with trio.fail_after(15):
                event = await sub.receive()
            assert event == Gap("reconnected")
            assert pubsub.reconnects == 1
            # the gap comes after the resubscription: what follows is delivered
            await client.execute("PUBLISH", "t:events", "after")
            await client.execute("PUBLISH", "t:pat.1", "pattern-after")
            with trio.fail_after(10):
                got = [await sub.receive(), await sub.receive()]
            assert got == [
                Message(b"t:events", b"after"),
                Message(b"t:pat.1", b"pattern-after", b"t:pat.*"),
            ]


async def test_slow_subscriber_gets_an_overflow_gap_and_never_blocks_others(
    redis_url: str,
) -> None:
    async with open_redis(redis_url) as client, open_pubsub(client.config) as pubsub:
        async with pubsub.subscribe(channels=["t:flood"], buffer=5) as slow:
            async with pubsub.subscribe(channels=["t:flood"], buffer=1000) as fast:
                for i in range(20):
                    await client.execute("PUBLISH", "t:flood", str(i))
                with trio.fail_after(10):
                    fast_got = [(await fast.receive()).data for _ in range(20)]  # type: ignore[union-attr]
                assert fast_got == [str(i).encode() for i in range(20)]
                with trio.fail_after(10):
                    slow_got = [await slow.receive() for _ in range(6)]
                assert [m.data for m in slow_got[:5]] == [b"0", b"1", b"2", b"3", b"4"]  # type: ignore[union-attr]
                assert slow_got[5] == Gap("overflow")
                stats = slow.statistics()
                assert (stats.dropped, stats.gaps, stats.delivered) == (15, 1, 5)
                # after the gap, new events flow again
                await client.execute("PUBLISH", "t:flood", "next")
                with trio.fail_after(10):
                    assert (await slow.receive()).data == b"next"  # type: ignore[union-attr]


async def test_bad_subscriptions_are_refused(redis_url: str) -> None:
    async with open_pubsub(redis_url) as pubsub:
        with pytest.raises(UsageError, match="at least one"):
            async with pubsub.subscribe():
                pass
        with pytest.raises(UsageError, match="buffer"):
            async with pubsub.subscribe(channels=["x"], buffer=0):
                pass


async def test_a_refused_subscription_fails_at_once_with_the_servers_reason(
    redis_url: str, sync_redis: redis.Redis
) -> None:
    import redis.exceptions

    from thoonk_actors.transport import RedisConfig

    user = "thoonk-test-pubsub-acl"
    sync_redis.execute_command(
        "ACL", "SETUSER", user, "on", ">pw", "~*", "+@all", "resetchannels", "&allowed.*"
    )
    try:
        config = RedisConfig.from_url(redis_url).replace(username=user, password="pw")
        async with open_pubsub(config) as pubsub:
            with trio.fail_after(5):
                with pytest.raises(redis.exceptions.NoPermissionError, match="NOPERM"):
                    async with pubsub.subscribe(channels=["forbidden.x"]):
                        pass
            # the connection is still fine for allowed channels
            async with pubsub.subscribe(channels=["allowed.x"]) as sub:
                sync_redis.publish("allowed.x", "ok")
                with trio.fail_after(10):
                    assert (await sub.receive()).data == b"ok"  # type: ignore[union-attr]
    finally:
        sync_redis.execute_command("ACL", "DELUSER", user)


async def test_a_barrier_returns_after_every_message_published_before_it(
    redis_url: str, sync_redis: redis.Redis
) -> None:
    async with open_redis(redis_url) as client, open_pubsub(client.config) as pubsub:
        async with pubsub.subscribe(channels=["t:barrier"], buffer=100) as sub:
            for n in range(50):  # blocking: all published before the barrier is sent
                sync_redis.publish("t:barrier", str(n))
            with trio.fail_after(10):
                await pubsub.barrier()
            got = [sub.receive_nowait() for _ in range(50)]
            assert [m.data for m in got] == [str(n).encode() for n in range(50)]  # type: ignore[union-attr]
            assert sync_redis.pubsub_numsub("t:barrier") == [(b"t:barrier", 1)]


async def test_a_barrier_without_subscriptions_and_across_a_reconnect(
    redis_url: str, sync_redis: redis.Redis
) -> None:
    name = "t-barrier-reconnect"
    async with (
        open_redis(redis_url, client_name=name) as client,
        open_pubsub(client.config) as pubsub,
    ):
        with trio.fail_after(10):
            await pubsub.barrier()  # nothing subscribed: the reply is the bare payload
        async with pubsub.subscribe(channels=["t:barrier-gap"]) as sub:
            ids = [
                int(c["id"])
                for c in sync_redis.client_list()
                if c["name"] == name and "P" in c["flags"]
            ]
            assert len(ids) == 1
            sync_redis.client_kill_filter(_id=ids[0])  # trio cannot run before the barrier
            with trio.fail_after(20):
                await pubsub.barrier()  # answered on the new connection
                assert isinstance(await sub.receive(), Gap)
            assert pubsub.reconnects == 1


async def test_deliver_to_hands_over_buffered_then_live_events_and_gaps(
    redis_url: str, sync_redis: redis.Redis
) -> None:
    """What was buffered first, then each message as it is read, a reconnect as a Gap."""
    got: list[Message | Gap] = []
    async with open_redis(redis_url) as client, open_pubsub(client.config) as pubsub:
        async with pubsub.subscribe(channels=["t:sink"]) as sub:
            await client.execute("PUBLISH", "t:sink", "buffered")
            await wait_until(lambda: sub.statistics().buffered == 1, what="the buffered message")
            sub.deliver_to(got.append)
            assert got == [Message(b"t:sink", b"buffered")]
            await client.execute("PUBLISH", "t:sink", "live")
            await wait_until(lambda: len(got) == 2, what="the live message")
            assert sync_redis.execute_command("CLIENT", "KILL", "TYPE", "pubsub") >= 1
            await wait_until(lambda: len(got) == 3, what="the gap")
            await client.execute("PUBLISH", "t:sink", "after")
            await wait_until(lambda: len(got) == 4, what="the message after the gap")
            assert sub.statistics().buffered == 0
            with pytest.raises(trio.WouldBlock):
                sub.receive_nowait()
    assert got == [
        Message(b"t:sink", b"buffered"),
        Message(b"t:sink", b"live"),
        Gap("reconnected"),
        Message(b"t:sink", b"after"),
    ]
    assert (sub.statistics().delivered, sub.statistics().gaps) == (3, 1)
