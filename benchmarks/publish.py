"""The publish side, measured beside its floors: one awaited publish at a time, and the round trip.

Usage::

    python benchmarks/publish.py [--url redis://127.0.0.1:6379/14] [--n 5000] [--rounds 3]
                                 [--samples 2000] [--private]

``--private`` starts a Redis of its own (``redis-server`` from PATH, loopback
TCP, no persistence) for the run and stops it afterwards: the server's
``INFO commandstats`` then counts only this benchmark's calls. On a shared
server the server-side figures include whatever else runs there.

Per round, interleaved (median of ``--rounds``), N publishes each:

* ``redis-py LPUSH+HSET``: the floor, one pipelined LPUSH + HSET per job
  (redis-py, synchronous);
* ``redis-py original script``: the original Thoonk Jobs' publish script (LPUSH,
  INCR, HSET, ZADD: ``tests/compat/js_client.py``), EVALSHA by redis-py;
* ``ours transport, original script``: the same script through our trio client
  (what the object layer costs on top of it shows in the next line);
* ``ours Job.publish``: ``await job.publish({"i": i})``.

Each gives jobs/s, client CPU per publish (``time.process_time``, the whole
process) and Redis CPU per publish (the ``usec`` of the commands it sends, from
``INFO commandstats`` before and after; a script's own calls are inside its
EVALSHA time).

Then the publish -> result round trip, ``--samples`` sequential jobs, p50 / p99
in ms, each against one idle worker process that returns the item:

* ``original protocol (redis-py)``: publisher EVALSHA publish + a SUBSCRIBEd
  listener for its finish; worker BRPOP + the get script + the finish script
  (``tests/compat/_js_worker_proc.py``), i.e. what the original JavaScript does
  on the wire;
* ``ours publish_and_wait, original-protocol worker``: our publisher against the
  worker above (our publishing and result side alone);
* ``ours publish_and_wait``: ``await job.publish_and_wait(item)``, worker
  ``run_workers`` of the app below at concurrency 1;
* ``ours publish + wait_result``: ``job_id = await job.publish(item)`` then
  ``await job.wait_result(job_id)``;
* ``ours publish_and_wait, id given``: with ``id=`` a new UUID of the caller's
  (the path that still reads the stored state after a pub/sub barrier).

``--before DIR`` also measures our cases with the ``thoonk_actors`` in DIR (an
older tree: ``git archive <commit> thoonk_actors | tar -x -C DIR``), in the
same interleaved rounds; the rows with our worker run the worker process of
the same tree as the publisher (so ``before`` compares both sides).
``--round-trip-only`` skips the publish-rate cases.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import redis
import trio

from thoonk_actors.contract import RawCodec, Script
from thoonk_actors.objects import Job, open_thoonk
from thoonk_actors.runtime import App
from thoonk_actors.transport import open_redis

ROOT = Path(__file__).resolve().parents[1]
sys.path.append(str(ROOT))  # for tests.compat; thoonk_actors may come from --before

from tests.compat.js_client import SCRIPTS, JsFinishListener, JsJob  # noqa: E402

QUEUE = "bench-publish-rt"

app = App()


@app.job(QUEUE, concurrency=1)
async def echo(item: object) -> object:
    return item


ORIGINAL = Script.from_source("original/publish", SCRIPTS["publish"])


# ----------------------------------------------------------------- measuring


def commandstats(client: redis.Redis) -> dict[str, tuple[int, int]]:
    """``{"evalsha": (calls, usec), ...}`` from INFO commandstats."""
    out = {}
    for name, fields in client.info("commandstats").items():
        out[name.removeprefix("cmdstat_")] = (int(fields["calls"]), int(fields["usec"]))
    return out


class Case:
    """One publish case: a name, which commands it sends, and how to run N of them."""

    def __init__(self, name: str, commands: tuple[str, ...], run: Callable[[int], None]) -> None:
        self.name = name
        self.commands = commands
        self.run = run
        self.rates: list[float] = []
        self.client_us: list[float] = []
        self.server_us: list[float] = []

    def measure(self, stats: redis.Redis, n: int) -> None:
        before = commandstats(stats)
        cpu, wall = time.process_time(), time.perf_counter()
        self.run(n)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        after = commandstats(stats)
        usec = sum(after.get(c, (0, 0))[1] - before.get(c, (0, 0))[1] for c in self.commands)
        self.rates.append(n / wall)
        self.client_us.append(cpu / n * 1e6)
        self.server_us.append(usec / n)


def floor_case(url: str) -> Case:
    client = redis.Redis.from_url(url)

    def run(n: int) -> None:
        queue = f"bench-floor-{uuid.uuid4().hex[:8]}"
        pipe = client.pipeline(transaction=False)
        for i in range(n):
            job_id = str(uuid.uuid4())
            pipe.lpush(f"job.ids:{queue}", job_id)
            pipe.hset(f"job.items:{queue}", job_id, b'{"i":%d}' % i)
            pipe.execute()
        client.delete(f"job.ids:{queue}", f"job.items:{queue}")

    return Case("redis-py LPUSH+HSET", ("lpush", "hset"), run)


def original_case(url: str) -> Case:
    def run(n: int) -> None:
        queue = f"bench-orig-{uuid.uuid4().hex[:8]}"
        with JsJob(url, queue) as js:
            for i in range(n):
                js.publish({"i": i})
            js.redis.delete(
                *(f"job.{k}:{queue}" for k in ("ids", "items", "published", "publishes"))
            )

    return Case("redis-py original script", ("evalsha",), run)


def transport_case(url: str) -> Case:
    async def go(n: int) -> None:
        queue = f"bench-tr-{uuid.uuid4().hex[:8]}"
        async with open_redis(url) as client:
            await client.execute("SCRIPT", "LOAD", ORIGINAL.source)
            for i in range(n):
                await client.evalsha(
                    ORIGINAL,
                    (),
                    (queue, str(uuid.uuid4()), b'{"i":%d}' % i, str(int(time.time() * 1000))),
                )
            await client.execute(
                "DEL", *(f"job.{k}:{queue}" for k in ("ids", "items", "published", "publishes"))
            )

    return Case("ours transport, original script", ("evalsha",), lambda n: trio.run(go, n))


async def ours_publish(url: str, n: int) -> dict[str, float]:
    """N awaited ``Job.publish`` calls (after 200 to warm up): rate, client and Redis µs."""
    async with open_thoonk(url) as thoonk:
        job = thoonk.job(f"bench-ours-{uuid.uuid4().hex[:8]}")
        for i in range(200):
            await job.publish({"i": i})
        before = parse_commandstats(await thoonk.execute("INFO", "commandstats"))
        cpu, wall = time.process_time(), time.perf_counter()
        for i in range(n):
            await job.publish({"i": i})
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        after = parse_commandstats(await thoonk.execute("INFO", "commandstats"))
        await job.delete()
    usec = after.get("evalsha", (0, 0))[1] - before.get("evalsha", (0, 0))[1]
    return {"rate": n / wall, "client_us": cpu / n * 1e6, "server_us": usec / n}


def parse_commandstats(info: bytes) -> dict[str, tuple[int, int]]:
    out = {}
    for line in info.decode().splitlines():
        if line.startswith("cmdstat_"):
            name, _, rest = line.partition(":")
            fields = dict(f.split("=", 1) for f in rest.split(","))
            out[name.removeprefix("cmdstat_")] = (int(fields["calls"]), int(fields["usec"]))
    return out


def child(pythonpath: str | None, *argv: str) -> dict[str, float]:
    """Run ``--child *argv`` of this file in a process whose ``thoonk_actors`` is
    the one in ``pythonpath`` (None: this tree's); its JSON answer."""
    env = dict(os.environ)
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    out = subprocess.run(
        [sys.executable, __file__, "--child", *argv],
        env=env, cwd=ROOT, check=True, capture_output=True, text=True,
    )  # fmt: skip
    answer: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return answer


class ChildCase(Case):
    """``ours_publish`` in a process of its own (this tree's code, or an older one's)."""

    def __init__(self, name: str, url: str, pythonpath: str | None) -> None:
        super().__init__(name, ("evalsha",), lambda n: None)
        self.url = url
        self.pythonpath = pythonpath

    def measure(self, stats: redis.Redis, n: int) -> None:
        got = child(self.pythonpath, "publish", self.url, str(n))
        self.rates.append(got["rate"])
        self.client_us.append(got["client_us"])
        self.server_us.append(got["server_us"])


# ---------------------------------------------------------------- round trip


def percentiles(times: list[float]) -> tuple[float, float]:
    times = sorted(times)
    return statistics.median(times), times[min(len(times) - 1, int(len(times) * 0.99))]


@contextmanager
def original_worker(url: str, queue: str) -> Iterator[None]:
    """An original-protocol worker process (BRPOP, get script, finish script) on ``queue``."""
    with tempfile.TemporaryDirectory() as tmp:
        stop = os.path.join(tmp, "stop")
        worker = subprocess.Popen(
            [sys.executable, "-m", "tests.compat._js_worker_proc", url, queue,
             os.path.join(tmp, "log"), stop],
            cwd=ROOT,
        )  # fmt: skip
        try:
            yield
        finally:
            Path(stop).touch()
            worker.wait(timeout=30)


def original_round_trip(url: str, samples: int) -> tuple[float, float]:
    queue = f"bench-js-rt-{uuid.uuid4().hex[:8]}"
    with (
        original_worker(url, queue),
        JsJob(url, queue) as js,
        JsFinishListener(url, queue) as listener,
    ):
        times = []
        for i in range(100 + samples):
            start = time.perf_counter()
            job_id = js.publish({"n": i})
            while True:
                got, _ = listener.on_finish_args(listener.payload())
                if got == job_id:
                    break
            if i >= 100:  # the first 100 warm up
                times.append((time.perf_counter() - start) * 1000)
    return percentiles(times)


async def ours_to_original_round_trip(url: str, samples: int) -> tuple[float, float]:
    """``publish_and_wait`` against an original-protocol worker: our publishing side alone."""
    queue = f"bench-mix-rt-{uuid.uuid4().hex[:8]}"
    with original_worker(url, queue):
        async with open_thoonk(url, result_codecs={queue: RawCodec(text=True)}) as thoonk:
            job = thoonk.job(queue)
            times = []
            for i in range(100 + samples):
                start = time.perf_counter()
                await job.publish_and_wait({"n": i}, timeout=30)
                if i >= 100:
                    times.append((time.perf_counter() - start) * 1000)
    return percentiles(times)


@contextmanager
def our_worker(url: str, pythonpath: str | None = None) -> Iterator[None]:
    """Our worker process (``run_workers``, concurrency 1) of ``pythonpath``'s tree (None: ours)."""
    env = {**os.environ, "THOONK_REDIS_URL": url, "THOONK_LOG_LEVEL": "WARNING"}
    cwd = ROOT
    if pythonpath:
        # ``python -c`` / ``-m`` put the working directory first on sys.path, before
        # PYTHONPATH: run in the older tree, or this tree's thoonk_actors would shadow
        # it (the worker and its child process); this tree still gives the app module.
        env["PYTHONPATH"] = os.pathsep.join([pythonpath, str(ROOT)])
        cwd = Path(pythonpath)
    code = (
        "import sys; from thoonk_actors.runtime import run_workers; "
        "sys.exit(run_workers('benchmarks.publish:app', 1))"
    )
    worker = subprocess.Popen([sys.executable, "-c", code], env=env, cwd=cwd)
    try:
        yield
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=60)


