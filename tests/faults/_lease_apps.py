"""The app the lease/id/backoff fault tests run in real worker processes.

``tests.faults._lease_apps:app``; settings from the environment the test gives
the supervisor (its workers inherit it):

* ``L_QUEUE`` (default ``lease``), ``L_CONCURRENCY`` (4), ``L_TIMEOUT`` seconds
  (unset: no handler timeout, the worker's lease is the queue's config).

A job's item says what its handler does: ``{"sleep": 0.5}`` sleeps,
``{"fail": "text"}`` raises ``RuntimeError(text)``. Every start of a handler is
counted in the Redis hash ``runs`` (job id -> number of starts), so a test can
see how often a job ran.
"""

from __future__ import annotations

import os
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
        if "fail" in item:
            raise RuntimeError(item["fail"])
    return item


def _count(job_id: str) -> None:
    client = redis.Redis.from_url(os.environ["THOONK_REDIS_URL"])
    try:
        client.hincrby("runs", job_id.encode("utf-8", "surrogateescape"), 1)
    finally:
        client.close()
