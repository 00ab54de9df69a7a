"""Queue objects against real Redis: order, blocking gets, cancellation, concurrency.

Blocking is observed, never slept on: a test waits until Redis reports the
consumer as blocked (``INFO clients``) before it acts, and every wait has a
Trio deadline.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
import redis
import trio

from thoonk_actors._errors import (
    DuplicateIdError,
    InvalidIdError,
    PayloadError,
    PayloadTooLargeError,
    UsageError,
    WrongTypeError,
)
from thoonk_actors.contract import JsonCodec
from thoonk_actors.objects import Queue, Thoonk

from ..contract._redis import snapshot, x
from ..polling import wait_until
from ._waits import in_line


@pytest.fixture
def tasks(thoonk: Thoonk) -> Queue:
    return thoonk.queue("tasks")


async def blocked(sync_redis: redis.Redis, n: int) -> None:
    """Wait until ``n`` clients are blocked in BLMOVE."""
    await wait_until(
        lambda: int(sync_redis.info("clients")["blocked_clients"]) == n,
        what=f"{n} blocked consumer(s)",
    )


# ------------------------------------------------------------------- ordering


async def test_put_stores_the_contract_layout(tasks: Queue, sync_redis: redis.Redis) -> None:
    generated = await tasks.put({"n": 1})
    assert uuid.UUID(generated).version == 4 and len(generated) == 36
    assert await tasks.put("urgent", priority=True, id="p") == "p"
    assert x(sync_redis, "LRANGE", "queue.ids:tasks", 0, -1) == [generated.encode(), b"p"]
    assert x(sync_redis, "HGETALL", "queue.items:tasks") == {
        generated.encode(): b'{"n":1}',
        b"p": b'"urgent"',
    }
    assert x(sync_redis, "GET", "queue.publishes:tasks") == b"2"
    assert x(sync_redis, "SMEMBERS", "queues") == {b"tasks"}
    assert await tasks.length() == 2


async def test_fifo_with_priority_items_first_newest_first(
    tasks: Queue, sync_redis: redis.Redis
) -> None:
    for n in range(3):
        await tasks.put(n, id=f"n{n}")
    await tasks.put("p1", priority=True, id="p1")
    await tasks.put("p2", priority=True, id="p2")
    # normal: LPUSH (the back), priority: RPUSH (the head), get pops the right end
    assert x(sync_redis, "LRANGE", "queue.ids:tasks", 0, -1) == [
        b"n2", b"n1", b"n0", b"p1", b"p2",
    ]  # fmt: skip
    got = [await tasks.get() for _ in range(5)]
    assert got == ["p2", "p1", 0, 1, 2]
    assert await tasks.length() == 0
    assert x(sync_redis, "KEYS", "queue.items:*") == []  # every item left with its id


async def test_put_many_keeps_the_order(tasks: Queue) -> None:
    assert await tasks.put_many([]) == []
    ids = await tasks.put_many([{"n": n} for n in range(50)])
    assert len(set(ids)) == 50
    await tasks.put_many(["first", "second"], priority=True)
    assert [await tasks.get_nowait() for _ in range(3)] == ["second", "first", {"n": 0}]
    assert await tasks.length() == 49


async def test_get_nowait(tasks: Queue) -> None:
    with pytest.raises(trio.WouldBlock):
        await tasks.get_nowait()
    await tasks.put(None)  # JSON null: get_nowait tells it from "empty"
    assert await tasks.get_nowait() is None
    with pytest.raises(trio.WouldBlock):
        await tasks.get_nowait()


# ------------------------------------------------------------------- blocking


async def test_get_times_out_with_none(tasks: Queue, sync_redis: redis.Redis) -> None:
    start = trio.current_time()
    assert await tasks.get(timeout=0) is None
    assert await tasks.get(timeout=0.2) is None
    elapsed = trio.current_time() - start
    assert 0.2 <= elapsed < 5
    assert x(sync_redis, "KEYS", "*") == []  # waiting wrote nothing


async def test_a_blocked_get_is_woken_by_a_put(
    thoonk: Thoonk, tasks: Queue, sync_redis: redis.Redis
) -> None:
    got: list[Any] = []

    async def consume() -> None:
        got.append(await tasks.get())

    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(consume)
            await blocked(sync_redis, 1)
            await thoonk.queue("tasks").put({"hello": "world"})
    assert got == [{"hello": "world"}]
    assert await tasks.length() == 0


async def test_a_get_with_timeout_returns_the_item_that_arrives(
    tasks: Queue, sync_redis: redis.Redis
) -> None:
    got: list[Any] = []

    async def consume() -> None:
        got.append(await tasks.get(timeout=30))

    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(consume)
            await blocked(sync_redis, 1)
            await tasks.put("late")
    assert got == ["late"]


async def test_a_cancelled_get_leaves_the_item_for_the_next(
    tasks: Queue, sync_redis: redis.Redis
) -> None:
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(tasks.get)
            await blocked(sync_redis, 1)
            nursery.cancel_scope.cancel()
        await blocked(sync_redis, 0)
        await tasks.put("kept")
        assert await tasks.length() == 1
        assert await tasks.get() == "kept"


async def test_cancelling_while_items_arrive_never_loses_one(
    tasks: Queue, sync_redis: redis.Redis
) -> None:
    """Cancel a consumer right as its item arrives, at varying moments: every item
    is either got by it or still queued for the next consumer."""
    got: list[int] = []

    async def consume() -> None:
        while True:
            got.append(await tasks.get())

    async def put(n: int) -> None:
        with trio.CancelScope(shield=True):  # only the consumer is cancelled
            await tasks.put(n)

    with trio.fail_after(60):
        for n in range(100):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(consume)
                await blocked(sync_redis, 1)
                nursery.start_soon(put, n)
                for _ in range(n % 60):
                    await trio.lowlevel.checkpoint()
                nursery.cancel_scope.cancel()
        left: list[int] = []
        while True:
            try:
                left.append(await tasks.get_nowait())
            except trio.WouldBlock:
                break
    assert sorted(got + left) == list(range(100))
    assert x(sync_redis, "KEYS", "queue.items:*") == []


async def test_eight_consumers_get_each_of_500_items_once(
    thoonk: Thoonk, sync_redis: redis.Redis
) -> None:
    consumers, count = 8, 500
    got: list[list[int]] = [[] for _ in range(consumers)]

    async def consume(mine: list[int]) -> None:
        queue = thoonk.queue("work")
        while True:
            item = await queue.get()
            if item == "stop":
                return
            mine.append(item)

    async def produce() -> None:
        queue = thoonk.queue("work")
        for start in range(0, count, 50):
            await queue.put_many(range(start, start + 50))
            await trio.lowlevel.checkpoint()
        # FIFO: every item is taken before the first stop is
        await queue.put_many(["stop"] * consumers)

    with trio.fail_after(60):
        async with trio.open_nursery() as nursery:
            for mine in got:
                nursery.start_soon(consume, mine)
            await in_line(thoonk, sync_redis, consumers, name="work")
            nursery.start_soon(produce)
    everything = [n for mine in got for n in mine]
    assert sorted(everything) == list(range(count))  # each exactly once
    assert all(mine == sorted(mine) for mine in got)  # each consumer saw them in order
    assert sum(1 for mine in got if mine) > 1  # the work was shared
    assert await thoonk.queue("work").length() == 0
    assert x(sync_redis, "KEYS", "queue.items:*") == []


# ------------------------------------------------------------------- refusals


async def test_refused_input_writes_nothing(thoonk: Thoonk, sync_redis: redis.Redis) -> None:
    tasks = thoonk.queue("tasks")
    await tasks.put("queued", id="a")
    tiny = thoonk.queue("tasks", codec=JsonCodec(max_size=4))
    before = snapshot(sync_redis)
    refusals: list[tuple[type[Exception], str, Callable[[], Awaitable[Any]]]] = [
        (DuplicateIdError, "'a' in queue 'tasks' already exists", lambda: tasks.put(1, id="a")),
        (InvalidIdError, "empty", lambda: tasks.put(1, id="")),
        (InvalidIdError, "NUL", lambda: tasks.put(1, id="\0")),
        (PayloadError, "JSON", lambda: tasks.put(object())),
        (PayloadError, "JSON", lambda: tasks.put_many([1, object()])),  # none of them
        (PayloadTooLargeError, "limit of 4", lambda: tiny.put("too long")),
        (UsageError, "timeout", lambda: tasks.get(timeout=-1)),
        (UsageError, "timeout", lambda: tasks.get(timeout=math.nan)),
        (UsageError, "timeout", lambda: tasks.get(timeout="1")),  # type: ignore[arg-type]
        (UsageError, "not a queue setting", lambda: tasks.configure(max_length=3)),
    ]
    for error, message, attempt in refusals:
        with pytest.raises(error, match=message):
            await attempt()
        assert snapshot(sync_redis) == before, message


@pytest.mark.parametrize("key", ["queue.ids:tasks", "queue.items:tasks", "queues"])
async def test_a_key_of_another_type_is_refused_and_kept(
    tasks: Queue, sync_redis: redis.Redis, key: str
) -> None:
    x(sync_redis, "SET", key, "someone else's")
    before = snapshot(sync_redis)
    with pytest.raises(WrongTypeError, match="another program"):
        await tasks.put("x")
    if key != "queues":  # get does not touch the registry
        with pytest.raises(WrongTypeError):
            await tasks.get_nowait()
        with pytest.raises(WrongTypeError):
            await tasks.get(timeout=5)
    if key == "queue.ids:tasks":
        with pytest.raises(WrongTypeError):
            await tasks.length()
    assert snapshot(sync_redis) == before


async def test_an_item_that_cannot_be_decoded_names_its_id(
    tasks: Queue, sync_redis: redis.Redis
) -> None:
    # written by a client that does not JSON-encode
    x(sync_redis, "LPUSH", "queue.ids:tasks", "raw-1")
    x(sync_redis, "HSET", "queue.items:tasks", "raw-1", "plain text")
    with pytest.raises(PayloadError, match=r"'raw-1' taken off queue 'tasks'.*not JSON"):
        await tasks.get(timeout=5)
    assert await tasks.length() == 0
