"""A broken connection is reported one way: ThoonkConnectionError, one message format.

The translation itself (``_broken.StreamErrors``) with each kind of failure a
stream raises, then the paths that use it: a real server that kills the
connection (CLIENT KILL), a TCP peer that resets it, a peer that answers the
handshake with bytes that are not RESP.
"""

from __future__ import annotations

import errno
import socket
import struct
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from functools import partial

import hiredis
import pytest
import redis
import trio

from tests.polling import wait_until
from thoonk_actors import ThoonkConnectionError, ThoonkTimeoutError
from thoonk_actors.transport import Connection, RedisConfig
from thoonk_actors.transport._broken import StreamErrors
from thoonk_actors.transport._connect import connect_stream

WHERE = "redis://127.0.0.1:6379/0"
FORMAT = r"^the connection to Redis at redis://127\.0\.0\.1:6379/0 broke \({why}\); {then}$"
IN_FLIGHT = "commands in flight may or may not have run"


def _broken_pipe() -> trio.BrokenResourceError:
    # What trio's streams raise: the OSError that did it as the cause.
    exc = trio.BrokenResourceError()
    exc.__cause__ = BrokenPipeError(errno.EPIPE, "Broken pipe")
    return exc


@pytest.mark.parametrize(
    ("failure", "why"),
    [
        (ConnectionResetError(errno.ECONNRESET, "Connection reset by peer"), "Connection reset.*"),
        (_broken_pipe(), "Broken pipe"),
        (trio.BrokenResourceError(), "BrokenResourceError"),
        (trio.ClosedResourceError(), "this client closed it"),
        (hiredis.ProtocolError("got H"), "the server sent bytes that are not RESP: got H; .*"),
    ],
    ids=["reset", "broken-pipe", "broken-no-cause", "closed-here", "not-resp"],
)  # fmt: skip
def test_each_stream_failure_becomes_one_connection_error(failure: Exception, why: str) -> None:
    with pytest.raises(ThoonkConnectionError, match=FORMAT.format(why=why, then=IN_FLIGHT)) as info:
        with StreamErrors(WHERE):
            raise failure
    assert info.value.__cause__ is failure


@pytest.mark.parametrize("other", [ValueError("a bug"), ThoonkTimeoutError("slow")])
def test_other_errors_pass_through_untouched(other: Exception) -> None:
    with pytest.raises(type(other)) as info, StreamErrors(WHERE):
        raise other
    assert info.value is other


def test_the_consequence_is_the_callers_to_say() -> None:
    with pytest.raises(ThoonkConnectionError, match=r"broke \(Broken pipe\); nothing was sent$"):
        with StreamErrors(WHERE, "nothing was sent"):
            raise BrokenPipeError(errno.EPIPE, "Broken pipe")


# --------------------------------------------------- through a real connection


async def test_a_call_in_flight_when_the_server_kills_the_connection(
    redis_url: str, sync_redis: redis.Redis
) -> None:
    config = RedisConfig.from_url(redis_url, client_name="broken-victim")
    async with trio.open_nursery() as nursery:
        conn = await Connection.open(config, nursery, blocking=True)

        def victim() -> int | None:
            for client in sync_redis.client_list():
                if client["name"] == "broken-victim" and client["cmd"] == "blpop":
                    return int(client["id"])
            return None

        with trio.fail_after(15):
            async with trio.open_nursery() as callers:
                errors: list[ThoonkConnectionError] = []

                async def call() -> None:
                    with pytest.raises(ThoonkConnectionError) as info:
                        await conn.execute("BLPOP", "broken:never", 0)
                    errors.append(info.value)

                callers.start_soon(call)
                await wait_until(lambda: victim() is not None, what="the BLPOP to block")
                assert sync_redis.client_kill_filter(_id=str(victim())) == 1
        assert [e.args[0] for e in errors] == [
            f"the connection to Redis at {config.describe()} broke "
            f"(Redis closed the connection); {IN_FLIGHT}"
        ]
        assert not conn.usable
        nursery.cancel_scope.cancel()


@asynccontextmanager
async def scripted_tcp_peer(
    script: Callable[[trio.SocketStream], Awaitable[None]],
) -> AsyncIterator[int]:
    """A TCP listener on 127.0.0.1 running ``script(stream)`` per connection; its port."""
    async with trio.open_nursery() as nursery:
        listeners = await nursery.start(partial(trio.serve_tcp, script, 0, host="127.0.0.1"))
        yield listeners[0].socket.getsockname()[1]
        nursery.cancel_scope.cancel()


async def _read_then_reset(stream: trio.SocketStream) -> None:
    await stream.receive_some(1024)
    # SO_LINGER 0: close() sends a RST, so the client's recv fails with ECONNRESET.
    stream.socket.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    stream.socket.close()


async def _answer_http(stream: trio.SocketStream) -> None:
    await stream.receive_some(1024)
    await stream.send_all(b"HTTP/1.1 400 Bad Request\r\n\r\n")
    await trio.sleep_forever()


async def test_a_peer_that_resets_the_connection_fails_the_caller_with_the_cause() -> None:
    async with scripted_tcp_peer(_read_then_reset) as port:
        config = RedisConfig(host="127.0.0.1", port=port)
        async with trio.open_nursery() as nursery:
            conn = await Connection.open(config, nursery)
            with trio.fail_after(15), pytest.raises(ThoonkConnectionError) as info:
                await conn.execute("PING")
            nursery.cancel_scope.cancel()
    assert info.value.args[0] == (
        f"the connection to Redis at {config.describe()} broke "
        f"(Connection reset by peer); {IN_FLIGHT}"
    )
    assert isinstance(info.value.__cause__, ConnectionResetError)


async def test_bytes_that_are_not_resp_during_the_handshake_are_a_connection_error() -> None:
    async with scripted_tcp_peer(_answer_http) as port:
        config = RedisConfig(host="127.0.0.1", port=port, client_name="greeted")
        with trio.fail_after(15), pytest.raises(ThoonkConnectionError) as info:
            await connect_stream(config)
    message = info.value.args[0]
    assert message.startswith(f"the connection to Redis at {config.describe()} broke (")
    assert "not RESP" in message and message.endswith("no command of yours was sent")
    assert isinstance(info.value.__cause__, hiredis.ProtocolError)
