"""A script sent right behind a blocking command (``evalsha_behind_block``), cut or not.

Policy: real Redis (the session's server, a fresh database per test); the
sync redis-py client is the witness of what ran (the script counts its runs
in a key). Every wait on an effect polls with a trio deadline; the moment a
cut lands is chosen by watching ``CLIENT LIST`` (the blocking connection is
blocked in ``blmove``), never by sleeping.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from typing import Any

import pytest
import redis
import trio

from thoonk_actors import ThoonkConnectionError
from thoonk_actors.transport import RedisClient, open_redis

from ..polling import wait_until
from ..security._urls import url_with_user

DEADLINE = 15


@dataclass(frozen=True)
class Script:
    source: str
    sha1: str


def script(source: str) -> Script:
    return Script(source, hashlib.sha1(source.encode()).hexdigest())


#: Counts its runs; returns the new count.
COUNT = script("return redis.call('INCR', KEYS[1])")
BLOCK = ("BLMOVE", "waits", "waits", "RIGHT", "RIGHT", 5)


def blocked_ids(witness: redis.Redis) -> set[int]:
    """The connections of this test's database blocked in BLMOVE."""
    db = int(witness.connection_pool.connection_kwargs.get("db", 0))
    return {
        int(c["id"])
        for c in witness.client_list()
        if c.get("cmd") == "blmove" and "b" in c["flags"] and int(c["db"]) == db
    }


async def behind(client: RedisClient) -> tuple[Any, Any]:
    return await client.evalsha_behind_block(BLOCK, COUNT, ["runs"], block_s=5)


async def test_the_script_runs_as_soon_as_the_block_is_served(
    redis_url: str, sync_redis: redis.Redis
) -> None:
    with trio.fail_after(DEADLINE):
        async with open_redis(redis_url) as client:
            got: list[tuple[Any, Any]] = []

            async def call() -> None:
                got.append(await behind(client))

            async with trio.open_nursery() as nursery:
                nursery.start_soon(call)
                await wait_until(lambda: bool(blocked_ids(sync_redis)), what="the block")
                assert sync_redis.get("runs") is None  # queued behind the block, not run
                sync_redis.lpush("waits", "job-1")
            assert got == [(b"job-1", 1)]
            assert sync_redis.lrange("waits", 0, -1) == [b"job-1"]  # BLMOVE a a: kept


async def test_a_cancel_ends_the_block_and_the_script_still_runs_and_is_returned(
    redis_url: str, sync_redis: redis.Redis
) -> None:
    # Loaded (another test may have flushed the scripts): a cut that meets
    # NOSCRIPT runs nothing, test_a_cut_that_meets_noscript_... below.
    sync_redis.script_load(COUNT.source)
    with trio.fail_after(DEADLINE):
        async with open_redis(redis_url) as client:
            last: set[int] = set()
            for round_ in range(1, 4):
                got: list[tuple[Any, Any]] = []
                scope = trio.CancelScope()

                async def call(scope: trio.CancelScope = scope, got: list[Any] = got) -> None:
                    with scope:
                        got.append(await behind(client))
                        await trio.lowlevel.checkpoint()  # the cancel is seen here
                        got.append("not cancelled")

                async with trio.open_nursery() as nursery:
                    nursery.start_soon(call)
                    await wait_until(lambda: bool(blocked_ids(sync_redis)), what="the block")
                    ids = blocked_ids(sync_redis)
                    scope.cancel()
                assert got == [(None, round_)]  # BLMOVE ended as by its timeout; the script ran
                assert scope.cancelled_caught
                assert int(sync_redis.get("runs") or 0) == round_
                # The connection stayed in step: the same one blocks again next round.
                if round_ > 1:
                    assert ids == last
                last = ids


async def test_a_cancel_landing_as_the_block_is_served_loses_nothing(
    redis_url: str, sync_redis: redis.Redis
) -> None:
    # The push and the cut race: whichever wins, the script ran exactly once per
    # call and its reply came back.
    # Loaded: this is the race of the push and the cut (another test may have
    # flushed the scripts; a cut meeting NOSCRIPT is the next test's case).
    sync_redis.script_load(COUNT.source)
    with trio.fail_after(DEADLINE * 2):
        async with open_redis(redis_url) as client:
            returned = 0
            for i in range(30):
                got: list[tuple[Any, Any]] = []
                scope = trio.CancelScope()

                async def call(scope: trio.CancelScope = scope, got: list[Any] = got) -> None:
                    with scope:
                        got.append(await behind(client))

                async with trio.open_nursery() as nursery:
                    nursery.start_soon(call)
                    await wait_until(lambda: bool(blocked_ids(sync_redis)), what="the block")
                    await client.execute("LPUSH", "waits", f"job-{i}")
                    for _ in range(i % 5):
                        await trio.lowlevel.checkpoint()
                    scope.cancel()
                assert len(got) == 1 and got[0][1] == i + 1
                returned += 1
                await client.execute("DEL", "waits")
            assert int(sync_redis.get("runs") or 0) == returned == 30


