"""The trio transport against a real Redis: multiplexing, cancellation, scripts, errors.

Policy: real Redis only (the session's test server, a fresh database per
test); redis-py's sync client (``sync_redis``) is the independent witness of
what was stored. Every wait on an effect polls with a trio deadline.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass

import pytest
import redis
import redis.exceptions
import trio

from thoonk_actors import ThoonkAuthenticationError, ThoonkConnectionError, UsageError
from thoonk_actors.transport import RedisClient, RedisConfig, open_redis

from ..polling import wait_until


async def test_basic_commands_and_select(redis_url: str, sync_redis: redis.Redis) -> None:
    async with open_redis(redis_url) as client:
        assert await client.execute("PING") == b"PONG"
        assert await client.execute("SET", "k", "v€") == b"OK"
        assert await client.execute("GET", "k") == "v€".encode()
        assert await client.execute("INCRBY", "n", 5) == 5
    # written in the test database, as the URL says
    assert sync_redis.get("k") == "v€".encode()


async def test_client_name_is_set(redis_url: str) -> None:
    name = f"thoonk-test-{uuid.uuid4().hex[:8]}"
    async with open_redis(redis_url, client_name=name) as client:
        assert await client.execute("CLIENT", "GETNAME") == name.encode()


async def test_thousand_concurrent_callers_share_one_connection(redis_url: str) -> None:
    async with open_redis(redis_url) as client:
        conn = await client.connection()
        first_id = await client.execute("CLIENT", "ID")
        results: dict[int, bytes] = {}

        async def call(i: int) -> None:
            results[i] = await client.execute("ECHO", f"value-{i}")

        async with trio.open_nursery() as nursery:
            for i in range(1000):
                nursery.start_soon(call, i)
        assert results == {i: f"value-{i}".encode() for i in range(1000)}
        assert await client.connection() is conn
        assert await client.execute("CLIENT", "ID") == first_id


async def test_pipeline_returns_errors_in_place(redis_url: str) -> None:
    async with open_redis(redis_url) as client:
        replies = await client.pipeline(
            [("SET", "s", "x"), ("INCR", "s"), ("GET", "s")], raise_on_error=False
        )
        assert replies[0] == b"OK"
        assert isinstance(replies[1], redis.exceptions.ResponseError)
        assert replies[2] == b"x"
        with pytest.raises(redis.exceptions.ResponseError):
            await client.pipeline([("INCR", "s")])
        assert await client.pipeline([]) == []


async def test_random_cancellations_under_load_never_cross_replies(redis_url: str) -> None:
    """Cancel callers at random while 3,000 commands are in flight.

    Every caller that was not cancelled must get exactly its own reply, and
    the connection must stay in step afterwards (same connection, correct
    replies).
    """
    rng = random.Random(20261128)
    async with open_redis(redis_url) as client:
        conn = await client.connection()
        wrong: list[tuple[int, bytes]] = []
        completed = 0
        cancelled = 0

        async def call(i: int, scope: trio.CancelScope) -> None:
            nonlocal completed, cancelled
            with scope:
                # Large values for some callers so replies arrive in pieces.
                value = f"{i}:" + "x" * (rng.choice([0, 10, 5000]))
                reply = await client.execute("ECHO", value)
                if reply != value.encode():
                    wrong.append((i, reply))
                completed += 1
            if scope.cancelled_caught:
                cancelled += 1

        async with trio.open_nursery() as nursery:
            scopes = [trio.CancelScope() for _ in range(3000)]
            for i, scope in enumerate(scopes):
                nursery.start_soon(call, i, scope)
                if rng.random() < 0.3:
                    # cancel an earlier caller, which may be queued, sent, or waiting
                    scopes[rng.randrange(i + 1)].cancel()
                if i % 50 == 0:
                    await trio.lowlevel.checkpoint()
        assert wrong == []
        # Enough cancellations landed to mean something (how many land before
        # their reply depends on the machine's load: ~100-400 of ~900 tries).
        assert cancelled > 20
        assert completed + cancelled == 3000
        assert conn.usable
        assert await client.connection() is conn
        for i in range(50):
            assert await client.execute("ECHO", f"after-{i}") == f"after-{i}".encode()


async def test_evalsha_reloads_after_script_flush(redis_url: str) -> None:
    @dataclass(frozen=True)
    class Script:
        source: str
        sha1: str

    source = "return {KEYS[1], ARGV[1]}"
    import hashlib

    script = Script(source, hashlib.sha1(source.encode()).hexdigest())
    async with open_redis(redis_url) as client:
        await client.execute("SCRIPT", "FLUSH")
        assert await client.evalsha(script, ["k"], ["a"]) == [b"k", b"a"]
        await client.execute("SCRIPT", "FLUSH")
        assert await client.evalsha(script, ["k2"], ["b"]) == [b"k2", b"b"]
        await client.execute("SCRIPT", "FLUSH")
        replies = await client.evalsha_many([(script, ["x"], ["1"]), (script, ["y"], ["2"])])
        assert replies == [[b"x", b"1"], [b"y", b"2"]]


async def test_error_replies_use_redis_py_classes(redis_url: str) -> None:
    async with open_redis(redis_url) as client:
        await client.execute("SET", "str", "x")
        with pytest.raises(redis.exceptions.ResponseError, match="WRONGTYPE"):
            await client.execute("LPUSH", "str", "y")
        with pytest.raises(redis.exceptions.NoScriptError):
            await client.execute("EVALSHA", "0" * 40, 0)
        # the connection is still fine after error replies
        assert await client.execute("PING") == b"PONG"


async def test_bad_arguments_are_refused_before_sending(redis_url: str) -> None:
    async with open_redis(redis_url) as client:
        with pytest.raises(TypeError, match="bool"):
            await client.execute("SET", "k", True)  # type: ignore[arg-type]
        with pytest.raises(TypeError, match="must be bytes, str, int or float"):
            await client.execute("SET", "k", None)  # type: ignore[arg-type]
        assert await client.execute("EXISTS", "k") == 0


def test_url_grammar() -> None:
    c = RedisConfig.from_url("redis://user:secret@example.org:6380/4?client_name=w1")
    assert (c.host, c.port, c.db, c.username, c.password, c.client_name, c.tls) == (
        "example.org",
        6380,
        4,
        "user",
        "secret",
        "w1",
        False,
    )
    assert "secret" not in c.describe() and "secret" not in repr(c)
    t = RedisConfig.from_url("rediss://h:7000/0?ssl_cert_reqs=none")
    assert t.tls and t.ssl_cert_reqs == "none"
    u = RedisConfig.from_url("unix:///tmp/r.sock?db=3")
    assert (u.path, u.db) == ("/tmp/r.sock", 3)
    with pytest.raises(UsageError, match="not a Redis URL"):
        RedisConfig.from_url("http://example.org")
    with pytest.raises(UsageError, match="ssl_cert_reqs"):
        RedisConfig.from_url("rediss://h?ssl_cert_reqs=sometimes")


async def test_dead_server_fails_clearly_within_bounded_time(tmp_path: object) -> None:
    url = f"unix:///tmp/thoonk-no-such-server-{uuid.uuid4().hex[:8]}.sock"
    with trio.fail_after(10):
        with pytest.raises(ThoonkConnectionError, match="cannot connect to Redis") as info:
            async with open_redis(url, reconnect_timeout=0.5):
                pass
    assert isinstance(info.value, redis.exceptions.ConnectionError)
    assert "gave up after" in str(info.value)


async def test_reconnects_after_the_server_kills_the_connection(
    redis_url: str, sync_redis: redis.Redis
) -> None:
    async with open_redis(redis_url) as client:
        conn = await client.connection()
        old_id = await client.execute("CLIENT", "ID")
        sync_redis.execute_command("CLIENT", "KILL", "ID", old_id)
        await wait_until(lambda: not conn.usable, what="the killed connection to be noticed")
        # the next command reconnects transparently
        assert await client.execute("PING") == b"PONG"
        assert await client.execute("CLIENT", "ID") != old_id


async def test_wrong_password_is_an_authentication_error(
    redis_url: str, sync_redis: redis.Redis
) -> None:
    user = f"thoonk-test-{uuid.uuid4().hex[:8]}"
    sync_redis.execute_command("ACL", "SETUSER", user, "on", ">right-pw", "~*", "&*", "+@all")
    try:
        config = RedisConfig.from_url(redis_url)
        good = config.replace(username=user, password="right-pw")
        async with open_redis(good) as client:
            assert await client.execute("ACL", "WHOAMI") == user.encode()
        bad = config.replace(username=user, password="wrong-pw")
        with pytest.raises(ThoonkAuthenticationError, match="refused authentication") as info:
            async with open_redis(bad):
                pass
        assert isinstance(info.value, redis.exceptions.AuthenticationError)
    finally:
        sync_redis.execute_command("ACL", "DELUSER", user)


async def test_blocking_command_is_cancellable_and_leaves_nothing_behind(
    redis_url: str, sync_redis: redis.Redis
) -> None:
    async with open_redis(redis_url, client_name="thoonk-blocker") as client:
        with trio.move_on_after(30):
            async with trio.open_nursery() as nursery:
                cancel = trio.CancelScope()

                async def blocker() -> None:
                    with cancel:
                        await client.execute_blocking("BLMOVE", "src", "dst", "RIGHT", "LEFT", 0)

                nursery.start_soon(blocker)

                def blocked() -> bool:
                    clients = sync_redis.client_list()
                    return any(c.get("cmd") == "blmove" for c in clients)

                await wait_until(blocked, what="BLMOVE to be blocking on the server")
                cancel.cancel()

        assert cancel.cancelled_caught

        def released() -> bool:
            return not any(c.get("cmd") == "blmove" for c in sync_redis.client_list())

        await wait_until(released, what="the cancelled BLMOVE connection to close")
        # nobody is left waiting to take this element
        sync_redis.lpush("src", "job")
        assert sync_redis.lrange("src", 0, -1) == [b"job"]
        assert sync_redis.exists("dst") == 0
        # a blocking command that gets its element works, and the connection is reused
        assert await client.execute_blocking("BLMOVE", "src", "dst", "RIGHT", "LEFT", 1) == b"job"


async def test_closed_client_refuses_calls(redis_url: str) -> None:
    async with open_redis(redis_url) as client:
        pass
    assert isinstance(client, RedisClient)
    with pytest.raises(ThoonkConnectionError):
        await client.execute("PING")
