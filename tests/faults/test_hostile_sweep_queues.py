"""A property-based sweep of the Queue operations with hostile input.

``put`` / ``put_many`` with hostile ids and items, ``get`` with hostile and
blocking timeouts (bounded here by a trio cancel: a get cancelled while it
waits must take nothing), ``get_nowait`` and ``length``, on a queue that may
be empty, or where another client overwrote a key with the wrong type or
queued an id with no item. Each call returns a correct result (checked against
what was stored) or raises a typed ``ThoonkError`` (``get_nowait`` on an empty
queue raises ``trio.WouldBlock``, as documented); a refused call changes
nothing (a ``DUMP`` of the whole keyspace before and after), a successful one
changes only its own queue.

Not swept, on purpose: ``events()`` and ``channel`` (a queue publishes no
events). The lifecycle calls are swept here on the queue's own state and in
test_hostile_sweep_registry.py with hostile configs.

Bounded for CI; ``THOONK_SOAK=1`` runs many more examples.
"""

from __future__ import annotations

import inspect
import math
from typing import Any

import pytest
import redis
import trio
from hypothesis import given
from hypothesis import strategies as st

from thoonk_actors import UsageError
from thoonk_actors.contract import QueueKeys
from thoonk_actors.objects import Queue, Thoonk
from thoonk_actors.sync import SyncThoonk

from ..contract._redis import snapshot
from ._hostile import (
    CODEC,
    DEEP_LIST,
    attempt,
    changes,
    configs,
    ids,
    items,
    ok,
    pick_plant,
    plant_wrong_type,
    same_item,
    sweep_settings,
)

NAME, OTHER = "sweep", "bystander"
KEYS = QueueKeys.of(NAME)

pytestmark = pytest.mark.slow

queue_ids = st.booleans().flatmap(lambda setup: st.sampled_from(["A", "new"]) if setup else ids)
#: get timeouts: the ones that return at once, blocking ones (cut short below), bad ones.
timeouts = st.one_of(
    st.just(0), st.just(0.01), st.none(), st.just(math.inf), st.just(1e300),
    st.just(-1), st.just(math.nan), st.just("1"), st.booleans(), st.just(DEEP_LIST),
)  # fmt: skip
#: How long a blocking get may wait before the sweep cancels it.
CUT_S = 0.05
WAITED = "cancelled while waiting"
EMPTY = "trio.WouldBlock"

TYPES = {"config": "hash", "ids": "list", "items": "hash", "publishes": "string"}
EXTRA = ("counter garbage", "ghost id", "registry")
OPERATIONS = (
    "put", "put_many", "get", "get_nowait", "length",
    "create", "configure", "config", "delete", "exists",
)  # fmt: skip
NOT_SWEPT = {"events", "channel"}


def _setup(t: SyncThoonk, client: redis.Redis, empty: bool) -> None:
    """The queue holds A, B, C (C at the head) unless ``empty``; bystanders of every type."""
    client.flushdb()
    queue = t.queue(NAME)
    queue.create(exist_ok=True)
    if not empty:
        for item_id in ("C", "B", "A"):
            queue.put({"n": item_id}, id=item_id)
    t.queue(OTHER).put({"n": 1}, id="A")
    t.feed(OTHER).publish({"n": 1}, id="A")
    t.sorted_feed(OTHER).append({"n": 1}, id="A")
    t.job(OTHER).publish({"n": 1}, id="A")


def _plant(client: redis.Redis, plant: str | None) -> None:
    if plant == "counter garbage":
        client.set(KEYS.publishes, "many")
    elif plant == "ghost id":  # an id pushed at the head, its item never written
        client.rpush(KEYS.ids, "ghost")
    elif plant == "registry":
        plant_wrong_type(client, KEYS.registry, "set")
    elif plant is not None:
        plant_wrong_type(client, getattr(KEYS, plant), TYPES[plant])


def _order(client: redis.Redis) -> list[bytes]:
    """The queued ids, head first (get pops from the right)."""
    return list(reversed(client.lrange(KEYS.ids, 0, -1)))


def _check(client: redis.Redis) -> None:
    order = _order(client)
    assert len(set(order)) == len(order), "an id queued twice"
    assert set(order) == set(client.hkeys(KEYS.items)), "the ids and items of the queue disagree"


def _bounded_get(t: SyncThoonk, timeout: Any) -> Any:
    """``get(timeout)`` in the client's loop, cancelled after CUT_S if it is still waiting."""
    thoonk: Thoonk = t.portal.resource

    async def get() -> Any:
        with trio.move_on_after(CUT_S):
            return await thoonk.queue(NAME).get(timeout=timeout)
        return WAITED

    return t.portal.run(get)


