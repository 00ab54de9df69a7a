"""End-to-end job throughput of the actor runtime: no-op jobs, 1 and N worker processes.

Usage::

    python benchmarks/jobs.py [--url redis://127.0.0.1:6379/15] [--n 20000] [--rounds 3]
                              [--processes 2,3] [--concurrency 64] [--steady 5] [--samples 1000]
    python benchmarks/jobs.py --prefetch [--url ...] [--n 20000] [--rounds 5]
                              [--configs default,16/16,16/384,200/200,200/adaptive]
                              [--slow-ms 50] [--slow-n 1000] [--slow-processes 2]

Without ``--url`` it uses ``$THOONK_REDIS_URL`` or the embedded server. The
database is emptied (FLUSHDB) before every run: give it one of its own.

Workload (as in ``BENCHMARK-TARGETS.md``): publish N no-op jobs ``{"i": i}``
with ``publish_many`` ("bulk"), then start the workers with
``run_workers("benchmarks.jobs:app", processes, burst=True)`` — each worker its
own process and trio loop, stopping once the queue is drained. The clock runs
from the first finished job to the last, read from Redis: every finished job's
result hash holds its finish time (``at``, server clock, ms), so worker
start-up is excluded ("wall" includes it: from starting the processes to the
last finish).

Scenarios, interleaved, median of ``--rounds``:

* ``1 process, defaults``: ``@app.job(queue)`` as is (concurrency 16);
* ``1 process, concurrency C`` and ``P processes x C`` for each ``--processes``;
* steady state: workers running (1 process defaults, then the largest P x C)
  while a producer keeps a backlog (``publish_many`` of 500 whenever fewer
  than 5,000 are queued): finishes/s over ``--steady`` seconds;
* latency: ``publish_and_wait`` round trips, one after the other, with one
  idle worker process (defaults): p50 / p99 in ms.

``--prefetch`` runs only the prefetch comparison instead (issue 13): one
process on N no-op jobs at defaults (adaptive prefetch) against fixed
configurations, interleaved, with Redis main-thread CPU, EVALSHA calls and the
worker processes' CPU per job (start-up included); then ``--slow-ms``
handlers in ``--slow-processes`` processes at defaults against the old fixed
default (prefetch = concurrency 16): jobs/s, the share of the busiest and the
least busy process, and the most jobs claimed at once (running + buffered).

The worker app is ``app`` below (``BENCH_CONCURRENCY`` / ``BENCH_PREFETCH`` in
the environment set its options, unset: the defaults; ``BENCH_SLEEP_MS`` makes
its handler sleep and return its pid).
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import resource
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

import redis
import trio

from thoonk_actors.embedded import resolve_url_sync
from thoonk_actors.objects import Job, open_thoonk
from thoonk_actors.runtime import App

ROOT = Path(__file__).resolve().parents[1]
QUEUE = "bench-jobs"

app = App()

_OPTIONS: dict[str, int] = {
    option: int(os.environ[variable])
    for option, variable in [("concurrency", "BENCH_CONCURRENCY"), ("prefetch", "BENCH_PREFETCH")]
    if variable in os.environ
}
_SLEEP = float(os.environ.get("BENCH_SLEEP_MS", "0")) / 1000

if _SLEEP:

    @app.job(QUEUE, **_OPTIONS)
    async def slow(item: object) -> int:
        await trio.sleep(_SLEEP)
        return os.getpid()  # who ran it (the fairness check reads the results)

else:

    @app.job(QUEUE, **_OPTIONS)
    async def noop(item: object) -> None:
        return None


def start_workers(
    url: str,
    processes: int,
    concurrency: int | None,
    *,
    burst: bool,
    prefetch: int | None = None,
    sleep_ms: float = 0,
) -> subprocess.Popen[bytes]:
    env = {**os.environ, "THOONK_REDIS_URL": url, "THOONK_LOG_LEVEL": "WARNING"}
    for variable in ("BENCH_CONCURRENCY", "BENCH_PREFETCH", "BENCH_SLEEP_MS"):
        env.pop(variable, None)
    if concurrency is not None:
        env["BENCH_CONCURRENCY"] = str(concurrency)
    if prefetch is not None:
        env["BENCH_PREFETCH"] = str(prefetch)
    if sleep_ms:
        env["BENCH_SLEEP_MS"] = str(sleep_ms)
    code = (
        "import sys; from thoonk_actors.runtime import run_workers; "
        f"sys.exit(run_workers('benchmarks.jobs:app', {processes}, burst={burst}))"
    )
    return subprocess.Popen([sys.executable, "-c", code], env=env, cwd=ROOT)


def finish_window(client: redis.Redis, ids: list[str]) -> tuple[int, int]:
    """(first, last) finish time in ms, from the jobs' result hashes."""
    keys = Job.KEYS.of(QUEUE, cluster=False)
    pipe = client.pipeline(transaction=False)
    for job_id in ids:
        pipe.hget(keys.result(job_id), "at")
    stamps = [int(v) for v in pipe.execute()]
    return min(stamps), max(stamps)


