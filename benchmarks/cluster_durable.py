"""What a durable publish (``publish(..., durable=1)``) costs on a local Redis Cluster.

Usage::

    python benchmarks/cluster_durable.py [--jobs 2000] [--rounds 3] [--concurrency 16]

Starts its own 3 primaries + 3 replicas (tests/cluster/_local.py) and removes
them at the end. Interleaved rounds of each mode, each publishing ``--jobs``
jobs to one queue:

* ``plain, one at a time`` / ``durable=1, one at a time``: one publisher,
  each publish awaited before the next (latency: median and p99);
* ``plain, N at once`` / ``durable=1, N at once``: ``--concurrency``
  publishers sharing the client (throughput).

Reported per mode (median of the rounds): publishes/s, latency p50 / p99 in
ms, the owner node's server time per publish (INFO commandstats: usec of
EVALSHA + WAIT per publish, so what the node spends, not the wait), and the
connections the client opened during the round.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import sys
import time
from pathlib import Path

import trio
from redis.crc import key_slot

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.cluster._local import LocalCluster
from thoonk_actors.embedded import find_redis_server
from thoonk_actors.objects import Thoonk, open_thoonk

QUEUE = "bench-durable"
MODES = (
    ("plain, one at a time", 0, 1),
    ("durable=1, one at a time", 1, 1),
    ("plain, N at once", 0, 0),
    ("durable=1, N at once", 1, 0),
)


def _owner_port(cluster: LocalCluster) -> int:
    slot = key_slot(b"{" + QUEUE.encode() + b"}")
    with contextlib.closing(cluster.client(cluster.ports[0])) as c:
        for first, last, primary, *_ in c.execute_command("CLUSTER", "SLOTS"):
            if first <= slot <= last:
                return int(primary[1])
    raise RuntimeError("no owner")


def _server_usec(cluster: LocalCluster, port: int) -> float:
    with contextlib.closing(cluster.client(port)) as c:
        stats = c.info("commandstats")
    return sum(
        float(stats.get(f"cmdstat_{name}", {}).get("usec", 0)) for name in ("evalsha", "wait")
    )


async def _round(
    thoonk: Thoonk, jobs: int, durable: int, concurrency: int
) -> tuple[float, list[float]]:
    queue = thoonk.job(QUEUE)
    latencies: list[float] = []
    left = [jobs]

    async def publisher() -> None:
        while left[0] > 0:
            left[0] -= 1
            start = time.perf_counter()
            await queue.publish("x" * 100, durable=durable)
            latencies.append(time.perf_counter() - start)

    start = time.perf_counter()
    async with trio.open_nursery() as nursery:
        for _ in range(concurrency):
            nursery.start_soon(publisher)
    return jobs / (time.perf_counter() - start), latencies


async def main(jobs: int, rounds: int, concurrency: int) -> None:
    with LocalCluster.start(str(find_redis_server())) as cluster:
        owner = _owner_port(cluster)
        results: dict[str, list[tuple[float, float, float, float, int]]] = {
            m: [] for m, _, _ in MODES
        }
        async with open_thoonk(cluster.url) as thoonk:
            await thoonk.job(QUEUE).publish("warm-up", durable=1)
            for _ in range(rounds):
                for mode, durable, one in MODES:
                    cluster.flush()
                    await thoonk.job(QUEUE).publish("warm-up", durable=durable)
                    before = _server_usec(cluster, owner)
                    connects = thoonk.redis.connects
                    rate, lat = await _round(thoonk, jobs, durable, 1 if one else concurrency)
                    usec = (_server_usec(cluster, owner) - before) / jobs
                    opened = thoonk.redis.connects - connects
                    lat.sort()
                    p50 = lat[len(lat) // 2] * 1000
                    p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1000
                    results[mode].append((rate, p50, p99, usec, opened))
    print(f"{jobs} publishes per round, N = {concurrency}, median of {rounds} interleaved rounds")
    print(
        f"{'mode':26} {'publishes/s':>11} {'p50 ms':>7} {'p99 ms':>7} "
        f"{'server usec':>11} {'connects':>8}"
    )
    for mode, _, _ in MODES:
        rows = results[mode]
        rate, p50, p99, usec, opened = (statistics.median(r[i] for r in rows) for i in range(5))
        print(f"{mode:26} {rate:11.0f} {p50:7.2f} {p99:7.2f} {usec:11.1f} {opened:8.0f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--jobs", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    trio.run(main, args.jobs, args.rounds, args.concurrency)
