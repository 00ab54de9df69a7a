"""Apps that the process tests run in real worker processes (``tests.runtime.apps:app``).

Settings come from the environment the test gives the supervisor (its
workers inherit it), so one module serves every process test:

* ``T_QUEUE`` (default ``faults``), ``T_CONCURRENCY`` (8), ``T_PREFETCH`` (same),
  ``T_TIMEOUT`` seconds (2), ``T_THREADED=1`` for a plain ``def`` handler
  (run in threads) instead of the async one.

Each job's item says how long its handler sleeps: ``{"i": 3, "sleep": 0.02}``;
with ``"mark": true`` the handler first adds its job id to the Redis set
``started`` (so a test knows which handlers were running); with ``"pid": true``
it records which process ran the job in the Redis hash ``ran_by`` (id -> pid).
The threaded handler sleeps ``item["first"]`` seconds on a job's first
attempt and ``item["then"]`` on the others, and appends ``"start end"``
(``time.time()``) to the Redis list ``runs:<job id>`` when it returns.
Redis is reached through ``THOONK_REDIS_URL``, a standalone or a cluster URL
(tests/runtime/_clients.py). The upkeep is fast (reap every 0.25 s, a worker
is dead after 2 s of silence) so that a killed worker's claims come back quickly.
"""

from __future__ import annotations

import os
import time
from typing import Any

import trio

from tests.runtime._clients import shared_client
from thoonk_actors.runtime import App, current_job

app = App(reap_interval=0.25, heartbeat_interval=0.5, stale_after=2.0, grace=5.0)


OPTIONS: dict[str, Any] = {
    "concurrency": int(os.environ.get("T_CONCURRENCY", "8")),
    "prefetch": int(os.environ["T_PREFETCH"]) if "T_PREFETCH" in os.environ else None,
    "timeout": float(os.environ.get("T_TIMEOUT", "2")),
}


def work_in_thread(item: dict[str, Any]) -> dict[str, Any]:
    job = current_job()
    start = time.time()
    time.sleep(item["first"] if job.failures == 0 else item["then"])
    client = shared_client(os.environ["THOONK_REDIS_URL"])  # standalone or cluster
    client.rpush(f"runs:{job.id}", f"{start} {time.time()}")
    return {"i": item["i"]}


async def work(item: dict[str, Any]) -> dict[str, Any]:
    if item.get("mark"):
        await trio.to_thread.run_sync(_mark, current_job().id)
    await trio.sleep(item.get("sleep", 0))
    if item.get("pid"):
        await trio.to_thread.run_sync(_ran_by, current_job().id)
    return {"i": item["i"]}


if os.environ.get("T_THREADED") == "1":
    app.job(os.environ.get("T_QUEUE", "faults"), **OPTIONS)(work_in_thread)
else:
    app.job(os.environ.get("T_QUEUE", "faults"), **OPTIONS)(work)


def _mark(job_id: str) -> None:
    client = shared_client(os.environ["THOONK_REDIS_URL"])  # standalone or cluster
    client.sadd("started", job_id)


def _ran_by(job_id: str) -> None:
    client = shared_client(os.environ["THOONK_REDIS_URL"])  # standalone or cluster
    client.hset("ran_by", job_id, os.getpid())
