"""thoonk-actors beside Python job-queue peers from PyPI, one workload, one run, one Redis.

Setup (a separate venv, so the project's own dependencies stay untouched)::

    python3 -m venv /tmp/peers-venv && \
        /tmp/peers-venv/bin/pip install -e /work/main -r benchmarks/requirements-peers.txt

Usage (from the repository root)::

    /tmp/peers-venv/bin/python benchmarks/peers.py [--url redis://127.0.0.1:6379/15]
        [--n 20000] [--rounds 3] [--peers rq,huey,arq] [--timeout 120]

The database in ``--url`` is emptied (FLUSHDB) before every run: give it one of
its own. Loopback only.

Workload (as in ``BENCHMARK-TARGETS.md``), for each system, interleaved,
median of ``--rounds``:

* "bulk" (us and rq, the ones with a bulk API): FLUSHDB, enqueue N jobs
  ``{"i": i}`` in one bulk call (us: ``publish_many``; rq: ``enqueue_many``);
* "enqueue": FLUSHDB, one producer enqueues N no-op jobs ``{"i": i}``, one call
  awaited at a time;
* "process": then one worker process starts in the library's default
  configuration, and the clock runs from the first finished job to the last,
  read afterwards from the library's own bookkeeping in Redis:

  - us: ``run_workers("benchmarks.jobs:app", 1, burst=True)``; each finished
    job's result hash holds its finish time (``at``, server clock);
  - rq: ``rq worker --burst`` (default ``Worker``: a fork per job); each job
    hash's ``ended_at``;
  - huey: ``huey_consumer`` (1 worker thread); huey keeps no finish time, so
    the task *returns* ``time.time()`` and the figure is read from huey's
    result store (``huey.results.<name>``);
  - arq: ``arq`` worker with ``burst=True`` (max_jobs 10, poll_delay 0.5 s);
    each job's result key (``arq:result:<id>``) holds ``finish_time``.

  Worker start-up is excluded. A worker that has not finished all N jobs within
  ``--timeout`` seconds is stopped and reported as such (with the rate over what
  it did finish).

The table gives the ratios us / peer.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import redis

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
DEFAULT_URL = "redis://127.0.0.1:6379/15"
URL = os.environ.get("PEERS_REDIS_URL", DEFAULT_URL)


# ---- task bodies, imported by the workers as ``benchmarks.peers`` ------------------


def rq_noop(item: object) -> None:
    return None


async def arq_noop(ctx: dict[str, Any], item: object) -> None:
    return None


class ArqSettings:
    functions = [arq_noop]
    burst = True


try:  # only in the peers' venv
    from arq.connections import RedisSettings as _RedisSettings

    ArqSettings.redis_settings = _RedisSettings.from_dsn(URL)  # type: ignore[attr-defined]
except ImportError:
    pass

try:
    from huey import RedisHuey

    huey_app = RedisHuey("bench-peers", url=URL)

    @huey_app.task()
    def huey_noop(item: object) -> float:
        # huey records no finish time: the result (kept in its result store) is it.
        return time.time()

except ImportError:
    pass


# ---- drivers ------------------------------------------------------------------------


def worker_env(url: str) -> dict[str, str]:
    env = {**os.environ, "PEERS_REDIS_URL": url, "THOONK_REDIS_URL": url}
    env["THOONK_LOG_LEVEL"] = "WARNING"
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def quiet(cmd: list[str], url: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        cmd, env=worker_env(url), cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )


class Peer:
    name = ""
    bulk_api = False
    how = ""

    def __init__(self, url: str, n: int) -> None:
        self.url, self.n = url, n
        self.client = redis.Redis.from_url(url)
        self.ids: list[str] = []

    def flush(self) -> None:
        self.client.flushdb()

    def enqueue(self) -> float:
        raise NotImplementedError

    def bulk(self) -> float:
        raise NotImplementedError

    def start_worker(self) -> subprocess.Popen[bytes]:
        raise NotImplementedError

    def done(self) -> int:
        raise NotImplementedError

    def finish_times(self) -> list[float]:
        """Finish times (s) of the finished jobs, from the library's bookkeeping."""
        raise NotImplementedError

    def process(self, timeout: float) -> tuple[float, int]:
        """(jobs/s from first to last finish, jobs finished) for the jobs enqueued."""
        worker = self.start_worker()
        deadline = time.monotonic() + timeout
        try:
            while self.done() < self.n and time.monotonic() < deadline:
                if worker.poll() is not None and self.done() < self.n:
                    break
                time.sleep(0.02)
        finally:
            if worker.poll() is None:
                worker.send_signal(signal.SIGINT)
                try:
                    worker.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    worker.kill()
                    worker.wait()
        times = self.finish_times()
        if len(times) < 2:
            return 0.0, len(times)
        return (len(times) - 1) / max(max(times) - min(times), 1e-6), len(times)


