"""``thoonk worker`` and signals, with real processes (docs/runtime.md, "Signals and grace").

* a SIGTERM that reaches every process at once (systemd's
  ``KillMode=control-group``, ``pkill``) is one graceful stop: running
  handlers finish within the grace period;
* an explicit second SIGTERM to everyone stops at once;
* a stop at any moment of the start-up is honoured: exit 0, no traceback,
  no worker left running;
* a worker whose supervisor was SIGKILLed stops by itself.

The workers run ``tests.runtime.apps:app`` (each job sleeps ``item["sleep"]``
seconds and, with ``"mark"``, first adds its id to the set ``started``).
Which processes exist is read from what they publish: the supervisor logs
each worker's pid, the workers heartbeat on the queue with ``host:pid:random``.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest
import redis

from thoonk_actors import contract
from thoonk_actors.contract import JobKeys, NewJob

from ..contract._redis import raw_client, run
from ._cli import THOONK, Follower, environment, wait_until

ROOT = Path(__file__).resolve().parents[2]
QUEUE = "signals"
KEYS = JobKeys.of(QUEUE)
APP = "tests.runtime.apps:app"
#: Two handlers per process and no prefetch: 4 jobs keep both processes busy.
SETTINGS = {"T_QUEUE": QUEUE, "T_CONCURRENCY": "2", "T_PREFETCH": "0", "T_TIMEOUT": "60"}
STARTED = re.compile(r"worker \d+ started \(pid (\d+)\)")
SOAK = os.environ.get("THOONK_SOAK") == "1"


def publish(url: str, items: list[dict[str, object]]) -> list[str]:
    jobs = [NewJob(f"job-{i}", json.dumps(item).encode()) for i, item in enumerate(items)]
    client = raw_client(url)
    try:
        run(client, contract.job_publish_many(KEYS, jobs))
    finally:
        client.close()
    return [job.id for job in jobs]


def alive(pid: int) -> bool:
    """A process with this pid exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def worker_pids(client: redis.Redis) -> list[int]:
    """The pids of the processes heartbeating on the queue."""
    return [int(member.decode().rsplit(":", 2)[1]) for member in client.zrange(KEYS.workers, 0, -1)]


def start_worker(url: str, *extra: str) -> Follower:
    args = ["worker", APP, "--processes", "2", "--url", url, *extra]
    return Follower(args, env=SETTINGS, cwd=ROOT)


def count(client: redis.Redis, key: str) -> int:
    value = client.get(key)
    return 0 if value is None else int(value)


@pytest.mark.slow
@pytest.mark.parametrize("first", ["workers", "supervisor"])
def test_sigterm_to_every_process_at_once_lets_running_handlers_finish(
    redis_url: str, sync_redis: redis.Redis, first: str
) -> None:
    with start_worker(redis_url, "--grace", "8") as worker:
        wait_until(lambda: sync_redis.zcard(KEYS.workers) == 2, "2 worker processes")
        ids = publish(redis_url, [{"i": i, "sleep": 2, "mark": True} for i in range(4)])
        wait_until(lambda: sync_redis.scard("started") == 4, "4 running handlers")
        children = worker_pids(sync_redis)
        # As systemd's KillMode=control-group does: one SIGTERM to every process.
        # Each worker gets its own SIGTERM and the supervisor's order; either order.
        everyone = [*children, worker.proc.pid]
        if first == "supervisor":
            everyone.reverse()
        for pid in everyone:
            os.kill(pid, signal.SIGTERM)
        code, _, errors = worker.finish()
    assert code == 0, errors
    assert count(sync_redis, KEYS.finishes) == 4, errors  # every handler completed
    assert all(sync_redis.exists(KEYS.result(job_id)) for job_id in ids)
    assert not any("at once" in line for line in errors), errors
    assert not any(alive(pid) for pid in children)


