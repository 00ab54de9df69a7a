"""A server that is down, or connections that keep breaking: callers stay prompt.

Policy: a private redis-server a test may kill; the supervisor's delays are
checked on trio's virtual clock (autojump), the outage against the real
server with trio's clock used only as a loose bound.
"""

from __future__ import annotations

import itertools
import logging

import pytest
import trio
import trio.testing

from thoonk_actors import ThoonkConnectionError, open_thoonk
from thoonk_actors.runtime._supervise import CONNECTION_MAX_DELAY, supervise

from ..polling import wait_until
from ..transport._private_server import PrivateRedis

RECONNECT = 60.0  # large on purpose: a cancelled caller must not wait for it


async def test_a_cancelled_get_returns_promptly_while_the_server_is_down() -> None:
    with PrivateRedis() as server:
        async with open_thoonk(server.url, reconnect_timeout=RECONNECT) as thoonk:
            job = thoonk.job("q")
            await job.publish("warm the connection")
            assert await job.get(timeout=0) is not None
            conn = await thoonk.redis.connection()
            server.kill()
            await wait_until(lambda: not conn.usable, what="the dead server to be noticed")
            started = trio.current_time()
            with trio.move_on_after(0.5) as scope:
                await job.get()  # claims in a loop: the claim waits for a reconnect
            assert scope.cancelled_caught
            # Loose bound: far below the reconnect timeout the claim would wait for.
            assert trio.current_time() - started < RECONNECT / 4


async def test_connection_errors_restart_a_loop_quickly_crashes_back_off(
    autojump_clock: trio.testing.MockClock, caplog: pytest.LogCaptureFixture
) -> None:
    starts: list[float] = []

    async def flaky_link() -> None:
        starts.append(trio.current_time())
        if len(starts) < 8:
            raise ThoonkConnectionError("the connection broke")

    await supervise(flaky_link, what="loop", logger=logging.getLogger("test"))
    pauses = [b - a for a, b in itertools.pairwise(starts)]
    assert max(pauses) == CONNECTION_MAX_DELAY  # never the crash backoff's 5 s
    assert pauses == sorted(pauses)

    crash_starts: list[float] = []

    async def crashing() -> None:
        crash_starts.append(trio.current_time())
        if len(crash_starts) < 10:
            raise RuntimeError("a bug")

    await supervise(crashing, what="loop", logger=logging.getLogger("test"))
    crash_pauses = [b - a for a, b in itertools.pairwise(crash_starts)]
    assert max(crash_pauses) == 5.0


async def test_a_loop_that_ran_is_restarted_at_once_after_each_connection_error(
    autojump_clock: trio.testing.MockClock,
) -> None:
    # The connection chaos cause: kills every ~0.4 s, so no run lasted the old
    # 1-s "healed" mark, and the claimer sat out a 0.4-0.5 s pause after every
    # kill while the buffered jobs ran out. A run that worked at all (its first
    # command waited for the server in the client's reconnect loop) is followed
    # by no pause of ours.
    starts: list[float] = []

    async def killed_every_400ms() -> None:
        starts.append(trio.current_time())
        await trio.sleep(0.4)
        if len(starts) < 6:
            raise ThoonkConnectionError("the connection broke")

    await supervise(killed_every_400ms, what="loop", logger=logging.getLogger("test"))
    assert starts == pytest.approx([0.0, 0.4, 0.8, 1.2, 1.6, 2.0])


async def test_a_cancelled_queue_get_returns_promptly_while_the_server_is_down() -> None:
    with PrivateRedis() as server:
        async with open_thoonk(server.url, reconnect_timeout=RECONNECT) as thoonk:
            queue = thoonk.queue("tasks")
            await queue.put("warm the connection")
            assert await queue.get(timeout=0) == "warm the connection"
            conn = await thoonk.redis.connection()
            server.kill()
            await wait_until(lambda: not conn.usable, what="the dead server to be noticed")
            started = trio.current_time()
            with trio.move_on_after(0.5) as scope:
                await queue.get()  # the take waits for a reconnect first
            assert scope.cancelled_caught
            # Loose bound: far below the reconnect timeout the take would wait for.
            assert trio.current_time() - started < RECONNECT / 4