async def our_round_trip(url: str, samples: int, mode: str) -> tuple[float, float]:
    async with open_thoonk(url) as thoonk:
        queue: Job = thoonk.job(QUEUE)
        while (await queue.statistics()).workers_alive < 1:  # noqa: ASYNC110
            await trio.sleep(0.05)
        times = []
        for i in range(100 + samples):
            start = time.perf_counter()
            if mode == "separate":
                await queue.wait_result(await queue.publish({"i": i}))
            elif mode == "given_id":
                await queue.publish_and_wait({"i": i}, id=f"rt-{uuid.uuid4()}")
            else:
                await queue.publish_and_wait({"i": i})
            if i >= 100:
                times.append((time.perf_counter() - start) * 1000)
    return percentiles(times)


# ------------------------------------------------------------------- running

MODES = {
    "and_wait": "publish_and_wait",
    "separate": "publish + wait_result",
    "given_id": "publish_and_wait, id given",
}


@contextmanager
def private_redis() -> Iterator[str]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    folder = tempfile.mkdtemp(prefix="bench-publish-")
    server = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no", "--dir", folder],
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        url = f"redis://127.0.0.1:{port}/0"
        client = redis.Redis.from_url(url)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        client.close()
        yield url
    finally:
        server.terminate()
        server.wait(timeout=30)
        shutil.rmtree(folder, ignore_errors=True)


