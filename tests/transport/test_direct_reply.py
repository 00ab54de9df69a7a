"""Direct replies: a caller alone on a connection reads its own reply.

A scripted RESP peer on a loopback TCP socket (the direct path needs a plain
socket, which trio's memory streams are not) shows the hand-overs byte by
byte: a caller cancelled while it reads, a second caller arriving behind a
direct one, a hang-up or stray bytes while nobody reads. The real server
then checks the two things a user sees: a command after an idle hang-up is
not failed (the hang-up is noticed before sending), and a crowd of callers
cancelled at random never receives another caller's reply.
"""

from __future__ import annotations

import random
import select
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial

import pytest
import redis
import trio
import trio.testing

from tests.polling import wait_until
from tests.transport.test_wire import read_request
from thoonk_actors import ThoonkConnectionError, ThoonkTimeoutError
from thoonk_actors.transport import Connection, RedisConfig, open_redis

GET_A = b"*2\r\n$3\r\nGET\r\n$1\r\na\r\n"
GET_B = b"*2\r\n$3\r\nGET\r\n$1\r\nb\r\n"


@asynccontextmanager
async def scripted(
    *, response_timeout: float | None = 30.0, direct: bool = True
) -> AsyncIterator[tuple[Connection, trio.SocketStream]]:
    """A direct-replies connection to a TCP peer of the test's; (connection, the peer's end)."""
    listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
    port = listeners[0].socket.getsockname()[1]
    config = RedisConfig(host="127.0.0.1", port=port, response_timeout=response_timeout)
    async with trio.open_nursery() as nursery:
        conn = await Connection.open(config, nursery, direct_replies=direct)
        peer = await listeners[0].accept()
        await listeners[0].aclose()
        try:
            yield conn, peer
        finally:
            await conn.aclose()
            await peer.aclose()


async def test_a_lone_caller_reads_its_own_reply_even_split_at_every_byte() -> None:
    async with scripted() as (conn, peer):
        async with trio.open_nursery() as nursery:
            got: list[object] = []

            async def call() -> None:
                got.append(await conn.execute("GET", "a"))

            nursery.start_soon(call)
            await read_request(peer, GET_A)
            for byte in b"$5\r\nfor-a\r\n":
                await peer.send_all(bytes([byte]))
                await trio.testing.wait_all_tasks_blocked()
        assert got == [b"for-a"]
        assert conn.direct_calls == 1
        assert conn.usable and conn.in_flight == 0


async def test_without_direct_replies_the_reader_task_reads() -> None:
    async with scripted(direct=False) as (conn, peer):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(conn.execute, "GET", "a")
            await read_request(peer, GET_A)
            await peer.send_all(b"$5\r\nfor-a\r\n")
        assert conn.direct_calls == 0
        assert conn.usable and conn.in_flight == 0


@pytest.mark.parametrize("before_cancel", [b"", b"$5\r\nfo"], ids=["nothing", "half"])
async def test_a_caller_cancelled_while_reading_its_own_reply_leaves_it_to_the_reader(
    before_cancel: bytes,
) -> None:
    async with scripted() as (conn, peer):
        async with trio.open_nursery() as nursery:
            got: list[object] = []
            first = trio.CancelScope()

            async def cancelled_call() -> None:
                with first:
                    await conn.execute("GET", "a")

            async def second_call() -> None:
                got.append(await conn.execute("GET", "b"))

            nursery.start_soon(cancelled_call)
            await read_request(peer, GET_A)
            await peer.send_all(before_cancel)
            await trio.testing.wait_all_tasks_blocked()
            first.cancel()
            await trio.testing.wait_all_tasks_blocked()
            assert conn.in_flight == 1  # the abandoned reply is still owed
            nursery.start_soon(second_call)
            await read_request(peer, GET_B)
            await peer.send_all(b"$5\r\nfor-a\r\n$5\r\nfor-b\r\n"[len(before_cancel) :])
        assert first.cancelled_caught
        assert got == [b"for-b"]
        assert conn.direct_calls == 1  # the second call waited for the reader task
        assert conn.usable and conn.in_flight == 0
        # Nothing owed any more: the next lone caller reads its own reply again.
        async with trio.open_nursery() as nursery:
            nursery.start_soon(conn.execute, "GET", "a")
            await read_request(peer, GET_A)
            await peer.send_all(b"$1\r\nx\r\n")
        assert conn.direct_calls == 2


@pytest.mark.parametrize("together", [True, False], ids=["one-write", "later"])
async def test_a_caller_behind_a_direct_one_gets_its_own_reply(together: bool) -> None:
    async with scripted() as (conn, peer):
        async with trio.open_nursery() as nursery:
            got: dict[str, object] = {}

            async def call(key: str) -> None:
                got[key] = await conn.execute("GET", key)

            nursery.start_soon(call, "a")
            await read_request(peer, GET_A)
            nursery.start_soon(call, "b")
            await read_request(peer, GET_B)
            if together:  # the direct caller hands B's reply out itself
                await peer.send_all(b"$5\r\nfor-a\r\n$5\r\nfor-b\r\n")
            else:  # it passes the turn on to the reader task
                await peer.send_all(b"$5\r\nfor-a\r\n")
                await trio.testing.wait_all_tasks_blocked()
                assert got == {"a": b"for-a"}
                await peer.send_all(b"$5\r\nfor-b\r\n")
        assert got == {"a": b"for-a", "b": b"for-b"}
        assert conn.direct_calls == 1
        assert conn.usable and conn.in_flight == 0


