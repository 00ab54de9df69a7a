"""Claims under real concurrency: many clients, many reaper processes, killed workers.

Real Redis, real processes (``_child.py``), SIGKILL for real. Sizes are small in
the default run; the ``slow`` variants grow with ``THOONK_SOAK=1``.
"""

from __future__ import annotations

import collections
import functools
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import redis
import trio

from thoonk_actors.objects import Job, ObjectEvent, Thoonk, open_thoonk

from ..polling import wait_until

SOAK = os.environ.get("THOONK_SOAK") == "1"
CHILD = Path(__file__).with_name("_child.py")
REPO = Path(__file__).resolve().parents[2]


def size(ci: int, soak: int) -> int:
    """``ci`` in the default run, ``soak`` with THOONK_SOAK=1."""
    return soak if SOAK else ci


@pytest.fixture
async def thoonk(redis_url: str) -> AsyncIterator[Thoonk]:
    async with open_thoonk(redis_url, worker_id="parent") as client:
        yield client


@pytest.fixture
def witness(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url)
    try:
        yield client
    finally:
        client.close()


def child_args(*args: object) -> list[str]:
    return [sys.executable, str(CHILD), *(str(a) for a in args)]


async def read_line(stream: trio.abc.ReceiveStream) -> bytes:
    """One line from a child's stdout (the child flushes it whole)."""
    data = b""
    while not data.endswith(b"\n"):
        chunk = await stream.receive_some()
        if not chunk:
            raise AssertionError(f"the child closed its stdout after {data!r}")
        data += chunk
    return data


async def start_child(nursery: trio.Nursery, *args: object) -> trio.Process:
    run = functools.partial(
        trio.run_process, child_args(*args), stdout=subprocess.PIPE, check=False, cwd=REPO
    )
    process: trio.Process = await nursery.start(run)
    return process


async def kill(process: trio.Process) -> None:
    process.kill()  # SIGKILL: no cleanup, no goodbye
    with trio.fail_after(10):
        await process.wait()
    assert process.returncode == -9


# ---------------------------------------------------------------- many claimers


@pytest.mark.parametrize(
    ("total", "claimers"),
    [
        pytest.param(5_000, 8, id="5k-8"),
        pytest.param(size(20_000, 200_000), size(16, 32), id="soak", marks=pytest.mark.slow),
    ],
)
async def test_concurrent_claimers_each_job_claimed_and_finished_once(
    redis_url: str, thoonk: Thoonk, total: int, claimers: int
) -> None:
    jobs = thoonk.job("crowd")
    ids = await jobs.publish_many(({"i": i} for i in range(total)), batch=500)
    assert len(set(ids)) == total
    claimed: dict[str, list[str]] = {}
    finishes: collections.Counter[str] = collections.Counter()
    all_finished = trio.Event()

    async def claimer(index: int) -> None:
        worker_id = f"claimer-{index}"
        mine = claimed[worker_id] = []
        async with open_thoonk(redis_url, worker_id=worker_id) as client:
            queue = client.job("crowd")
            while True:
                if index % 2 == 0:  # one at a time, the way the original API reads
                    job = await queue.get(timeout=0)
                    if job is None:
                        return
                    mine.append(job.id)
                    await queue.finish(job, job.item["i"])
                else:  # batches of varying size
                    batch = await queue.claim_many(1 + index * 7)
                    if not batch:
                        return
                    mine.extend(j.id for j in batch)
                    outcomes = await queue.finish_many([(j, j.item["i"]) for j in batch])
                    assert all(o.status == "ok" for o in outcomes), outcomes

    async with jobs.events(["finish"], buffer=total + 16) as events:

        async def count() -> None:
            async for event in events:
                assert isinstance(event, ObjectEvent), event
                finishes[event.id] += 1
                if len(finishes) == total:
                    all_finished.set()

        async with trio.open_nursery() as nursery:
            nursery.start_soon(count)
            with trio.fail_after(120 if SOAK else 30):
                async with trio.open_nursery() as workers:
                    for index in range(claimers):
                        workers.start_soon(claimer, index)
                await all_finished.wait()
            nursery.cancel_scope.cancel()

    everyone = [job_id for mine in claimed.values() for job_id in mine]
    assert len(everyone) == total  # nobody claimed a job twice...
    assert set(everyone) == set(ids)  # ...and every job was claimed
    assert sum(1 for mine in claimed.values() if mine) >= 2, {k: len(v) for k, v in claimed.items()}
    assert finishes == collections.Counter(dict.fromkeys(ids, 1))
    stats = await jobs.statistics()
    assert (stats.publishes, stats.finishes) == (total, total)
    assert (stats.available, stats.claimed, stats.stalled, stats.items) == (0, 0, 0, 0)