def report(url: str, args: argparse.Namespace) -> None:
    stats = redis.Redis.from_url(url)
    server = stats.info("server")
    print(
        f"Redis {server['redis_version']} at {url}; N = {args.n:,} per case; "
        f"median of {args.rounds} interleaved rounds; load average {os.getloadavg()}"
    )
    if args.round_trip_only:
        round_trips(url, args)
        stats.close()
        return
    cases = [floor_case(url), original_case(url), transport_case(url)]
    for case in cases:  # warm up: connections, script cache, imports
        case.run(200)
    if args.before:
        cases.append(ChildCase(f"ours Job.publish, before ({args.before})", url, args.before))
    cases.append(ChildCase("ours Job.publish", url, None))
    for r in range(args.rounds):
        for case in cases:
            case.measure(stats, args.n)
            print(
                f"  round {r + 1} {case.name:32} {case.rates[-1]:8,.0f}/s  "
                f"client {case.client_us[-1]:6.1f} µs  Redis {case.server_us[-1]:5.1f} µs",
                flush=True,
            )
    best = max(statistics.median(c.rates) for c in cases[:3])
    print("\n| case | publishes/s | client CPU µs / publish | Redis CPU µs / publish |")
    print("|---|---:|---:|---:|")
    for case in cases:
        print(
            f"| {case.name} | {statistics.median(case.rates):,.0f} | "
            f"{statistics.median(case.client_us):.1f} | {statistics.median(case.server_us):.1f} |"
        )
    ours = statistics.median(cases[-1].rates)
    print(f"\nours / best other case: {ours / best:.2f}x; load average {os.getloadavg()}")

    round_trips(url, args)
    stats.close()


