"""thoonk-actors beside every Redis job queue, one workload, one run, one Redis.

Setup: the Python peers are the ``bench`` extra (in a venv of its own, so the
project's dev venv stays as it is); the Node peers (BullMQ, bee-queue) are
npm-installed by this harness into ``/tmp/peers-node`` on first use::

    python3 -m venv /tmp/peers-venv && /tmp/peers-venv/bin/pip install -e '.[bench]'

Usage (from the repository root)::

    /tmp/peers-venv/bin/python benchmarks/peers.py [--url redis://127.0.0.1:6379/15]
        [--n 20000] [--rounds 3] [--peers all | floor,taskiq,...] [--samples 2000]
        [--timeout 120]

``--peers ""`` measures us alone (the CI smoke, tests/benchmarks/). The
database in ``--url`` is emptied (FLUSHDB) before every step: give it one of
its own. Loopback or a unix socket only.

Workload (``BENCHMARK-TARGETS.md``), every system in turn (A B C ... x
``--rounds``, medians), the 1-minute load average recorded beside every run:

* "enqueue": one producer enqueues N no-op jobs ``{"i": i}`` through the
  library's normal API, one call awaited at a time;
* "bulk": the same through its bulk API, where it has one;
* "process": then one worker starts as a user starts it (its CLI) at the
  library's defaults, and the clock runs from the first finished job to the last,
  read afterwards from the library's own bookkeeping (start-up excluded);
* "best": the same with the peer's best config (each peer says which);
* "round trip": publish -> result, one after the other, one idle worker at
  defaults, ``--samples`` of them after 20 warm-up ones, at most 20 s per
  system: p50 / p99 in ms.

Server cost per job: ``INFO commandstats`` before and after each enqueue and
process step (differences, no RESETSTAT), summed over every command: Redis CPU
µs per job, with the costliest commands in µs per call. On a Redis that other
clients use at the same time these include their traffic: give the harness a
server of its own for figures that matter (``--url`` on a private redis-server).

Us: ``publish`` / ``publish_many``; workers ``run_workers("benchmarks.jobs:app",
1, burst=True)`` (defaults: concurrency 16; best: concurrency 200); finish time
from each result hash's ``at``. The floor is plain redis-py: LPUSH+HSET per job
in one round trip; a worker doing BLMOVE, HGET, then LREM+HDEL. The peers'
details (what "best" is, where finish times come from) are in
``benchmarks/peers_python.py`` and ``benchmarks/peers_node.py``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import redis

if __package__ in (None, ""):  # run as a script: the repository root on the path
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.peers_base import WARMUP, Peer, quiet

DEFAULT_URL = "redis://127.0.0.1:6379/15"
QUEUE_US = "bench-jobs"  # the queue of benchmarks.jobs:app
BEST_CONCURRENCY_US = 200


class Us(Peer):
    name = "thoonk-actors"
    bulk_api = True
    best_how = f"concurrency {BEST_CONCURRENCY_US}"
    roundtrip_api = True

    def enqueue(self) -> float:
        import trio

        from thoonk_actors.objects import open_thoonk

        async def go() -> float:
            async with open_thoonk(self.url) as thoonk:
                queue = thoonk.job(QUEUE_US)
                cpu, start = time.process_time(), time.perf_counter()
                self.ids = [await queue.publish({"i": i}) for i in range(self.n)]
                rate = self.rate(start)
                self.enqueue_cpu_us = (time.process_time() - cpu) / self.n * 1e6
                return rate

        return trio.run(go)

    def bulk(self) -> float:
        import trio

        from thoonk_actors.objects import open_thoonk

        async def go() -> float:
            async with open_thoonk(self.url) as thoonk:
                start = time.perf_counter()
                items = ({"i": i} for i in range(self.n))
                self.ids = await thoonk.job(QUEUE_US).publish_many(items)
                return self.rate(start)

        return trio.run(go)

    def start_worker(self, best: bool, burst: bool = True) -> subprocess.Popen[bytes]:
        code = (
            "import sys; from thoonk_actors.runtime import run_workers; "
            f"sys.exit(run_workers('benchmarks.jobs:app', 1, burst={burst}))"
        )
        extra = {"BENCH_CONCURRENCY": str(BEST_CONCURRENCY_US)} if best else {}
        os.environ.pop("BENCH_CONCURRENCY", None)
        return quiet([sys.executable, "-c", code], self.url, best, extra)

    def start_roundtrip_worker(self) -> subprocess.Popen[bytes]:
        return self.start_worker(False, burst=False)

    def done(self) -> int:
        return 0  # the burst worker exits once the queue is drained

    def finish_times(self) -> list[float]:
        from thoonk_actors.objects import Job

        keys = Job.KEYS.of(QUEUE_US, cluster=False)
        pipe = self.client.pipeline(transaction=False)
        for job_id in self.ids:
            pipe.hget(keys.result(job_id), "at")
        return [int(v) / 1000 for v in pipe.execute() if v is not None]

    def roundtrips(self, samples: int) -> list[float]:
        import trio

        from thoonk_actors.objects import open_thoonk

        async def go() -> list[float]:
            async with open_thoonk(self.url) as thoonk:
                queue = thoonk.job(QUEUE_US)
                times = []
                for i in self.trips(samples):
                    if self.trips_over():
                        break
                    start = time.perf_counter()
                    await queue.publish_and_wait({"i": i}, timeout=30)
                    times.append((time.perf_counter() - start) * 1000)
                return times[WARMUP:]

        return trio.run(go)


FLOOR_WORKER = """
import json, sys, time, redis
client = redis.Redis.from_url(sys.argv[1]); n = int(sys.argv[2]); times = []
while len(times) < n:
    job_id = client.blmove("floor:ids", "floor:working", 1.0, "RIGHT", "LEFT")
    if job_id is None:
        continue
    client.hget("floor:items", job_id)
    pipe = client.pipeline(transaction=False)
    pipe.lrem("floor:working", 1, job_id); pipe.hdel("floor:items", job_id); pipe.execute()
    times.append(time.time())
