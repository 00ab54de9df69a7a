"""The app ``thoonk demo`` runs in its worker processes: ``thoonk_actors.cli._demo_app:app``.

Synopsis::

    thoonk worker thoonk_actors.cli._demo_app:app --processes 2 --burst

One job queue, :data:`QUEUE`. Each job's item is ``{"n": N}`` (a few carry
``"report": true``); the handler counts the Collatz steps of N (a tiny bit of
CPU work) and returns ``{"n": N, "steps": S}`` as the job's result. For the
jobs marked ``report`` it also publishes that result to the feed
:data:`RESULTS`, so a person can watch results arrive (``thoonk feed tail``)
without 20,000 lines scrolling past.
"""

from __future__ import annotations

import os
from typing import Any

from ..objects import open_thoonk
from ..runtime import App, current_job
from ._demo import QUEUE as QUEUE  # the demo's job queue and its results feed
from ._demo import RESULTS as RESULTS

app = App(grace=5)


def collatz_steps(n: int) -> int:
    """``collatz_steps(6) -> 8``: steps of ``n -> n/2 or 3n+1`` until 1 (n >= 1)."""
    steps = 0
    while n != 1:
        n = n // 2 if n % 2 == 0 else 3 * n + 1
        steps += 1
    return steps


def expected_result(n: int) -> dict[str, int]:
    """The result the handler gives job ``{"n": n}`` (what the demo checks)."""
    return {"n": n, "steps": collatz_steps(n)}


@app.job(QUEUE, concurrency=64, timeout=30, max_cancels=3)
async def collatz(item: dict[str, Any]) -> dict[str, int]:
    """Count the Collatz steps of ``item["n"]``; report marked jobs to the results feed."""
    result = expected_result(int(item["n"]))
    if item.get("report"):
        report = {**result, "pid": os.getpid(), "attempt": current_job().failures + 1}
        # The runtime does not lend its client to handlers, so a report opens a
        # short-lived one (same Redis: $THOONK_REDIS_URL, set by the supervisor).
        # About ten reports per run: a few milliseconds in all.
        async with open_thoonk(client_name="thoonk-demo") as thoonk:
            await thoonk.feed(RESULTS).publish(report, id=f"job-{result['n']}")
    return result
