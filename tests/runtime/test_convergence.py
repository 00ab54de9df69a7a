"""Feed actors end with exactly the stored feed (order included), whatever the interleaving.

Testing policy: real Redis; real faults (handler crashes, ``CLIENT KILL TYPE
pubsub``, mailboxes of one message); effects awaited with deadlines. The
first tests pin the snapshot window by hand (the actor's snapshot read waits
on a gate while the test writes), so each replay case is deterministic and
fails without the change sequence. The last one drives random interleavings
of every feed and sorted feed operation from several tasks while apps start,
actors overflow, crash and reconnect at random points (seeded; a bounded
number of seeds in CI, many more with ``THOONK_SOAK=1``).
"""

from __future__ import annotations

import os
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest
import redis
import trio

from tests.feed_mirrors import FeedMirror, SortedMirror
from tests.polling import wait_until
from thoonk_actors._errors import DuplicateIdError, InvalidIdError, NotFoundError
from thoonk_actors.objects import Feed, Snapshot, SortedFeed, Thoonk, open_thoonk
from thoonk_actors.runtime import App
from thoonk_actors.runtime._actor import FeedActor, channels_of
from thoonk_actors.runtime._mailbox import Mailbox
from thoonk_actors.runtime._registry import FeedRegistration
from thoonk_actors.runtime._router import EventRouter

DEADLINE = 30
SOAK = os.environ.get("THOONK_SOAK") == "1"


@pytest.fixture
async def thoonk(redis_url: str) -> AsyncIterator[Thoonk]:
    async with open_thoonk(redis_url) as client:
        yield client


class GatedSortedFeed(SortedFeed):
    """A sorted feed whose snapshot read waits until the test opens the gate."""

    gate: trio.Event

    async def snapshot(self) -> Snapshot:
        await self.gate.wait()
        return await super().snapshot()


class GatedFeed(Feed):
    gate: trio.Event

    async def snapshot(self) -> Snapshot:
        await self.gate.wait()
        return await super().snapshot()


@asynccontextmanager
async def actor_of(
    thoonk: Thoonk, obj: Any, handler: Callable[[Any], Awaitable[None]]
) -> AsyncIterator[tuple[FeedActor, Mailbox]]:
    """One actor of ``obj``, subscribed (acknowledged) before its snapshot is read."""
    registration = FeedRegistration.make(handler, obj.name, kind=obj.KIND, buffer=64, snapshot=True)
    mailbox = Mailbox(64)
    actor = FeedActor(registration, obj, mailbox)
    async with trio.open_nursery() as nursery:
        await nursery.start(EventRouter(thoonk, dict.fromkeys(channels_of(obj), mailbox)).serve)
        nursery.start_soon(actor.serve)
        yield actor, mailbox
        nursery.cancel_scope.cancel()


async def settle(deck: SortedFeed, mirror: SortedMirror) -> None:
    """A later change, then wait for it: everything before it has been handled."""
    await deck.append("sentinel", id="sentinel")
    await wait_until(lambda: "sentinel" in mirror.order, what="the sentinel")


async def test_events_the_snapshot_holds_are_not_replayed(thoonk: Thoonk) -> None:
    """The issue's case: stored [B, A, X]; moves land between subscribe and snapshot."""
    deck = GatedSortedFeed(thoonk, "deck")
    deck.gate = trio.Event()
    for id in "bax":
        await deck.append(id.upper(), id=id)
    mirror = SortedMirror()

    async def handler(event: Any) -> None:
        mirror.apply(event)

    with trio.fail_after(DEADLINE):
        async with actor_of(thoonk, deck, handler) as (actor, mailbox):
            await deck.move_after("x", "a")  # no change: [b, a, x]
            await deck.move_to_begin("a")  # [a, b, x]
            await wait_until(lambda: mailbox.buffered == 2, what="both moves queued")
            deck.gate.set()
            await wait_until(lambda: mirror.resyncs == ["start"], what="the snapshot")
            await settle(deck, mirror)
            assert mirror.view() == await deck.items()
            assert mirror.order == ["a", "b", "x", "sentinel"]
            assert actor.skipped == 2


