"""Recurring jobs: ``@app.every`` and ``@app.cron`` — each tick runs once, whatever the
number of worker processes.

Run it as it is (it uses the embedded Redis in ./.thoonk, or $THOONK_REDIS_URL):

    python examples/recurring_jobs.py

A tick's job id is derived from the schedule and the tick time, so when several
processes publish the same tick only the first publish counts.
"""

from __future__ import annotations

from typing import Any

import trio

from thoonk_actors.objects import open_thoonk
from thoonk_actors.runtime import App

app = App()
ticks: list[dict[str, Any]] = []
three_ran = trio.Event()


@app.every(0.2, name="example-heartbeat")
async def heartbeat(tick: dict[str, Any]) -> None:
    """Every 0.2 s (on multiples of 0.2 s since the epoch); the item names the tick."""
    ticks.append(tick)
    if len(ticks) >= 3:
        three_ran.set()


@app.cron("0 3 * * *", tz="Europe/Paris", name="example-nightly")
async def nightly(tick: dict[str, Any]) -> None:
    """At 03:00 Paris time every day (needs ``pip install 'thoonk-actors[cron]'``)."""


async def main() -> None:
    async with open_thoonk() as thoonk:
        await thoonk.job("example-heartbeat").delete()  # start from an empty queue
    # Two apps stand for two worker processes: each tick still runs once.
    other = App()
    other.every(0.2, name="example-heartbeat")(heartbeat)
    with trio.fail_after(30):
        async with app.open(), other.open():
            await three_ran.wait()
    times = [tick["tick_ms"] for tick in ticks]
    assert len(times) == len(set(times)), "a tick ran twice"
    assert all(ms % 200 == 0 for ms in times)
    print("ran", len(times), "ticks, each once:", [tick["tick"] for tick in ticks[:3]])


if __name__ == "__main__":
    trio.run(main)
