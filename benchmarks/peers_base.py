"""What every system in ``benchmarks/peers.py`` is driven through: :class:`Peer`.

A peer knows how to enqueue N no-op jobs ``{"i": i}`` (one awaited call at a
time, and in bulk where its library has a bulk API), start its worker as a user
would (its CLI, at defaults or at its best config), tell how many jobs are
done, read every job's finish time from its own bookkeeping afterwards, and
time publish -> result round trips where its library has a result API.
Kept apart from the harness so the peers' modules import it without a cycle.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import redis

ROOT = Path(__file__).resolve().parents[1]
WARMUP = 20  # round trips not counted (connections, scripts loaded, caches warm)
BIN = Path(sys.executable).parent


def worker_env(url: str, best: bool = False) -> dict[str, str]:
    env = {**os.environ, "PEERS_REDIS_URL": url, "THOONK_REDIS_URL": url}
    env["THOONK_LOG_LEVEL"] = "WARNING"
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env["PEERS_BEST"] = "1" if best else "0"
    return env


def quiet(
    cmd: list[str], url: str, best: bool = False, extra: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """Start a worker process with its output discarded (``PEERS_BEST`` set for ``best``)."""
    env = {**worker_env(url, best), **(extra or {})}
    return subprocess.Popen(
        cmd, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )


def stop(process: subprocess.Popen[Any], sig: int = 2) -> None:
    """SIGINT (then kill after 10 s) a worker process this harness started."""
    if process.poll() is None:
        process.send_signal(sig)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def p50_p99(times: list[float]) -> tuple[float, float]:
    ordered = sorted(times)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


class Peer:
    """One system under test; subclasses fill in what their library offers."""

    name = ""
    bulk_api = False
    best_how: str | None = None  # None: no better config than the defaults
    roundtrip_api = False

    def __init__(self, url: str, n: int) -> None:
        self.url, self.n = url, n
        self.client = redis.Redis.from_url(url)
        self.ids: list[str] = []
        self.base_keys = 0
        self.enqueue_cpu_us: float | None = None

    def rate(self, start: float) -> float:
        return self.n / (time.perf_counter() - start)

    def flush(self) -> None:
        self.client.flushdb()

    def keys_added(self) -> int:
        """Keys created since the enqueue: one result key per finished job for some peers."""
        return int(self.client.dbsize()) - self.base_keys

    def enqueue(self) -> float:
        raise NotImplementedError

    def bulk(self) -> float:
        raise NotImplementedError

    def start_worker(self, best: bool) -> subprocess.Popen[Any]:
        raise NotImplementedError

    def done(self) -> int:
        raise NotImplementedError

    def finish_times(self) -> list[float]:
        """Finish times (s) of the finished jobs, from the library's bookkeeping."""
        raise NotImplementedError

    def process(self, timeout: float, best: bool) -> tuple[float, int]:
        """(jobs/s from first to last finish, jobs finished) for the jobs enqueued."""
        self.base_keys = int(self.client.dbsize())
        worker = self.start_worker(best)
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                if worker.poll() is not None or self.done() >= self.n:
                    break
                time.sleep(0.02)
        finally:
            stop(worker)
        times = self.finish_times()
        if len(times) < 2:
            return 0.0, len(times)
        return (len(times) - 1) / max(max(times) - min(times), 1e-6), len(times)

    # publish -> result round trips, one after the other, with one idle worker.
    def roundtrip_once(self, i: int) -> None:
        raise NotImplementedError

    #: seconds one system's round trips may take: a library that polls for its
    #: result every 0.5 s would otherwise hold the run for many minutes
    trip_budget = 20.0

    def trips(self, samples: int) -> range:
        self.trip_deadline = time.monotonic() + self.trip_budget
        return range(samples + WARMUP)

    def trips_over(self) -> bool:
        return time.monotonic() > self.trip_deadline

    def roundtrips(self, samples: int) -> list[float]:
        times = []
        for i in self.trips(samples):
            if self.trips_over():
                break
            start = time.perf_counter()
            self.roundtrip_once(i)
            times.append((time.perf_counter() - start) * 1000)
        return times[WARMUP:]

    def roundtrip(self, samples: int) -> tuple[float, float] | None:
        """(p50, p99) in ms, with one worker (defaults) running; None: no result API."""
        if not self.roundtrip_api:
            return None
        self.flush()
        worker = self.start_roundtrip_worker()
        try:
            time.sleep(2.0)  # the worker's start-up (its first round trips are warm-up too)
            times = self.roundtrips(samples)
            return p50_p99(times) if times else None
        finally:
            stop(worker)
            self.flush()

    def start_roundtrip_worker(self) -> subprocess.Popen[Any]:
        os.environ["PEERS_BURST"] = "0"
        try:
            return self.start_worker(False)
        finally:
            os.environ["PEERS_BURST"] = "1"