# ---------------------------------------------------------------- racing reapers


@pytest.mark.parametrize(
    ("total", "batch"),
    [
        pytest.param(300, 30, id="300"),
        pytest.param(size(3_000, 30_000), size(100, 500), id="soak", marks=pytest.mark.slow),
    ],
)
async def test_three_reaper_processes_return_each_timed_out_claim_once(
    redis_url: str, thoonk: Thoonk, witness: redis.Redis, total: int, batch: int
) -> None:
    name = "timeouts"
    jobs = thoonk.job(name)
    await jobs.create({"timeout": 40, "retry_delay": 0})  # reaped jobs go straight back
    ids = await jobs.publish_many(range(total), batch=1000)
    cancels: collections.Counter[str] = collections.Counter()
    payloads: dict[str, bytes | None] = {}
    batches = [ids[i : i + batch] for i in range(0, total, batch)]  # in pop order
    reaped_batch = [trio.Event() for _ in batches]
    batch_of = {job_id: b for b, chunk in enumerate(batches) for job_id in chunk}
    reports: list[dict[str, object]] = []

    async def reaper() -> None:
        done = await trio.run_process(
            child_args("reap", redis_url, name, total, 100_000),
            capture_stdout=True,
            check=False,
            cwd=REPO,
        )
        assert done.returncode == 0, done
        reports.append(json.loads(done.stdout))

    async with jobs.events(["cancel"], buffer=total + 16) as events:

        async def count() -> None:
            async for event in events:
                assert isinstance(event, ObjectEvent), event
                cancels[event.id] += 1
                payloads[event.id] = event.data
                reaped_batch[batch_of[event.id]].set()

        async with trio.open_nursery() as nursery:
            nursery.start_soon(count)
            first = await jobs.claim_many(batch)
            assert [j.id for j in first] == batches[0]
            with trio.fail_after(60 if SOAK else 20):
                async with trio.open_nursery() as reapers:
                    for _ in range(3):
                        reapers.start_soon(reaper)
                    # Claim the next batch once the reapers are at the previous one,
                    # so the claims expire one batch after another while 3 processes sweep.
                    for b in range(1, len(batches)):
                        await reaped_batch[b - 1].wait()
                        claimed = await jobs.claim_many(batch)
                        assert [j.id for j in claimed] == batches[b]
                await wait_until(lambda: len(cancels) == total, what="every cancel event")
            nursery.cancel_scope.cancel()

    returned = collections.Counter(entry[0] for r in reports for entry in r["reaped"])  # type: ignore[attr-defined]
    assert returned == collections.Counter(dict.fromkeys(ids, 1))  # never double-returned
    assert {(o, r) for rep in reports for _, o, r in rep["reaped"]} == {("cancelled", "timeout")}  # type: ignore[attr-defined]
    queued = collections.Counter(witness.lrange(f"job.ids:{name}", 0, -1))
    assert queued == collections.Counter(dict.fromkeys((i.encode() for i in ids), 1))
    assert witness.hgetall(f"job.cancelled:{name}") == dict.fromkeys(
        (i.encode() for i in ids), b"1"
    )
    assert cancels == collections.Counter(dict.fromkeys(ids, 1))
    assert set(payloads.values()) == {b"1"}
    stats = await jobs.statistics()
    assert (stats.available, stats.claimed, stats.items) == (total, 0, total)


# ---------------------------------------------------------------- killed workers


async def finish_everything_once(jobs: Job, ids: list[str]) -> None:
    """Claim and finish until the queue is empty; each id exactly once, one finish event each."""
    finished: list[str] = []
    async with jobs.events(["finish"], buffer=len(ids) + 16) as events:
        while (job := await jobs.get(timeout=0)) is not None:
            await jobs.finish(job, "done")
            finished.append(job.id)
        got: collections.Counter[str] = collections.Counter()
        with trio.fail_after(10):
            while len(got) < len(ids):
                event = await events.receive()
                assert isinstance(event, ObjectEvent), event
                got[event.id] += 1
    assert sorted(finished) == sorted(ids)
    assert got == collections.Counter(dict.fromkeys(ids, 1))
    stats = await jobs.statistics()
    assert (stats.available, stats.claimed, stats.stalled, stats.items) == (0, 0, 0, 0)
    assert stats.finishes == len(ids)


