"""The runtime inside your own trio program: your client, your tasks, its workers.

Run it as it is (embedded Redis in ./.thoonk, or $THOONK_REDIS_URL)::

    python examples/embed_in_trio_service.py

The service opens one Thoonk client and shares it with the app
(``app.open(thoonk=...)``), runs its own tasks beside the workers, follows
progress through ``running.live`` (a trio-util ``AsyncValue`` refreshed twice
a second: what a dashboard or a notebook widget watches) and stops the
workers gracefully when it is done.
"""

from __future__ import annotations

from typing import Any

import trio

from thoonk_actors.objects import open_thoonk
from thoonk_actors.runtime import App, RuntimeStatistics

app = App(grace=5)


@app.job("example-orders", concurrency=8, timeout=10)
async def ship(order: dict[str, Any]) -> dict[str, Any]:
    await trio.sleep(0.002)  # talk to the warehouse
    return {"order": order["n"], "status": "shipped"}


N = 300


async def main() -> None:
    async with open_thoonk() as thoonk, trio.open_nursery() as service:
        orders = thoonk.job("example-orders")
        await orders.delete()  # start from an empty queue
        async with app.open(thoonk=thoonk) as running:

            async def report_progress() -> None:
                async for stats in running.live.eventual_values():
                    queue = stats.queue("example-orders")
                    print(f"progress: {queue.finished}/{N} shipped, {queue.rate:,.0f}/s")

            service.start_soon(report_progress)  # a task of the service, next to the app
            ids = await orders.publish_many({"n": n} for n in range(N))

            def all_shipped(stats: RuntimeStatistics) -> bool:
                return stats.queue("example-orders").finished == N

            with trio.fail_after(30):
                await running.live.wait_value(all_shipped)
            print("last order:", await orders.wait_result(ids[-1]))
            await running.stop()  # graceful: nothing is running, so at once
            service.cancel_scope.cancel()
        stats = running.statistics().queue("example-orders")
        print(f"stopped: {stats.finished} finished, {stats.failed} failed")
        assert (stats.finished, stats.failed) == (N, 0)
        assert (await orders.statistics()).available == 0


if __name__ == "__main__":
    trio.run(main)
