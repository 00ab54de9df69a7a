"""Results of jobs published under ids made here come from the shared subscription alone.

The router was subscribed (and acknowledged) before the publish was sent, and a
random id has no earlier job, so the first finish or retract event of such an id is
its outcome: ``publish_and_wait`` and ``wait_result`` need neither the subscribe
barrier nor the ``job/wait_state`` read. A gap (the pub/sub connection broke and
came back) ends that trust: the stored result is read, so a finish whose event was
lost is still answered.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
import redis
import trio

from thoonk_actors.contract import job_finish
from thoonk_actors.objects import ClaimedJob, Job, Thoonk, _results, open_thoonk

from ..polling import wait_until


class Spy:
    """Counts the barriers and the wait_state reads of one client (and lets them run)."""

    def __init__(self, thoonk: Thoonk, monkeypatch: pytest.MonkeyPatch) -> None:
        self.barriers = 0
        self.state_reads = 0
        barrier, run = thoonk.result_barrier, thoonk.run

        async def counted_barrier(router: _results.ResultRouter) -> None:
            self.barriers += 1
            await barrier(router)

        async def counted_run(call: Any, **kw: Any) -> Any:
            if call.script.name == "job/wait_state":
                self.state_reads += 1
            return await run(call, **kw)

        monkeypatch.setattr(thoonk, "result_barrier", counted_barrier)
        monkeypatch.setattr(thoonk, "run", counted_run)


async def publish_and_claim(jobs: Job, item: object) -> ClaimedJob:
    """Publish ``item`` under a fresh id and claim that job."""
    job_id = await jobs.publish(item)
    claimed = await jobs.get(timeout=5)
    assert claimed is not None and claimed.id == job_id
    return claimed


async def echo_worker(jobs: Job, task_status: trio.TaskStatus[None]) -> None:
    task_status.started()
    while True:
        job = await jobs.get()
        assert job is not None
        await jobs.finish(job, {"echo": job.item})


@pytest.fixture
async def echoing(thoonk: Thoonk) -> AsyncIterator[Job]:
    jobs = thoonk.job("fresh-echo")
    async with trio.open_nursery() as nursery:
        await nursery.start(echo_worker, jobs)
        yield jobs
        nursery.cancel_scope.cancel()


async def test_fresh_ids_are_answered_without_barrier_or_read(
    thoonk: Thoonk, echoing: Job, monkeypatch: pytest.MonkeyPatch
) -> None:
    spy = Spy(thoonk, monkeypatch)
    with trio.fail_after(20):
        assert [await echoing.publish_and_wait(i, timeout=10) for i in range(5)] == [
            {"echo": i} for i in range(5)
        ]
        ids = [await echoing.publish(i) for i in range(5, 10)]
        assert [await echoing.wait_result(job_id, timeout=10) for job_id in ids] == [
            {"echo": i} for i in range(5, 10)
        ]
    assert (spy.barriers, spy.state_reads) == (0, 0)


async def test_an_id_chosen_by_the_caller_still_reads_the_stored_state(
    thoonk: Thoonk, echoing: Job, monkeypatch: pytest.MonkeyPatch
) -> None:
    """It may have had an earlier job (whose finish event could still be on its way)."""
    spy = Spy(thoonk, monkeypatch)
    with trio.fail_after(20):
        assert await echoing.publish_and_wait("x", id=f"mine-{uuid.uuid4()}", timeout=10) == {
            "echo": "x"
        }
    assert spy.barriers >= 1 and spy.state_reads >= 1


async def test_a_finish_before_the_wait_is_answered_from_the_router(
    thoonk: Thoonk, monkeypatch: pytest.MonkeyPatch
) -> None:
    jobs = thoonk.job("fresh-early")
    claimed = await publish_and_claim(jobs, "early")
    job_id = claimed.id
    await jobs.finish(claimed, "done")
    router = await thoonk.result_router(jobs)
    await wait_until(lambda: router.fresh_outcome(job_id) is not None, what="the finish event")
    spy = Spy(thoonk, monkeypatch)
    with trio.fail_after(10):
        assert await jobs.wait_result(job_id, timeout=0) == "done"
    assert (spy.barriers, spy.state_reads) == (0, 0)


def our_pubsub_ids(witness: redis.Redis, name: str) -> list[int]:
    clients = witness.client_list()
    return [int(c["id"]) for c in clients if c["name"] == name and "P" in c["flags"]]


async def test_a_finish_lost_in_a_reconnect_is_read_from_the_store(
    redis_url: str, sync_redis: redis.Redis
) -> None:
    """The pub/sub connection dies and the finish happens before it is back: its event is
    lost, the gap ends the trust in events, the waiter reads the stored result; and
    the shared subscription is there again for the next job."""
    name = f"fresh-gap-{uuid.uuid4().hex[:8]}"
    async with open_thoonk(redis_url, client_name=name) as thoonk:
        jobs = thoonk.job("fresh-gap")
        jobs.result_recheck_s = 1000.0  # only the gap may send the waiter to the store
        claimed = await publish_and_claim(jobs, "lost")
        job_id = claimed.id
        router = await thoonk.result_router(jobs)
        gaps = router._gaps
        (pubsub_id,) = our_pubsub_ids(sync_redis, name)
        # Blocking calls on purpose: trio cannot run (nor reconnect) until both are done.
        sync_redis.client_kill_filter(_id=pubsub_id)
        finish = job_finish(jobs.keys, job_id, token=claimed.token, result=b'"done"')
        sync_redis.eval(finish.script.source, len(finish.keys), *finish.keys, *finish.args)
        assert router.fresh(job_id)  # no event came, and no gap seen yet
        with trio.fail_after(20):
            assert await jobs.wait_result(job_id) == "done"
            await wait_until(lambda: router._gaps > gaps, what="the gap to be seen")
            # The resubscribed router answers the next fresh job by its event.
            async with trio.open_nursery() as nursery:
                await nursery.start(echo_worker, jobs)
                assert await jobs.publish_and_wait("again", timeout=10) == {"echo": "again"}
                nursery.cancel_scope.cancel()


async def test_only_the_first_outcome_of_a_fresh_id_is_kept_and_a_gap_ends_freshness() -> None:
    router = _results.ResultRouter("fin", "ret")
    router.expect("a", fresh=True)
    router.expect("b", fresh=True)
    router.expect("c")  # an id chosen by the caller
    assert (router.fresh("a"), router.fresh("b"), router.fresh("c")) == (True, True, False)
    router.dispatch(b"fin", b"a\0one")
    router.dispatch(b"fin", b"a\0two")  # a later job under the same id: not ours
    assert router.fresh_outcome("a") == _results.Outcome("finish", b"one")
    assert not router.fresh("a")
    router.dispatch(b"ret", b"c")
    router.dispatch(b"fin", b"c\0x")
    assert router.fresh_outcome("c") is None and router.kept("c") is not None
    router.gap()
    assert not router.fresh("b")  # its event may have been lost: read the store
    assert router.fresh_outcome("a") is not None  # what arrived before the gap stays
