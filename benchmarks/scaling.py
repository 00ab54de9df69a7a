"""How our workers scale: by worker processes, by payload size, and one worker's RSS over time.

Usage (the plot needs matplotlib, in the ``bench`` extra)::

    python benchmarks/scaling.py [--url redis://127.0.0.1:6379/15] [--n 20000]
        [--processes 1,2,4] [--rss-jobs 100000] [--plot docs/benchmarks-scaling.png]

``THOONK_SOAK=1`` makes ``--rss-jobs`` default to 1,000,000 (the long form).
The database in ``--url`` is emptied (FLUSHDB) before every step: give it one
of its own.

* processes: ``publish_many`` N no-op jobs of a 100-byte payload, then
  ``run_workers("benchmarks.jobs:app", P, burst=True)``; jobs/s from the first
  finished job to the last (each result hash's ``at``), worker start-up excluded;
* payload: the same with one process, payloads of 100 B, 10 KB and 1 MB
  (N for the first two, ``--n-large`` jobs of 1 MB so the run stays in memory);
* RSS: one worker process at defaults runs while a producer keeps a backlog of
  about 5,000 jobs until ``--rss-jobs`` have finished; the worker's resident set
  (``/proc/<pid>/status`` VmRSS) is sampled every ``--rss-every`` finished jobs.
  Flat means no per-job leak.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from pathlib import Path

import redis
import trio

if __package__ in (None, ""):  # run as a script: the repository root on the path
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.jobs import QUEUE, finish_window, start_workers
from thoonk_actors.objects import open_thoonk

ROOT = Path(__file__).resolve().parents[1]
PAYLOADS = {"100 B": 100, "10 KB": 10_000, "1 MB": 1_000_000}


def items(n: int, size: int) -> list[dict[str, object]]:
    pad = "x" * max(size - 20, 0)  # {"i": 12345, "p": ""} is about 20 bytes
    return [{"i": i, "p": pad} for i in range(n)]


async def publish(url: str, n: int, size: int) -> list[str]:
    async with open_thoonk(url) as thoonk:
        await thoonk.execute("FLUSHDB")
        return await thoonk.job(QUEUE).publish_many(
            items(n, size), batch=max(1, min(1000, 10**7 // size))
        )


def throughput(url: str, n: int, processes: int, size: int) -> float:
    ids = trio.run(publish, url, n, size)
    workers = start_workers(url, processes, None, burst=True)
    if workers.wait(timeout=600) != 0:
        raise SystemExit(f"workers exited with {workers.returncode}")
    client = redis.Redis.from_url(url)
    try:
        first, last = finish_window(client, ids)
    finally:
        client.close()
    return (n - 1) / max((last - first) / 1000, 1e-3)


def descendants(pid: int) -> list[int]:
    """Every live process below ``pid`` (the supervisor's worker processes)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    out, frontier = [], [pid]
    while frontier:
        children = [p for p, parent in parents.items() if parent in frontier]
        out += children
        frontier = children
    return out


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def rss_run(url: str, total: int, every: int) -> list[tuple[int, float]]:
    """[(jobs finished, worker RSS in MB)] while one worker runs ``total`` jobs."""
    samples: list[tuple[int, float]] = []
    async with open_thoonk(url) as thoonk:
        await thoonk.execute("FLUSHDB")
        queue = thoonk.job(QUEUE)
        workers = start_workers(url, 1, None, burst=False)
        try:
            published = 0
            next_sample = 0
            while True:
                stats = await queue.statistics()
                if stats.finishes >= next_sample:
                    pids = descendants(workers.pid)
                    if pids:
                        samples.append((stats.finishes, max(rss_mb(p) for p in pids)))
                        print(
                            f"  {stats.finishes:>9,} jobs  RSS {samples[-1][1]:7.1f} MB", flush=True
                        )
                    next_sample += every
                if stats.finishes >= total:
                    break
                if stats.available < 5_000 and published < total:
                    batch = min(1_000, total - published)
                    await queue.publish_many({"i": published + i} for i in range(batch))
                    published += batch
                else:
                    await trio.sleep(0.01)
        finally:
            workers.send_signal(signal.SIGTERM)
            workers.wait(timeout=60)
    return samples


def plot(
    path: Path,
    by_processes: dict[int, float],
    by_payload: dict[str, float],
    rss: list[tuple[int, float]],
    caption: str,
) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(13, 4))
    ax = axes[0]
    ax.bar([str(p) for p in by_processes], list(by_processes.values()), color="tab:blue")
    ax.set(title="Throughput by worker processes", xlabel="processes", ylabel="jobs/s")
    ax = axes[1]
    ax.bar(list(by_payload), list(by_payload.values()), color="tab:green")
    ax.set(title="Throughput by payload (1 process)", xlabel="payload", ylabel="jobs/s")
    ax.set_yscale("log")
    ax.set_ylim(bottom=1)
    for axis in axes[:2]:
        for bar in axis.patches:
            axis.annotate(
                f"{bar.get_height():,.0f}",
                (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                ha="center",
                va="bottom",
                fontsize=8,
            )
    ax = axes[2]
    ax.plot([j for j, _ in rss], [m for _, m in rss], marker=".", color="tab:red")
    ax.set(title="RSS of one worker", xlabel="jobs finished", ylabel="MB")
    ax.set_ylim(bottom=0, top=max([m for _, m in rss], default=1) * 1.3)
    fig.suptitle(caption, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--url", default="redis://127.0.0.1:6379/15")
    parser.add_argument("--n", type=int, default=20_000)
    parser.add_argument("--n-large", type=int, default=200, help="jobs of the 1 MB payload")
    parser.add_argument("--processes", default="1,2,4")
    soak = os.environ.get("THOONK_SOAK") == "1"
    parser.add_argument("--rss-jobs", type=int, default=1_000_000 if soak else 100_000)
    parser.add_argument("--rss-every", type=int, default=0, help="0: rss-jobs / 50")
    parser.add_argument("--plot", default=str(ROOT / "docs" / "benchmarks-scaling.png"))
    args = parser.parse_args()
    load = os.getloadavg()[0]
    print(f"Redis: {args.url}; N = {args.n:,}; load average at start {load:.2f}", flush=True)
    by_processes = {}
    for p in [int(x) for x in args.processes.split(",") if x]:
        by_processes[p] = throughput(args.url, args.n, p, 100)
        print(f"  {p} process(es), 100 B: {by_processes[p]:9,.0f} jobs/s", flush=True)
    by_payload = {}
    for label, size in PAYLOADS.items():
        n = args.n_large if size >= 1_000_000 else args.n
        by_payload[label] = throughput(args.url, n, 1, size)
        print(f"  1 process, {label:>5} x {n:,}: {by_payload[label]:9,.0f} jobs/s", flush=True)
    every = args.rss_every or max(1, args.rss_jobs // 50)
    rss = trio.run(rss_run, args.url, args.rss_jobs, every)
    end_load = os.getloadavg()[0]
    caption = (
        f"thoonk-actors, N = {args.n:,} (1 MB: {args.n_large}), RSS over {args.rss_jobs:,} jobs; "
        f"load average {load:.1f} -> {end_load:.1f} on {len(os.sched_getaffinity(0))} cores"
    )
    if rss:
        growth = rss[-1][1] - rss[min(1, len(rss) - 1)][1]
        print(
            f"RSS {rss[0][1]:.1f} MB at start, {rss[-1][1]:.1f} MB at the end "
            f"({growth:+.1f} MB after the first sample)"
        )
    plot(Path(args.plot), by_processes, by_payload, rss, caption)
    print(f"plot: {args.plot}; load average at the end {end_load:.2f}")


if __name__ == "__main__":
    main()