client.set("floor:times", json.dumps(times))
"""


class Floor(Peer):
    """Plain redis-py: what one LPUSH+HSET per job and a BLMOVE worker cost at least."""

    name = "redis-py floor"
    bulk_api = True

    def enqueue(self) -> float:
        pipe = self.client.pipeline(transaction=False)
        cpu, start = time.process_time(), time.perf_counter()
        for i in range(self.n):
            job_id = str(i)
            pipe.lpush("floor:ids", job_id)
            pipe.hset("floor:items", job_id, json.dumps({"i": i}))
            pipe.execute()
        rate = self.rate(start)
        self.enqueue_cpu_us = (time.process_time() - cpu) / self.n * 1e6
        return rate

    def bulk(self) -> float:
        pipe = self.client.pipeline(transaction=False)
        start = time.perf_counter()
        for i in range(self.n):
            pipe.lpush("floor:ids", str(i))
            pipe.hset("floor:items", str(i), json.dumps({"i": i}))
        pipe.execute()
        return self.rate(start)

    def start_worker(self, best: bool) -> subprocess.Popen[bytes]:
        return quiet([sys.executable, "-c", FLOOR_WORKER, self.url, str(self.n)], self.url)

    def done(self) -> int:
        return 0  # the worker exits after n jobs

    def finish_times(self) -> list[float]:
        raw = self.client.get("floor:times")
        return [] if raw is None else [float(t) for t in json.loads(raw)]


# ---- server cost: INFO cpu (main thread) and INFO commandstats ----------------------

SCRIPT_COMMANDS = ("eval", "evalsha", "eval_ro", "evalsha_ro", "fcall", "fcall_ro")


def commandstats(client: redis.Redis) -> dict[str, tuple[int, int]]:
    """{command: (calls, usec)} as the server counts them since its start."""
    info: dict[str, Any] = client.info("commandstats")
    return {
        key.removeprefix("cmdstat_"): (int(v["calls"]), int(v["usec"])) for key, v in info.items()
    }


def main_thread_cpu(client: redis.Redis) -> float:
    """Seconds of CPU the server's main thread used since its start (user + sys)."""
    info: dict[str, Any] = client.info("cpu")
    if "used_cpu_user_main_thread" not in info:  # older servers: the whole process
        return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])
    return float(info["used_cpu_user_main_thread"]) + float(info["used_cpu_sys_main_thread"])


class ServerCost:
    """Redis CPU of one step, per job, and its commands in µs per call.

    ``per_job``: the server main thread's CPU (``INFO cpu``; socket reads and
    writes included, which commandstats leaves out) over the step, per job.
    ``top``: from ``INFO commandstats``; a command called inside a script is
    counted twice there (on its own and inside the EVALSHA's µs), so the list
    gives µs per call and is not summed. Both count every client of the server:
    ``--private`` gives the harness a redis-server of its own.
    """

    def __init__(self, client: redis.Redis) -> None:
        self.client = client

    def __enter__(self) -> ServerCost:
        self.before = commandstats(self.client)
        self.cpu_before = main_thread_cpu(self.client)
        return self

    def __exit__(self, *exc: object) -> None:
        self.cpu = main_thread_cpu(self.client) - self.cpu_before
        after = commandstats(self.client)
        self.delta: dict[str, tuple[int, int]] = {}
        for cmd, (calls, usec) in after.items():
            c0, u0 = self.before.get(cmd, (0, 0))
            if calls - c0 > 0:
                self.delta[cmd] = (calls - c0, usec - u0)
        # the harness's own look-ups around a step are not the peer's cost
        for cmd in ("info", "flushdb", "dbsize"):
            self.delta.pop(cmd, None)

    def per_job(self, n: int) -> float:
        return self.cpu * 1e6 / n

    def top(self, k: int = 3) -> str:
        costly = sorted(self.delta.items(), key=lambda kv: -kv[1][1])[:k]
        return ", ".join(
            f"{cmd}{' (script)' if cmd in SCRIPT_COMMANDS else ''} {usec / calls:.1f} µs "
            f"x {calls / self.n_jobs:.2f}/job"
            for cmd, (calls, usec) in costly
        )

    n_jobs = 1


