"""Queue limits: at most N claims per second and M jobs at once, across every worker.

Run it as it is (it uses the embedded Redis in ./.thoonk, or $THOONK_REDIS_URL):

    python examples/rate_limits.py

The limits live in the queue's config, so they hold for every worker process
and machine (the claim script checks them by the Redis server's clock). Here
one app with 16 handler slots works through 30 jobs at 20 claims per second,
3 at a time.
"""

from __future__ import annotations

from typing import Any

import trio

from thoonk_actors import InvalidConfigError
from thoonk_actors.objects import open_thoonk
from thoonk_actors.runtime import App, current_job

app = App()
running = 0
most = 0
started_ms: list[int] = []


@app.job("example-api-calls", concurrency=16)
async def call_api(item: dict[str, Any]) -> int:
    """Stands for a call to a service that allows 20 requests/s, 3 at once."""
    global running, most
    started_ms.append(current_job().claimed_ms)  # the server's claim time
    running += 1
    most = max(most, running)
    await trio.sleep(0.05)
    running -= 1
    return int(item["n"])


async def main() -> None:
    async with open_thoonk() as thoonk:
        calls = thoonk.job("example-api-calls")
        await calls.delete()  # start from an empty queue
        await calls.create({"max_per_second": 20, "max_concurrent": 3})
        try:
            await calls.configure(max_per_second=-5)
        except InvalidConfigError as exc:  # a bad value is refused, nothing changes
            print("refused:", exc)
        await calls.publish_many({"n": n} for n in range(30))

        await app.run(burst=True, thoonk=thoonk)  # returns once the queue is drained

        seconds = (max(started_ms) - min(started_ms)) / 1000
        print(f"30 jobs claimed over {seconds:.2f} s, at most {most} at once")
        assert most <= 3 and seconds >= 29 / 20 - 0.1  # 20/s after a burst of 2
        stats = await calls.statistics()
        print("finished:", stats.finishes, "held back now:", stats.held_back)
        assert (stats.finishes, stats.available, stats.held_back) == (30, 0, None)
        assert (await calls.config()).max_per_second == 20


if __name__ == "__main__":
    trio.run(main)