async def publish(url: str, n: int) -> tuple[list[str], float]:
    async with open_thoonk(url) as thoonk:
        await thoonk.execute("FLUSHDB")
        start = time.perf_counter()
        ids = await thoonk.job(QUEUE).publish_many({"i": i} for i in range(n))
        return ids, n / (time.perf_counter() - start)


def process_run(url: str, n: int, processes: int, concurrency: int | None) -> dict[str, float]:
    ids, bulk = trio.run(publish, url, n)
    started = time.time()
    workers = start_workers(url, processes, concurrency, burst=True)
    if workers.wait(timeout=300) != 0:
        raise SystemExit(f"workers exited with {workers.returncode}")
    client = redis.Redis.from_url(url)
    try:
        first, last = finish_window(client, ids)
    finally:
        client.close()
    return {
        "bulk": bulk,
        "process": n / max((last - first) / 1000, 1e-3),
        "wall": n / max(last / 1000 - started, 1e-3),
    }


async def wait_for_workers(queue: Job, processes: int) -> None:
    # Worker processes announce themselves only by their heartbeats: poll.
    while (await queue.statistics()).workers_alive < processes:  # noqa: ASYNC110
        await trio.sleep(0.05)


async def steady(url: str, processes: int, concurrency: int | None, seconds: float) -> float:
    async with open_thoonk(url) as thoonk:
        await thoonk.execute("FLUSHDB")
        queue = thoonk.job(QUEUE)
        workers = start_workers(url, processes, concurrency, burst=False)
        try:
            async with trio.open_nursery() as nursery:

                async def produce() -> None:
                    while True:
                        if (await queue.statistics()).available < 5_000:
                            await queue.publish_many({"i": i} for i in range(500))
                        else:
                            await trio.sleep(0.005)

                nursery.start_soon(produce)
                await wait_for_workers(queue, processes)
                await trio.sleep(1.0)  # warm up
                before = (await queue.statistics()).finishes
                start = trio.current_time()
                await trio.sleep(seconds)
                after = (await queue.statistics()).finishes
                rate = (after - before) / (trio.current_time() - start)
                nursery.cancel_scope.cancel()
        finally:
            workers.send_signal(signal.SIGTERM)
            workers.wait(timeout=60)
    return rate


async def latency(url: str, samples: int) -> tuple[float, float]:
    async with open_thoonk(url) as thoonk:
        await thoonk.execute("FLUSHDB")
        queue = thoonk.job(QUEUE)
        workers = start_workers(url, 1, None, burst=False)
        try:
            await wait_for_workers(queue, 1)
            for i in range(100):  # warm up
                await queue.publish_and_wait({"i": i})
            times = []
            for i in range(samples):
                start = time.perf_counter()
                await queue.publish_and_wait({"i": i})
                times.append((time.perf_counter() - start) * 1000)
        finally:
            workers.send_signal(signal.SIGTERM)
            workers.wait(timeout=60)
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.99)]


def server_counters(client: redis.Redis) -> tuple[float, int]:
    """(Redis main-thread CPU seconds, EVALSHA calls) so far."""
    cpu: dict[str, float] = client.info("cpu")  # type: ignore[assignment]
    seconds = cpu.get("used_cpu_sys_main_thread", cpu["used_cpu_sys"]) + cpu.get(
        "used_cpu_user_main_thread", cpu["used_cpu_user"]
    )
    stats: dict[str, dict[str, int]] = client.info("commandstats")  # type: ignore[assignment]
    return seconds, stats.get("cmdstat_evalsha", {}).get("calls", 0)


