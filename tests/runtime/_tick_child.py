"""A worker process for the recurring-job tests: one ``@app.every`` schedule, runs logged.

Synopsis::

    python tests/runtime/_tick_child.py <url> <period_s> <out_file>

Runs an App with ``@app.every(period_s, name="pulse")`` whose handler appends
``<tick_ms> <pid>`` to ``out_file`` (one line per run, flushed), until SIGTERM
(a graceful stop: the in-flight run finishes and is logged).
"""

from __future__ import annotations

import os
import sys
from typing import Any

import trio

from thoonk_actors.runtime import App


def main(url: str, period: float, out: str) -> None:
    app = App(url, reap_interval=0.1, heartbeat_interval=0.5, stale_after=2.0)
    log = open(out, "a", encoding="utf-8")  # noqa: SIM115 (open for the process's life)
    pid = os.getpid()

    @app.every(period, name="pulse", concurrency=4)
    async def pulse(tick: dict[str, Any]) -> None:
        log.write(f"{tick['tick_ms']} {pid}\n")
        log.flush()

    trio.run(lambda: app.run(handle_signals=True))
    log.close()


if __name__ == "__main__":
    main(sys.argv[1], float(sys.argv[2]), sys.argv[3])