def round_trips(url: str, args: argparse.Namespace) -> None:
    print(f"\npublish -> result round trip, {args.samples:,} sequential jobs, p50 / p99 ms")
    codes = [("", None)] if not args.before else [(", before", args.before), ("", None)]
    rows: dict[str, list[tuple[float, float]]] = {}
    samples = str(args.samples)
    for r in range(args.rounds):
        rows.setdefault("original protocol (redis-py), both sides", []).append(
            original_round_trip(url, args.samples)
        )
        for label, path in codes:
            got = child(path, "mixed", url, samples)
            rows.setdefault(f"ours publish_and_wait, original-protocol worker{label}", []).append(
                (got["p50"], got["p99"])
            )
        for label, path in codes:
            with our_worker(url, path):
                for mode, name in MODES.items():
                    got = child(path, mode, url, samples)
                    rows.setdefault(f"ours {name}{label}", []).append((got["p50"], got["p99"]))
        print(
            f"  round {r + 1}: "
            + ", ".join(f"{name} {runs[-1][0]:.3f}" for name, runs in rows.items()),
            flush=True,
        )
    print("| case | p50 ms | p99 ms |")
    print("|---|---:|---:|")
    for name, runs in rows.items():
        p50 = statistics.median(p for p, _ in runs)
        p99 = statistics.median(p for _, p in runs)
        print(f"| {name} | {p50:.3f} | {p99:.3f} |")
    print(f"load average {os.getloadavg()}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default="redis://127.0.0.1:6379/14")
    parser.add_argument("--n", type=int, default=5_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--samples", type=int, default=2_000)
    parser.add_argument("--private", action="store_true", help="run a Redis of its own")
    parser.add_argument(
        "--before", default=None, help="a folder holding an older thoonk_actors, measured beside"
    )
    parser.add_argument(
        "--round-trip-only", action="store_true", help="skip the publish-rate cases"
    )
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        mode, url, count = args.child
        if mode == "publish":
            print(json.dumps(trio.run(ours_publish, url, int(count))))
        elif mode == "mixed":
            p50, p99 = trio.run(ours_to_original_round_trip, url, int(count))
            print(json.dumps({"p50": p50, "p99": p99}))
        else:
            p50, p99 = trio.run(our_round_trip, url, int(count), mode)
            print(json.dumps({"p50": p50, "p99": p99}))
        return
    if args.private:
        with private_redis() as url:
            report(url, args)
    else:
        report(args.url, args)


if __name__ == "__main__":
    main()
