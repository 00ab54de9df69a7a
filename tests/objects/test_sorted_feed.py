"""Sorted feed objects against real Redis: placement, moves, positions, refusals.

Every placement and move is checked twice: the stored order (``ids()``) and
the events it announced, received under a Trio deadline.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
import redis
import trio

from thoonk_actors._errors import (
    DuplicateIdError,
    InvalidIdError,
    NotFoundError,
    PayloadError,
    UnexpectedReplyError,
    UsageError,
    WrongTypeError,
)
from thoonk_actors.objects import (
    Events,
    ObjectEvent,
    SortedFeed,
    SortedFeedEvent,
    Thoonk,
)
from thoonk_actors.objects._sorted_feed import parse_position

from ..contract._redis import snapshot, x


@pytest.fixture
def deck(thoonk: Thoonk) -> SortedFeed:
    return thoonk.sorted_feed("deck")


async def next_events(events: Events, n: int) -> list[tuple[str, str, bytes | None]]:
    """The next ``n`` events as ``(event, id, data)``."""
    out = []
    with trio.fail_after(10):
        for _ in range(n):
            event = await events.receive()
            assert isinstance(event, ObjectEvent), event
            assert (event.kind, event.name) == ("sorted_feed", "deck")
            out.append((event.event, event.id, event.data))
    return out


def ev(event: str, id: str, data: bytes | None = None) -> ObjectEvent:
    return ObjectEvent("sorted_feed", "deck", event, id, data)


# ------------------------------------------------------------------ placement


async def test_generated_ids_and_stored_layout(deck: SortedFeed, sync_redis: redis.Redis) -> None:
    assert [await deck.append(n) for n in range(3)] == ["1", "2", "3"]
    assert await deck.publish("via publish") == "4"  # the feed-like name of append
    assert x(sync_redis, "TYPE", "sorted_feed.ids:deck") == b"list"
    assert x(sync_redis, "LRANGE", "sorted_feed.ids:deck", 0, -1) == [b"1", b"2", b"3", b"4"]
    assert x(sync_redis, "HGET", "sorted_feed.items:deck", "2") == b"1"
    assert x(sync_redis, "GET", "sorted_feed.idincr:deck") == b"4"
    assert x(sync_redis, "GET", "sorted_feed.publishes:deck") == b"4"
    assert x(sync_redis, "SMEMBERS", "sorted_feeds") == {b"deck"}


async def test_generated_ids_skip_ids_already_used(deck: SortedFeed) -> None:
    await deck.append("mine", id="2")
    assert [await deck.append("x"), await deck.append("y")] == ["1", "3"]
    assert await deck.ids() == ["2", "1", "3"]


async def test_each_placement_orders_and_announces(deck: SortedFeed) -> None:
    async with deck.events() as events:
        assert await deck.append("A", id="a") == "a"
        assert await deck.ids() == ["a"]
        assert await next_events(events, 2) == [
            ("publish", "a", b'"A"'),
            ("position", "a", b":end"),
        ]
        assert await deck.prepend("B", id="b") == "b"
        assert await deck.ids() == ["b", "a"]
        assert await next_events(events, 2) == [
            ("publish", "b", b'"B"'),
            ("position", "b", b"begin:"),
        ]
        assert await deck.publish_before("a", "C", id="c") == "c"
        assert await deck.ids() == ["b", "c", "a"]
        assert await next_events(events, 2) == [
            ("publish", "c", b'"C"'),
            ("position", "c", b":a"),
        ]
        assert await deck.publish_after("b", "D", id="d") == "d"
        assert await deck.ids() == ["b", "d", "c", "a"]
        assert await next_events(events, 2) == [
            ("publish", "d", b'"D"'),
            ("position", "d", b"b:"),
        ]
        generated = await deck.publish_after("a", "E")
        assert await deck.ids() == ["b", "d", "c", "a", generated]
        assert await next_events(events, 2) == [
            ("publish", generated, b'"E"'),
            ("position", generated, b"a:"),
        ]
    assert await deck.items() == [("b", "B"), ("d", "D"), ("c", "C"), ("a", "A"), ("1", "E")]
    assert await deck.length() == 5


async def test_each_move_orders_and_announces(deck: SortedFeed) -> None:
    for id in "abcd":
        await deck.append(id.upper(), id=id)
    moves: list[tuple[Callable[[], Awaitable[None]], list[str], bytes]] = [
        (lambda: deck.move_to_begin("c"), ["c", "a", "b", "d"], b"begin:"),
        (lambda: deck.move_to_end("a"), ["c", "b", "d", "a"], b":end"),
        (lambda: deck.move_before("a", "b"), ["c", "a", "b", "d"], b":b"),
        (lambda: deck.move_after("c", "d"), ["a", "b", "d", "c"], b"d:"),
        (lambda: deck.move("d", "begin"), ["d", "a", "b", "c"], b"begin:"),
        (lambda: deck.move("d", "after", "c"), ["a", "b", "c", "d"], b"c:"),
        (lambda: deck.move_to_end("d"), ["a", "b", "c", "d"], b":end"),  # already there
    ]
    async with deck.events() as events:
        for move, order, position in moves:
            await move()
            assert await deck.ids() == order
            [(event, id, data)] = await next_events(events, 1)
            assert (event, data) == ("position", position)
    assert await deck.items() == [("a", "A"), ("b", "B"), ("c", "C"), ("d", "D")]


async def test_edit_in_place_and_retract(deck: SortedFeed, sync_redis: redis.Redis) -> None:
    for id in "abc":
        await deck.append(id, id=id)
    async with deck.events() as events:
        await deck.edit("b", {"new": True})
        assert await deck.retract("a") is True
        assert await deck.retract("a") is False  # no event
        await deck.append("z", id="z")
        assert await next_events(events, 4) == [
            ("edit", "b", b'{"new":true}'),
            ("retract", "a", None),
            ("publish", "z", b'"z"'),
            ("position", "z", b":end"),
        ]
    assert await deck.items() == [("b", {"new": True}), ("c", "c"), ("z", "z")]
    assert await deck.get("b") == {"new": True}
    assert (await deck.has("b"), await deck.has("a")) == (True, False)
    assert x(sync_redis, "GET", "sorted_feed.publishes:deck") == b"5"  # edits count


# ------------------------------------------------------------------- refusals


async def test_refusals_write_nothing(deck: SortedFeed, sync_redis: redis.Redis) -> None:
    for id in "ab":
        await deck.append(id, id=id)
    before = snapshot(sync_redis)
    refusals: list[tuple[type[Exception], str, Callable[[], Awaitable[Any]]]] = [
        (DuplicateIdError, "'a' in sorted feed 'deck' already", lambda: deck.append(1, id="a")),
        (DuplicateIdError, "already exists", lambda: deck.prepend(1, id="b")),
        (DuplicateIdError, "already exists", lambda: deck.publish_after("a", 1, id="b")),
        (NotFoundError, "'zz'", lambda: deck.publish_before("zz", 1)),
        (NotFoundError, "'zz'", lambda: deck.publish_after("zz", 1, id="new")),
        (NotFoundError, "'zz'", lambda: deck.edit("zz", 1)),
        (NotFoundError, "'zz'", lambda: deck.move_to_begin("zz")),
        (NotFoundError, "'zz'", lambda: deck.move_before("a", "zz")),
        (NotFoundError, "'zz'", lambda: deck.move_after("zz", "a")),
        (NotFoundError, "has no item 'zz'", lambda: deck.get("zz")),
        (InvalidIdError, "itself", lambda: deck.move_before("a", "a")),
        (InvalidIdError, "itself", lambda: deck.publish_after("a", 1, id="a")),
        (InvalidIdError, "empty", lambda: deck.append(1, id="")),
        (InvalidIdError, "NUL", lambda: deck.edit("a\0", 1)),
        (InvalidIdError, "anchor", lambda: deck.publish_before("", 1)),
        (UsageError, "anchor", lambda: deck.move("a", "before")),
        (UsageError, "anchor", lambda: deck.move("a", "end", "b")),
        (UsageError, "where", lambda: deck.move("a", "middle")),  # type: ignore[arg-type]
        (PayloadError, "JSON", lambda: deck.append({1, 2})),
        (PayloadError, "JSON", lambda: deck.edit("a", object())),
    ]
    for error, message, attempt in refusals:
        with pytest.raises(error, match=message):
            await attempt()
        assert snapshot(sync_redis) == before, message
    assert await deck.items() == [("a", "a"), ("b", "b")]


@pytest.mark.parametrize(
    "key", ["sorted_feed.ids:deck", "sorted_feed.items:deck", "sorted_feed.idincr:deck"]
)
async def test_a_key_of_another_type_is_refused_and_kept(
    deck: SortedFeed, sync_redis: redis.Redis, key: str
) -> None:
    x(sync_redis, "SADD", key, "a set")
    before = snapshot(sync_redis)
    with pytest.raises(WrongTypeError, match="another program"):
        await deck.append("x")
    with pytest.raises(WrongTypeError):
        await deck.prepend("x", id="given")
    if key != "sorted_feed.idincr:deck":
        with pytest.raises(WrongTypeError):
            await deck.items()
        with pytest.raises(WrongTypeError):
            await deck.retract("x")
    assert snapshot(sync_redis) == before


async def test_a_garbage_id_counter_is_refused(deck: SortedFeed, sync_redis: redis.Redis) -> None:
    x(sync_redis, "SET", "sorted_feed.idincr:deck", "not a number")
    before = snapshot(sync_redis)
    with pytest.raises(WrongTypeError, match="integer"):
        await deck.append("x")
    assert snapshot(sync_redis) == before


# --------------------------------------------------------------------- events


async def test_decode_event(deck: SortedFeed) -> None:
    assert deck.decode_event(ev("publish", "7", b'"x"')) == SortedFeedEvent("publish", "7", "x")
    assert deck.decode_event(ev("edit", "7", b"[1]")) == SortedFeedEvent("edit", "7", [1])
    assert deck.decode_event(ev("retract", "7")) == SortedFeedEvent("retract", "7")
    assert deck.decode_event(ev("position", "7", b":3")) == SortedFeedEvent(
        "position", "7", where="before", anchor="3"
    )
    assert deck.decode_event(ev("position", "7", b"begin:")) == SortedFeedEvent(
        "position", "7", where="begin"
    )
    assert deck.decode_event(ev("config", "", b"{}")) == SortedFeedEvent("config", "")
    assert deck.decode_event(ev("delete", "", b"deck")) == SortedFeedEvent("delete", "")
    with pytest.raises(UnexpectedReplyError, match="no position"):
        deck.decode_event(ev("position", "7"))
    with pytest.raises(UnexpectedReplyError, match="carries no item"):
        deck.decode_event(ev("edit", "7"))
    with pytest.raises(UsageError, match="does not belong"):
        deck.decode_event(ObjectEvent("feed", "deck", "publish", "7", b"1"))
    with pytest.raises(UsageError, match="'finish' is not an event"):
        deck.decode_event(ev("finish", "7"))


@pytest.mark.parametrize(
    ("wire", "where", "anchor"),
    [
        (b"begin:", "begin", None),
        (b":end", "end", None),
        (b":7", "before", "7"),
        (b"7:", "after", "7"),
        (b":a:b", "before", "a:b"),  # ids may hold ':'
        (b"a:b:", "after", "a:b"),
        (b"\xff:", "after", "\udcff"),  # a non-UTF-8 id round-trips (surrogateescape)
    ],
)
def test_parse_position(wire: bytes, where: str, anchor: str | None) -> None:
    assert parse_position(wire) == (where, anchor)


@pytest.mark.parametrize("wire", [b"", b":", b"begin", b"middle"])
def test_parse_position_refuses_other_shapes(wire: bytes) -> None:
    with pytest.raises(UnexpectedReplyError, match="position"):
        parse_position(wire)


async def test_decoded_events_replay_the_order(deck: SortedFeed, thoonk: Thoonk) -> None:
    """A watcher that applies each decoded event to a local list ends with ids()."""
    mirror: list[str] = []
    async with deck.events() as events:
        await deck.append(1, id="a")
        await deck.prepend(2, id="b")
        await deck.publish_after("b", 3, id="c")
        await deck.move_before("a", "b")
        await deck.retract("c")
        await deck.publish_before("b", 4, id="d")
        await deck.move_to_end("a")
        await deck.edit("d", 5)
        expected = await deck.ids()
        # publish+position, publish+position, publish+position, position, retract,
        # publish+position, position, edit
        for _ in range(12):
            with trio.fail_after(10):
                raw = await events.receive()
            assert isinstance(raw, ObjectEvent)
            event = deck.decode_event(raw)
            if event.event == "retract":
                mirror.remove(event.id)
            elif event.event == "position":
                if event.id in mirror:
                    mirror.remove(event.id)
                if event.where == "begin":
                    mirror.insert(0, event.id)
                elif event.where == "end":
                    mirror.append(event.id)
                else:
                    assert event.anchor is not None
                    at = mirror.index(event.anchor) + (event.where == "after")
                    mirror.insert(at, event.id)
    assert mirror == expected == ["d", "b", "a"]
