"""Feed actors at scale: start-up, idle cost, publish -> actor latency, publish cost.

Usage::

    python benchmarks/feeds.py [--url redis://127.0.0.1:6379/15] [--feeds 5000,10000]
                               [--samples 500] [--idle 3] [--server-stats]

Without ``--url`` it uses ``$THOONK_REDIS_URL`` or the embedded server. The
database is emptied (FLUSHDB) first: give it one of its own.

For each ``--feeds`` N, one App in this process with N feed actors (one of
them a sorted feed) and reports:

* start-up: from entering ``app.open()`` until every actor has had its start
  ``Resync`` (subscribing N x 5 channels, then N snapshot reads);
* memory per actor: the process's resident memory after start-up minus
  before the App was built, divided by N;
* idle CPU: process CPU seconds / wall seconds over ``--idle`` seconds with
  nothing published (the 0.5 s statistics refresh is what runs);
* statistics refresh: one ``running.statistics()`` (what the refresh does
  twice a second), as it is now (idle actors reuse their frozen statistics)
  and with every actor's cache dropped first (what it cost before);
* publish -> actor: ``--samples`` ``Feed.publish`` calls one after the other
  on one of the N feeds, the handler reading ``time.perf_counter()`` against
  the time in the item (p50 / p99 ms), and the ``publish`` call alone;

and once, the floor: bare redis-py ``PUBLISH`` to a redis-py subscriber
thread on the same server (p50 / p99 ms), and the ``PUBLISH`` call alone.
``--server-stats`` adds the Redis CPU of one feed publish (``INFO
commandstats`` EVALSHA usec per call, after ``CONFIG RESETSTAT``) beside
``MINIMAL`` and a bare ``PUBLISH``, interleaved in chunks of 200 calls (the
median chunk of 10 each) — it resets the server's statistics: use a server
of your own.
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import threading
import time
from typing import Any

import redis
import trio

from thoonk_actors.contract import Script
from thoonk_actors.embedded import resolve_url_sync
from thoonk_actors.objects import Thoonk, open_thoonk
from thoonk_actors.runtime import App, Resync

#: The writes of a feed publish with no checks, no eviction, no registry: the floor
#: of what a script that keeps the contract can cost.
MINIMAL = Script.from_source(
    "bench/minimal-feed-publish",
    "local t = redis.call('TIME')\n"
    "redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')\n"
    "redis.call('INCR', KEYS[3])\n"
    "redis.call('ZADD', KEYS[1], t[1] * 1000 + math.floor(t[2] / 1000), ARGV[1])\n"
    "redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])\n"
    "redis.call('PUBLISH', ARGV[3], ARGV[1] .. '\\0' .. ARGV[2])\n"
    "return 1\n",
)


def rss() -> int:
    """Resident bytes of this process (Linux)."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def ms(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return 1000 * ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def floor(url: str, samples: int) -> dict[str, float]:
    """Bare redis-py: PUBLISH from this thread, a pubsub reader in another."""
    client = redis.Redis.from_url(url)
    pubsub = client.pubsub()
    pubsub.subscribe("bench-floor")
    pubsub.get_message(timeout=5)  # the subscribe confirmation
    latencies: list[float] = []
    calls: list[float] = []
    got = threading.Event()

    def read() -> None:
        while len(latencies) < samples:
            message = pubsub.get_message(timeout=5)
            if message and message["type"] == "message":
                latencies.append(time.perf_counter() - float(message["data"]))
                got.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    for _ in range(samples):
        got.clear()
        start = time.perf_counter()
        client.publish("bench-floor", repr(start))
        calls.append(time.perf_counter() - start)
        got.wait(5)
    reader.join(5)
    pubsub.close()
    client.close()
    return {
        "p50": ms(latencies, 0.5),
        "p99": ms(latencies, 0.99),
        "call_p50": ms(calls, 0.5),
    }


async def server_usec(thoonk: Thoonk, command: str, run: Any, n: int) -> float:
    await thoonk.execute("CONFIG", "RESETSTAT")
    for i in range(n):
        await run(i)
    info = (await thoonk.execute("INFO", "commandstats")).decode()
    for line in info.splitlines():
        if line.startswith(f"cmdstat_{command}:"):
            fields = dict(f.split("=", 1) for f in line.split(":", 1)[1].split(","))
            return float(fields["usec"]) / int(fields["calls"])
    return float("nan")


