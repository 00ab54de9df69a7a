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
            ("publish", "a", b'1\0"A"'),
            ("position", "a", b"1\0end"),
        ]
        assert await deck.prepend("B", id="b") == "b"
        assert await deck.ids() == ["b", "a"]
        assert await next_events(events, 2) == [
            ("publish", "b", b'2\0"B"'),
            ("position", "b", b"2\0begin"),
        ]
        assert await deck.publish_before("a", "C", id="c") == "c"
        assert await deck.ids() == ["b", "c", "a"]
        assert await next_events(events, 2) == [
            ("publish", "c", b'3\0"C"'),
            ("position", "c", b"3\0before\0a"),
        ]
        assert await deck.publish_after("b", "D", id="d") == "d"
        assert await deck.ids() == ["b", "d", "c", "a"]
        assert await next_events(events, 2) == [
            ("publish", "d", b'4\0"D"'),
            ("position", "d", b"4\0after\0b"),
        ]
        generated = await deck.publish_after("a", "E")
        assert await deck.ids() == ["b", "d", "c", "a", generated]
        assert await next_events(events, 2) == [
            ("publish", generated, b'5\0"E"'),
            ("position", generated, b"5\0after\0a"),
        ]
    assert await deck.items() == [("b", "B"), ("d", "D"), ("c", "C"), ("a", "A"), ("1", "E")]
    assert await deck.length() == 5


async def test_each_move_orders_and_announces(deck: SortedFeed) -> None:
    for id in "abcd":
        await deck.append(id.upper(), id=id)
    moves: list[tuple[Callable[[], Awaitable[None]], list[str], bytes]] = [
        (lambda: deck.move_to_begin("c"), ["c", "a", "b", "d"], b"5\0begin"),
        (lambda: deck.move_to_end("a"), ["c", "b", "d", "a"], b"6\0end"),
        (lambda: deck.move_before("a", "b"), ["c", "a", "b", "d"], b"7\0before\0b"),
        (lambda: deck.move_after("c", "d"), ["a", "b", "d", "c"], b"8\0after\0d"),
        (lambda: deck.move("d", "begin"), ["d", "a", "b", "c"], b"9\0begin"),
        (lambda: deck.move("d", "after", "c"), ["a", "b", "c", "d"], b"10\0after\0c"),
        (lambda: deck.move_to_end("d"), ["a", "b", "c", "d"], b"11\0end"),  # already there
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
            ("edit", "b", b'4\0{"new":true}'),
            ("retract", "a", b"5"),
            ("publish", "z", b'6\0"z"'),
            ("position", "z", b"6\0end"),
        ]
    assert await deck.items() == [("b", {"new": True}), ("c", "c"), ("z", "z")]
    assert await deck.get("b") == {"new": True}
    assert (await deck.has("b"), await deck.has("a")) == (True, False)
    assert x(sync_redis, "GET", "sorted_feed.publishes:deck") == b"5"  # edits count
    assert x(sync_redis, "GET", "sorted_feed.seq:deck") == b"6"  # every change counts


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
    "key",
    [
        "sorted_feed.ids:deck",
        "sorted_feed.items:deck",
        "sorted_feed.idincr:deck",
        "sorted_feed.seq:deck",
    ],
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
    if key != "sorted_feed.idincr:deck":  # (the sequence is read by items and retract)
        with pytest.raises(WrongTypeError):
            await deck.items()
        with pytest.raises(WrongTypeError):
            await deck.retract("x")
    assert snapshot(sync_redis) == before


@pytest.mark.parametrize("key", ["sorted_feed.idincr:deck", "sorted_feed.seq:deck"])
async def test_a_garbage_counter_is_refused(
    deck: SortedFeed, sync_redis: redis.Redis, key: str
) -> None:
    await deck.append("a", id="a")
    x(sync_redis, "SET", key, "not a number")
    before = snapshot(sync_redis)
    with pytest.raises(WrongTypeError, match="integer"):
        await deck.append("x")
    if key == "sorted_feed.seq:deck":
        for attempt in (
            lambda: deck.edit("a", 1),
            lambda: deck.move_to_begin("a"),
            lambda: deck.retract("a"),
            deck.items,
        ):
            with pytest.raises(WrongTypeError, match="integer"):
                await attempt()
    assert snapshot(sync_redis) == before


# --------------------------------------------------------------------- events


