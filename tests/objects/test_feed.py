"""Feed objects against real Redis: every method, the events, max_length, refusals.

Each test gets its own emptied database (``redis_url``); ``sync_redis`` is an
independent redis-py client used to look at what was stored. Events are
subscribed to before acting and received under a Trio deadline.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
import redis

from thoonk_actors import contract
from thoonk_actors._errors import (
    BadStoredConfigError,
    InvalidIdError,
    InvalidNameError,
    NotFoundError,
    PayloadError,
    PayloadTooLargeError,
    UnexpectedReplyError,
    UsageError,
    WrongTypeError,
)
from thoonk_actors.contract import JsonCodec, RawCodec
from thoonk_actors.objects import Feed, FeedEvent, ObjectEvent, Thoonk

from ..contract._redis import snapshot, x
from ._events import next_event


@pytest.fixture
def news(thoonk: Thoonk) -> Feed:
    return thoonk.feed("news")


def ev(event: str, id: str, data: bytes | None = None, name: str = "news") -> ObjectEvent:
    return ObjectEvent("feed", name, event, id, data)


# --------------------------------------------------------------------- writing


async def test_publish_stores_the_contract_layout(news: Feed, sync_redis: redis.Redis) -> None:
    generated = await news.publish({"title": "hello", "n": 1})
    parsed = uuid.UUID(generated)
    assert (str(parsed), parsed.version, parsed.variant) == (generated, 4, uuid.RFC_4122)
    assert await news.publish(["x"], id="chosen") == "chosen"

    assert x(sync_redis, "TYPE", "feed.ids:news") == b"zset"
    assert x(sync_redis, "ZRANGE", "feed.ids:news", 0, -1) == [generated.encode(), b"chosen"]
    assert x(sync_redis, "HGETALL", "feed.items:news") == {
        generated.encode(): b'{"title":"hello","n":1}',
        b"chosen": b'["x"]',
    }
    assert x(sync_redis, "GET", "feed.publishes:news") == b"2"
    assert x(sync_redis, "SMEMBERS", "feeds") == {b"news"}


async def test_publish_and_edit_events(news: Feed) -> None:
    async with news.events() as events:
        first = await news.publish_detail({"t": 1}, id="a")
        again = await news.publish_detail({"t": 2}, id="a")
        assert await next_event(events) == ev("publish", "a", b'{"t":1}')
        edit = await next_event(events)
    assert edit == ev("edit", "a", b'{"t":2}')
    assert (first.id, first.kind, first.evicted) == ("a", "publish", ())
    assert (again.id, again.kind, again.evicted) == ("a", "edit", ())
    assert again.score_ms > first.score_ms
    assert news.decode_event(edit) == FeedEvent("edit", "a", {"t": 2})
    assert await news.get("a") == {"t": 2}


async def test_an_edit_makes_the_item_the_newest(news: Feed) -> None:
    for id in "abc":
        await news.publish(id.upper(), id=id)
    await news.publish("A2", id="a")
    assert await news.ids() == ["b", "c", "a"]
    assert await news.items() == [("b", "B"), ("c", "C"), ("a", "A2")]


async def test_reads(news: Feed) -> None:
    assert (await news.ids(), await news.items(), await news.length()) == ([], [], 0)
    assert await news.has("a") is False
    ids = [await news.publish({"n": n}) for n in range(5)]
    assert await news.ids() == ids
    assert await news.items() == [(id, {"n": n}) for n, id in enumerate(ids)]
    assert await news.length() == 5
    assert await news.has(ids[2]) is True
    assert await news.get(ids[3]) == {"n": 3}


async def test_get_of_a_missing_id_says_which(news: Feed) -> None:
    with pytest.raises(NotFoundError, match=r"feed 'news' has no item 'nope'.*has\(id\).*ids\(\)"):
        await news.get("nope")


async def test_retract(news: Feed, sync_redis: redis.Redis) -> None:
    await news.publish("x", id="a")
    async with news.events() as events:
        assert await news.retract("a") is True
        assert await news.retract("a") is False  # no event for that one
        await news.publish("y", id="b")
        assert await next_event(events) == ev("retract", "a")
        assert await next_event(events) == ev("publish", "b", b'"y"')
    assert await news.ids() == ["b"]
    assert x(sync_redis, "HKEYS", "feed.items:news") == [b"b"]
    assert news.decode_event(ev("retract", "a")) == FeedEvent("retract", "a")


# ------------------------------------------------------------------ max_length


async def test_max_length_evicts_the_oldest_and_says_so_first(news: Feed) -> None:
    await news.create({"max_length": 3})
    for id in "abc":
        await news.publish(id, id=id)
    async with news.events() as events:
        published = await news.publish_detail("d", id="d")
        assert await next_event(events) == ev("retract", "a")
        assert await next_event(events) == ev("publish", "d", b'"d"')
        # an edit of a full feed evicts nothing
        edited = await news.publish_detail("B", id="b")
        assert await next_event(events) == ev("edit", "b", b'"B"')
    assert published.evicted == ("a",)
    assert edited.evicted == ()
    assert await news.ids() == ["c", "d", "b"]
    assert await news.length() == 3


async def test_max_length_one_never_evicts_the_published_id(news: Feed) -> None:
    await news.create({"max_length": 1})
    async with news.events() as events:
        await news.publish(1, id="a")
        assert (await news.publish_detail(2, id="b")).evicted == ("a",)
        assert (await news.publish_detail(3, id="b")).evicted == ()
        assert [await next_event(events) for _ in range(4)] == [
            ev("publish", "a", b"1"),
            ev("retract", "a"),
            ev("publish", "b", b"2"),
            ev("edit", "b", b"3"),
        ]
    assert await news.items() == [("b", 3)]


async def test_lowering_max_length_evicts_on_the_next_publish(news: Feed) -> None:
    for id in "abc":
        await news.publish(id, id=id)
    await news.create({}, exist_ok=True)
    await news.configure(max_length=2)
    assert await news.length() == 3  # configuring evicts nothing by itself
    async with news.events() as events:
        assert (await news.publish_detail("d", id="d")).evicted == ("a", "b")
        assert [await next_event(events) for _ in range(3)] == [
            ev("retract", "a"),
            ev("retract", "b"),
            ev("publish", "d", b'"d"'),
        ]
    assert await news.ids() == ["c", "d"]
    await news.configure(max_length=None)
    await news.publish("e", id="e")
    assert await news.ids() == ["c", "d", "e"]


# ------------------------------------------------------------------- refusals


async def test_refused_input_writes_nothing(thoonk: Thoonk, sync_redis: redis.Redis) -> None:
    news = thoonk.feed("news")
    await news.create({"max_length": 10})
    await news.publish({"n": 1}, id="a")
    tiny = thoonk.feed("news", codec=JsonCodec(max_size=8))
    before = snapshot(sync_redis)
    refusals: list[tuple[type[Exception], Callable[[], Awaitable[Any]]]] = [
        (InvalidIdError, lambda: news.publish(1, id="")),
        (InvalidIdError, lambda: news.publish(1, id="a\0b")),
        (InvalidIdError, lambda: news.publish(1, id=7)),  # type: ignore[arg-type]
        (InvalidIdError, lambda: news.publish(1, id="x" * 1025)),
        (PayloadError, lambda: news.publish(object())),
        (PayloadError, lambda: news.publish(float("nan"), id="a")),
        (PayloadTooLargeError, lambda: tiny.publish("far too long for eight bytes", id="a")),
        (InvalidIdError, lambda: news.retract("")),
        (InvalidIdError, lambda: news.get("a\0")),
        (InvalidIdError, lambda: news.has("")),
        (NotFoundError, lambda: news.get("missing")),
        (UsageError, lambda: news.configure(max_length=0)),
        (UsageError, lambda: news.configure(colour="red")),
    ]
    for error, attempt in refusals:
        with pytest.raises(error):
            await attempt()
        assert snapshot(sync_redis) == before, attempt
    for bad_name in ("", "a{b}", "line\nbreak", "x" * 1025):
        with pytest.raises(InvalidNameError):
            thoonk.feed(bad_name)
    assert await news.items() == [("a", {"n": 1})]


@pytest.mark.parametrize(
    "key", ["feed.ids:news", "feed.items:news", "feed.publishes:news", "feeds"]
)
async def test_a_key_of_another_type_is_refused_and_kept(
    news: Feed, sync_redis: redis.Redis, key: str
) -> None:
    if key == "feed.publishes:news":
        x(sync_redis, "RPUSH", key, "a list, not a counter")
    else:
        x(sync_redis, "SET", key, "someone else's")
    before = snapshot(sync_redis)
    with pytest.raises(WrongTypeError, match="another program"):
        await news.publish("x", id="a")
    if key in ("feed.ids:news", "feed.items:news"):
        with pytest.raises(WrongTypeError):
            await news.retract("a")
        with pytest.raises(WrongTypeError):
            await news.items()
    if key == "feed.ids:news":
        for read in (news.ids, news.length, lambda: news.has("a")):
            with pytest.raises(WrongTypeError, match="WRONGTYPE"):
                await read()
    assert snapshot(sync_redis) == before


async def test_a_garbage_max_length_is_refused(news: Feed, sync_redis: redis.Redis) -> None:
    x(sync_redis, "HSET", "feed.config:news", "max_length", "lots")
    before = snapshot(sync_redis)
    with pytest.raises(BadStoredConfigError, match="max_length"):
        await news.publish("x")
    with pytest.raises(BadStoredConfigError, match="max_length"):
        await news.config()
    assert snapshot(sync_redis) == before


# -------------------------------------------------------------- codecs, events


async def test_raw_codec_stores_bytes_as_they_are(thoonk: Thoonk, sync_redis: redis.Redis) -> None:
    raw = thoonk.feed("blobs", codec=RawCodec())
    async with raw.events() as events:
        await raw.publish(b"\x00\xffbinary", id="b1")
        event = await next_event(events)
    assert x(sync_redis, "HGET", "feed.items:blobs", "b1") == b"\x00\xffbinary"
    assert await raw.get("b1") == b"\x00\xffbinary"
    assert raw.decode_event(event) == FeedEvent("publish", "b1", b"\x00\xffbinary")


async def test_decode_event(thoonk: Thoonk, news: Feed) -> None:
    assert news.decode_event(ev("publish", "a", b'{"k":[1]}')) == FeedEvent(
        "publish", "a", {"k": [1]}
    )
    assert news.decode_event(ev("config", "", b'{"max_length":5}')) == FeedEvent("config", "")
    assert news.decode_event(ev("delete", "", b"news")) == FeedEvent("delete", "")
    with pytest.raises(UsageError, match="does not belong"):
        news.decode_event(ev("publish", "a", b"1", name="other"))
    with pytest.raises(UsageError, match="does not belong"):
        news.decode_event(ObjectEvent("sorted_feed", "news", "publish", "a", b"1"))
    with pytest.raises(UsageError, match="'position' is not an event"):
        news.decode_event(ev("position", "a", b"begin:"))
    with pytest.raises(UnexpectedReplyError, match="carries no item"):
        news.decode_event(ev("publish", "a"))
    with pytest.raises(PayloadError, match="not JSON"):
        news.decode_event(ev("edit", "a", b"plain text"))


async def test_events_default_to_the_feed_events_plus_lifecycle(news: Feed) -> None:
    async with news.events() as events:
        await news.create({"max_length": 2})
        await news.publish(1, id="a")
        await news.delete()
        received = [news.decode_event(await next_event(events)) for _ in range(3)]
    assert received == [
        FeedEvent("config", ""),
        FeedEvent("publish", "a", 1),
        FeedEvent("delete", ""),
    ]
    assert news.EVENTS == ("publish", "edit", "retract")
    assert news.KIND == "feed" and news.keys == contract.FeedKeys.of("news")