async def test_a_replayed_anchor_retracted_before_the_snapshot_is_skipped(
    thoonk: Thoonk,
) -> None:
    deck = GatedSortedFeed(thoonk, "deck")
    deck.gate = trio.Event()
    await deck.append("A", id="a")
    await deck.append("B", id="b")
    mirror = SortedMirror()

    async def handler(event: Any) -> None:
        mirror.apply(event)

    with trio.fail_after(DEADLINE):
        async with actor_of(thoonk, deck, handler) as (_, mailbox):
            await deck.publish_after("a", "C", id="c")  # [a, c, b]
            await deck.retract("a")  # [c, b]: the anchor of c's position is gone
            await wait_until(lambda: mailbox.buffered == 3, what="the three events")
            deck.gate.set()
            await wait_until(lambda: mirror.resyncs == ["start"], what="the snapshot")
            await settle(deck, mirror)
            assert mirror.order == ["c", "b", "sentinel"]
            assert mirror.view() == await deck.items()


async def test_a_restart_resync_skips_what_its_mailbox_already_held(thoonk: Thoonk) -> None:
    """Events queued behind a crashing handler are older than the restart's snapshot."""
    deck = thoonk.sorted_feed("deck")
    for id in "bax":
        await deck.append(id.upper(), id=id)
    mirror = SortedMirror()
    stuck, release = trio.Event(), trio.Event()

    async def handler(event: Any) -> None:
        if getattr(event, "item", None) == "poison" and not stuck.is_set():
            stuck.set()
            await release.wait()
            raise RuntimeError("cannot digest that")
        mirror.apply(event)

    with trio.fail_after(DEADLINE):
        async with actor_of(thoonk, deck, handler) as (actor, mailbox):
            await wait_until(lambda: mirror.resyncs == ["start"], what="the snapshot")
            await deck.edit("x", "poison")
            await stuck.wait()
            await deck.move_after("x", "a")
            await deck.move_to_begin("a")
            await wait_until(lambda: mailbox.buffered == 2, what="both moves queued")
            release.set()
            await wait_until(lambda: len(mirror.resyncs) == 2, what="the restart's resync")
            await settle(deck, mirror)
            assert mirror.resyncs == ["start", "restart"]
            assert mirror.order == ["a", "b", "x", "sentinel"]
            assert mirror.view() == await deck.items()
            assert actor.skipped == 2


async def test_replayed_plain_feed_events_converge(thoonk: Thoonk) -> None:
    """Plain feed events carry no sequence; replaying them onto the snapshot is harmless."""
    feed = GatedFeed(thoonk, "news")
    feed.gate = trio.Event()
    await feed.create({"max_length": 3})
    for id in "abc":
        await feed.publish(id.upper(), id=id)
    mirror = FeedMirror()

    async def handler(event: Any) -> None:
        mirror.apply(event)

    with trio.fail_after(DEADLINE):
        async with actor_of(thoonk, feed, handler) as (_, mailbox):
            await feed.publish("A2", id="a")  # edit: a becomes newest
            await feed.publish("D", id="d")  # evicts b
            await feed.retract("c")
            await feed.publish("B", id="b")
            await wait_until(lambda: mailbox.buffered == 5, what="the five events")
            feed.gate.set()
            await wait_until(lambda: mirror.resyncs == ["start"], what="the snapshot")
            await feed.publish("S", id="sentinel")
            await wait_until(lambda: "sentinel" in mirror.items, what="the sentinel")
            assert mirror.view() == await feed.items()


# ------------------------------------------------------------- random driver

IDS = ["a", "b", "c", "1", "2", "begin", "end", ":q", "q:", ":", "a:b"]
SEEDS = range(40 if SOAK else 6)
WRITE_SECONDS = 10.0 if SOAK else 1.5
#: Faults (kills, crashes) stop before the writes do: a resync with nothing
#: after it would hide what a replay broke.
FAULTY = WRITE_SECONDS


async def sorted_op(deck: SortedFeed, rng: random.Random) -> None:
    id, anchor = rng.sample(IDS, 2)
    roll = rng.random()
    if roll < 0.2:
        await deck.append(id, id=rng.choice([id, None]))
    elif roll < 0.3:
        await deck.prepend(id, id=id)
    elif roll < 0.4:
        await deck.publish_before(anchor, id, id=id)
    elif roll < 0.5:
        await deck.publish_after(anchor, id, id=rng.choice([id, None]))
    elif roll < 0.6:
        await deck.edit(id, f"{id}/{rng.random():.3f}")
    elif roll < 0.85:
        where = rng.choice(["begin", "end", "before", "after"])
        await deck.move(id, where, anchor if where in ("before", "after") else None)
    elif roll < 0.99:
        await deck.retract(id)
    else:
        await deck.delete()