def prefetch_run(
    url: str, n: int, concurrency: int | None, prefetch: int | None
) -> dict[str, float]:
    """One process, N no-op jobs: rate, and per job the Redis CPU, scripts and worker CPU."""
    ids, _ = trio.run(publish, url, n)
    client = redis.Redis.from_url(url)
    try:
        cpu_before, scripts_before = server_counters(client)
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        workers = start_workers(url, 1, concurrency, burst=True, prefetch=prefetch)
        if workers.wait(timeout=300) != 0:
            raise SystemExit(f"workers exited with {workers.returncode}")
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu_after, scripts_after = server_counters(client)
        first, last = finish_window(client, ids)
    finally:
        client.close()
    worker_cpu = (after.ru_utime + after.ru_stime) - (children.ru_utime + children.ru_stime)
    return {
        "process": n / max((last - first) / 1000, 1e-3),
        "redis_us": (cpu_after - cpu_before) / n * 1e6,
        "scripts": (scripts_after - scripts_before) / n,
        "worker_us": worker_cpu / n * 1e6,
    }


async def slow_run(
    url: str, n: int, processes: int, prefetch: int | None, sleep_ms: float
) -> dict[str, float]:
    """Slow handlers in several processes: the rate, the busiest's share, jobs held at most."""
    async with open_thoonk(url) as thoonk:
        await thoonk.execute("FLUSHDB")
        queue = thoonk.job(QUEUE)
        workers = start_workers(
            url, processes, None, burst=False, prefetch=prefetch, sleep_ms=sleep_ms
        )
        try:
            await wait_for_workers(queue, processes)
            await trio.sleep(0.5)  # every claimer waiting for work
            ids = await queue.publish_many({"i": i} for i in range(n))
            start = trio.current_time()
            held = 0
            while True:
                stats = await queue.statistics()
                held = max(held, stats.claimed)
                if stats.finishes >= n:
                    break
                await trio.sleep(0.005)
            took = trio.current_time() - start
        finally:
            workers.send_signal(signal.SIGTERM)
            workers.wait(timeout=60)
    client = redis.Redis.from_url(url)
    try:
        keys = Job.KEYS.of(QUEUE, cluster=False)
        pipe = client.pipeline(transaction=False)
        for job_id in ids:
            pipe.hget(keys.result(job_id), "result")
        by_pid = collections.Counter(json.loads(v) for v in pipe.execute())
    finally:
        client.close()
    return {
        "rate": n / took,
        "busiest": max(by_pid.values()) / n,
        "least": min(by_pid.values()) / n if len(by_pid) == processes else 0.0,
        "held": held,
    }


def _config(text: str) -> tuple[str, int | None, int | None]:
    """``default``, ``C/P`` or ``C/adaptive`` -> (label, concurrency, prefetch)."""
    if text == "default":
        return "defaults (concurrency 16, adaptive prefetch)", None, None
    concurrency, _, prefetch = text.partition("/")
    if prefetch == "adaptive":
        return f"concurrency {concurrency}, adaptive prefetch", int(concurrency), None
    label = f"concurrency {concurrency}, prefetch {prefetch}"
    if (concurrency, prefetch) in {("16", "16"), ("200", "200")}:
        label += " (old default)" if concurrency == "16" else " (old best)"
    return label, int(concurrency), int(prefetch)


