"""Transport throughput: thoonk-actors' trio client beside redis-py's sync client.

Usage::

    python benchmarks/transport.py [--url redis://127.0.0.1:6379/15] [--n 20000] [--rounds 3]

Measures, on the same server in the same run, interleaved, median of
``--rounds``:

* sequential: one PING awaited at a time (round trips/s);
* pipelined: PINGs in batches of 100 (commands/s);
* concurrent (ours only): 100 tasks each awaiting PINGs on one connection,
  which the multiplexer turns into pipelining by itself (commands/s);
* pub/sub flood (ours only): one EVAL publishes ``--n`` x 5 messages of 20
  bytes to a channel a subscription of ours hands to a callback (messages/s,
  from the first message to the last). That the flooded reader still lets
  other tasks run is tests/transport/test_flood.py's business.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import redis
import trio

from thoonk_actors.transport import Gap, Message, open_pubsub, open_redis

#: One script call publishes them all, so the flood comes from the server at its own pace.
FLOOD = "for i = 1, tonumber(ARGV[1]) do redis.call('PUBLISH', KEYS[1], ARGV[2]) end return 1"


def redis_py_sequential(url: str, n: int) -> float:
    client = redis.Redis.from_url(url)
    client.ping()
    start = time.perf_counter()
    for _ in range(n):
        client.execute_command("PING")
    elapsed = time.perf_counter() - start
    client.close()
    return n / elapsed


def redis_py_pipelined(url: str, n: int) -> float:
    client = redis.Redis.from_url(url)
    client.ping()
    start = time.perf_counter()
    for _ in range(n // 100):
        pipe = client.pipeline(transaction=False)
        for _ in range(100):
            pipe.execute_command("PING")
        pipe.execute()
    elapsed = time.perf_counter() - start
    client.close()
    return (n // 100) * 100 / elapsed


def ours(url: str, n: int, mode: str) -> float:
    async def main() -> float:
        async with open_redis(url) as client:
            await client.execute("PING")
            start = time.perf_counter()
            if mode == "sequential":
                for _ in range(n):
                    await client.execute("PING")
                done = n
            elif mode == "pipelined":
                batch = [("PING",)] * 100
                for _ in range(n // 100):
                    await client.pipeline(batch)
                done = (n // 100) * 100
            else:
                per_task = n // 100

                async def loop() -> None:
                    for _ in range(per_task):
                        await client.execute("PING")

                async with trio.open_nursery() as nursery:
                    for _ in range(100):
                        nursery.start_soon(loop)
                done = per_task * 100
            return done / (time.perf_counter() - start)

    return trio.run(main)


def ours_flood(url: str, n: int) -> float:
    async def main() -> float:
        async with open_redis(url) as client, open_pubsub(url) as pubsub:
            got = 0
            start = 0.0
            done = trio.Event()

            def sink(event: Message | Gap) -> None:
                nonlocal got, start
                got += 1
                if got == 1:
                    start = time.perf_counter()
                if got == n:
                    done.set()

            async with pubsub.subscribe(["bench:flood"]) as sub:
                sub.deliver_to(sink)
                await client.execute("EVAL", FLOOD, 1, "bench:flood", n, "x" * 20)
                await done.wait()
            return n / (time.perf_counter() - start)

    return trio.run(main)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--url", default="redis://127.0.0.1:6379/15")
    parser.add_argument("--n", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    cases: dict[str, Callable[[], float]] = {
        "redis-py sync, sequential": lambda: redis_py_sequential(args.url, args.n),
        "thoonk-actors, sequential": lambda: ours(args.url, args.n, "sequential"),
        "redis-py sync, pipelined x100": lambda: redis_py_pipelined(args.url, args.n * 10),
        "thoonk-actors, pipelined x100": lambda: ours(args.url, args.n * 10, "pipelined"),
        "thoonk-actors, 100 concurrent tasks": lambda: ours(args.url, args.n * 5, "concurrent"),
        "thoonk-actors, pub/sub flood (messages/s)": lambda: ours_flood(args.url, args.n * 5),
    }
    results: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(args.rounds):
        for name, case in cases.items():  # interleaved, so drift hits every case alike
            results[name].append(case())
    medians = {name: statistics.median(values) for name, values in results.items()}
    print(f"server: {args.url}; median of {args.rounds} interleaved rounds\n")
    print("| case | ops/s |")
    print("|---|---:|")
    for name, value in medians.items():
        print(f"| {name} | {value:,.0f} |")
    seq = medians["thoonk-actors, sequential"] / medians["redis-py sync, sequential"]
    pipe = medians["thoonk-actors, pipelined x100"] / medians["redis-py sync, pipelined x100"]
    print(f"\nsequential ratio vs redis-py: {seq:.2f}x; pipelined ratio: {pipe:.2f}x")


if __name__ == "__main__":
    main()
