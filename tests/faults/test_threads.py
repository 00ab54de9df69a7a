"""Plain ``def`` handlers past their deadline (issue 9.4).

A thread cannot be interrupted. The queue's view must not diverge from what
runs: a timed-out thread keeps its job's claim and its slot until it
returns (so the retry never runs beside it), and every attempt's deadline
starts when it gets its thread (so no attempt gets only part of its time).

Testing policy: real Redis, the App in process; each handler records when
it started and ended (monotonic clock, in its thread) and the test checks
the intervals of one job never overlap.
"""

from __future__ import annotations

import json
import threading
import time

import pytest
import redis
import trio

from tests.polling import eventually, wait_until
from thoonk_actors import contract
from thoonk_actors.contract import JobKeys, NewJob
from thoonk_actors.objects import Thoonk
from thoonk_actors.runtime import App, current_job

from ..contract._redis import raw_client, run
from ._process import worker

DEADLINE = 30
TIMEOUT = 2.0

pytestmark = pytest.mark.slow  # real sleeps: each test takes a few deadlines


async def test_a_timed_out_thread_keeps_its_claim_and_every_attempt_gets_its_full_time(
    redis_url: str, thoonk: Thoonk, quiet_runtime: None
) -> None:
    app = App(redis_url, reap_interval=0.2, heartbeat_interval=0.5, stale_after=2.0)
    runs: dict[str, list[tuple[float, float]]] = {}
    lock = threading.Lock()

    @app.job("threads", concurrency=2, prefetch=0, timeout=TIMEOUT, max_cancels=5)
    def work(item: dict[str, float]) -> str:
        job = current_job()
        start = time.monotonic()
        # The first attempt overruns its deadline; the second needs most of it.
        time.sleep(item["first"] if job.failures == 0 else item["then"])
        with lock:
            runs.setdefault(job.id, []).append((start, time.monotonic()))
        return job.id

    queue = thoonk.job("threads")
    ids = [await queue.publish({"first": 1.6 * TIMEOUT, "then": 0.5 * TIMEOUT}) for _ in range(3)]
    with trio.fail_after(DEADLINE):
        async with app.open() as running:
            await wait_until(
                lambda: running.statistics().queue("threads").finished == 3,
                what="every job finished on its second attempt",
            )
            stats = running.statistics().queue("threads")
    assert (stats.timed_out, stats.failed, stats.lost) == (3, 3, 0)
    for job_id in ids:
        attempts = sorted(runs[job_id])
        assert len(attempts) == 2, attempts
        (_, first_end), (second_start, _) = attempts
        assert first_end <= second_start, f"job {job_id} ran twice at once: {attempts}"
    for job_id in ids:
        assert await queue.failure_count(job_id) == 0  # finished: the count is cleared
    assert await queue.claimed() == ()


def test_worker_process_never_runs_a_thread_job_twice_at_once(
    redis_url: str, sync_redis: redis.Redis
) -> None:
    keys = JobKeys.of("faults")
    client = raw_client(redis_url)
    item = {"first": 1.6 * TIMEOUT, "then": 0.5 * TIMEOUT}
    jobs = [NewJob(f"t{n}", json.dumps({"i": n, **item}).encode()) for n in range(3)]
    try:
        run(client, contract.job_publish_many(keys, jobs))
        with worker(
            redis_url, T_THREADED="1", T_CONCURRENCY="2", T_PREFETCH="0", T_TIMEOUT=str(TIMEOUT)
        ) as proc:
            eventually(lambda: int(sync_redis.get(keys.finishes) or 0) == 3, "3 jobs finished")
    finally:
        client.close()
    assert proc.returncode == 0, proc.stderr_text
    for job in jobs:
        attempts = sorted(
            tuple(map(float, run_.split())) for run_ in sync_redis.lrange(f"runs:{job.id}", 0, -1)
        )
        assert len(attempts) == 2, attempts
        assert attempts[0][1] <= attempts[1][0], f"job {job.id} ran twice at once: {attempts}"
    assert "its thread cannot be interrupted, so the job stays claimed" in proc.stderr_text
