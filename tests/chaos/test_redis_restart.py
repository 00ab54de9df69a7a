"""Redis itself SIGKILLed mid-run and restarted on its AOF (``appendfsync always``).

Policy: a private redis-server; an in-process worker app and a producer keep
their clients across the restart (nothing is reopened by the test); every
publish that returned (was acknowledged) must end with its result.
"""

from __future__ import annotations

import pytest
import trio

from thoonk_actors import App, ThoonkConnectionError, ThoonkTimeoutError, open_thoonk

from ..polling import wait_until
from ..transport._private_server import PrivateRedis

JOBS = 200


@pytest.mark.slow
async def test_workers_and_producer_recover_from_a_redis_sigkill_and_restart(
    quiet_runtime: None,
) -> None:
    with PrivateRedis() as server:
        app = App(server.url, reap_interval=0.25, heartbeat_interval=0.5, stale_after=2.0)

        @app.job("q", concurrency=4, timeout=2)
        async def square(item: int) -> int:
            await trio.sleep(0.01)
            return item * item

        acknowledged: dict[str, int] = {}
        unknown = 0  # publishes whose connection broke in flight (may or may not exist)
        async with open_thoonk(server.url, reconnect_timeout=30) as producer, app.open():
            job = producer.job("q")

            async def produce() -> None:
                nonlocal unknown
                for i in range(JOBS):
                    try:
                        acknowledged[await job.publish(i)] = i
                    except (ThoonkConnectionError, ThoonkTimeoutError):
                        unknown += 1
                    await trio.sleep(0.01)  # a producer's pace, so the restart lands mid-run

            with trio.fail_after(120):
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(produce)
                    await wait_until(lambda: len(acknowledged) >= JOBS // 3, what="some work")
                    server.kill()
                    at_kill = len(acknowledged)
                    server.start()
                results = {
                    job_id: await job.wait_result(job_id, timeout=60) for job_id in acknowledged
                }

                async def settled() -> bool:
                    stats = await job.statistics()
                    return stats.finishes == stats.publishes and stats.claimed == 0

                # A publish whose reply was lost may have run: let its job finish too.
                await wait_until(settled, what="every published job to finish")
                stats = await job.statistics()
    assert at_kill < JOBS - 10, "the server should have died in the middle of the run"
    assert unknown <= 1  # at most the publish on the wire when the server died
    assert len(acknowledged) + unknown == JOBS
    assert results == {job_id: i * i for job_id, i in acknowledged.items()}
    assert stats.finishes == stats.publishes >= len(acknowledged)
    assert (stats.available, stats.claimed, stats.stalled) == (0, 0, 0)
