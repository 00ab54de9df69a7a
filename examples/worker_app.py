"""A worker app: two job queues, one async handler and one plain function.

Run its workers from the project root, as many processes as you like::

    thoonk worker examples.worker_app:app --processes 2

or run this file (``python examples/worker_app.py``): it publishes 2,000 jobs
to the embedded Redis in ./.thoonk (or $THOONK_REDIS_URL), runs 2 worker
processes in burst mode (they stop once both queues are drained) and checks
the results.
"""

from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path
from typing import Any

import trio

from thoonk_actors.objects import open_thoonk
from thoonk_actors.runtime import App, current_job, run_workers

app = App()


@app.job("example-thumbnails", concurrency=32, timeout=30, max_cancels=3)
async def make_thumbnail(item: dict[str, Any]) -> dict[str, Any]:
    """An async handler: 32 run at once per process; > 30 s is a failure."""
    await trio.sleep(0.001)  # stands for an HTTP call, a database write, ...
    return {"thumbnail": f"{item['image']}.small.png", "attempt": current_job().failures + 1}


@app.job("example-checksums", concurrency=4)
def checksum(item: dict[str, Any]) -> str:
    """A plain function: it runs in a thread (4 at once), so it may block."""
    return hashlib.sha256(item["data"].encode()).hexdigest()


N = 1_000


async def publish() -> tuple[str, str]:
    async with open_thoonk() as thoonk:
        for name in ("example-thumbnails", "example-checksums"):
            await thoonk.job(name).delete()  # start from empty queues
        thumbnails = await thoonk.job("example-thumbnails").publish_many(
            {"image": f"photo-{i}"} for i in range(N)
        )
        checksums = await thoonk.job("example-checksums").publish_many(
            {"data": f"block {i}"} for i in range(N)
        )
        return thumbnails[0], checksums[0]


async def check(first_thumbnail: str, first_checksum: str) -> None:
    async with open_thoonk() as thoonk:
        for name in ("example-thumbnails", "example-checksums"):
            stats = await thoonk.job(name).statistics()
            print(f"{name}: {stats.finishes} finished, {stats.available} queued")
            assert (stats.finishes, stats.available, stats.claimed) == (N, 0, 0)
        thumbnail = await thoonk.job("example-thumbnails").wait_result(first_thumbnail)
        print("first thumbnail:", thumbnail)
        assert thumbnail == {"thumbnail": "photo-0.small.png", "attempt": 1}
        digest = await thoonk.job("example-checksums").wait_result(first_checksum)
        assert digest == hashlib.sha256(b"block 0").hexdigest()


def main() -> int:
    first = trio.run(publish)
    # The workers import this module as examples.worker_app: let them find it
    # whatever the current directory.
    root = str(Path(__file__).resolve().parents[1])
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))
    os.chdir(root)
    code = run_workers("examples.worker_app:app", processes=2, burst=True)
    print("workers exited with", code)
    trio.run(check, *first)
    return code


if __name__ == "__main__":
    sys.exit(main())
