"""``thoonk publish job NAME --delay SECONDS | --at TIME``: a delayed job, and its refusals.

Policy as in every file of tests/cli: real subprocesses, state checked with redis-py.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import redis

from ._cli import ok, thoonk


def test_delay_puts_the_job_in_scheduled_by_the_server_clock(
    redis_url: str, sync_redis: redis.Redis
) -> None:
    job_id = ok("publish", "job", "emails", '"hi"', "--delay", "300", url=redis_url).strip()
    published = sync_redis.zscore("job.published:emails", job_id)
    assert sync_redis.zscore("job.scheduled:emails", job_id) == (published or 0) + 300_000
    assert sync_redis.llen("job.ids:emails") == 0
    assert sync_redis.hget("job.items:emails", job_id) == b'"hi"'


def test_at_schedules_the_job_for_that_moment_whatever_its_offset(
    redis_url: str, sync_redis: redis.Redis
) -> None:
    job_id = ok(
        "publish", "job", "reports", "w", "--at", "2030-01-07T09:00:00+01:00", url=redis_url
    )
    due_ms = int(datetime(2030, 1, 7, 8, tzinfo=UTC).timestamp() * 1000)
    assert sync_redis.zscore("job.scheduled:reports", job_id.strip()) == due_ms
    # A moment in the past queues the job at once.
    past = ok("publish", "job", "reports", "p", "--at", "2000-01-01T00:00:00Z", url=redis_url)
    assert sync_redis.lrange("job.ids:reports", 0, -1) == [past.strip().encode()]
    assert sync_redis.zcard("job.scheduled:reports") == 1


def test_retract_removes_a_scheduled_job(redis_url: str, sync_redis: redis.Redis) -> None:
    ok("publish", "job", "emails", "x", "--id", "later", "--delay", "300", url=redis_url)
    assert (
        ok("retract", "emails", "later", url=redis_url)
        == "retracted job 'later' of job queue 'emails'\n"
    )
    assert sync_redis.zcard("job.scheduled:emails") == 0
    assert sync_redis.hlen("job.items:emails") == 0


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (("job", "q", "x", "--delay", "-1"), "seconds >= 0"),
        (("job", "q", "x", "--delay", "soon"), "not a number"),
        (("feed", "q", "x", "--delay", "5"), "--delay applies to jobs"),
        (("job", "q", "x", "--delay", "5", "--priority"), "do not combine"),
        (("job", "q", "x", "--at", "2030-01-07T09:00:00"), "has no UTC offset"),
        (("job", "q", "x", "--at", "next monday"), "not an ISO 8601 time"),
        (("job", "q", "x", "--at", "2030-01-07T09:00Z", "--delay", "5"), "--delay and --at"),
        (("queue", "q", "x", "--at", "2030-01-07T09:00Z"), "--at applies to jobs"),
        (("job", "q", "x", "--at", "2030-01-07T09:00Z", "--priority"), "do not combine"),
    ],
)
def test_bad_delays_are_usage_errors_that_store_nothing(
    redis_url: str, sync_redis: redis.Redis, argv: tuple[str, ...], needle: str
) -> None:
    done = thoonk("publish", *argv, url=redis_url)
    assert done.returncode == 2, done
    assert needle in done.stderr
    assert sync_redis.dbsize() == 0
