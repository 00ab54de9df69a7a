"""``thoonk schedules``: recurring jobs that have ticked, from job.ticks of each queue.

Policy as in every file of tests/cli: real subprocesses, state written through the contract.
"""

from __future__ import annotations

import json

import redis
import trio

from thoonk_actors.objects import open_thoonk
from thoonk_actors.runtime._schedules import Cron, Every, ScheduleRegistration, publish_tick

from ._cli import ok


def test_schedules_lists_each_schedule_with_its_spec_and_last_tick(
    redis_url: str, sync_redis: redis.Redis
) -> None:
    assert ok("schedules", url=redis_url) == "no recurring jobs have ticked yet\n"

    async def tick() -> None:
        async with open_thoonk(redis_url) as thoonk:
            beat = ScheduleRegistration("beat", "beat", Every(60_000), catch_up=False)
            nightly = ScheduleRegistration(
                "nightly", "nightly", Cron.of("0 3 * * *", tz="Europe/Paris"), catch_up=False
            )
            assert await publish_tick(thoonk, beat, 120_000)
            assert await publish_tick(thoonk, nightly, 7_200_000)

    trio.run(tick)
    assert ok("schedules", url=redis_url) == (
        "QUEUE    SCHEDULE  SPEC                         LAST TICK (UTC)\n"
        "beat     beat      every 60s                    1970-01-01T00:02:00.000Z\n"
        "nightly  nightly   cron 0 3 * * * Europe/Paris  1970-01-01T02:00:00.000Z\n"
    )
    rows = json.loads(ok("schedules", "--json", url=redis_url))
    assert rows[0] == {
        "queue": "beat",
        "schedule": "beat",
        "spec": "every 60s",
        "last_tick_ms": 120_000,
        "last_tick": "1970-01-01T00:02:00.000Z",
    }
    assert sync_redis.hget("job.ticks:nightly", "nightly") == b"7200000 cron 0 3 * * * Europe/Paris"
