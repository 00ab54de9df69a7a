"""Connection chaos: every client of the server killed every few tenths of a second.

Policy: a private redis-server; an in-process app (a job worker and two feed
actors mirroring a feed and a sorted feed), a separate client of waiters and
a feed writer; a killer thread-hops ``CLIENT KILL TYPE normal`` and ``TYPE
pubsub`` every ~0.4 s for the whole run. Bounded for CI; ``THOONK_SOAK=1``
runs the long form.

The idle rule (issue 10: no worker idle more than 0.5 s with jobs available
while the server answers): ``idle`` is each stretch with no handler running
while the queue had jobs available (from the first sample that found jobs
after one that found none: the jobs of a claim whose reply was lost wait out
a retry backoff, not counted as available). A stretch may exceed
:data:`IDLE_LIMIT` only by the time this process's event loop was stalled
during it (measured by a 10 ms ticker: the sum of its late wake-ups in the
stretch), since the worker shares that loop with 5,000 waiters and a loaded
CI machine delays every task alike. So the assertion is
``max(idle - stall during it) <= IDLE_LIMIT``; both figures are printed.
"""

from __future__ import annotations

import logging
import os
import random
from typing import Any

import pytest
import redis
import trio

from thoonk_actors import App, ThoonkConnectionError, ThoonkTimeoutError, open_thoonk
from thoonk_actors._errors import NotFoundError
from thoonk_actors.objects import Feed, SortedFeed
from thoonk_actors.runtime._supervise import CONNECTION_MAX_DELAY

from ..feed_mirrors import FeedMirror, SortedMirror
from ..polling import wait_until
from ..transport._private_server import PrivateRedis

SOAK = os.environ.get("THOONK_SOAK") == "1"
JOBS = 5_000 if SOAK else 300
CONCURRENCY = 16 if SOAK else 8
WORK_S = 0.02 if SOAK else 0.08  # each handler's work: the run lasts several kill periods
KILL_EVERY = 0.4
#: The longest stretch without a handler running while jobs are available (issue 10).
IDLE_LIMIT = 0.5
TICK = 0.01  # the stall ticker's period
IDS = ["a", "b", "c", "d", "e", "f"]


async def write_feeds(news: Feed, deck: SortedFeed, rng: random.Random) -> int:
    """One random change to the feed or the sorted feed; 1 if its connection broke.

    A write whose connection broke in flight may or may not have run (it is
    never sent again): the stored feed is the truth the actors must end with.
    """
    id, anchor = rng.sample(IDS, 2)
    try:
        roll = rng.random()
        if roll < 0.35:
            await news.publish(rng.random(), id=id)
        elif roll < 0.5:
            await news.retract(id)
        elif roll < 0.65:
            await deck.append(id, id=None if id in await deck.ids() else id)
        elif roll < 0.85:
            where = rng.choice(["begin", "end", "after"])
            await deck.move(id, where, anchor if where == "after" else None)
        else:
            await deck.retract(id)
    except NotFoundError:
        pass  # a move or retract of an id not there (or an anchor): nothing changed
    except (ThoonkConnectionError, ThoonkTimeoutError):
        return 1
    return 0