def private_server() -> tuple[str, subprocess.Popen[bytes]]:
    """A redis-server of the harness's own (loopback, free port, no persistence)."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [
            "redis-server",
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--databases",
            "16",
        ],
        stdout=subprocess.DEVNULL,
    )
    client = redis.Redis(port=port)
    deadline = time.monotonic() + 10
    while True:
        try:
            client.ping()
            break
        except redis.ConnectionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
    return f"redis://127.0.0.1:{port}/15", server


# ---- one round of one system ----------------------------------------------------------


def load() -> float:
    return os.getloadavg()[0]


def run_once(peer: Peer, timeout: float, best: bool) -> dict[str, Any]:
    out: dict[str, Any] = {"load": load()}
    if peer.bulk_api:
        peer.flush()
        out["bulk"] = peer.bulk()
    peer.flush()
    with ServerCost(peer.client) as enqueue_cost:
        enqueue_cost.n_jobs = peer.n
        out["enqueue"] = peer.enqueue()
    out["enqueue_redis_us"] = enqueue_cost.per_job(peer.n)
    out["enqueue_top"] = enqueue_cost.top()
    out["enqueue_cpu_us"] = peer.enqueue_cpu_us
    with ServerCost(peer.client) as process_cost:
        process_cost.n_jobs = peer.n
        out["process"], out["finished"] = peer.process(timeout, best=False)
    out["process_redis_us"] = process_cost.per_job(peer.n)
    out["process_top"] = process_cost.top()
    if best and peer.best_how is not None:
        peer.flush()
        if peer.bulk_api:
            peer.bulk()
        else:
            peer.enqueue()
        out["best"], out["best_finished"] = peer.process(timeout, best=True)
    peer.flush()
    return out


NONE = "-"


def fmt(x: float | None) -> str:
    return NONE if x is None else f"{x:,.0f}"


def ratio(ours: float | None, theirs: float | None, lower_is_better: bool = False) -> str:
    if not ours or not theirs:
        return NONE
    return f"{(theirs / ours if lower_is_better else ours / theirs):.2f}x"


def median(runs: list[dict[str, Any]], key: str) -> float | None:
    values = [r[key] for r in runs if r.get(key) is not None]
    return statistics.median(values) if values else None


def all_peers() -> dict[str, type[Peer]]:
    from benchmarks.peers_node import NODE_PEERS
    from benchmarks.peers_python import PYTHON_PEERS

    return {"floor": Floor, **PYTHON_PEERS, **NODE_PEERS}


def check_url(url: str) -> None:
    if url.startswith("unix://"):
        return
    host = redis.Redis.from_url(url).connection_pool.connection_kwargs.get("host")
    if host not in ("127.0.0.1", "localhost", "::1"):
        raise SystemExit("loopback only: --url must point at 127.0.0.1 / localhost (or unix://)")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--url", default=DEFAULT_URL)
    parser.add_argument("--n", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--peers",
        default="all",
        help="comma-separated from floor,taskiq,dramatiq,saq,arq,rq,huey,celery,bullmq,"
        "bee-queue; 'all'; '' for us alone",
    )
    parser.add_argument("--samples", type=int, default=2000, help="round trips; 0 skips")
    parser.add_argument("--no-best", action="store_true", help="skip the best-config runs")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds per process run")
    parser.add_argument(
        "--private",
        action="store_true",
        help="start a redis-server of its own (ignores --url) so the server costs are ours only",
    )
    args = parser.parse_args(argv)
    server = None
    if args.private:
        args.url, server = private_server()
    check_url(args.url)
    try:
        run(args)
    finally:
        if server is not None:
            server.terminate()
            server.wait()


def run(args: argparse.Namespace) -> None:
    os.environ["PEERS_REDIS_URL"] = args.url
    names = [p for p in args.peers.split(",") if p]
    known: dict[str, type[Peer]] = {"floor": Floor}
    if names:
        known = all_peers()
        names = list(known) if names == ["all"] else names
    unknown = [p for p in names if p not in known]
    if unknown:
        raise SystemExit(f"unknown peers {unknown}; known: {', '.join(known)}")
    if names:
        from benchmarks.peers_python import MISSING  # (all_peers imported it already)

        broken = {p: MISSING[p] for p in names if p in MISSING}
        if broken:  # before any round: not a traceback half an hour into the run
            raise SystemExit(
                "cannot import "
                + "; ".join(f"{p} ({why})" for p, why in broken.items())
                + ": install the `bench` extra in this venv, or leave them out with --peers"
            )
    if any(p in ("bullmq", "bee-queue") for p in names):
        from benchmarks.peers_node import install

        install()
    systems: list[Peer] = [Us(args.url, args.n)] + [known[p](args.url, args.n) for p in names]
    runs: dict[str, list[dict[str, Any]]] = {s.name: [] for s in systems}
    print(
        f"Redis: {args.url}; N = {args.n:,} no-op jobs; median of {args.rounds} interleaved "
        f"rounds; load average at start {load():.2f}; {len(os.sched_getaffinity(0))} cores; "
        f"Redis {redis.Redis.from_url(args.url).info('server')['redis_version']}",
        flush=True,
    )
    for r in range(args.rounds):
        for system in systems:
            result = run_once(system, args.timeout, best=not args.no_best)
            runs[system.name].append(result)
            print(
                f"  round {r + 1} {system.name:14} load {result['load']:5.2f}  "
                f"enqueue {result['enqueue']:8,.0f}/s  process {result['process']:8,.0f}/s "
                f"(finished {int(result['finished']):,})  best {fmt(result.get('best'))}/s",
                flush=True,
            )
    trips: dict[str, tuple[float, float] | None] = {}
    if args.samples > 0:
        for system in systems:
            before = load()
            trips[system.name] = system.roundtrip(args.samples)
            if trips[system.name] is not None:
                p50, p99 = trips[system.name]  # type: ignore[misc]
                print(
                    f"  round trip {system.name:14} load {before:5.2f}  "
                    f"p50 {p50:.2f} ms  p99 {p99:.2f} ms",
                    flush=True,
                )
    print_tables(systems, runs, trips, args)


def print_tables(
    systems: list[Peer],
    runs: dict[str, list[dict[str, Any]]],
    trips: dict[str, tuple[float, float] | None],
    args: argparse.Namespace,
) -> None:
    med = {name: {k: median(rs, k) for k in rs[0]} for name, rs in runs.items()}
    ours = med[systems[0].name]
    our_trip = trips.get(systems[0].name)
    print(
        "\n| system | load | enqueue /s | bulk /s | process /s, defaults | process /s, best "
        "| round trip p50 / p99 ms | us/peer enqueue | us/peer bulk | us/peer process "
        "| us/peer best | peer/us p50 |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for system in systems:
        m = med[system.name]
        proc = fmt(m["process"])
        short = min(int(r["finished"]) for r in runs[system.name])
        if short < args.n:
            proc += f" (only {short:,}/{args.n:,} in {args.timeout:.0f} s)"
        best = NONE if m.get("best") is None else f"{fmt(m['best'])} ({system.best_how})"
        trip = trips.get(system.name)
        trip_s = NONE if trip is None else f"{trip[0]:.2f} / {trip[1]:.2f}"
        trip_r = ratio(our_trip[0], trip[0], True) if trip and our_trip else NONE
        ours_best = ours.get("best") or ours["process"]
        theirs_best = m.get("best") or m["process"]
        print(
            f"| {system.name} | {m['load']:.1f} | {fmt(m['enqueue'])} | {fmt(m.get('bulk'))} "
            f"| {proc} | {best} | {trip_s} | {ratio(ours['enqueue'], m['enqueue'])} "
            f"| {ratio(ours.get('bulk'), m.get('bulk'))} | {ratio(ours['process'], m['process'])} "
            f"| {ratio(ours_best, theirs_best)} | {trip_r} |"
        )
    print(
        "\nServer cost per job (median over rounds): Redis main-thread CPU (INFO cpu) and the\n"
        "costliest commands (INFO commandstats, µs per call x calls per job, last round)\n"
        "\n| system | enqueue: Redis CPU µs/job | client CPU µs/job | enqueue commands "
        "| process: Redis CPU µs/job | process commands |"
    )
    print("|---|---:|---:|---|---:|---|")
    for system in systems:
        m, last = med[system.name], runs[system.name][-1]
        cpu = m.get("enqueue_cpu_us")
        cpu_s = NONE if cpu is None else f"{cpu:.0f}"
        print(
            f"| {system.name} | {m['enqueue_redis_us']:.1f} | {cpu_s} "
            f"| {last['enqueue_top']} | {m['process_redis_us']:.1f} | {last['process_top']} |"
        )


if __name__ == "__main__":
    # Run as ``benchmarks.peers`` so the workers import the same modules by name.
    from benchmarks.peers import main as _main

    _main()