class Us(Peer):
    name = "thoonk-actors"
    bulk_api = True
    how = "result hash `at`"

    def enqueue(self) -> float:
        import trio

        from thoonk_actors.objects import open_thoonk

        async def go() -> float:
            async with open_thoonk(self.url) as thoonk:
                queue = thoonk.job(QUEUE_US)
                start = time.perf_counter()
                self.ids = [await queue.publish({"i": i}) for i in range(self.n)]
                return self.n / (time.perf_counter() - start)

        return trio.run(go)

    def bulk(self) -> float:
        import trio

        from thoonk_actors.objects import open_thoonk

        async def go() -> float:
            async with open_thoonk(self.url) as thoonk:
                start = time.perf_counter()
                await thoonk.job(QUEUE_US).publish_many({"i": i} for i in range(self.n))
                return self.n / (time.perf_counter() - start)

        return trio.run(go)

    def start_worker(self) -> subprocess.Popen[bytes]:
        code = (
            "import sys; from thoonk_actors.runtime import run_workers; "
            "sys.exit(run_workers('benchmarks.jobs:app', 1, burst=True))"
        )
        self.worker = quiet([sys.executable, "-c", code], self.url)
        return self.worker

    def done(self) -> int:
        # The burst worker exits once the queue is drained.
        return self.n if self.worker.poll() is not None else 0

    def finish_times(self) -> list[float]:
        from thoonk_actors.objects import Job

        keys = Job.KEYS.of(QUEUE_US, cluster=False)
        pipe = self.client.pipeline(transaction=False)
        for job_id in self.ids:
            pipe.hget(keys.result(job_id), "at")
        return [int(v) / 1000 for v in pipe.execute() if v is not None]


QUEUE_US = "bench-jobs"  # the queue of benchmarks.jobs:app


class Rq(Peer):
    name = "rq"
    bulk_api = True
    how = "job hash `ended_at`"

    def queue(self) -> Any:
        from rq import Queue

        return Queue("default", connection=self.client)

    def enqueue(self) -> float:
        queue = self.queue()
        start = time.perf_counter()
        self.ids = [queue.enqueue(rq_noop, {"i": i}).id for i in range(self.n)]
        return self.n / (time.perf_counter() - start)

    def bulk(self) -> float:
        from rq import Queue

        queue = self.queue()
        start = time.perf_counter()
        queue.enqueue_many([Queue.prepare_data(rq_noop, ({"i": i},)) for i in range(self.n)])
        return self.n / (time.perf_counter() - start)

    def start_worker(self) -> subprocess.Popen[bytes]:
        return quiet([str(BIN / "rq"), "worker", "--burst", "--url", self.url, "default"], self.url)

    def done(self) -> int:
        return int(self.client.zcard("rq:finished:default"))

    def finish_times(self) -> list[float]:
        from rq.utils import str_to_date

        pipe = self.client.pipeline(transaction=False)
        for job_id in self.ids:
            pipe.hget(f"rq:job:{job_id}", "ended_at")
        return [str_to_date(v).timestamp() for v in pipe.execute() if v]


class Huey(Peer):
    name = "huey"
    how = "result store (task returns `time.time()`)"

    def enqueue(self) -> float:
        huey_app.storage.conn = self.client  # the same connection settings as --url
        start = time.perf_counter()
        self.ids = [huey_noop({"i": i}).id for i in range(self.n)]
        return self.n / (time.perf_counter() - start)

    def start_worker(self) -> subprocess.Popen[bytes]:
        return quiet([str(BIN / "huey_consumer"), "benchmarks.peers.huey_app"], self.url)

    def done(self) -> int:
        return int(self.client.hlen(huey_app.storage.result_key))

    def finish_times(self) -> list[float]:
        values = self.client.hmget(huey_app.storage.result_key, self.ids)
        return [float(huey_app.serializer.deserialize(v)) for v in values if v is not None]