async def test_decode_event(deck: SortedFeed) -> None:
    decode = deck.decode_event
    assert decode(ev("publish", "7", b'3\0"x"')) == SortedFeedEvent("publish", "7", "x", seq=3)
    assert decode(ev("edit", "7", b"4\0[1]")) == SortedFeedEvent("edit", "7", [1], seq=4)
    assert decode(ev("retract", "7", b"5")) == SortedFeedEvent("retract", "7", seq=5)
    assert decode(ev("position", "7", b"6\0before\x003")) == SortedFeedEvent(
        "position", "7", where="before", anchor="3", seq=6
    )
    assert decode(ev("position", "7", b"7\0begin")) == SortedFeedEvent(
        "position", "7", where="begin", seq=7
    )
    assert decode(ev("config", "", b"{}")) == SortedFeedEvent("config", "")
    assert decode(ev("delete", "", b"deck")) == SortedFeedEvent("delete", "")
    for event, data in [("position", None), ("retract", None), ("edit", b'"x"'),
                        ("publish", b"x\0y"), ("position", b":end")]:  # fmt: skip
        with pytest.raises(UnexpectedReplyError, match="no change sequence"):
            decode(ev(event, "7", data))
    with pytest.raises(UnexpectedReplyError, match="none of"):
        decode(ev("position", "7", b"8"))
    with pytest.raises(UnexpectedReplyError, match="carries no item"):
        decode(ev("edit", "7", b"9"))
    with pytest.raises(UsageError, match="does not belong"):
        deck.decode_event(ObjectEvent("feed", "deck", "publish", "7", b"1"))
    with pytest.raises(UsageError, match="'finish' is not an event"):
        deck.decode_event(ev("finish", "7"))


@pytest.mark.parametrize(
    ("wire", "where", "anchor"),
    [
        (b"begin", "begin", None),
        (b"end", "end", None),
        (b"before\x007", "before", "7"),
        (b"after\x007", "after", "7"),
        (b"before\x00end", "before", "end"),  # ids that read as positions stay ids
        (b"after\x00begin", "after", "begin"),
        (b"before\x00:a:", "before", ":a:"),  # ids may hold ':' anywhere
        (b"after\x00:q", "after", ":q"),
        (b"after\x00\xff", "after", "\udcff"),  # a non-UTF-8 id round-trips
    ],
)
def test_parse_position(wire: bytes, where: str, anchor: str | None) -> None:
    assert parse_position(wire) == (where, anchor)


@pytest.mark.parametrize(
    "wire",
    [b"", b":", b"begin:", b":end", b":7", b"middle", b"begin\x00x", b"before", b"after\x00"],
)
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


def _apply_position(mirror: list[str], event: SortedFeedEvent) -> None:
    if event.id in mirror:
        mirror.remove(event.id)
    if event.where == "begin":
        mirror.insert(0, event.id)
    elif event.where == "end":
        mirror.append(event.id)
    else:
        assert event.anchor is not None
        mirror.insert(mirror.index(event.anchor) + (event.where == "after"), event.id)


@pytest.mark.parametrize(
    ("action", "order"),
    [
        (lambda d: d.publish_before("end", "z", id="z"), ["begin", "z", "end", ":q", "q:", ":"]),
        (lambda d: d.publish_after("begin", "z", id="z"), ["begin", "z", "end", ":q", "q:", ":"]),
        (lambda d: d.move_before("begin", "end"), ["begin", "end", ":q", "q:", ":"]),
        (lambda d: d.move_before(":", "end"), ["begin", ":", "end", ":q", "q:"]),
        (lambda d: d.move_after(":", "begin"), ["begin", ":", "end", ":q", "q:"]),
        (lambda d: d.move_after("end", "begin"), ["begin", "end", ":q", "q:", ":"]),
        (lambda d: d.move_after("begin", ":q"), ["end", ":q", "begin", "q:", ":"]),
        (lambda d: d.move_before("begin", "q:"), ["end", ":q", "begin", "q:", ":"]),
        (lambda d: d.publish_after(":q", "z", id="z"), ["begin", "end", ":q", "z", "q:", ":"]),
        (lambda d: d.publish_before(":", "z", id="z:"), ["begin", "end", ":q", "q:", "z:", ":"]),
        (lambda d: d.move_after(":q", ":"), ["begin", "end", "q:", ":", ":q"]),
    ],
)
async def test_ids_that_look_like_positions_are_placed_right_everywhere(
    deck: SortedFeed, action: Callable[[SortedFeed], Awaitable[Any]], order: list[str]
) -> None:
    """Ids such as ``end``, ``begin``, ``:q``, ``q:`` and ``:`` as anchors and as moved ids:
    the stored order and a watcher that applies the position events agree."""
    for id in ["begin", "end", ":q", "q:", ":"]:
        await deck.append(id, id=id)
    mirror = await deck.ids()
    async with deck.events(["position"]) as events:
        await action(deck)
        with trio.fail_after(10):
            raw = await events.receive()
        assert isinstance(raw, ObjectEvent)
        _apply_position(mirror, deck.decode_event(raw))
    assert await deck.ids() == order
    assert mirror == order


@pytest.mark.parametrize("op", ["publish_before", "publish_after"])
async def test_an_anchor_of_none_is_refused_before_anything_is_sent(
    deck: SortedFeed, sync_redis: redis.Redis, op: str
) -> None:
    """``publish_before(None, item)`` once reached the script with its arguments shifted."""
    await deck.append("x", id="A")
    before = snapshot(sync_redis)
    with pytest.raises(InvalidIdError, match="anchor id must be a str"):
        await getattr(deck, op)(None, None, id="B")
    assert snapshot(sync_redis) == before
