"""Blocking ``Queue.get``: connections, take scripts per item, latency, with many waiting.

Usage::

    python benchmarks/queues.py [--url unix:///tmp/r.sock?db=0] [--waiters 100]
                                [--items 2000] [--samples 300]

Without ``--url`` it uses ``$THOONK_REDIS_URL`` or the embedded server. The
database is emptied (FLUSHDB) first: give it one of its own. The server's
``INFO commandstats`` are read before and after each phase (not reset), so
run it on a server nobody else uses meanwhile.

Reports:

* connections: the server's ``connected_clients`` while ``--waiters`` gets
  wait on one empty queue, minus before they started (and how many of them
  are blocked in ``BLMOVE``);
* per item: ``--waiters`` consumers loop on ``get()`` while one producer
  puts ``--items`` items one at a time; the take scripts (EVALSHA calls minus
  the puts) and ``BLMOVE`` calls the server ran, per item;
* latency: put -> get returned, one item at a time (p50 / p99 ms), with one
  waiting get and with ``--waiters`` of them.

Run it on the code before a change with ``PYTHONPATH=<old tree>`` and
compare within one interleaved run (the machine is shared: absolutes move).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from typing import Any

import redis
import trio

import thoonk_actors
from thoonk_actors.embedded import resolve_url_sync
from thoonk_actors.objects import Thoonk, open_thoonk


def calls(client: redis.Redis, command: str) -> int:
    stats = client.info("commandstats").get(f"cmdstat_{command}", {})
    return int(stats.get("calls", 0))


def clients(client: redis.Redis) -> tuple[int, int]:
    info = client.info("clients")
    return int(info["connected_clients"]), int(info["blocked_clients"])


async def wait_for(predicate: Any, what: str, limit: float = 30.0) -> None:
    """Poll a server-side condition (no event to wait on) for at most ``limit`` s."""
    with trio.fail_after(limit):
        while not predicate():  # noqa: ASYNC110
            await trio.sleep(0.01)


async def connections(thoonk: Thoonk, witness: redis.Redis, waiters: int) -> tuple[int, int]:
    queue = thoonk.queue("bench-conn")
    await queue.length()
    before, _ = clients(witness)
    async with trio.open_nursery() as nursery:
        for _ in range(waiters):
            nursery.start_soon(queue.get)
        await wait_for(lambda: clients(witness)[1] >= 1, "a blocked get")
        await trio.sleep(0.5)  # let every get reach its wait
        connected, blocked = clients(witness)
        nursery.cancel_scope.cancel()
    return connected - before, blocked


async def per_item(
    thoonk: Thoonk, witness: redis.Redis, waiters: int, items: int
) -> tuple[float, float]:
    queue = thoonk.queue("bench-items")
    got = 0

    async def consume() -> None:
        nonlocal got
        while True:
            await queue.get()
            got += 1

    async with trio.open_nursery() as nursery:
        for _ in range(waiters):
            nursery.start_soon(consume)
        await wait_for(lambda: clients(witness)[1] >= 1, "a blocked get")
        await trio.sleep(0.5)
        evals, blmoves = calls(witness, "evalsha"), calls(witness, "blmove")
        for n in range(items):
            await queue.put(n)
        await wait_for(lambda: got == items, "every item got")
        takes = calls(witness, "evalsha") - evals - items
        waits = calls(witness, "blmove") - blmoves
        nursery.cancel_scope.cancel()
    return takes / items, waits / items


async def latency(
    thoonk: Thoonk, witness: redis.Redis, waiters: int, samples: int
) -> tuple[float, float]:
    queue = thoonk.queue("bench-latency")
    arrived: list[float] = []
    got = trio.Event()

    async def consume() -> None:
        nonlocal got
        while True:
            await queue.get()
            arrived.append(time.perf_counter())
            got.set()

    seconds: list[float] = []
    async with trio.open_nursery() as nursery:
        for _ in range(waiters):
            nursery.start_soon(consume)
        await wait_for(lambda: clients(witness)[1] >= 1, "a blocked get")
        await trio.sleep(0.5)
        for n in range(samples):
            got = trio.Event()
            start = time.perf_counter()
            await queue.put(n)
            await got.wait()
            seconds.append(arrived[-1] - start)
            await trio.sleep(0.002)  # let the consumer wait again
        nursery.cancel_scope.cancel()
    seconds.sort()
    return statistics.median(seconds) * 1e3, seconds[int(len(seconds) * 0.99) - 1] * 1e3


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url")
    parser.add_argument("--waiters", type=int, default=100)
    parser.add_argument("--items", type=int, default=2000)
    parser.add_argument("--samples", type=int, default=300)
    args = parser.parse_args()
    url = resolve_url_sync(args.url or os.environ.get("THOONK_REDIS_URL"))
    witness = redis.Redis.from_url(url)
    witness.flushdb()
    print(f"code: {os.path.dirname(thoonk_actors.__file__)}")
    async with open_thoonk(url) as thoonk:
        extra, blocked = await connections(thoonk, witness, args.waiters)
        print(f"{args.waiters} waiting gets: {extra} connection(s) more, {blocked} blocked")
        takes, waits = await per_item(thoonk, witness, args.waiters, args.items)
        print(
            f"{args.waiters} consumers, {args.items} items put one at a time: "
            f"{takes:.2f} take scripts and {waits:.2f} BLMOVE per item"
        )
        for n in (1, args.waiters):
            p50, p99 = await latency(thoonk, witness, n, args.samples)
            print(f"put -> get, {n} waiting: p50 {p50:.3f} ms, p99 {p99:.3f} ms")
    witness.close()


if __name__ == "__main__":
    trio.run(main)