@pytest.mark.parametrize(
    "killed",
    [pytest.param(1, id="1"), pytest.param(size(4, 16), id="soak", marks=pytest.mark.slow)],
)
async def test_original_worker_killed_between_pop_and_claim_loses_nothing(
    redis_url: str, thoonk: Thoonk, witness: redis.Redis, killed: int
) -> None:
    name = "js-killed"
    jobs = thoonk.job(name)
    ids = await jobs.publish_many(range(killed + 2))
    popped: list[str] = []
    async with trio.open_nursery() as nursery:
        children = [await start_child(nursery, "pop", redis_url, name) for _ in range(killed)]
        with trio.fail_after(20):
            for child in children:
                assert child.stdout is not None
                popped.append(json.loads(await read_line(child.stdout)))
        for child in children:
            await kill(child)
    assert sorted(popped) == sorted(ids[:killed])
    for job_id in popped:  # in no state list: only its item (and published entry) is left
        assert witness.hexists(f"job.items:{name}", job_id)
        assert witness.zscore(f"job.claimed:{name}", job_id) is None
    assert witness.llen(f"job.ids:{name}") == 2

    reaped: list[tuple[str, str, str]] = []

    async def all_orphans_back() -> bool:
        report = await jobs.reap(orphan_grace_ms=20)
        reaped.extend((r.id, r.outcome, r.reason) for r in report.reaped)
        return len(reaped) >= killed

    await wait_until(all_orphans_back, what="the reaper to return the popped jobs")
    assert sorted(reaped) == sorted((i, "cancelled", "orphan") for i in popped)
    assert witness.llen(f"job.ids:{name}") == killed + 2
    await finish_everything_once(jobs, ids)


@pytest.mark.parametrize(
    "killed",
    [pytest.param(1, id="1"), pytest.param(size(3, 8), id="soak", marks=pytest.mark.slow)],
)
async def test_our_worker_killed_holding_claims_loses_nothing(
    redis_url: str, thoonk: Thoonk, witness: redis.Redis, killed: int
) -> None:
    name = "py-killed"
    stale_ms, per_child = 500, 3
    jobs = thoonk.job(name)
    await jobs.create({"retry_delay": 0})  # reaped jobs go straight back
    ids = await jobs.publish_many(range(killed * per_child + 2))
    held: dict[str, list[str]] = {}
    async with trio.open_nursery() as nursery:
        children = []
        for k in range(killed):
            worker_id = f"doomed-{k}"
            child = await start_child(nursery, "claim", redis_url, name, per_child, worker_id, 20)
            assert child.stdout is not None
            with trio.fail_after(20):
                held[worker_id] = json.loads(await read_line(child.stdout))
            children.append(child)
        # Alive: a beat after the claim, and no sweep takes its jobs.
        claim_ms = {w: dict(await jobs.workers())[w] for w in held}

        async def beaten() -> bool:
            beats = dict(await jobs.workers())
            return all(beats.get(w, 0) > claim_ms[w] for w in held)

        await wait_until(beaten, what="the children to heartbeat")
        assert (await jobs.reap(stale_ms=stale_ms)).reaped == ()
        for child in children:
            await kill(child)

    all_held = [job_id for mine in held.values() for job_id in mine]
    assert sorted(all_held) == sorted(ids[: killed * per_child])
    assert witness.hlen(f"job.owners:{name}") == len(all_held)
    reaped: list[tuple[str, str, str]] = []

    async def owners_gone() -> bool:
        report = await jobs.reap(stale_ms=stale_ms)
        reaped.extend((r.id, r.outcome, r.reason) for r in report.reaped)
        return len(reaped) >= len(all_held)

    await wait_until(owners_gone, what="the dead workers' heartbeats to go stale")
    assert sorted(reaped) == sorted((i, "cancelled", "owner_gone") for i in all_held)
    assert witness.exists(f"job.owners:{name}") == 0
    assert not set(held) & {w for w, _ in await jobs.workers()}
    for job_id in all_held:
        assert await jobs.failure_count(job_id) == 1
    await finish_everything_once(jobs, ids)
