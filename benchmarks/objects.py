"""Job queue throughput and latency through the public async API (``thoonk_actors.objects``).

Usage::

    python benchmarks/objects.py [--url redis://127.0.0.1:6379/15] [--n 20000] [--rounds 3]
                                 [--samples 2000] [--server-stats]

Without ``--url`` it uses ``$THOONK_REDIS_URL`` or the embedded server. Measures, on
one client, interleaved, median of ``--rounds``:

* publish: ``Job.publish`` of ``{"i": i}``, one awaited at a time (jobs/s);
* publish_many: ``Job.publish_many`` of the same items, 1,000 per script (jobs/s);
* get + finish: ``Job.get`` then ``Job.finish``, one job at a time, on a queue
  filled beforehand (jobs/s);
* claim_many(100) + finish_many: the same in batches of 100 (jobs/s);

and then the publish -> result round trip: one worker task (``get`` -> ``finish``
with the item as result) while ``publish_and_wait`` runs ``--samples`` times in
sequence (p50 / p99 / max in ms).

Every run uses its own queue, deleted afterwards; finished jobs' result keys
(``job.result:{<queue>}:<id>``) are removed at the end too.

``--server-stats`` also reports the Redis side of each timed section: it sends
``CONFIG RESETSTAT`` before the section and reads ``INFO commandstats`` after it,
and prints the server time of the job scripts (EVALSHA ``usec``) per job. It resets
the server's statistics and counts every client's EVALSHA, so use it on a server
nobody else is using.
"""

from __future__ import annotations

import argparse
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable

import trio

from thoonk_actors.embedded import resolve_url_sync
from thoonk_actors.objects import Job, Thoonk, open_thoonk

PREFIX = "bench-objects"


def new_queue(thoonk: Thoonk) -> Job:
    return thoonk.job(f"{PREFIX}-{uuid.uuid4().hex[:8]}")


class ServerStats:
    """Server time of the job scripts in each timed section (``--server-stats``)."""

    def __init__(self, thoonk: Thoonk, enabled: bool) -> None:
        self.thoonk = thoonk
        self.enabled = enabled
        self.runs: dict[str, list[tuple[float, float]]] = {}  # name -> (us/job, calls/job)
        self.name = ""

    async def start(self) -> None:
        if self.enabled:
            await self.thoonk.execute("CONFIG", "RESETSTAT")

    async def stop(self, jobs: int) -> None:
        if not self.enabled:
            return
        info = await self.thoonk.execute("INFO", "commandstats")
        calls, usec = 0, 0.0
        for line in info.decode().splitlines():
            if line.startswith("cmdstat_evalsha:"):
                fields = dict(f.split("=", 1) for f in line.split(":", 1)[1].split(","))
                calls, usec = int(fields["calls"]), float(fields["usec"])
        self.runs.setdefault(self.name, []).append((usec / jobs, calls / jobs))


async def publish_one_at_a_time(thoonk: Thoonk, n: int, stats: ServerStats) -> float:
    jobs = new_queue(thoonk)
    try:
        await stats.start()
        start = time.perf_counter()
        for i in range(n):
            await jobs.publish({"i": i})
        elapsed = time.perf_counter() - start
        await stats.stop(n)
        return n / elapsed
    finally:
        await jobs.delete()


async def publish_bulk(thoonk: Thoonk, n: int, stats: ServerStats) -> float:
    jobs = new_queue(thoonk)
    try:
        await stats.start()
        start = time.perf_counter()
        await jobs.publish_many(({"i": i} for i in range(n)), batch=1000)
        elapsed = time.perf_counter() - start
        await stats.stop(n)
        return n / elapsed
    finally:
        await jobs.delete()


async def claim_finish_one_at_a_time(thoonk: Thoonk, n: int, stats: ServerStats) -> float:
    jobs = new_queue(thoonk)
    try:
        await jobs.publish_many(({"i": i} for i in range(n)), batch=1000)
        await stats.start()
        start = time.perf_counter()
        for _ in range(n):
            job = await jobs.get(timeout=0)
            assert job is not None
            await jobs.finish(job)
        elapsed = time.perf_counter() - start
        await stats.stop(n)
        assert (await jobs.statistics()).finishes == n
        return n / elapsed
    finally:
        await jobs.delete()


