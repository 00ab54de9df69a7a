"""The gets of one process waiting on one queue share one wait, and an item wakes one.

What ``objects/_queue_waits.py`` promises: one blocking connection per
queue however many gets wait, one take script per item, first come first
served, and no item lost to a get that times out or is cancelled as the item
is handed to it (the cases are forced here by handing an entry to a waiter in
the same step as it is cancelled, as the pump does when a take returns).
"""

from __future__ import annotations

from typing import Any

import pytest
import redis
import trio

from thoonk_actors import WrongTypeError
from thoonk_actors.contract import QueueKeys
from thoonk_actors.objects import Queue, Thoonk
from thoonk_actors.objects._queue_waits import shared_waits, waiting

from ..contract._redis import x
from ..polling import wait_until
from ._waits import in_line

KEYS = QueueKeys.of("tasks")


@pytest.fixture
def tasks(thoonk: Thoonk) -> Queue:
    return thoonk.queue("tasks")


async def test_a_hundred_waiting_gets_share_one_connection_and_an_item_wakes_one(
    thoonk: Thoonk, tasks: Queue, sync_redis: redis.Redis
) -> None:
    count = 100
    got: list[Any] = []

    async def consume() -> None:
        got.append(await thoonk.queue("tasks").get())

    await tasks.length()  # the shared connection is open before counting
    clients_before = int(sync_redis.info("clients")["connected_clients"])
    with trio.fail_after(60):
        async with trio.open_nursery() as nursery:
            for _ in range(count):
                nursery.start_soon(consume)
            await in_line(thoonk, sync_redis, count)
            # One connection waits for the hundred (one BLMOVE blocked), and it is
            # the only new one (connections of earlier tests may still be closing,
            # so the count may also fall: on a cluster it is summed over 3 nodes).
            await wait_until(
                lambda: int(sync_redis.info("clients")["blocked_clients"]) == 1,
                what="the one shared wait to block",
            )
            assert int(sync_redis.info("clients")["connected_clients"]) <= clients_before + 1
            waits = shared_waits(thoonk, KEYS)
            takes = waits.takes
            for n in range(count):
                await tasks.put(n)
                await wait_until(lambda n=n: len(got) == n + 1, what=f"item {n} to be got")
                # Exactly one get woke; the others still wait.
                assert waiting(thoonk, KEYS) == count - n - 1
            # One take script per item (a wait that times out takes nothing).
            assert waits.takes - takes == count
    assert got == list(range(count))  # first come, first served, one item each
    assert await tasks.length() == 0


async def test_waiting_gets_are_served_first_come_first_served(
    thoonk: Thoonk, tasks: Queue, sync_redis: redis.Redis
) -> None:
    got: dict[int, Any] = {}

    async def consume(i: int) -> None:
        got[i] = await tasks.get(timeout=30)

    with trio.fail_after(30):
        async with trio.open_nursery() as nursery:
            for i in range(5):
                nursery.start_soon(consume, i)
                await in_line(thoonk, sync_redis, i + 1)
            await tasks.put_many(["a", "b", "c", "d", "e"])  # one take hands all five
    assert got == {0: "a", 1: "b", 2: "c", 3: "d", 4: "e"}


async def test_a_timed_out_get_leaves_the_line_and_the_others_keep_waiting(
    thoonk: Thoonk, tasks: Queue, sync_redis: redis.Redis
) -> None:
    got: dict[str, Any] = {}

    async def consume(who: str, seconds: float | None) -> None:
        got[who] = await tasks.get(timeout=seconds)

    with trio.fail_after(30):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(consume, "patient", None)
            await in_line(thoonk, sync_redis, 1)
            nursery.start_soon(consume, "hasty", 0.2)
            await wait_until(lambda: "hasty" in got, what="the timed get to give up")
            assert got == {"hasty": None} and waiting(thoonk, KEYS) == 1
            await tasks.put("late")
    assert got == {"hasty": None, "patient": "late"}