def prefetch_main(url: str, args: argparse.Namespace) -> None:
    """``--prefetch``: adaptive prefetch at defaults against fixed configs, then slow handlers."""
    scenarios = [_config(text) for text in args.configs.split(",") if text]
    load = os.getloadavg()[0]
    print(
        f"Redis: {url}; N = {args.n:,} no-op jobs, 1 process; median of {args.rounds} "
        f"interleaved rounds; load average {load:.1f}"
    )
    results: dict[str, list[dict[str, float]]] = {label: [] for label, _, _ in scenarios}
    for round_ in range(args.rounds):
        for label, concurrency, prefetch in scenarios:
            run = prefetch_run(url, args.n, concurrency, prefetch)
            results[label].append(run)
            print(f"  round {round_ + 1} {label:46} {run['process']:9,.0f}/s", flush=True)
    medians = {
        label: {key: statistics.median(r[key] for r in runs) for key in runs[0]}
        for label, runs in results.items()
    }
    best = max(m["process"] for m in medians.values())
    header = f"{'scenario':46} {'process /s':>10} {'of best':>8} {'scripts/job':>12}"
    print(f"\n{header} {'Redis CPU us/job':>17} {'worker CPU us/job':>18}")
    for label, m in medians.items():
        print(
            f"{label:46} {m['process']:10,.0f} {m['process'] / best:8.0%} {m['scripts']:12.3f} "
            f"{m['redis_us']:17.1f} {m['worker_us']:18.1f}"
        )
    if args.slow_ms <= 0:
        return
    slow: list[tuple[str, int | None]] = [
        ("adaptive prefetch (defaults)", None),
        ("prefetch 16 (old default)", 16),
    ]
    print(
        f"\nslow handlers: {args.slow_ms:g} ms each, {args.slow_processes} processes x "
        f"concurrency 16, {args.slow_n:,} jobs published at once to idle workers"
    )
    slow_results: dict[str, list[dict[str, float]]] = {label: [] for label, _ in slow}
    for _ in range(args.rounds):
        for label, prefetch in slow:
            slow_results[label].append(
                trio.run(slow_run, url, args.slow_n, args.slow_processes, prefetch, args.slow_ms)
            )
    running = 16 * args.slow_processes
    print(f"{'':30} {'jobs/s':>8} {'busiest':>8} {'least':>6} {'held at most':>13}")
    for label, runs in slow_results.items():
        m = {key: statistics.median(r[key] for r in runs) for key in runs[0]}
        print(
            f"{label:30} {m['rate']:8,.0f} {m['busiest']:8.0%} {m['least']:6.0%} "
            f"{m['held']:6.0f} ({running} running)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default=None)
    parser.add_argument("--n", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--processes", default="2,3", help="comma-separated process counts")
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--steady", type=float, default=5.0, help="seconds; 0 skips")
    parser.add_argument("--samples", type=int, default=1000, help="latency samples; 0 skips")
    parser.add_argument(
        "--prefetch", action="store_true", help="only the prefetch comparison (see prefetch_main)"
    )
    parser.add_argument(
        "--configs",
        default="default,16/16,16/384,200/200,200/adaptive",
        help="--prefetch: comma-separated default, C/P or C/adaptive",
    )
    parser.add_argument("--slow-ms", type=float, default=50.0, help="--prefetch: handler ms")
    parser.add_argument("--slow-n", type=int, default=1000, help="--prefetch: slow jobs")
    parser.add_argument("--slow-processes", type=int, default=2)
    args = parser.parse_args()
    url = resolve_url_sync(args.url)
    if args.prefetch:
        prefetch_main(url, args)
        return
    counts = [int(p) for p in args.processes.split(",") if p]
    scenarios: list[tuple[str, int, int | None]] = [
        ("1 process, defaults (concurrency 16)", 1, None),
        (f"1 process x concurrency {args.concurrency}", 1, args.concurrency),
    ] + [(f"{p} processes x concurrency {args.concurrency}", p, args.concurrency) for p in counts]
    results: dict[str, list[dict[str, float]]] = {label: [] for label, _, _ in scenarios}
    print(f"Redis: {url}; N = {args.n:,} no-op jobs; median of {args.rounds} interleaved rounds")
    for _ in range(args.rounds):
        for label, processes, concurrency in scenarios:
            results[label].append(process_run(url, args.n, processes, concurrency))
    print(f"\n{'scenario':44} {'process /s':>11} {'wall /s':>9} {'bulk enqueue /s':>16}")
    for label, runs in results.items():
        med = {key: statistics.median(r[key] for r in runs) for key in runs[0]}
        print(f"{label:44} {med['process']:11,.0f} {med['wall']:9,.0f} {med['bulk']:16,.0f}")
    if args.steady > 0:
        print()
        biggest = max(counts, default=1)
        for label, processes, concurrency in [
            ("1 process, defaults", 1, None),
            (f"{biggest} processes x concurrency {args.concurrency}", biggest, args.concurrency),
        ]:
            rate = trio.run(steady, url, processes, concurrency, args.steady)
            print(f"steady state with a producer, {label:34} {rate:9,.0f} jobs/s")
    if args.samples > 0:
        p50, p99 = trio.run(latency, url, args.samples)
        print(
            "\npublish -> result round trip (1 idle worker process): "
            f"p50 {p50:.2f} ms, p99 {p99:.2f} ms"
        )


if __name__ == "__main__":
    main()
