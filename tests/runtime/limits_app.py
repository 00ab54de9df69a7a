"""The app the limit tests run in real worker processes (``tests.runtime.limits_app:app``).

``T_QUEUE`` names the queue. Each handler records, through Redis, what the
tests measure: ``RPUSH claims:<queue> "<claim ms> <pid>"`` (the server time the
claim script wrote, so every process is measured by one clock, and which
process claimed), and around its
``item["sleep"]`` seconds ``INCR`` / ``DECR running:<queue>``, pushing each
``INCR`` result to ``peaks:<queue>`` (how many handlers ran at once).
"""

from __future__ import annotations

import os
from typing import Any

import trio

from tests.runtime._clients import shared_client
from thoonk_actors.runtime import App, current_job

app = App(reap_interval=0.25, heartbeat_interval=0.5, stale_after=2.0, grace=5.0)
QUEUE = os.environ.get("T_QUEUE", "limits")
# Made before the worker claims anything: a cluster client reads the slot map
# and the command table first, and the first handlers must not measure that.
RECORDER = shared_client(os.environ["THOONK_REDIS_URL"])


def _record(claimed_ms: int, delta: int) -> None:
    if delta > 0:
        RECORDER.rpush(f"claims:{QUEUE}", f"{claimed_ms} {os.getpid()}")
        RECORDER.rpush(f"peaks:{QUEUE}", RECORDER.incr(f"running:{QUEUE}"))
    else:
        RECORDER.decr(f"running:{QUEUE}")


@app.job(QUEUE, concurrency=8)
async def work(item: dict[str, Any]) -> int:
    claimed_ms = current_job().claimed_ms
    await trio.to_thread.run_sync(_record, claimed_ms, 1)
    try:
        await trio.sleep(item.get("sleep", 0))
    finally:
        await trio.to_thread.run_sync(_record, claimed_ms, -1)
    return int(item["i"])
