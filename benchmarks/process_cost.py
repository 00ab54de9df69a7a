"""Where Redis spends its time per processed job: every command, per job (issue 13).

Usage::

    python benchmarks/process_cost.py [--n 20000] [--rounds 3]

Starts a private ``redis-server`` (the one on ``$PATH``, no persistence) on a
free loopback port, so ``CONFIG RESETSTAT`` and ``INFO commandstats`` count
this run's clients only. Per round: N no-op jobs ``{"i": i}`` published with
``publish_many``, the counters reset, then one worker process at defaults
(``run_workers("benchmarks.jobs:app", 1, burst=True)``) runs them to the end.

Printed (medians of the rounds): Redis main-thread CPU per job (``INFO cpu``:
socket I/O and the event loop included), the EVALSHA time per job, and each
command's ``usec`` per job and calls per job. A command called by a script is
counted both in its own line and inside the script's EVALSHA, so the command
lines break the EVALSHA figure down; what EVALSHA has beyond their sum is the
scripts' own cost (Lua, argument conversion, the reply).

The same is printed for the publishing side, one job at a time
(``Job.publish`` x N/10), for the target "Redis CPU per publish".
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
from pathlib import Path

import redis
import trio

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.jobs import QUEUE, publish, start_workers
from benchmarks.peers import private_server
from thoonk_actors.objects import open_thoonk

Costs = dict[str, tuple[float, float]]  # command -> (usec per job, calls per job)


def main_thread_cpu(client: redis.Redis) -> float:
    cpu: dict[str, float] = client.info("cpu")  # type: ignore[assignment]
    return cpu.get("used_cpu_sys_main_thread", cpu["used_cpu_sys"]) + cpu.get(
        "used_cpu_user_main_thread", cpu["used_cpu_user"]
    )


def read_costs(client: redis.Redis, jobs: int) -> Costs:
    stats: dict[str, dict[str, float]] = client.info("commandstats")  # type: ignore[assignment]
    out: Costs = {}
    for name, fields in stats.items():
        command = name.removeprefix("cmdstat_")
        if command in ("config|resetstat", "info", "config"):
            continue
        out[command] = (fields["usec"] / jobs, fields["calls"] / jobs)
    return out


def process_round(url: str, client: redis.Redis, n: int) -> tuple[float, Costs]:
    trio.run(publish, url, n)
    client.config_resetstat()
    cpu = main_thread_cpu(client)
    workers = start_workers(url, 1, None, burst=True)
    if workers.wait(timeout=300) != 0:
        raise SystemExit(f"workers exited with {workers.returncode}")
    cpu = main_thread_cpu(client) - cpu
    return cpu / n * 1e6, read_costs(client, n)


async def _publish_one_at_a_time(url: str, n: int) -> None:
    async with open_thoonk(url) as thoonk:
        queue = thoonk.job(QUEUE)
        for i in range(n):
            await queue.publish({"i": i})


def publish_round(url: str, client: redis.Redis, n: int) -> tuple[float, Costs]:
    client.flushdb()
    trio.run(_publish_one_at_a_time, url, 100)  # scripts loaded, connection warm
    client.config_resetstat()
    cpu = main_thread_cpu(client)
    trio.run(_publish_one_at_a_time, url, n)
    cpu = main_thread_cpu(client) - cpu
    return cpu / n * 1e6, read_costs(client, n)


def report(title: str, rounds: list[tuple[float, Costs]]) -> None:
    cpu = statistics.median(r[0] for r in rounds)
    commands = sorted({c for _, costs in rounds for c in costs})
    rows = []
    for command in commands:
        usec = statistics.median(costs.get(command, (0.0, 0.0))[0] for _, costs in rounds)
        calls = statistics.median(costs.get(command, (0.0, 0.0))[1] for _, costs in rounds)
        rows.append((usec, calls, command))
    rows.sort(reverse=True)
    evalsha = next((u for u, _, c in rows if c == "evalsha"), 0.0)
    inner = sum(u for u, _, c in rows if c not in ("evalsha", "blmove", "ping", "client|setname"))
    print(f"\n{title}: Redis main-thread CPU {cpu:.1f} us/job (median of {len(rounds)} rounds)")
    print(f"  EVALSHA {evalsha:.2f} us/job; commands inside and outside scripts {inner:.2f} us/job")
    print(f"  {'command':<22} {'us/job':>8} {'calls/job':>10} {'us/call':>8}")
    for usec, calls, command in rows:
        if usec < 0.005:
            continue
        per_call = usec / calls if calls else 0.0
        print(f"  {command:<22} {usec:8.2f} {calls:10.3f} {per_call:8.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    url, server = private_server()
    client = redis.Redis.from_url(url)
    try:
        version = client.info("server")["redis_version"]
        print(f"Redis {version} at {url}; N = {args.n:,}; load average {os.getloadavg()[0]:.2f}")
        processed, published = [], []
        for _ in range(args.rounds):
            processed.append(process_round(url, client, args.n))
            published.append(publish_round(url, client, max(args.n // 10, 100)))
        report("Processing (one worker at defaults, burst)", processed)
        report("Publishing one job at a time (Job.publish)", published)
        print(f"\nload average at the end {os.getloadavg()[0]:.2f}")
    finally:
        client.close()
        server.terminate()
        server.wait(timeout=10)


if __name__ == "__main__":
    main()
