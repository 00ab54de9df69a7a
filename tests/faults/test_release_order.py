"""Order after release (issue 9.6): released jobs keep their order, behind priority jobs.

A worker that stops gives back the jobs it holds and did not finish. They go
back to the head of the queue in their original order (one ``release_many``
script, not a pipeline of single releases that land in random order), but
behind the priority jobs published since they were claimed: the next worker
runs the priority job first.

Testing policy: real Redis, the App in process and the object API; the
queue's order is read back with ``available_ids`` and by a second worker.
"""

from __future__ import annotations

import json
import signal

import redis
import trio

from tests.polling import eventually, wait_until
from thoonk_actors import contract
from thoonk_actors.contract import JobKeys, NewJob
from thoonk_actors.objects import Thoonk
from thoonk_actors.runtime import App

from ..contract._redis import raw_client, run
from ._process import worker

DEADLINE = 20


async def test_release_many_keeps_the_order_behind_later_priority_jobs(thoonk: Thoonk) -> None:
    queue = thoonk.job("order")
    for name in "ABCDE":
        await queue.publish(name, id=name)
    held = [await queue.get(timeout=0) for _ in range(2)]
    assert [job.id for job in held if job] == ["A", "B"]
    await _after_ms(thoonk, max(job.claimed_ms for job in held if job))
    await queue.publish("P1", id="P1", priority=True)
    await queue.publish("P2", id="P2", priority=True)
    await queue.publish("N", id="N")
    outcomes = await queue.release_many([job for job in held if job])
    assert [o.status for o in outcomes] == ["ok", "ok"]
    assert await queue.available_ids() == ("P2", "P1", "A", "B", "C", "D", "E", "N")
    assert await queue.claimed() == ()


async def _after_ms(thoonk: Thoonk, ms: int) -> None:
    """Wait until the server clock passes ``ms``: publish times have millisecond
    resolution, and a priority job published in the claim's millisecond counts as
    queued before the claim (documented in docs/objects.md)."""

    async def later() -> bool:
        seconds, micros = await thoonk.execute("TIME")
        return int(seconds) * 1000 + int(micros) // 1000 > ms

    await wait_until(later, what="the next millisecond on the server")


async def test_release_many_reports_each_job_alone(thoonk: Thoonk) -> None:
    queue = thoonk.job("order")
    for name in "AB":
        await queue.publish(name, id=name)
    a, b = await queue.claim_many(2)
    await queue.retract(b.id)
    outcomes = await queue.release_many([a, b, a])
    assert [(o.id, o.status) for o in outcomes] == [
        ("A", "ok"), ("B", "claim_lost"), ("A", "not_claimed"),
    ]  # fmt: skip
    assert await queue.available_ids() == ("A",)


async def test_a_stopping_worker_releases_its_jobs_behind_a_new_priority_job(
    redis_url: str, thoonk: Thoonk
) -> None:
    app = App(redis_url, reap_interval=60, heartbeat_interval=0.5, stale_after=5.0)
    started: list[str] = []

    @app.job("order", concurrency=1, prefetch=10, timeout=60)
    async def work(item: str) -> str:
        started.append(item)
        await trio.sleep_forever()
        return item  # pragma: no cover

    queue = thoonk.job("order")
    names = [f"j{n:02}" for n in range(11)]
    for name in names:
        await queue.publish(name, id=name)
    with trio.fail_after(DEADLINE):
        async with app.open() as running:
            await wait_until(lambda: started == ["j00"], what="j00 running, ten prefetched")
            assert len(await queue.claimed()) == 11
            await queue.publish("P", id="P", priority=True)
            await running.stop(grace=0.2)  # j00 is cut at the end of the grace
        assert running.statistics().queue("order").released == 11
        assert await queue.available_ids() == ("P", *names)

        # The next worker runs the priority job first, then the others in order.
        nxt = App(redis_url, reap_interval=60, heartbeat_interval=0.5, stale_after=5.0)
        order: list[str] = []

        @nxt.job("order", concurrency=1, prefetch=0, timeout=60)
        async def record(item: str) -> None:
            order.append(item)

        async with nxt.open():
            await wait_until(lambda: len(order) == 12, what="every job run")
    assert order == ["P", *names]


def test_worker_process_stopped_by_sigterm_puts_a_new_priority_job_first(
    redis_url: str, sync_redis: redis.Redis
) -> None:
    keys = JobKeys.of("faults")
    client = raw_client(redis_url)
    names = [f"j{n:02}" for n in range(11)]
    jobs = [NewJob(name, json.dumps({"i": n, "sleep": 60, "mark": True}).encode())
            for n, name in enumerate(names)]  # fmt: skip
    try:
        run(client, contract.job_publish_many(keys, jobs))
        with worker(
            redis_url, "--grace", "0.5", stop=signal.SIGTERM,
            T_CONCURRENCY="1", T_PREFETCH="10", T_TIMEOUT="120",
        ) as proc:  # fmt: skip
            eventually(lambda: sync_redis.smembers("started") == {b"j00"}, "j00 running")
            eventually(lambda: sync_redis.zcard(keys.claimed) == 11, "ten jobs prefetched")
            run(client, contract.job_publish(keys, "P", b'{"i": 99}', priority=True))
        assert proc.returncode == 0, proc.stderr_text
        # Head of the queue (the right end) first.
        queued = [i.decode() for i in reversed(sync_redis.lrange(keys.ids, 0, -1))]
        assert queued == ["P", *names]
        claim = run(client, contract.job_claim(keys, "next-worker", max_jobs=1))
        assert [job.id for job in claim.jobs] == ["P"]
    finally:
        client.close()


async def test_release_into_a_queue_of_only_newer_normal_jobs_keeps_at_most_one_ahead(
    thoonk: Thoonk,
) -> None:
    # The queue was drained by the claim; a batch of normal jobs arrives (one
    # publish millisecond). Publish times cannot tell them from a priority batch,
    # so at most the first of them stays ahead of the released job.
    queue = thoonk.job("order")
    await queue.publish("A", id="A")
    held = await queue.get(timeout=0)
    assert held is not None
    await _after_ms(thoonk, held.claimed_ms)
    batch = await queue.publish_many(["n"] * 5)
    await queue.release(held)
    order = await queue.available_ids()
    assert order.index("A") <= 1
    assert [i for i in order if i != "A"] == batch
