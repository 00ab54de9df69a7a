"""A second deployment cannot change the lease of a running worker's claims.

Two real worker processes on one queue: A started while the queue's timeout was
300 s and holds a long job; B starts with ``timeout=1``. B must not rewrite the
queue's config, and no reaper may take A's claim back after 1 s: each claim
carries the lease its claimer chose (``job.leases``). Observed through Redis;
the long job runs until the test lets it end.
"""

from __future__ import annotations

import pytest
import redis

from tests.faults._lease_procs import workers
from tests.polling import wait_until
from thoonk_actors.contract import JobKeys
from thoonk_actors.objects import open_thoonk

pytestmark = pytest.mark.slow

QUEUE = "deploy"
KEYS = JobKeys.of(QUEUE)


def server_ms(client: redis.Redis) -> int:
    seconds, micros = client.time()
    return int(seconds) * 1000 + int(micros) // 1000


async def test_a_second_deployment_does_not_shorten_a_running_claim(redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url)
    async with open_thoonk(redis_url) as thoonk:
        job = thoonk.job(QUEUE)
        await job.create({"timeout": 300_000})
        # A: no timeout= of its own, so its lease is the queue's 300 s; one job at a time.
        async with workers(redis_url, L_QUEUE=QUEUE, L_CONCURRENCY="1"):
            long_id = await job.publish({"until": "go"}, id="long")
            await wait_until(lambda: client.hget("runs", long_id) == b"1", what="A to start")
            a_pid = client.hget("pids", long_id)
            claimed_at = client.zscore(KEYS.claimed, long_id)
            assert claimed_at is not None
            assert client.hget(KEYS.leases, long_id) == b"300000"
            async with workers(redis_url, L_QUEUE=QUEUE, L_TIMEOUT="1"):  # B
                # B works the queue (so it configured itself): A holds at most one of these.
                probes = await job.publish_many([{"n": n} for n in range(3)])
                await wait_until(
                    lambda: any(pid not in (None, a_pid) for pid in client.hmget("pids", probes)),
                    what="B to run a job",
                    deadline=30,
                )
                # A's claim is now older than B's 1 s (server clock) ...
                await wait_until(
                    lambda: server_ms(client) > claimed_at + 1_500, what="1.5 s of server time"
                )
                # ... and a reap sweep ran since (it drops this ancient heartbeat).
                client.zadd(KEYS.workers, {"ghost-worker": 1})
                await wait_until(
                    lambda: client.zscore(KEYS.workers, "ghost-worker") is None,
                    what="a reap sweep",
                )
                assert client.zscore(KEYS.claimed, long_id) == claimed_at  # still A's claim
                assert client.hget("runs", long_id) == b"1"
                assert (await job.config()).timeout == 300_000  # B did not rewrite it
                client.set("go", 1)
                assert await job.wait_result(long_id, 30) == {"until": "go"}
        assert client.hget("runs", long_id) == b"1"
        assert client.hget("pids", long_id) == a_pid
        assert await job.last_error(long_id) is None
