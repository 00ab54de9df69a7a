"""A real ``thoonk worker`` process running ``tests.runtime.apps:app``, as users start it.

Synopsis::

    with worker(redis_url, T_CONCURRENCY="1") as proc:
        ...                                   # observe through Redis
    proc.stderr_text                          # its log, once it stopped (SIGINT)

Settings go through the environment (see ``tests/runtime/apps.py``).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


class WorkerProcess(subprocess.Popen[str]):
    """A ``Popen`` that keeps what the worker wrote to stderr."""

    stderr_text: str = ""


@contextmanager
def worker(
    redis_url: str, *args: str, stop: int = signal.SIGINT, **settings: str
) -> Iterator[WorkerProcess]:
    """Run ``thoonk worker tests.runtime.apps:app ARGS`` for the block, then stop it."""
    env = {
        **{k: v for k, v in os.environ.items() if k != "THOONK_REDIS_URL"},
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
        "THOONK_REDIS_URL": redis_url,
        "THOONK_LOG_LEVEL": "WARNING",
        **settings,
    }
    proc = WorkerProcess(
        [sys.executable, "-m", "thoonk_actors", "worker", "tests.runtime.apps:app", *args],
        stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=env, cwd=ROOT,
    )  # fmt: skip
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(stop)
        try:
            _, proc.stderr_text = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            _, proc.stderr_text = proc.communicate()