async def test_a_hang_up_while_idle_is_seen_by_usable_before_anything_is_sent() -> None:
    async with scripted() as (conn, peer):
        await peer.aclose()
        await wait_until(lambda: not conn.usable, what="the hang-up to be seen")
        with pytest.raises(ThoonkConnectionError, match="no command was in flight"):
            await conn.execute("PING")


async def test_usable_asked_from_another_thread_only_looks() -> None:
    """A status check from a thread sees the hang-up; breaking is left to trio's thread."""
    async with scripted() as (conn, peer):
        assert await trio.to_thread.run_sync(lambda: conn.usable)
        await peer.aclose()
        await wait_until(
            partial(trio.to_thread.run_sync, lambda: not conn.usable),
            what="the other thread to see the hang-up",
        )
        assert conn.in_flight == 0 and conn._broken is None  # not broken from that thread
        assert not conn.usable
        assert conn._broken is not None


async def test_stray_bytes_while_idle_break_the_connection() -> None:
    async with scripted() as (conn, peer):
        await peer.send_all(b"+PONG\r\n")
        await wait_until(lambda: not conn.usable, what="the stray reply to be seen")
        with pytest.raises(ThoonkConnectionError, match="a reply nobody asked for"):
            await conn.execute("PING")


async def failing_call(conn: Connection, errors: list[ThoonkConnectionError]) -> None:
    with pytest.raises(ThoonkConnectionError) as info:
        await conn.execute("GET", "a")
    errors.append(info.value)


async def test_a_hang_up_mid_reply_fails_the_direct_caller() -> None:
    async with scripted() as (conn, peer):
        errors: list[ThoonkConnectionError] = []
        with trio.fail_after(5):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(failing_call, conn, errors)
                await read_request(peer, GET_A)
                await peer.send_all(b"$10\r\nhal")
                await peer.aclose()
        assert len(errors) == 1
        assert "closed the connection" in str(errors[0])
        assert "may or may not have run" in str(errors[0])
        assert conn.direct_calls == 1
        assert not conn.usable


async def test_closing_the_connection_fails_the_direct_caller() -> None:
    async with scripted() as (conn, peer):
        errors: list[ThoonkConnectionError] = []
        with trio.fail_after(5):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(failing_call, conn, errors)
                await read_request(peer, GET_A)
                await conn.aclose()
        assert [str(e) for e in errors] == [f"the connection to Redis at {conn.where} is closed"]
        assert conn.direct_calls == 1
        assert not conn.usable and conn.in_flight == 0


async def test_a_silent_server_times_the_direct_caller_out(autojump_clock: object) -> None:
    async with scripted(response_timeout=3.0) as (conn, _peer):
        start = trio.current_time()
        with pytest.raises(ThoonkTimeoutError, match="did not reply within 3 s"):
            await conn.execute("PING")
        assert trio.current_time() - start == pytest.approx(3.0)
        assert conn.direct_calls == 1
        assert not conn.usable


# ---------------------------------------------------------------- real server


async def test_a_command_after_an_idle_hang_up_is_sent_on_a_new_connection(
    redis_url: str, sync_redis: redis.Redis
) -> None:
    """Not idempotent, yet not failed: the hang-up is seen before it is sent."""
    async with open_redis(redis_url) as client:
        conn = await client.connection()
        assert await client.execute("SET", "direct:n", 0) == b"OK"
        sync_redis.execute_command("CLIENT", "KILL", "ID", await client.execute("CLIENT", "ID"))
        # Wait for the hang-up to reach the socket without reading it (usable would).
        assert conn._plain is not None
        readable, _, _ = select.select([conn._plain._sock], [], [], 10)
        assert readable
        assert await client.execute("INCR", "direct:n") == 1
        assert conn is not await client.connection()
    assert sync_redis.get("direct:n") == b"1"


async def test_callers_cancelled_at_random_never_get_another_callers_reply(
    redis_url: str,
) -> None:
    rng = random.Random(13)
    async with open_redis(redis_url) as client:
        conn = await client.connection()
        mismatches: list[tuple[bytes, object]] = []
        cancelled = 0

        async def caller(n: int) -> None:
            nonlocal cancelled
            for i in range(40):
                token = f"{n}-{i}".encode()
                with trio.move_on_after(rng.choice([0, 0.00005, 0.0002, 1])) as scope:
                    reply = await client.execute("ECHO", token)
                    if reply != token:
                        mismatches.append((token, reply))
                cancelled += scope.cancelled_caught
                if rng.random() < 0.5:
                    await trio.lowlevel.checkpoint()  # alone on the connection now and then

        with trio.fail_after(30):
            async with trio.open_nursery() as nursery:
                for n in range(8):
                    nursery.start_soon(caller, n)
            for n in range(3):  # then one at a time: the direct path, after the chaos
                await caller(100 + n)
            assert await client.execute("ECHO", b"last") == b"last"
        assert mismatches == []
        assert conn is await client.connection()  # still in step: never broken
        assert conn.direct_calls > 0 and cancelled > 0