class Arq(Peer):
    name = "arq"
    how = "result key `finish_time`"

    def enqueue(self) -> float:
        from arq import create_pool
        from arq.connections import RedisSettings

        async def go() -> float:
            pool = await create_pool(RedisSettings.from_dsn(self.url))
            try:
                start = time.perf_counter()
                ids = []
                for i in range(self.n):
                    job = await pool.enqueue_job("arq_noop", {"i": i})
                    ids.append(job.job_id)
                self.ids = ids
                return self.n / (time.perf_counter() - start)
            finally:
                await pool.aclose()

        return asyncio.run(go())

    def start_worker(self) -> subprocess.Popen[bytes]:
        return quiet([str(BIN / "arq"), "benchmarks.peers.ArqSettings"], self.url)

    def done(self) -> int:
        return self.n - int(self.client.zcard("arq:queue"))

    def finish_times(self) -> list[float]:
        from arq.jobs import deserialize_result

        values = self.client.mget([f"arq:result:{job_id}" for job_id in self.ids])
        return [deserialize_result(v).finish_time.timestamp() for v in values if v is not None]


PEERS: dict[str, type[Peer]] = {"rq": Rq, "huey": Huey, "arq": Arq}


def run_once(peer: Peer, timeout: float) -> dict[str, float]:
    out: dict[str, float] = {}
    if peer.bulk_api:
        peer.flush()
        out["bulk"] = peer.bulk()
    peer.flush()
    out["enqueue"] = peer.enqueue()
    out["process"], out["finished"] = peer.process(timeout)
    peer.flush()
    return out


def fmt(x: float | None) -> str:
    return "-" if x is None else f"{x:,.0f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default=DEFAULT_URL)
    parser.add_argument("--n", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--peers", default="rq,huey,arq", help="comma-separated: rq,huey,arq")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds per process run")
    args = parser.parse_args()
    host = redis.Redis.from_url(args.url).connection_pool.connection_kwargs.get("host")
    if host not in ("127.0.0.1", "localhost", "::1"):
        raise SystemExit("loopback only: --url must point at 127.0.0.1 / localhost")
    names = [p for p in args.peers.split(",") if p]
    unknown = [p for p in names if p not in PEERS]
    if unknown:
        raise SystemExit(f"unknown peers {unknown}; known: {', '.join(PEERS)}")
    os.environ["PEERS_REDIS_URL"] = args.url
    systems: list[Peer] = [Us(args.url, args.n)] + [PEERS[p](args.url, args.n) for p in names]
    if any(isinstance(s, Huey) for s in systems):
        huey_app.storage.conn = systems[0].client
    runs: dict[str, list[dict[str, float]]] = {s.name: [] for s in systems}
    print(
        f"Redis: {args.url}; N = {args.n:,} no-op jobs; median of {args.rounds} interleaved rounds"
    )
    for r in range(args.rounds):
        for system in systems:
            result = run_once(system, args.timeout)
            runs[system.name].append(result)
            print(
                f"  round {r + 1} {system.name:14} enqueue {result['enqueue']:8,.0f}/s  "
                f"process {result['process']:8,.0f}/s  finished {int(result['finished']):,}",
                flush=True,
            )
    med = {
        name: {key: statistics.median(r[key] for r in rs) for key in rs[0]}
        for name, rs in runs.items()
    }
    ours = med[systems[0].name]
    print(
        "\n| system | enqueue /s | bulk /s | process /s, 1 worker, defaults "
        "| us / peer, enqueue | us / peer, process | process read from |"
    )
    print("|---|---|---|---|---|---|---|")
    for system in systems:
        m = med[system.name]
        complete = all(r["finished"] >= args.n for r in runs[system.name])
        proc = fmt(m["process"])
        if not complete:
            done = int(min(r["finished"] for r in runs[system.name]))
            proc += f" (not finished in {args.timeout:.0f} s: {done:,}/{args.n:,} done)"
        ratio_e = ours["enqueue"] / m["enqueue"]
        ratio_p = ours["process"] / m["process"] if m["process"] else float("inf")
        print(
            f"| {system.name} | {fmt(m['enqueue'])} | {fmt(m.get('bulk'))} | {proc} "
            f"| {ratio_e:.2f}x | {ratio_p:.2f}x | {system.how} |"
        )


if __name__ == "__main__":
    # Run as ``benchmarks.peers`` so the task functions have the module name the
    # workers import them by.
    sys.path.insert(0, str(ROOT))
    from benchmarks.peers import main as _main

    _main()
