"""Delayed jobs in a running app, and recurring jobs (``@app.every`` / ``@app.cron``).

Assertions are on ids, counts and the server's clock, never on timing.
"""

from __future__ import annotations

import redis
import trio

from tests.polling import wait_until
from thoonk_actors.objects import open_thoonk
from thoonk_actors.runtime import App

DEADLINE = 15


def server_ms(r: redis.Redis) -> int:
    seconds, micros = r.time()
    return int(seconds) * 1000 + int(micros) // 1000


async def test_a_delayed_publish_wakes_a_waiting_worker(
    redis_url: str, sync_redis: redis.Redis
) -> None:
    # Long blocks (health_timeout 120 s: 60 s server-side waits) and a slow reaper:
    # only the schedule event can get the job to the worker within the deadline.
    url = redis_url + ("&" if "?" in redis_url else "?") + "health_timeout=120"
    app = App(url, reap_interval=600, heartbeat_interval=5, stale_after=60)
    ran: list[tuple[str, int]] = []
    done = trio.Event()

    @app.job("delayed")
    async def handle(item: str) -> None:
        ran.append((item, server_ms(sync_redis)))
        done.set()

    with trio.fail_after(DEADLINE):
        async with open_thoonk(redis_url) as thoonk, app.open() as running:
            jobs = thoonk.job("delayed")
            await wait_until(lambda: running.workers[0]._awaiting_work, what="the claimer to block")
            job_id = await jobs.publish("later", delay=0.2)
            [(_, due_ms)] = await jobs.scheduled()
            await done.wait()
            assert await jobs.scheduled() == ()
    [(item, ran_ms)] = ran
    assert item == "later" and job_id
    assert ran_ms >= due_ms  # never early
