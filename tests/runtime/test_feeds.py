"""Feed actors against real Redis: order, resyncs, isolation of a slow actor, restarts.

Testing policy: as in ``test_jobs.py`` — real Redis, a fresh database per
test, effects awaited under trio deadlines, never a bare sleep. An actor's
state is a dict built the way a user would: Resync replaces it, publish/edit
set an id, retract removes it; at the end it must equal the stored feed.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import pytest
import redis
import trio

from tests.polling import wait_until
from thoonk_actors.objects import FeedEvent, open_thoonk
from thoonk_actors.runtime import App, Resync
from thoonk_actors.runtime import _app as app_module

DEADLINE = 20


class Mirror:
    """What a feed actor typically keeps: the feed as a dict, rebuilt on Resync."""

    def __init__(self) -> None:
        self.items: dict[str, Any] = {}
        self.events: list[FeedEvent] = []
        self.resyncs: list[str] = []

    def apply(self, event: FeedEvent | Resync) -> None:
        if isinstance(event, Resync):
            self.resyncs.append(event.reason)
            self.items = dict(event.items)
            return
        self.events.append(event)
        if event.event in ("publish", "edit"):
            self.items[event.id] = event.item
        elif event.event == "retract":
            self.items.pop(event.id, None)


async def test_actor_gets_a_snapshot_then_every_event_in_order(redis_url: str) -> None:
    app = App(redis_url)
    mirror = Mirror()

    @app.feed("news")
    async def on_news(event: FeedEvent | Resync) -> None:
        mirror.apply(event)

    with trio.fail_after(DEADLINE):
        async with open_thoonk(redis_url) as thoonk:
            news = thoonk.feed("news")
            await news.publish({"title": "before"}, id="a")
            async with app.open() as running:
                await wait_until(lambda: mirror.resyncs == ["start"], what="the snapshot")
                assert mirror.items == {"a": {"title": "before"}}
                await news.publish({"title": "b"}, id="b")
                await news.publish({"title": "a2"}, id="a")
                await news.retract("b")
                await wait_until(lambda: len(mirror.events) == 3, what="3 events")
                stats = running.statistics().actor("news")
    assert [(e.event, e.id, e.item) for e in mirror.events] == [
        ("publish", "b", {"title": "b"}),
        ("edit", "a", {"title": "a2"}),
        ("retract", "b", None),
    ]
    assert mirror.items == {"a": {"title": "a2"}}
    assert (stats.handled, stats.resyncs, stats.dropped, stats.restarts) == (3, 1, 0, 0)


async def test_slow_actor_resyncs_to_the_final_state_while_a_fast_one_keeps_up(
    redis_url: str,
) -> None:
    app = App(redis_url)
    slow, fast = Mirror(), Mirror()
    gate = trio.Event()

    @app.feed("slow", buffer=4)
    async def on_slow(event: FeedEvent | Resync) -> None:
        slow.apply(event)
        if isinstance(event, FeedEvent):
            await gate.wait()  # stuck on its first event until the test opens the gate

    @app.feed("fast", buffer=1024)
    def on_fast(event: FeedEvent | Resync) -> None:  # a plain def: runs in a thread
        fast.apply(event)

    async def publish_to(feed_name: str, thoonk: Any) -> None:
        feed = thoonk.feed(feed_name)
        await feed.create({"max_length": 150}, exist_ok=True)
        async with trio.open_nursery() as nursery:  # many publishes in flight
            for i in range(300):
                nursery.start_soon(partial(feed.publish, {"n": i}, id=f"id-{i % 200}"))
        for i in range(0, 200, 3):
            await feed.retract(f"id-{i}")

    with trio.fail_after(DEADLINE):
        async with open_thoonk(redis_url) as thoonk, app.open() as running:
            await wait_until(lambda: bool(slow.resyncs and fast.resyncs), what="both snapshots")
            async with trio.open_nursery() as nursery:
                nursery.start_soon(publish_to, "slow", thoonk)
                nursery.start_soon(publish_to, "fast", thoonk)
            slow_final = dict(await thoonk.feed("slow").items())
            fast_final = dict(await thoonk.feed("fast").items())
            # The fast actor converges while the slow one is still stuck.
            await wait_until(lambda: fast.items == fast_final, what="the fast actor")
            assert len(slow.events) == 1 and slow.items != slow_final
            gate.set()
            await wait_until(lambda: slow.items == slow_final, what="the slow actor")
        stats = running.statistics()  # final: the app has stopped
    slow_stats, fast_stats = stats.actor("slow"), stats.actor("fast")
    assert 0 < len(slow_final) <= 150  # max_length 150, then some retracted
    assert slow_stats.dropped > 0 and slow.resyncs == ["start", "overflow"]
    assert len(slow.events) <= 1 + 4  # the one it was stuck on, then its buffer
    assert fast_stats.dropped == 0 and fast.resyncs == ["start"]
    # every publish/edit, each eviction and each retract of what was still there
    assert fast_stats.handled == len(fast.events) >= 300 + 50


async def test_crashed_actor_is_restarted_with_a_resync(redis_url: str) -> None:
    app = App(redis_url)
    mirror = Mirror()
    crashes: list[str] = []

    @app.feed("fragile")
    async def on_event(event: FeedEvent | Resync) -> None:
        if isinstance(event, FeedEvent) and event.item == "poison" and not crashes:
            crashes.append(event.id)
            raise RuntimeError("cannot digest that")
        mirror.apply(event)

    with trio.fail_after(DEADLINE):
        async with open_thoonk(redis_url) as thoonk, app.open() as running:
            feed = thoonk.feed("fragile")
            await wait_until(lambda: mirror.resyncs == ["start"], what="the snapshot")
            await feed.publish("poison", id="p")
            await feed.publish("fine", id="f")
            await wait_until(lambda: mirror.items == {"p": "poison", "f": "fine"}, what="recovery")
            stats = running.statistics().actor("fragile")
    assert crashes == ["p"]
    assert mirror.resyncs[:2] == ["start", "restart"]
    assert stats.restarts == 1


async def test_pubsub_reconnect_makes_actors_resync(
    redis_url: str, sync_redis: redis.Redis
) -> None:
    app = App(redis_url)
    mirror = Mirror()

    @app.sorted_feed("agenda")
    async def on_agenda(event: Any) -> None:
        if isinstance(event, Resync):
            mirror.resyncs.append(event.reason)
            mirror.items = dict(event.items)

    with trio.fail_after(DEADLINE):
        async with open_thoonk(redis_url) as thoonk, app.open():
            await wait_until(lambda: mirror.resyncs == ["start"], what="the snapshot")
            await thoonk.sorted_feed("agenda").append("lunch", id="l")  # its event is ignored
            sync_redis.client_kill_filter(_type="pubsub")
            await wait_until(
                lambda: mirror.resyncs == ["start", "reconnected"], what="a resync after reconnect"
            )
    assert mirror.items == {"l": "lunch"}


async def test_idle_actor_statistics_are_not_rebuilt(redis_url: str) -> None:
    """The twice-a-second refresh reuses an idle actor's frozen statistics (no allocation).

    While no mailbox or actor of the app moved, it does not even ask the actors:
    the tuple of their statistics is the one it built last.
    """
    app = App(redis_url)
    mirror = Mirror()

    @app.feed("news")
    async def on_news(event: FeedEvent | Resync) -> None:
        mirror.apply(event)

    with trio.fail_after(DEADLINE):
        async with open_thoonk(redis_url) as thoonk, app.open() as running:
            await wait_until(lambda: mirror.resyncs == ["start"], what="the snapshot")
            idle = running.statistics().actor("news")
            assert running.statistics().actor("news") is idle
            assert running.statistics().actors is running.statistics().actors
            await thoonk.feed("news").publish("x", id="a")
            await wait_until(lambda: len(mirror.events) == 1, what="the event")
            await wait_until(
                lambda: running.statistics().actor("news").handled == 1, what="fresh statistics"
            )
            busy = running.statistics().actor("news")
    assert busy is not idle
    assert (idle.handled, idle.resyncs) == (0, 1)
    assert (busy.handled, busy.resyncs, busy.buffered) == (1, 1, 0)


async def test_many_actors_share_one_pattern_subscription(
    redis_url: str, sync_redis: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    """From PATTERN_FROM actors of a type on, the listener PSUBSCRIBEs ``event.<type>.*``:
    each actor still gets exactly its own feed's events, and a reconnect still resyncs."""
    monkeypatch.setattr(app_module, "PATTERN_FROM", 2)
    app = App(redis_url)
    mirrors = {name: Mirror() for name in ("one", "two")}
    for name, mirror in mirrors.items():
        app.feed(name)(partial(apply_async, mirror))

    with trio.fail_after(DEADLINE):
        async with open_thoonk(redis_url) as thoonk, app.open():
            await wait_until(
                lambda: all(m.resyncs == ["start"] for m in mirrors.values()), what="snapshots"
            )
            assert sync_redis.execute_command("PUBSUB", "NUMPAT") == 1
            assert b"event.feed.publish:one" not in sync_redis.pubsub_channels()
            await thoonk.feed("elsewhere").publish("not watched here", id="x")
            await thoonk.feed("one").publish(1, id="a")
            await thoonk.feed("two").publish(2, id="b")
            await wait_until(lambda: mirrors["two"].items == {"b": 2}, what="two's event")
            await wait_until(lambda: mirrors["one"].items == {"a": 1}, what="one's event")
            sync_redis.client_kill_filter(_type="pubsub")
            await wait_until(
                lambda: all(m.resyncs == ["start", "reconnected"] for m in mirrors.values()),
                what="resyncs after the reconnect",
            )
            await thoonk.feed("one").publish(3, id="c")
            await wait_until(lambda: "c" in mirrors["one"].items, what="an event after it")
    assert [(e.event, e.id) for e in mirrors["one"].events] == [("publish", "a"), ("publish", "c")]
    assert [(e.event, e.id) for e in mirrors["two"].events] == [("publish", "b")]


async def apply_async(mirror: Mirror, event: FeedEvent | Resync) -> None:
    mirror.apply(event)


async def test_one_unreadable_feed_does_not_hold_back_the_other_snapshots(
    redis_url: str, sync_redis: redis.Redis
) -> None:
    """Snapshots are read in one pipeline; a refusal in it only fails its own actor."""
    sync_redis.set("feed.ids:broken", "not a zset")  # another program wrote our key
    app = App(redis_url)
    good, broken = Mirror(), Mirror()
    app.feed("good")(partial(apply_async, good))
    app.feed("broken")(partial(apply_async, broken))

    with trio.fail_after(DEADLINE):
        async with open_thoonk(redis_url) as thoonk:
            await thoonk.feed("good").publish("kept", id="k")
            async with app.open() as running:
                await wait_until(lambda: good.resyncs == ["start"], what="good's snapshot")
                await wait_until(
                    lambda: running.statistics().actor("broken").restarts >= 1,
                    what="the broken actor's restart",
                )
    assert good.items == {"k": "kept"}
    assert broken.resyncs == []