async def scale(url: str, n: int, samples: int, idle: float) -> dict[str, float]:
    received: list[float] = []
    started = 0
    all_started = trio.Event()
    next_event = trio.Event()

    async def on_event(event: Any) -> None:
        nonlocal started, next_event
        if isinstance(event, Resync):
            started += 1
            if started == n:
                all_started.set()
            return
        if event.event == "publish":
            received.append(time.perf_counter() - event.item)
            next_event.set()

    gc.collect()
    before = rss()
    app = App(url)
    app.sorted_feed("bench-sorted")(on_event)
    for i in range(n - 1):
        app.feed(f"bench-feed-{i}")(on_event)
    out: dict[str, float] = {}
    async with open_thoonk(url) as thoonk:
        start = time.perf_counter()
        async with app.open(thoonk=thoonk) as running:
            await all_started.wait()
            out["startup_s"] = time.perf_counter() - start
            gc.collect()
            out["kb_per_actor"] = (rss() - before) / n / 1024

            cpu, wall = time.process_time(), time.perf_counter()
            await trio.sleep(idle)
            out["idle_cpu_pct"] = 100 * (time.process_time() - cpu) / (time.perf_counter() - wall)

            for name, drop in (("stats_cached_ms", False), ("stats_rebuilt_ms", True)):
                times = []
                for _ in range(20):
                    if drop:
                        for actor in running.actors:
                            actor._stats = None
                        running._actor_stats_at = -1  # the app's cache of them too
                    t = time.perf_counter()
                    running.statistics()
                    times.append(time.perf_counter() - t)
                out[name] = 1000 * statistics.median(times)

            feed = thoonk.feed(f"bench-feed-{n // 2}")
            calls: list[float] = []
            for _ in range(samples):
                next_event = trio.Event()
                t = time.perf_counter()
                await feed.publish(t)
                calls.append(time.perf_counter() - t)
                with trio.fail_after(5):
                    await next_event.wait()
            out["p50"] = ms(received, 0.5)
            out["p99"] = ms(received, 0.99)
            out["call_p50"] = ms(calls, 0.5)
    return out


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url")
    parser.add_argument("--feeds", default="5000,10000")
    parser.add_argument("--samples", type=int, default=500)
    parser.add_argument("--idle", type=float, default=3.0)
    parser.add_argument("--server-stats", action="store_true")
    args = parser.parse_args()
    url = resolve_url_sync(args.url)
    redis.Redis.from_url(url).flushdb()

    bare = await trio.to_thread.run_sync(floor, url, args.samples)
    print(
        f"floor (redis-py PUBLISH -> subscriber): p50 {bare['p50']:.3f} ms, "
        f"p99 {bare['p99']:.3f} ms; PUBLISH call p50 {bare['call_p50']:.3f} ms"
    )
    if args.server_stats:
        async with open_thoonk(url) as thoonk:
            feed = thoonk.feed("bench-usec")
            keys = feed.keys
            # Interleaved in chunks of 200 calls, the median chunk of each: the
            # server's load moves more between runs than the scripts differ.
            cases: dict[str, Any] = {
                "script": lambda i: feed.publish(i),
                "minimal": lambda i: thoonk.redis.evalsha(
                    MINIMAL, (keys.ids, keys.items, keys.publishes), (f"m{i}", str(i), "bench-x")
                ),
                "bare": lambda i: thoonk.execute("PUBLISH", "bench-x", str(i)),
            }
            chunks: dict[str, list[float]] = {name: [] for name in cases}
            for _ in range(10):
                for name, run in cases.items():
                    command = "publish" if name == "bare" else "evalsha"
                    chunks[name].append(await server_usec(thoonk, command, run, 200))
            script, minimal, bare_usec = (statistics.median(chunks[n]) for n in cases)
            print(
                f"Redis CPU: feed publish {script:.1f} us/call; a minimal script with the same "
                f"writes and no checks {minimal:.1f} us ({script / minimal:.2f}x); "
                f"bare PUBLISH {bare_usec:.1f} us"
            )
    for n in (int(v) for v in args.feeds.split(",")):
        r = await scale(url, n, args.samples, args.idle)
        print(
            f"{n:,} feeds: start-up {r['startup_s']:.2f} s, {r['kb_per_actor']:.1f} KB/actor, "
            f"idle CPU {r['idle_cpu_pct']:.2f} %, statistics() {r['stats_cached_ms']:.2f} ms "
            f"(rebuilt: {r['stats_rebuilt_ms']:.2f} ms); publish -> actor p50 "
            f"{r['p50']:.3f} ms ({r['p50'] / bare['p50']:.1f}x floor), p99 {r['p99']:.3f} ms; "
            f"publish call p50 {r['call_p50']:.3f} ms ({r['call_p50'] / bare['call_p50']:.1f}x)"
        )
        redis.Redis.from_url(url).flushdb()


if __name__ == "__main__":
    trio.run(main)
