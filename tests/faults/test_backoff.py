"""A job that always fails is retried with a growing backoff, then stalled.

A real worker process runs a handler that always raises. Each retry waits in
``job.scheduled`` until its due time by the server clock: the handler's starts
(stamped with the server's TIME) are spaced by at least the configured backoff,
and after ``max_cancels`` attempts the job is stalled with its last error.
"""

from __future__ import annotations

import pytest
import redis

from tests.faults._lease_procs import workers
from thoonk_actors.contract import DEFAULT_MAX_CANCELS, JobKeys
from thoonk_actors.objects import open_thoonk

pytestmark = pytest.mark.slow

QUEUE = "flaky"
KEYS = JobKeys.of(QUEUE)
BASE, FACTOR, CAP, ATTEMPTS = 400, 2, 800, 4


async def test_failing_job_backs_off_then_stalls_with_its_last_error(redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url)
    async with open_thoonk(redis_url) as thoonk:
        job = thoonk.job(QUEUE)
        await job.create(
            {
                "retry_delay": BASE,
                "retry_factor": FACTOR,
                "retry_delay_max": CAP,
                "max_cancels": ATTEMPTS,
            }
        )
        dues: list[int] = []
        async with job.events(["cancel", "stall"]) as events:
            job_id = await job.publish({"fail": "smtp down"})
            async with workers(redis_url, L_QUEUE=QUEUE):
                async for event in events:
                    if event.event == "stall":
                        break
                    # The job waits in job.scheduled at least BASE ms: read its due time.
                    due = client.zscore(KEYS.scheduled, job_id)
                    assert due is not None
                    dues.append(int(due))
        starts = [int(ms) for ms in client.lrange(f"starts:{job_id}", 0, -1)]
        assert len(starts) == ATTEMPTS == int(client.hget("runs", job_id) or 0)
        assert len(dues) == ATTEMPTS - 1
        for n in range(1, ATTEMPTS):
            nominal = min(BASE * FACTOR ** (n - 1), CAP)
            assert dues[n - 1] >= starts[n - 1] + nominal  # scheduled no earlier than the backoff
            assert starts[n] >= dues[n - 1]  # and not run before it was due
        assert await job.stalled_ids() == (job_id,)
        assert await job.last_error(job_id) == "RuntimeError: smtp down"
        assert await job.scheduled() == ()
        stats = await job.statistics()
        assert (stats.available, stats.claimed, stats.scheduled, stats.stalled) == (0, 0, 0, 1)


async def test_the_default_is_a_bounded_number_of_attempts(redis_url: str) -> None:
    async with open_thoonk(redis_url) as thoonk:
        job = thoonk.job("defaults")
        await job.create()
        config = await job.config()
        assert config.max_cancels == DEFAULT_MAX_CANCELS == 10
        assert (config.retry_delay, config.retry_factor, config.retry_delay_max) == (
            1_000,
            2,
            300_000,
        )