async def test_an_item_handed_to_a_cancelled_get_goes_to_the_next_in_line(
    thoonk: Thoonk, tasks: Queue, sync_redis: redis.Redis
) -> None:
    got: dict[str, Any] = {}
    scopes = {"first": trio.CancelScope(), "second": trio.CancelScope()}

    async def consume(who: str) -> None:
        with scopes[who]:
            got[who] = await tasks.get()

    with trio.fail_after(30):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(consume, "first")
            await in_line(thoonk, sync_redis, 1)
            nursery.start_soon(consume, "second")
            await in_line(thoonk, sync_redis, 2)
            # In one step, as when a take returns: "first" is cancelled, and
            # the item taken for it is handed to it before it can run again.
            scopes["first"].cancel()
            assert shared_waits(thoonk, KEYS)._give([("x", b'"x"')]) == []
    assert got == {"second": "x"}
    assert scopes["first"].cancelled_caught
    assert await tasks.length() == 0


async def test_an_item_handed_to_a_cancelled_get_with_nobody_in_line_goes_back_to_the_head(
    thoonk: Thoonk, tasks: Queue, sync_redis: redis.Redis
) -> None:
    scope = trio.CancelScope()

    async def consume() -> None:
        with scope:
            await tasks.get()
            raise AssertionError("the cancelled get returned an item")

    with trio.fail_after(30):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(consume)
            await in_line(thoonk, sync_redis, 1)
            scope.cancel()
            assert shared_waits(thoonk, KEYS)._give([("x", b'"x"')]) == []
        # Back, id and item, by the time the cancelled get has returned.
        assert x(sync_redis, "LRANGE", "queue.ids:tasks", 0, -1) == [b"x"]
        assert x(sync_redis, "HGET", "queue.items:tasks", "x") == b'"x"'
        await tasks.put("later")
        assert [await tasks.get(), await tasks.get()] == ["x", "later"]  # at the head


async def test_cancelling_some_of_several_gets_as_items_arrive_never_loses_one(
    thoonk: Thoonk, tasks: Queue, sync_redis: redis.Redis
) -> None:
    """Three gets wait; an item arrives while one of them is cancelled at varying
    moments: every item is got exactly once or still queued."""
    got: list[int] = []

    async def consume(scope: trio.CancelScope) -> None:
        with scope:
            while True:
                got.append(await tasks.get())

    async def put(n: int) -> None:
        with trio.CancelScope(shield=True):
            await tasks.put(n)

    with trio.fail_after(120):
        for n in range(60):
            scopes = [trio.CancelScope() for _ in range(3)]
            async with trio.open_nursery() as nursery:
                for scope in scopes:
                    nursery.start_soon(consume, scope)
                await in_line(thoonk, sync_redis, 3)
                nursery.start_soon(put, n)
                for _ in range(n % 40):
                    await trio.lowlevel.checkpoint()
                scopes[n % 3].cancel()
                for _ in range(n % 7):
                    await trio.lowlevel.checkpoint()
                nursery.cancel_scope.cancel()
        left: list[int] = []
        while True:
            try:
                left.append(await tasks.get_nowait())
            except trio.WouldBlock:
                break
    assert sorted(got + left) == list(range(60))
    assert x(sync_redis, "KEYS", "queue.items:*") == []


async def test_an_error_of_the_shared_wait_reaches_every_get_in_line(
    thoonk: Thoonk, tasks: Queue, sync_redis: redis.Redis
) -> None:
    errors: list[BaseException] = []

    async def consume() -> None:
        try:
            await tasks.get()
        except WrongTypeError as exc:
            errors.append(exc)

    with trio.fail_after(30):
        async with trio.open_nursery() as nursery:
            for _ in range(3):
                nursery.start_soon(consume)
            await in_line(thoonk, sync_redis, 3)
            sync_redis.set("queue.ids:tasks", "not a list")  # wakes the BLMOVE with an error
    assert len(errors) == 3
    assert waiting(thoonk, KEYS) == 0