@pytest.mark.slow
async def test_a_run_completes_while_every_client_is_killed_again_and_again(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="thoonk_actors")
    with PrivateRedis() as server:
        witness = redis.Redis(unix_socket_path=server.socket)
        async with open_thoonk(server.url) as producer:
            ids = await producer.job("q").publish_many(range(JOBS))

        app = App(server.url)

        @app.job("q", concurrency=CONCURRENCY)
        async def double(item: int) -> int:
            nonlocal running, idle_since, idle_stalled, longest_idle, longest_idle_net
            if running == 0 and idle_since is not None and queued:
                # Idle with jobs available: since the later of the two.
                start, base = max((idle_since, idle_stalled), (queued_since, queued_stalled))
                idle = trio.current_time() - start
                longest_idle = max(longest_idle, idle)
                longest_idle_net = max(longest_idle_net, idle - (stalled() - base))
            running += 1
            try:
                await trio.sleep(WORK_S)
            finally:
                running -= 1
                if running == 0:
                    idle_since, idle_stalled = trio.current_time(), stalled()
            return item * 2

        # Feed actors, built the way a handler would: replace on Resync, apply each event.
        news_mirror, deck_mirror = FeedMirror(), SortedMirror()

        @app.feed("news")
        async def mirror_news(event: Any) -> None:
            news_mirror.apply(event)

        @app.sorted_feed("deck")
        async def mirror_deck(event: Any) -> None:
            deck_mirror.apply(event)

        results: dict[str, Any] = {}
        # The longest time no handler ran while jobs were queued (see the module
        # doc). ``queued``: the last sample of the queue's length, taken since
        # ``queued_since`` (when a sample first found jobs after one found none).
        running = 0
        idle_since: float | None = None
        idle_stalled = 0.0  # stalled() when the current idle stretch began
        queued = 0
        queued_since, queued_stalled = 0.0, 0.0
        longest_idle = 0.0
        longest_idle_net = 0.0  # less the event-loop stall during the stretch
        longest_stall = 0.0  # of this process's event loop (waiters, app, writer share it)
        stall_total = 0.0  # every late wake-up of the ticker, summed
        last_tick = trio.current_time()

        def stalled() -> float:
            # Stall so far, including a stall still in progress (the ticker is late now).
            return stall_total + max(0.0, trio.current_time() - last_tick - TICK)

        kills = 0
        broken_writes = 0
        rng = random.Random(10)
        started = trio.current_time()

        async with open_thoonk(server.url) as client, app.open():
            job = client.job("q")
            news, deck = client.feed("news"), client.sorted_feed("deck")

            async def waiter(job_id: str) -> None:
                results[job_id] = await job.wait_result(job_id, timeout=600)

            def kill_everyone() -> None:
                witness.execute_command("CLIENT", "KILL", "TYPE", "normal")
                witness.execute_command("CLIENT", "KILL", "TYPE", "pubsub")

            with trio.fail_after(600 if SOAK else 120):
                async with trio.open_nursery() as nursery:
                    for job_id in ids:
                        nursery.start_soon(waiter, job_id)

                    async def feed_writer() -> None:
                        nonlocal broken_writes
                        while len(results) < JOBS:
                            broken_writes += await write_feeds(news, deck, rng)
                            await trio.sleep(0.005)  # a writer's pace: many writes per kill

                    nursery.start_soon(feed_writer)

                    async def sample_queue() -> None:
                        nonlocal queued, queued_since, queued_stalled
                        while len(results) < JOBS:
                            asked, asked_stalled = trio.current_time(), stalled()
                            available = (await job.statistics()).available
                            if available and not queued:
                                queued_since, queued_stalled = asked, asked_stalled
                            queued = available
                            await trio.sleep(0.05)  # the sampling interval

                    nursery.start_soon(sample_queue)

                    async def watch_loop() -> None:
                        nonlocal longest_stall, stall_total, last_tick
                        while len(results) < JOBS:
                            last_tick = trio.current_time()
                            await trio.sleep(TICK)
                            late = max(0.0, trio.current_time() - last_tick - TICK)
                            stall_total += late
                            longest_stall = max(longest_stall, late)

                    nursery.start_soon(watch_loop)
                    while len(results) < JOBS:
                        # The fault schedule, not a wait for an effect.
                        with trio.move_on_after(KILL_EVERY):
                            await trio.sleep_forever()
                        await trio.to_thread.run_sync(kill_everyone)
                        kills += 1

                # The chaos is over: one last write to each (on a connection
                # opened after the last kill), then every actor's view must be
                # exactly the stored feed (order included).
                async with open_thoonk(server.url) as late:
                    await late.feed("news").publish("end", id="sentinel")
                    await late.sorted_feed("deck").append("end", id="sentinel")

                async def converged() -> bool:
                    return news_mirror.view() == await news.items() and (
                        deck_mirror.view() == await deck.items()
                    )

                await wait_until(converged, what="the feed actors to match the stored feeds")

            stats = await job.statistics()
        witness.close()

    restarts = [r.getMessage() for r in caplog.records if "restarting in" in r.getMessage()]
    crashes = [m for m in restarts if "crashed" in m]
    pauses = [float(m.rsplit("restarting in ", 1)[1].split()[0]) for m in restarts]

    print(  # the figures of docs/reliability.md (shown with -s)
        f"\nconnection chaos: {JOBS} jobs, {kills} rounds of CLIENT KILL in "
        f"{trio.current_time() - started:.1f} s, {JOBS - len(results)} waiters without "
        f"a result, finishes {stats.finishes} / publishes {stats.publishes}; feed actors "
        f"resynced {len(news_mirror.resyncs)} and {len(deck_mirror.resyncs)} times "
        f"({broken_writes} feed writes broke in flight); {len(restarts)} loop restarts "
        f"(longest pause {max(pauses, default=0.0):.2f} s); "
        f"longest stretch with no handler running while jobs were queued {longest_idle:.2f} s, "
        f"{longest_idle_net:.2f} s less the event-loop stall during it (longest stall of the "
        f"test process's event loop {longest_stall:.2f} s)"
    )
    assert kills >= 3, "the run should have lived through several kills"
    assert results == {job_id: 2 * i for i, job_id in enumerate(ids)}
    assert (stats.publishes, stats.finishes) == (JOBS, JOBS)
    assert (stats.available, stats.claimed, stats.stalled) == (0, 0, 0)
    # The feed actors lived through the chaos: they were told to resync after it.
    assert "reconnected" in news_mirror.resyncs and "reconnected" in deck_mirror.resyncs
    assert news_mirror.handled > 0 and deck_mirror.handled > 0
    # Every loop that lost its connection was restarted as a connection error
    # (at most CONNECTION_MAX_DELAY later), none as a crash with its long backoff.
    assert crashes == []
    assert max(pauses, default=0.0) <= CONNECTION_MAX_DELAY
    # No worker idle longer than IDLE_LIMIT with jobs available (the module doc's rule).
    assert longest_idle_net <= IDLE_LIMIT, (
        f"no handler ran for {longest_idle:.2f} s while jobs were queued "
        f"({longest_idle_net:.2f} s not explained by this process's event loop stalling)"
    )
