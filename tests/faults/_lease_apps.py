"""The app the lease/id/backoff fault tests run in real worker processes.

``tests.faults._lease_apps:app``; settings from the environment the test gives
the supervisor (its workers inherit it):

* ``L_QUEUE`` (default ``lease``), ``L_CONCURRENCY`` (4), ``L_TIMEOUT`` seconds
  (unset: no handler timeout, the worker's lease is the queue's config).

A job's item says what its handler does: ``{"sleep": 0.5}`` sleeps,
``{"until": "key"}`` runs until the Redis key exists, ``{"fail": "text"}``
raises ``RuntimeError(text)``. Every start of a handler is
counted in the Redis hash ``runs`` (job id -> number of starts), the pid of
the worker process that ran it last in ``pids``, and the server time (ms) of
each start in the list ``starts:<id>``, so a test can see how often, where and
when (by the server's clock) a job ran.
"""

from __future__ import annotations

import os
import time
from typing import Any

import redis
import trio

from thoonk_actors.runtime import App, current_job

app = App(reap_interval=0.25, heartbeat_interval=0.5, stale_after=2.0, grace=5.0)

_timeout = os.environ.get("L_TIMEOUT")


@app.job(
    os.environ.get("L_QUEUE", "lease"),
    concurrency=int(os.environ.get("L_CONCURRENCY", "4")),
    timeout=float(_timeout) if _timeout else None,
)
async def work(item: Any) -> Any:
    await trio.to_thread.run_sync(_count, current_job().id)
    if isinstance(item, dict):
        await trio.sleep(item.get("sleep", 0))
        if "until" in item:
            # Polls from a thread: the key is set by the test process, not a trio task.
            await trio.to_thread.run_sync(_wait_for_key, item["until"])
        if "fail" in item:
            raise RuntimeError(item["fail"])
    return item


def _wait_for_key(key: str) -> None:
    client = redis.Redis.from_url(os.environ["THOONK_REDIS_URL"])
    try:
        while not client.exists(key):
            time.sleep(0.05)  # polling interval of a thread, not a wait for an effect
    finally:
        client.close()


def _count(job_id: str) -> None:
    raw = job_id.encode("utf-8", "surrogateescape")
    client = redis.Redis.from_url(os.environ["THOONK_REDIS_URL"])
    try:
        seconds, micros = client.time()
        pipe = client.pipeline(transaction=False)
        pipe.hincrby("runs", raw, 1)
        pipe.hset("pids", raw, os.getpid())
        pipe.rpush(b"starts:" + raw, seconds * 1000 + micros // 1000)  # server clock
        pipe.execute()
    finally:
        client.close()