async def feed_op(feed: Feed, rng: random.Random) -> None:
    roll = rng.random()
    if roll < 0.6:
        await feed.publish(rng.random(), id=rng.choice(IDS))
    elif roll < 0.7:
        await feed.publish("new")
    elif roll < 0.98:
        await feed.retract(rng.choice(IDS))
    else:
        await feed.delete()
        await feed.create({"max_length": 5}, exist_ok=True)


async def writer(objects: list[Any], rng: random.Random) -> None:
    end = trio.current_time() + WRITE_SECONDS
    while trio.current_time() < end:
        obj = rng.choice(objects)
        try:
            if isinstance(obj, SortedFeed):
                await sorted_op(obj, rng)
            else:
                await feed_op(obj, rng)
        except (NotFoundError, DuplicateIdError, InvalidIdError):
            pass  # a refusal changes nothing (raced with another writer)
        if rng.random() < 0.5:
            await trio.sleep(rng.uniform(0, 0.004))


def app_for(
    url: str,
    objects: list[Any],
    rng: random.Random,
    mirrors: list[tuple[Any, Any]],
    faults_end: float,
) -> App:
    """An App with one actor per object: tiny or roomy mailboxes, some slow, some crashing."""
    app = App(url)
    for obj in objects:
        mirror = SortedMirror() if isinstance(obj, SortedFeed) else FeedMirror()
        mirrors.append((obj, mirror))
        slow = rng.random() < 0.5
        buffer = rng.choice([1, 2, 8, 1024])
        # Crashes at random moments of the faulty part of the run: the handler
        # hangs a little first, so the restart's resync finds older events queued.
        now = trio.current_time()
        crash_at = sorted(rng.uniform(now, faults_end) for _ in range(rng.randrange(0, 5)))

        async def handler(event: Any, mirror: Any = mirror, slow: bool = slow,
                          crash_at: list[float] = crash_at) -> None:  # fmt: skip
            if crash_at and trio.current_time() >= crash_at[0]:
                while crash_at and trio.current_time() >= crash_at[0]:
                    del crash_at[0]
                await trio.sleep(0.02)
                raise RuntimeError("a handler bug")
            if slow:
                await trio.sleep(0.001)
            mirror.apply(event)

        register = app.sorted_feed if isinstance(obj, SortedFeed) else app.feed
        register(obj.name, buffer=buffer)(handler)
    return app


@pytest.mark.slow
@pytest.mark.parametrize("seed", SEEDS)
async def test_actors_converge_under_random_interleavings(
    redis_url: str, sync_redis: redis.Redis, seed: int
) -> None:
    rng = random.Random(seed)
    mirrors: list[tuple[Any, Any]] = []
    with trio.fail_after(DEADLINE * 2):
        async with open_thoonk(redis_url) as thoonk:
            objects: list[Any] = [thoonk.sorted_feed("s1"), thoonk.sorted_feed("s2")]
            objects += [thoonk.feed("f1"), thoonk.feed("f2")]
            for feed in objects[2:]:
                await feed.create({"max_length": 5})
            stop = trio.Event()
            faults_end = trio.current_time() + FAULTY

            async def run_app(delay: float) -> None:
                await trio.sleep(delay)  # start at a random point of the writes
                async with app_for(redis_url, objects, rng, mirrors, faults_end).open():
                    await stop.wait()

            async def kill_pubsub() -> None:
                # A few reconnects (each one resyncs every actor, which would
                # also hide what an earlier replay broke).
                for _ in range(rng.randrange(1, 4)):
                    await trio.sleep_until(rng.uniform(trio.current_time(), faults_end))
                    await trio.to_thread.run_sync(
                        lambda: sync_redis.client_kill_filter(_type="pubsub")
                    )

            async with trio.open_nursery() as nursery:
                for delay in (0, rng.uniform(0, FAULTY), rng.uniform(0, FAULTY)):
                    nursery.start_soon(run_app, delay)
                nursery.start_soon(kill_pubsub)
                async with trio.open_nursery() as writing:
                    for n in range(3):
                        writing.start_soon(writer, objects, random.Random(seed * 10 + n))

                async def converged() -> bool:
                    for obj, mirror in mirrors:
                        if mirror.view() != await obj.items():
                            return False
                    return True

                await wait_until(converged, what="every actor's view", deadline=DEADLINE)
                stop.set()
    assert len(mirrors) == 3 * len(objects)  # three apps, one actor per object each
