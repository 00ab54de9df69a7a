"""Worker setup hooks that tests/runtime/test_worker_setup.py runs in real worker processes.

``open_record(worker, out=DIR)`` writes ``DIR/slot-<i>-<pid>.json``: what the
hook saw when it was entered, once the app ran, and when its block ended (the
handler figures of the process's whole run). Harmless: files only.
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import trio

from thoonk_actors._nursery import open_service_nursery
from thoonk_actors.runtime import WorkerContext


@asynccontextmanager
async def open_record(worker: WorkerContext, *, out: str) -> AsyncIterator[None]:
    seen: dict[str, Any] = {
        "slot": worker.slot,
        "pid": os.getpid(),
        "client_worker_id": worker.thoonk.worker_id,
        "jobs": sorted(worker.app.jobs),
        "running_at_entry": worker.running is not None,
    }

    async def follow() -> None:
        seen["running_worker_id"] = (await worker.wait_running()).worker_id

    async with open_service_nursery() as nursery:
        nursery.start_soon(follow)
        yield
        nursery.cancel_scope.cancel()
    assert worker.running is not None
    stats = worker.running.statistics()
    seen["finished"] = {queue.name: queue.finished for queue in stats.queues}
    path = Path(out) / f"slot-{worker.slot}-{os.getpid()}.json"
    path.write_text(json.dumps(seen))


def not_a_context_manager(worker: WorkerContext) -> str:
    """A mistake: a setup function that returns no async context manager."""
    return "oops"


@asynccontextmanager
async def open_stuck(worker: WorkerContext, *, out: str) -> AsyncIterator[None]:
    """A hook whose clean-up never ends: only a third signal gets the worker out."""
    async with open_service_nursery() as nursery:

        async def running() -> None:
            await worker.wait_running()
            (Path(out) / "running").touch()

        nursery.start_soon(running)
        yield
        nursery.cancel_scope.cancel()
    (Path(out) / "closing").touch()
    await trio.sleep_forever()