async def claim_finish_batched(thoonk: Thoonk, n: int, stats: ServerStats) -> float:
    jobs = new_queue(thoonk)
    try:
        await jobs.publish_many(({"i": i} for i in range(n)), batch=1000)
        await stats.start()
        start = time.perf_counter()
        done = 0
        while done < n:
            batch = await jobs.claim_many(100)
            assert batch
            await jobs.finish_many([(job, None) for job in batch])
            done += len(batch)
        elapsed = time.perf_counter() - start
        await stats.stop(n)
        assert (await jobs.statistics()).finishes == n
        return n / elapsed
    finally:
        await jobs.delete()


async def round_trip_ms(thoonk: Thoonk, samples: int) -> list[float]:
    jobs = new_queue(thoonk)

    async def worker(task_status: trio.TaskStatus[None]) -> None:
        task_status.started()
        while True:
            job = await jobs.get()
            assert job is not None
            await jobs.finish(job, job.item)

    timings: list[float] = []
    try:
        async with trio.open_nursery() as nursery:
            await nursery.start(worker)
            for i in range(50):  # warm up: subscription, script cache
                await jobs.publish_and_wait(i, timeout=10)
            for i in range(samples):
                start = time.perf_counter()
                result = await jobs.publish_and_wait(i, timeout=10)
                timings.append((time.perf_counter() - start) * 1000)
                assert result == i
            nursery.cancel_scope.cancel()
    finally:
        await jobs.delete()
    return timings


async def forget_results(thoonk: Thoonk) -> None:
    cursor = 0
    while True:
        cursor, keys = await thoonk.execute(
            "SCAN", cursor, "MATCH", f"job.result:{{{PREFIX}-*", "COUNT", 1000
        )
        if keys:
            await thoonk.execute("UNLINK", *keys)
        if int(cursor) == 0:
            return


BENCHES: dict[str, Callable[[Thoonk, int, ServerStats], Awaitable[float]]] = {
    "publish (one awaited at a time)": publish_one_at_a_time,
    "publish_many (bulk, 1,000 per script)": publish_bulk,
    "get + finish (one at a time)": claim_finish_one_at_a_time,
    "claim_many(100) + finish_many": claim_finish_batched,
}


async def main(url: str, n: int, rounds: int, samples: int, server_stats: bool) -> None:
    runs: dict[str, list[float]] = {name: [] for name in BENCHES}
    async with open_thoonk(url, worker_id="bench") as thoonk:
        server = await thoonk.execute("INFO", "server")
        version = next(
            line.split(b":", 1)[1].decode()
            for line in server.splitlines()
            if line.startswith(b"redis_version:")
        )
        stats = ServerStats(thoonk, server_stats)
        for _ in range(rounds):
            for name, bench in BENCHES.items():
                stats.name = name
                runs[name].append(await bench(thoonk, n, stats))
        latencies = await round_trip_ms(thoonk, samples)
        await forget_results(thoonk)

    print(f"thoonk-actors job queue, {url} (Redis {version}), n = {n:,}, median of {rounds}\n")
    print("| operation | jobs/s (median) | runs |")
    print("|---|---:|---|")
    for name, values in runs.items():
        each = ", ".join(f"{v:,.0f}" for v in values)
        print(f"| {name} | {statistics.median(values):,.0f} | {each} |")
    if server_stats:
        print("\nRedis side: job scripts' server time (INFO commandstats, EVALSHA usec)\n")
        print("| operation | server µs per job (median) | script calls per job |")
        print("|---|---:|---:|")
        for name, pairs in stats.runs.items():
            per_job = statistics.median(p[0] for p in pairs)
            calls = statistics.median(p[1] for p in pairs)
            print(f"| {name} | {per_job:.2f} | {calls:.2f} |")
    latencies.sort()
    p50 = statistics.median(latencies)
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
    print(f"\npublish -> result round trip, one worker task, {samples:,} sequential samples\n")
    print("| p50 ms | p99 ms | max ms |")
    print("|---:|---:|---:|")
    print(f"| {p50:.3f} | {p99:.3f} | {latencies[-1]:.3f} |")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default=None, help="Redis URL (default: the embedded server)")
    parser.add_argument("--n", type=int, default=20_000, help="jobs per run")
    parser.add_argument("--rounds", type=int, default=3, help="runs of each (median)")
    parser.add_argument("--samples", type=int, default=2_000, help="round-trip samples")
    parser.add_argument(
        "--server-stats",
        action="store_true",
        help="also report the job scripts' server time per job (resets the server's stats)",
    )
    args = parser.parse_args()
    trio.run(main, resolve_url_sync(args.url), args.n, args.rounds, args.samples, args.server_stats)
