"""A property-based sweep of the Feed and SortedFeed operations with hostile input.

Every public operation of both types, with hostile ids, anchors, items and
positions, on a feed where another client may have overwritten one of our keys
with the wrong type, a counter with text or the config with garbage. Each call
returns a correct result (checked against what is stored) or raises a typed
``ThoonkError``; a refused call changes nothing (a ``DUMP`` of the whole keyspace
before and after), a successful one changes only its own feed.

Not swept, on purpose: ``events()`` / ``subscribe()`` (subscriptions: they read
and write no key), ``decode_event`` (pure decoding of a received message, no
Redis; tests/objects cover foreign payloads), ``channel`` and ``snapshot_call``
(builders used by the swept calls). The lifecycle calls (create, configure,
config, delete, exists) are swept here on each feed's own state and in
test_hostile_sweep_registry.py with hostile configs.

Bounded for CI; ``THOONK_SOAK=1`` runs many more examples.
"""

from __future__ import annotations

import inspect
from typing import Any

import pytest
import redis
from hypothesis import given
from hypothesis import strategies as st

from thoonk_actors.contract import FeedKeys, SortedFeedKeys
from thoonk_actors.sync import SyncThoonk

from ._hostile import (
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
FEED = FeedKeys.of(NAME)
DECK = SortedFeedKeys.of(NAME)

pytestmark = pytest.mark.slow

#: The ids of the setup, and one that is not there, mixed with the hostile ones.
#: Half of the draws are ids of the setup, so that successful calls get swept too.
feed_ids = st.booleans().flatmap(
    lambda setup: st.sampled_from(["A", "B", "C", "missing"]) if setup else ids
)

#: The stored type of each key, for planting the wrong one.
FEED_TYPES = {"config": "hash", "ids": "zset", "items": "hash", "publishes": "string"}
DECK_TYPES = {
    "config": "hash", "ids": "list", "items": "hash", "idincr": "string",
    "publishes": "string", "seq": "string",
}  # fmt: skip
#: Other things another client may write: garbage settings and counters, an id with
#: no item, a registry key of the wrong type.
FEED_EXTRA = ("config garbage", "counter garbage", "ghost id", "registry")
DECK_EXTRA = ("counter garbage", "idincr garbage", "ghost id", "duplicate id", "registry")


def _bystanders(t: SyncThoonk) -> None:
    """Objects of every type under another name: a success must leave them alone."""
    t.feed(OTHER).publish({"n": 1}, id="A")
    t.sorted_feed(OTHER).append({"n": 1}, id="A")
    t.queue(OTHER).put({"n": 1}, id="A")
    t.job(OTHER).publish({"n": 1}, id="A")


# ---------------------------------------------------------------------- Feed

FEED_OPERATIONS = (
    "publish", "publish_detail", "retract", "get", "has", "ids", "items", "snapshot",
    "length", "create", "configure", "config", "delete", "exists",
)  # fmt: skip


def _setup_feed(t: SyncThoonk, client: redis.Redis, bounded: bool) -> None:
    """A feed with A, B, C (max_length 3 when ``bounded``: a new id evicts A)."""
    client.flushdb()
    feed = t.feed(NAME)
    if bounded:
        feed.create({"max_length": 3})
    for item_id in ("A", "B", "C"):
        feed.publish({"n": item_id}, id=item_id)
    _bystanders(t)


def _plant_feed(client: redis.Redis, plant: str | None) -> None:
    if plant == "config garbage":
        client.hset(FEED.config, "max_length", "soon")
    elif plant == "counter garbage":
        client.set(FEED.publishes, "many")
    elif plant == "ghost id":
        client.zadd(FEED.ids, {"ghost": 1})
    elif plant == "registry":
        plant_wrong_type(client, FEED.registry, "set")
    elif plant is not None:
        plant_wrong_type(client, getattr(FEED, plant), FEED_TYPES[plant])


def _check_feed(t: SyncThoonk, client: redis.Redis) -> None:
    """What every feed read must agree on, and what is stored underneath."""
    feed = t.feed(NAME)
    pairs = feed.items()
    order = feed.ids()
    assert [i for i, _ in pairs] == order
    assert feed.length() == len(order)
    assert feed.snapshot().items == pairs
    stored = {k.decode("utf-8", "surrogateescape") for k in client.hkeys(FEED.items)}
    assert set(order) == stored, "ids and items of the feed disagree"
    for item_id, item in pairs:
        assert feed.has(item_id) and same_item(feed.get(item_id), item)


def _call_feed(
    t: SyncThoonk, client: redis.Redis, op: str, data: st.DataObject, check: bool
) -> None:
    """Run ``op``; with ``check`` (nothing planted) also check a success's result."""
    feed = t.feed(NAME)
    own = FEED
    before_ids = list(feed.ids()) if check else []
    if op in ("publish", "publish_detail"):
        item = data.draw(items, "item")
        item_id = data.draw(st.one_of(st.none(), feed_ids), "id")
        out = attempt(client, op, lambda: getattr(feed, op)(item, id=item_id), own=own)
        if check and ok(out):
            new_id = out if op == "publish" else out.id
            assert item_id is None or new_id == item_id
            assert same_item(feed.get(new_id), item)
            assert feed.ids()[-1] == new_id, "a publish or edit makes the item the newest"
            if op == "publish_detail":
                assert out.kind == ("edit" if new_id in before_ids else "publish")
                assert set(out.evicted) <= set(before_ids) - {new_id}
    elif op == "retract":
        item_id = data.draw(feed_ids, "id")
        out = attempt(client, op, lambda: feed.retract(item_id), own=own)
        if check and ok(out):
            assert out is (item_id in before_ids)
            assert not feed.has(item_id)
    elif op in ("get", "has"):
        item_id = data.draw(feed_ids, "id")
        out = attempt(client, op, lambda: getattr(feed, op)(item_id), own=own)
        if check and ok(out) and op == "has":
            assert out is (item_id in before_ids)
        elif check and ok(out):
            assert item_id in before_ids
    elif op == "create":
        config = data.draw(configs, "config")
        exist_ok = data.draw(st.booleans(), "exist_ok")
        out = attempt(client, op, lambda: feed.create(config, exist_ok=exist_ok), own=own)
        if check and ok(out):
            assert feed.exists()
    elif op == "configure":
        change = data.draw(changes, "changes")
        attempt(client, op, lambda: feed.configure(**change), own=own)
    elif op == "delete":
        out = attempt(client, op, feed.delete, own=own)
        if check and ok(out):
            assert not feed.exists() and feed.length() == 0
    else:  # the reads without arguments
        attempt(client, op, getattr(feed, op), own=own)


@sweep_settings(250, 2000)
@given(data=st.data())
def test_feed_operations_raise_typed_errors_and_change_nothing_when_refused(
    t: SyncThoonk, sync_redis: redis.Redis, data: st.DataObject
) -> None:
    _setup_feed(t, sync_redis, bounded=data.draw(st.booleans(), "bounded"))
    plant = pick_plant(data.draw, (*FEED_TYPES, *FEED_EXTRA))
    _plant_feed(sync_redis, plant)
    _call_feed(
        t, sync_redis, data.draw(st.sampled_from(FEED_OPERATIONS), "op"), data, plant is None
    )
    if plant is None:
        _check_feed(t, sync_redis)


# ---------------------------------------------------------------- SortedFeed

DECK_OPERATIONS = (
    "append", "publish", "prepend", "publish_before", "publish_after", "edit", "move",
    "move_to_begin", "move_to_end", "move_before", "move_after", "retract", "get", "has",
    "ids", "items", "snapshot", "length", "create", "configure", "config", "delete", "exists",
)  # fmt: skip
wheres = st.one_of(
    st.sampled_from(["begin", "end", "before", "after"]),
    st.just(""), st.just("BEGIN"), st.just("middle"), st.none(), st.integers(), st.just(DEEP_LIST),
)  # fmt: skip


def _setup_deck(t: SyncThoonk, client: redis.Redis) -> None:
    """A sorted feed A, B, C (generated ids would be "1", "2", ...)."""
    client.flushdb()
    deck = t.sorted_feed(NAME)
    for item_id in ("A", "B", "C"):
        deck.append({"n": item_id}, id=item_id)
    _bystanders(t)


def _plant_deck(client: redis.Redis, plant: str | None) -> None:
    if plant == "counter garbage":
        client.set(DECK.seq, "many")
    elif plant == "idincr garbage":
        client.set(DECK.idincr, "1.5")
    elif plant == "ghost id":
        client.rpush(DECK.ids, "ghost")
    elif plant == "duplicate id":
        client.rpush(DECK.ids, "A")
    elif plant == "registry":
        plant_wrong_type(client, DECK.registry, "set")
    elif plant is not None:
        plant_wrong_type(client, getattr(DECK, plant), DECK_TYPES[plant])


def _check_deck(t: SyncThoonk, client: redis.Redis) -> None:
    deck = t.sorted_feed(NAME)
    pairs = deck.items()
    order = deck.ids()
    assert [i for i, _ in pairs] == order
    assert len(set(order)) == len(order), "an id twice in the order"
    assert deck.length() == len(order)
    snap = deck.snapshot()
    assert snap.items == pairs and snap.seq == int(client.get(DECK.seq) or 0)
    stored = {k.decode("utf-8", "surrogateescape") for k in client.hkeys(DECK.items)}
    assert set(order) == stored, "the order and the items of the sorted feed disagree"
    for item_id, item in pairs:
        assert deck.has(item_id) and same_item(deck.get(item_id), item)


def _call_deck(
    t: SyncThoonk, client: redis.Redis, op: str, data: st.DataObject, check: bool
) -> None:
    """Run ``op``; with ``check`` (nothing planted) also check a success's result."""
    deck = t.sorted_feed(NAME)
    own = DECK
    before = list(deck.ids()) if check else []
    draw_id = lambda label: data.draw(feed_ids, label)  # noqa: E731
    if op in ("append", "publish", "prepend"):
        item, item_id = data.draw(items, "item"), data.draw(st.one_of(st.none(), feed_ids), "id")
        out = attempt(client, op, lambda: getattr(deck, op)(item, id=item_id), own=own)
        if check and ok(out):
            assert item_id is None or out == item_id
            assert same_item(deck.get(out), item) and out not in before
            assert deck.ids() == ([out, *before] if op == "prepend" else [*before, out])
    elif op in ("publish_before", "publish_after"):
        anchor, item = draw_id("anchor"), data.draw(items, "item")
        item_id = data.draw(st.one_of(st.none(), feed_ids), "id")
        out = attempt(client, op, lambda: getattr(deck, op)(anchor, item, id=item_id), own=own)
        if check and ok(out):
            order = deck.ids()
            offset = -1 if op == "publish_before" else 1
            assert order.index(out) == order.index(anchor) + offset
            assert same_item(deck.get(out), item)
    elif op == "edit":
        item_id, item = draw_id("id"), data.draw(items, "item")
        out = attempt(client, op, lambda: deck.edit(item_id, item), own=own)
        if check and ok(out):
            assert deck.ids() == before and same_item(deck.get(item_id), item)
    elif op.startswith("move"):
        item_id = draw_id("id")
        if op == "move":
            where = data.draw(wheres, "where")
            anchor = data.draw(st.one_of(st.none(), feed_ids), "anchor")
            args: tuple[Any, ...] = (item_id, where, anchor)
        elif op in ("move_before", "move_after"):
            where, anchor = op.removeprefix("move_"), draw_id("anchor")
            args = (item_id, anchor)
        else:
            where, anchor = op.removeprefix("move_to_"), None
            args = (item_id,)
        out = attempt(client, op, lambda: getattr(deck, op)(*args), own=own)
        if check and ok(out):
            order = deck.ids()
            assert sorted(order) == sorted(before), "a move changed which ids are there"
            position = order.index(item_id)
            expected = {"begin": 0, "end": len(order) - 1}.get(where)
            if expected is None:
                expected = order.index(anchor) + (-1 if where == "before" else 1)
            assert position == expected, f"{op} put {item_id!r} at {position}: {order}"
    elif op in ("retract", "get", "has"):
        item_id = draw_id("id")
        out = attempt(client, op, lambda: getattr(deck, op)(item_id), own=own)
        if check and ok(out) and op == "retract":
            assert out is (item_id in before) and item_id not in deck.ids()
        elif check and ok(out) and op == "has":
            assert out is (item_id in before)
        elif check and ok(out):
            assert item_id in before
    elif op == "create":
        config = data.draw(configs, "config")
        exist_ok = data.draw(st.booleans(), "exist_ok")
        out = attempt(client, op, lambda: deck.create(config, exist_ok=exist_ok), own=own)
        if check and ok(out):
            assert deck.exists()
    elif op == "configure":
        change = data.draw(changes, "changes")
        attempt(client, op, lambda: deck.configure(**change), own=own)
    elif op == "delete":
        out = attempt(client, op, deck.delete, own=own)
        if check and ok(out):
            assert not deck.exists() and deck.length() == 0
    else:
        attempt(client, op, getattr(deck, op), own=own)


@sweep_settings(300, 2500)
@given(data=st.data())
def test_sorted_feed_operations_raise_typed_errors_and_change_nothing_when_refused(
    t: SyncThoonk, sync_redis: redis.Redis, data: st.DataObject
) -> None:
    _setup_deck(t, sync_redis)
    plant = pick_plant(data.draw, (*DECK_TYPES, *DECK_EXTRA))
    _plant_deck(sync_redis, plant)
    _call_deck(
        t, sync_redis, data.draw(st.sampled_from(DECK_OPERATIONS), "op"), data, plant is None
    )
    if plant is None:
        _check_deck(t, sync_redis)


def test_every_public_feed_method_is_swept_or_excluded_on_purpose() -> None:
    """A new public method must join a sweep (or the docstring's list of exclusions)."""
    from thoonk_actors.objects import Feed, SortedFeed

    excluded = {"events", "decode_event", "channel", "snapshot_call"}
    for cls, swept in ((Feed, FEED_OPERATIONS), (SortedFeed, DECK_OPERATIONS)):
        public = {
            n for n in dir(cls) if not n.startswith("_") and inspect.isfunction(getattr(cls, n))
        }
        assert public - excluded == set(swept), cls.__name__