def _get_nowait(t: SyncThoonk) -> Any:
    """``get_nowait()``; its documented ``trio.WouldBlock`` (the queue is empty) as EMPTY.

    WouldBlock is an answer, not a refusal: like a get that finds nothing, it
    may drop ids another client queued without an item (the get script skips them).
    """
    try:
        return t.queue(NAME).get_nowait()
    except trio.WouldBlock:
        return EMPTY


def _call(t: SyncThoonk, client: redis.Redis, op: str, data: st.DataObject, check: bool) -> None:
    queue = t.queue(NAME)
    before = _order(client) if check else []
    head = client.hget(KEYS.items, before[0]) if before else None
    if op == "put":
        item, item_id = data.draw(items, "item"), data.draw(st.one_of(st.none(), queue_ids), "id")
        priority = data.draw(st.booleans(), "priority")
        out = attempt(client, op, lambda: queue.put(item, priority=priority, id=item_id), own=KEYS)
        if check and ok(out):
            assert item_id is None or out == item_id
            new = out.encode("utf-8", "surrogateescape")
            assert _order(client) == ([new, *before] if priority else [*before, new])
            assert same_item(CODEC.decode(client.hget(KEYS.items, new)), item)
    elif op == "put_many":
        batch = data.draw(st.one_of(st.lists(items, max_size=3), st.none(), st.integers()), "items")
        priority = data.draw(st.booleans(), "priority")
        out = attempt(client, op, lambda: queue.put_many(batch, priority=priority), own=KEYS)
        if check and ok(out):
            assert len(out) == len(batch) and len(_order(client)) == len(before) + len(batch)
    elif op == "get":
        timeout = data.draw(timeouts, "timeout")
        out = attempt(client, op, lambda: _bounded_get(t, timeout), own=KEYS)
        if check and ok(out):
            if before:
                assert same_item(out, CODEC.decode(head)) and _order(client) == before[1:]
            else:
                assert out in (None, WAITED) and _order(client) == []
    elif op == "get_nowait":
        out = attempt(client, op, lambda: _get_nowait(t), own=KEYS)
        if check and ok(out):
            assert (out == EMPTY) == (not before)
            if before:
                assert same_item(out, CODEC.decode(head)) and _order(client) == before[1:]
    elif op == "length":
        out = attempt(client, op, queue.length, own=KEYS)
        if check and ok(out):
            assert out == len(before)
    elif op == "create":
        config = data.draw(configs, "config")
        exist_ok = data.draw(st.booleans(), "exist_ok")
        attempt(client, op, lambda: queue.create(config, exist_ok=exist_ok), own=KEYS)
    elif op == "configure":
        change = data.draw(changes, "changes")
        attempt(client, op, lambda: queue.configure(**change), own=KEYS)
    elif op == "delete":
        out = attempt(client, op, queue.delete, own=KEYS)
        if check and ok(out):
            assert not queue.exists() and queue.length() == 0
    else:
        attempt(client, op, getattr(queue, op), own=KEYS)


@sweep_settings(250, 2000)
@given(data=st.data())
def test_queue_operations_raise_typed_errors_and_change_nothing_when_refused(
    t: SyncThoonk, sync_redis: redis.Redis, data: st.DataObject
) -> None:
    _setup(t, sync_redis, empty=data.draw(st.booleans(), "empty"))
    plant = pick_plant(data.draw, (*TYPES, *EXTRA))
    _plant(sync_redis, plant)
    _call(t, sync_redis, data.draw(st.sampled_from(OPERATIONS), "op"), data, plant is None)
    if plant is None:
        _check(sync_redis)


def test_every_public_queue_method_is_swept_or_excluded_on_purpose() -> None:
    """A new public Queue method must join the sweep (or NOT_SWEPT, with its reason)."""
    public = {
        n for n in dir(Queue) if not n.startswith("_") and inspect.isfunction(getattr(Queue, n))
    }
    assert public - NOT_SWEPT == set(OPERATIONS)


@pytest.mark.parametrize("batch", [None, 5, "abc", b"abc", bytearray(b"ab")])
def test_put_many_and_publish_many_refuse_a_non_iterable_with_a_usage_error(
    t: SyncThoonk, sync_redis: redis.Redis, batch: Any
) -> None:
    """Found by the sweep: ``put_many(None)`` raised a bare TypeError (publish_many too).

    A string or bytes is refused as well: ``put_many("abc")`` used to put three items.
    """
    _setup(t, sync_redis, empty=False)
    before = snapshot(sync_redis)
    with pytest.raises(UsageError, match="iterable of items"):
        t.queue(NAME).put_many(batch)
    with pytest.raises(UsageError, match="iterable of items"):
        t.job(OTHER).publish_many(batch)
    assert snapshot(sync_redis) == before
