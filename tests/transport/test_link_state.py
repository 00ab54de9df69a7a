"""``RedisClient.link_state()``: status lines show an outage at once and clear when it heals."""

from __future__ import annotations

import contextlib

import trio

from thoonk_actors.transport import ThoonkConnectionError, open_redis

from ..polling import wait_until
from ._private_server import PrivateRedis


async def test_link_state_goes_down_at_the_first_failed_attempt_and_up_when_back() -> None:
    with PrivateRedis() as server, trio.fail_after(60):
        # A long reconnect_timeout: the state must not wait for the call to give up.
        async with open_redis(server.url, reconnect_timeout=30) as redis:
            await redis.execute("PING")
            assert redis.link_state().connected

            server.stop()
            failed = trio.Event()

            async def call_while_down() -> None:
                # A read (re-sent across reconnects) that keeps the client trying.
                # It may give up, or go through once the server is back.
                with contextlib.suppress(ThoonkConnectionError):
                    await redis.execute("PING", idempotent=True)
                failed.set()

            async with trio.open_nursery() as nursery:
                nursery.start_soon(call_while_down)
                await wait_until(
                    lambda: redis.link_state().error is not None, what="the outage", deadline=10
                )
                state = redis.link_state()
                assert not state.connected
                assert state.down_since is not None
                assert "ThoonkConnectionError" in state.error
                assert not failed.is_set(), "the state was known before the call gave up"

                server.start()
                await failed.wait()
            await redis.execute("PING")
            assert redis.link_state().connected
            assert redis.link_state().error is None
