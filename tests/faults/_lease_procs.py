"""Real worker processes for the lease/id/backoff fault tests.

``async with workers(redis_url, L_QUEUE="q", L_TIMEOUT="3"):`` runs
``run_workers("tests.faults._lease_apps:app", 1)`` in its own process (as
``thoonk worker`` does) and stops it with SIGTERM at the end.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import trio

ROOT = Path(__file__).resolve().parents[2]
SOAK = os.environ.get("THOONK_SOAK") == "1"

_SUPERVISOR = (
    "import sys; from thoonk_actors.runtime import run_workers; "
    "sys.exit(run_workers('tests.faults._lease_apps:app', 1, grace=2.0))"
)


@asynccontextmanager
async def workers(redis_url: str, **settings: str) -> AsyncIterator[trio.Process]:
    """One supervisor with one worker process of ``_lease_apps``, stopped on exit."""
    env = {
        **os.environ,
        "THOONK_REDIS_URL": redis_url,
        "THOONK_LOG_LEVEL": os.environ.get("THOONK_LOG_LEVEL", "WARNING"),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
        **settings,
    }
    proc = await trio.lowlevel.open_process([sys.executable, "-c", _SUPERVISOR], env=env, cwd=ROOT)
    try:
        yield proc
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
            with trio.move_on_after(20) as scope:
                await proc.wait()
            if scope.cancelled_caught:
                proc.kill()
                await proc.wait()
