"""Claims and list entries made by the original JavaScript client, against our reaper.

Issue 11, case 6. The original stamps a claim with ITS clock (``Date.now()``) and
accepts publishing an id that is already queued (the list then holds it twice).
Our reaper must time such claims by the server clock (``job.seen``), and a
duplicate entry must neither inflate ``statistics()`` nor run a job twice.

The original's command sequences come from :mod:`tests.compat.js_client`; they
run on the test database (``js_job_here``), so these tests also run against the
external server.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest
import redis

from thoonk_actors.objects import Thoonk, open_thoonk

from ..polling import wait_until
from .js_client import JsError, JsJob

TIMEOUT_MS = 60_000
SKEW_MS = 400_000  # a JS host whose clock is 400 s off


@pytest.fixture
async def thoonk(redis_url: str) -> AsyncIterator[Thoonk]:
    async with open_thoonk(redis_url, worker_id="py") as client:
        yield client


async def js_claimed_queue(
    thoonk: Thoonk, js_job_here: Callable[..., JsJob], name: str, skew_ms: int, timeout_ms: int
) -> JsJob:
    """A queue with ``timeout`` config and one job claimed by a skewed JS worker."""
    await thoonk.job(name).create({"timeout": timeout_ms})
    js = js_job_here(name, clock_skew_ms=skew_ms)
    js.publish({"n": 1}, id="j")
    got = js.get(timeout=1)
    assert got == ('{"n":1}', "j")
    return js


def seen_at(sync_redis: redis.Redis, name: str, job_id: str) -> int | None:
    raw = sync_redis.hget(f"job.seen:{name}", job_id)
    return None if raw is None else int(raw.split()[0])


# ------------------------------------------------------- server time, not the JS clock


@pytest.mark.parametrize("skew_ms", [-SKEW_MS, SKEW_MS], ids=["js-400s-behind", "js-400s-ahead"])
async def test_a_skewed_js_claim_is_timed_by_the_server_clock(
    thoonk: Thoonk, js_job_here: Callable[..., JsJob], sync_redis: redis.Redis, skew_ms: int
) -> None:
    js = await js_claimed_queue(thoonk, js_job_here, "skewed", skew_ms, TIMEOUT_MS)
    jobs = thoonk.job("skewed")
    # The claim score is the JS host's clock: 400 s older (or newer) than the server's.
    score = sync_redis.zscore("job.claimed:skewed", "j")
    assert score is not None
    first = await jobs.reap()
    assert abs(score - first.at_ms - skew_ms) < 5_000
    # Not reaped on the first sweep (behind), and it will be one day (ahead).
    assert first.reaped == ()
    assert seen_at(sync_redis, "skewed", "j") == first.at_ms
    second = await jobs.reap()
    assert second.reaped == ()
    assert seen_at(sync_redis, "skewed", "j") == first.at_ms  # kept, not renewed
    # The JS worker still holds it and finishes it as usual.
    js.finish("j", "done")
    await jobs.reap()
    assert sync_redis.exists("job.seen:skewed") == 0  # the ended claim's sighting is dropped


async def test_an_ownerless_claim_is_reaped_once_the_timeout_passed_since_first_seen(
    thoonk: Thoonk, js_job_here: Callable[..., JsJob], sync_redis: redis.Redis
) -> None:
    timeout_ms = 300
    js = await js_claimed_queue(thoonk, js_job_here, "late", SKEW_MS, timeout_ms)
    jobs = thoonk.job("late")
    first = await jobs.reap()
    assert first.reaped == ()
    reports = []

    async def reaped() -> bool:
        report = await jobs.reap()
        reports.append(report)
        return bool(report.reaped)

    await wait_until(reaped, what="the JS claim reaped", deadline=10)
    last = reports[-1]
    assert [(r.id, r.outcome, r.reason) for r in last.reaped] == [("j", "cancelled", "timeout")]
    assert last.at_ms - first.at_ms >= timeout_ms  # by the server clock
    assert all(r.reaped == () for r in reports[:-1])
    error = await jobs.last_error("j")
    assert error is not None and "server clock" in error
    assert await jobs.failure_count("j") == 1
    assert sync_redis.exists("job.seen:late") == 0
    with pytest.raises(JsError, match="Job not claimed"):
        js.finish("j", "too late")


async def test_a_new_claim_of_the_same_id_is_timed_afresh(
    thoonk: Thoonk, js_job_here: Callable[..., JsJob], sync_redis: redis.Redis
) -> None:
    js = await js_claimed_queue(thoonk, js_job_here, "again", -SKEW_MS, TIMEOUT_MS)
    jobs = thoonk.job("again")
    first = await jobs.reap()
    # The sighting is older than the timeout (as if seen long ago) but belongs to the
    # first claim; the JS host finishes, republishes and claims the id again between
    # two sweeps: the new claim's score differs, so it is seen afresh, not reaped.
    old = int(first.at_ms) - 10 * TIMEOUT_MS
    score = sync_redis.zscore("job.claimed:again", "j")
    sync_redis.hset("job.seen:again", "j", f"{old} {int(score or 0)}")
    js.finish("j")
    js.publish({"n": 2}, id="j")
    later = js_job_here("again", clock_skew_ms=-SKEW_MS + 1_000)  # a later Date.now()
    assert later.get(timeout=1) == ('{"n":2}', "j")
    again = await jobs.reap()
    assert again.reaped == ()
    assert seen_at(sync_redis, "again", "j") == again.at_ms


@pytest.mark.parametrize("end", ["finish", "cancel", "stall", "retract"])
@pytest.mark.parametrize("side", ["js", "ours"])
async def test_a_claim_that_ends_loses_its_sighting(
    thoonk: Thoonk,
    js_job_here: Callable[..., JsJob],
    sync_redis: redis.Redis,
    end: str,
    side: str,
) -> None:
    js = await js_claimed_queue(thoonk, js_job_here, "ends", -SKEW_MS, TIMEOUT_MS)
    jobs = thoonk.job("ends")
    await jobs.reap()
    assert seen_at(sync_redis, "ends", "j") is not None
    if side == "js":
        getattr(js, end)("j")
        await jobs.reap()  # the reaper drops sightings of ids no longer claimed
    elif end == "retract":
        await jobs.retract("j")
    else:
        await getattr(jobs, end)("j")  # our scripts drop it in the same step
    assert sync_redis.exists("job.seen:ends") == 0
    assert (await jobs.reap()).reaped == ()


async def test_our_claims_never_get_a_sighting(thoonk: Thoonk, sync_redis: redis.Redis) -> None:
    jobs = thoonk.job("ours")
    await jobs.create({"timeout": TIMEOUT_MS})
    await jobs.publish(1, id="a")
    assert await jobs.get(timeout=1) is not None
    assert (await jobs.reap()).reaped == ()
    assert sync_redis.exists("job.seen:ours") == 0


# ------------------------------------------------------------ duplicate list entries


async def test_a_duplicate_entry_does_not_inflate_statistics(
    thoonk: Thoonk, js_job_here: Callable[..., JsJob], sync_redis: redis.Redis
) -> None:
    js = js_job_here("dups")
    jobs = thoonk.job("dups")
    js.publish({"v": 1}, id="dup")
    js.publish({"v": 2}, id="dup")  # the original accepts it: two list entries, one job
    js.publish({"v": 3}, id="other")
    assert sync_redis.lrange("job.ids:dups", 0, -1) == [b"other", b"dup", b"dup"]
    stats = await jobs.statistics()
    assert (stats.available, stats.items, stats.publishes) == (2, 2, 3)
    claimed = await jobs.get(timeout=1)
    assert claimed is not None and (claimed.id, claimed.item) == ("dup", {"v": 2})
    # The second entry of "dup" is still listed, but it is no job a claim would take.
    assert sync_redis.llen("job.ids:dups") == 2
    stats = await jobs.statistics()
    assert (stats.available, stats.claimed) == (1, 1)


async def test_a_reap_sweep_removes_duplicate_entries_keeping_the_next_in_line(
    thoonk: Thoonk, js_job_here: Callable[..., JsJob], sync_redis: redis.Redis
) -> None:
    js = js_job_here("heal")
    for job_id in ("a", "dup", "b", "dup", "dup", "c"):
        js.publish(job_id, id=job_id)
    assert sync_redis.lrange("job.ids:heal", 0, -1) == [
        b"c", b"dup", b"dup", b"b", b"dup", b"a"
    ]  # fmt: skip
    assert (await thoonk.job("heal").reap()).reaped == ()
    # The copy nearest the right end (claimed first) stays: "dup" still goes second.
    assert sync_redis.lrange("job.ids:heal", 0, -1) == [b"c", b"b", b"dup", b"a"]
    assert (await thoonk.job("heal").statistics()).available == 4


@pytest.mark.parametrize("batch", [1, 10], ids=["get", "claim_many"])
async def test_a_duplicate_entry_never_runs_a_job_twice(
    thoonk: Thoonk, js_job_here: Callable[..., JsJob], sync_redis: redis.Redis, batch: int
) -> None:
    js = js_job_here("twice")
    jobs = thoonk.job("twice")
    for n in range(3):
        js.publish(n, id="dup")  # three entries, one job
    js.publish("x", id="solo")
    runs: list[str] = []
    while claimed := await jobs.claim_many(batch):
        runs += [job.id for job in claimed]
        for job in claimed:
            await jobs.finish(job, "ok")
    assert sorted(runs) == ["dup", "solo"]
    assert sync_redis.llen("job.ids:twice") == 0  # the other entries were dropped
    assert js.get(timeout=0.1) is None
    stats = await jobs.statistics()
    assert (stats.available, stats.finishes) == (0, 2)


async def test_a_duplicate_entry_is_not_claimed_twice_across_js_and_us(
    thoonk: Thoonk, js_job_here: Callable[..., JsJob], sync_redis: redis.Redis
) -> None:
    js = js_job_here("mixed")
    jobs = thoonk.job("mixed")
    js.publish(1, id="dup")
    js.publish(2, id="dup")
    assert js.get(timeout=1) == ("2", "dup")  # the JS worker holds the job
    assert await jobs.claim_many(10) == []  # our claim drops the second entry
    assert sync_redis.llen("job.ids:mixed") == 0
    js.finish("dup", "done")
    assert (await jobs.statistics()).available == 0
    # And the other way round: ours first, the JS worker's claim of the copy is refused.
    js.publish(3, id="dup2")
    js.publish(4, id="dup2")
    mine = await jobs.get(timeout=1)
    assert mine is not None and mine.id == "dup2"
    with pytest.raises(JsError, match="Could not claim job"):
        js.get(timeout=1)
    await jobs.finish(mine, "ok")