@pytest.mark.slow
@pytest.mark.parametrize("to", ["everyone", "the supervisor"])
def test_a_second_signal_stops_at_once(redis_url: str, sync_redis: redis.Redis, to: str) -> None:
    """Sent again to every process, or twice to the supervisor (Ctrl-C twice at a terminal)."""
    with start_worker(redis_url, "--grace", "60") as worker:
        wait_until(lambda: sync_redis.zcard(KEYS.workers) == 2, "2 worker processes")
        publish(redis_url, [{"i": i, "sleep": 120, "mark": True} for i in range(4)])
        wait_until(lambda: sync_redis.scard("started") == 4, "4 running handlers")
        everyone = [worker.proc.pid]
        if to == "everyone":
            everyone += worker_pids(sync_redis)
        for pid in everyone:
            os.kill(pid, signal.SIGTERM)
        graceful = 0
        while graceful < 2:  # each worker is stopping gracefully (err_line has a deadline)
            graceful += "stopping; running handlers get 60 s" in worker.err_line()
        for pid in everyone:
            os.kill(pid, signal.SIGTERM)
        code, _, errors = worker.finish(timeout=30)  # well within the 60-s grace
    assert code == 0, errors
    assert count(sync_redis, KEYS.finishes) == 0
    assert sync_redis.llen(KEYS.ids) == 4  # cancelled handlers' jobs went back to the queue
    assert sync_redis.zcard(KEYS.claimed) == 0


# The soak form reaches 3 s: under load a worker's app opens ~2.3 s after its start,
# and a stop landing as it opens once left the worker waiting for ever (_child._Stop.opening).
DELAYS = [i / 5 for i in range(6)] if not SOAK else [i / 40 for i in range(121)]


def _interrupted_before_our_first_instruction(returncode: int, errors: str) -> bool:
    """Python itself interrupted while starting, before ``thoonk``'s first instruction.

    Seen under load: a SIGINT while CPython imports ``site`` ("Fatal Python
    error: init_import_site", exit 1), or while it imports the package on the
    way to ``cli.main`` (the first instruction, which holds the signals): a
    KeyboardInterrupt whose every frame of ours is a module body. Nothing of
    ours can catch these, and nothing was claimed.
    """
    if not errors.rstrip().endswith("KeyboardInterrupt") or returncode not in (1, -2):
        return False
    ours = [line for line in errors.splitlines() if "/thoonk_actors/" in line]
    return all(line.rstrip().endswith("in <module>") for line in ours)


@pytest.mark.slow
def test_a_stop_at_any_moment_of_the_start_up_is_honoured(redis_url: str) -> None:
    env = environment(SETTINGS)
    argv = [*THOONK, "worker", APP, "--processes", "2", "--url", redis_url]
    for n, delay in enumerate(DELAYS):
        signum = (signal.SIGINT, signal.SIGTERM)[n % 2]
        proc = subprocess.Popen(
            argv, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
        )
        try:
            time.sleep(delay)  # the input of this case: when the stop arrives
            proc.send_signal(signum)
            _, errors = proc.communicate(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
        what = f"{signum.name} after {delay:g} s: exit {proc.returncode}\n{errors}"
        if _interrupted_before_our_first_instruction(proc.returncode, errors):
            continue  # CPython itself, before the program's first instruction
        assert "Traceback" not in errors and "Fatal" not in errors, what
        if proc.returncode != 0:
            # Only before the program's first instruction (Python itself
            # starting): ended by the signal, having printed nothing.
            assert (proc.returncode, errors) == (-signum, ""), what
        for pid in map(int, STARTED.findall(errors)):
            wait_until(lambda pid=pid: not alive(pid), f"worker {pid} to be gone ({what})")


@pytest.mark.slow
def test_workers_stop_by_themselves_when_the_supervisor_is_killed(
    redis_url: str, sync_redis: redis.Redis
) -> None:
    with start_worker(redis_url) as worker:
        wait_until(lambda: sync_redis.zcard(KEYS.workers) == 2, "2 worker processes")
        children = worker_pids(sync_redis)
        worker.proc.kill()
        worker.proc.wait()
        for pid in children:
            wait_until(lambda pid=pid: not alive(pid), f"worker {pid} to stop")
    wait_until(lambda: sync_redis.zcard(KEYS.workers) == 0, "both workers to say goodbye")