async def test_a_cut_that_meets_noscript_ran_nothing_and_raises_the_cancel(
    redis_url: str, sync_redis: redis.Redis
) -> None:
    # NOSCRIPT: the script did not run behind the block. The caller was cancelled
    # meanwhile, so it is not run now: the cancel is raised and nothing ran.
    sync_redis.script_flush()
    with trio.fail_after(DEADLINE):
        async with open_redis(redis_url) as client:
            got: list[tuple[Any, Any]] = []
            with trio.CancelScope() as scope:

                async def cut_once_blocked() -> None:
                    await wait_until(lambda: bool(blocked_ids(sync_redis)), what="the block")
                    scope.cancel()

                async with trio.open_nursery() as nursery:
                    nursery.start_soon(cut_once_blocked)
                    got.append(await behind(client))
            assert scope.cancelled_caught
            assert got == []
            assert sync_redis.get("runs") is None
            sync_redis.lpush("waits", "job-1")
            assert await behind(client) == (b"job-1", 1)  # the next call runs it


async def test_noscript_behind_the_block_loads_the_script_and_runs_it_once(
    redis_url: str, sync_redis: redis.Redis
) -> None:
    fresh = script(f"-- {uuid.uuid4()}\nreturn redis.call('INCR', KEYS[1])")
    with trio.fail_after(DEADLINE):
        async with open_redis(redis_url) as client:
            sync_redis.lpush("waits", "job-1")
            assert await client.evalsha_behind_block(BLOCK, fresh, ["runs"], block_s=5) == (
                b"job-1",
                1,
            )
            sync_redis.script_flush()
            assert await client.evalsha_behind_block(BLOCK, fresh, ["runs"], block_s=5) == (
                b"job-1",
                2,
            )
    assert int(sync_redis.get("runs") or 0) == 2


async def test_a_cut_the_server_will_not_end_closes_the_connection_and_says_so(
    redis_url: str, sync_redis: redis.Redis
) -> None:
    # A user without CLIENT UNBLOCK: the block cannot be ended, so the connection
    # is closed and the caller told the script may or may not have run.
    user, password = f"noblock-{uuid.uuid4().hex[:6]}", "no-Unblock-pw"
    sync_redis.execute_command(
        "ACL",
        "SETUSER",
        user,
        "on",
        f">{password}",
        "~*",
        "&*",
        "+@all",
        "-client",
        "+client|id",
        "+client|setname",  # (Redis 6.2 removes no single subcommand)
    )
    try:
        url = url_with_user(redis_url, user, password)
        with trio.fail_after(DEADLINE):
            async with open_redis(url) as client:
                scope = trio.CancelScope()
                errors: list[BaseException] = []

                async def call() -> None:
                    with scope:
                        try:
                            await behind(client)
                        except ThoonkConnectionError as exc:
                            errors.append(exc)

                async with trio.open_nursery() as nursery:
                    nursery.start_soon(call)
                    await wait_until(lambda: bool(blocked_ids(sync_redis)), what="the block")
                    scope.cancel()
                assert len(errors) == 1
                assert "may or may not have run" in str(errors[0])
                assert "CLIENT UNBLOCK failed" in str(errors[0])
                await wait_until(lambda: not blocked_ids(sync_redis), what="the block to go")
    finally:
        sync_redis.execute_command("ACL", "DELUSER", user)
    assert sync_redis.get("runs") is None


@pytest.mark.parametrize("seconds", [0.05])
async def test_a_block_that_times_out_still_runs_the_script(
    redis_url: str, sync_redis: redis.Redis, seconds: float
) -> None:
    timed = ("BLMOVE", "waits", "waits", "RIGHT", "RIGHT", seconds)
    with trio.fail_after(DEADLINE):
        async with open_redis(redis_url) as client:
            assert await client.evalsha_behind_block(timed, COUNT, ["runs"], block_s=seconds) == (
                None,
                1,
            )
