"""Byte-level cases with a scripted RESP peer over trio memory streams.

These cover what a real server rarely does on demand: replies split at every
byte, a hang-up in the middle of a reply, bytes that are not RESP, a server
that stops answering. Behaviour against real Redis is in the other modules.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import hiredis
import pytest
import trio
import trio.testing

from thoonk_actors import ThoonkConnectionError, ThoonkTimeoutError
from thoonk_actors.transport import Connection, RedisConfig


@asynccontextmanager
async def scripted_connection(
    response_timeout: float | None = 30.0,
) -> AsyncIterator[tuple[Connection, trio.abc.Stream]]:
    client_side, server_side = trio.testing.memory_stream_pair()
    config = RedisConfig(response_timeout=response_timeout)
    conn = Connection(client_side, hiredis.Reader(), config)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(conn._run)
        yield conn, server_side
        await conn.aclose()


async def read_request(peer: trio.abc.Stream, expected: bytes) -> None:
    got = b""
    while len(got) < len(expected):
        got += await peer.receive_some(len(expected) - len(got))
    assert got == expected


async def test_reply_split_at_every_byte() -> None:
    async with scripted_connection() as (conn, peer), trio.open_nursery() as nursery:
        results: list[object] = []

        async def call() -> None:
            results.append(await conn.execute("LRANGE", "k", 0, -1))

        nursery.start_soon(call)
        await read_request(peer, b"*4\r\n$6\r\nLRANGE\r\n$1\r\nk\r\n$1\r\n0\r\n$2\r\n-1\r\n")
        for byte in b"*2\r\n$3\r\nab\x00\r\n:42\r\n":
            await peer.send_all(bytes([byte]))
            await trio.testing.wait_all_tasks_blocked()
    assert results == [[b"ab\x00", 42]]


async def test_hang_up_mid_reply_fails_the_caller_clearly() -> None:
    async with scripted_connection() as (conn, peer):
        with trio.fail_after(5):
            async with trio.open_nursery() as nursery:
                errors: list[BaseException] = []

                async def call() -> None:
                    try:
                        await conn.execute("GET", "k")
                    except ThoonkConnectionError as exc:
                        errors.append(exc)

                nursery.start_soon(call)
                await read_request(peer, b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n")
                await peer.send_all(b"$10\r\nhal")
                await peer.aclose()
        assert len(errors) == 1
        assert "closed the connection" in str(errors[0])
        assert "may or may not have run" in str(errors[0])
        assert not conn.usable
        with pytest.raises(ThoonkConnectionError):
            await conn.execute("PING")


async def test_bytes_that_are_not_resp_break_the_connection() -> None:
    async with scripted_connection() as (conn, peer):
        with trio.fail_after(5):
            async with trio.open_nursery() as nursery:
                errors: list[BaseException] = []

                async def call() -> None:
                    try:
                        await conn.execute("PING")
                    except ThoonkConnectionError as exc:
                        errors.append(exc)

                nursery.start_soon(call)
                await read_request(peer, b"*1\r\n$4\r\nPING\r\n")
                await peer.send_all(b"HTTP/1.1 400 Bad Request\r\n\r\n")
        assert len(errors) == 1
        assert "not RESP" in str(errors[0])


async def test_a_server_that_stops_answering_times_out(autojump_clock: object) -> None:
    async with scripted_connection(response_timeout=3.0) as (conn, _peer):
        start = trio.current_time()
        with pytest.raises(ThoonkTimeoutError, match="did not reply within 3 s"):
            await conn.execute("PING")
        assert trio.current_time() - start == pytest.approx(3.0)
        assert not conn.usable


async def test_cancelled_caller_reply_goes_to_nobody() -> None:
    async with scripted_connection() as (conn, peer):
        async with trio.open_nursery() as nursery:
            got: list[object] = []
            first = trio.CancelScope()

            async def cancelled_call() -> None:
                with first:
                    await conn.execute("GET", "a")

            async def second_call() -> None:
                got.append(await conn.execute("GET", "b"))

            nursery.start_soon(cancelled_call)
            await read_request(peer, b"*2\r\n$3\r\nGET\r\n$1\r\na\r\n")
            first.cancel()
            await trio.testing.wait_all_tasks_blocked()
            nursery.start_soon(second_call)
            await read_request(peer, b"*2\r\n$3\r\nGET\r\n$1\r\nb\r\n")
            await peer.send_all(b"$7\r\nfor-a!!\r\n$5\r\nfor-b\r\n")
        assert first.cancelled_caught
        assert got == [b"for-b"]
        assert conn.usable and conn.in_flight == 0
