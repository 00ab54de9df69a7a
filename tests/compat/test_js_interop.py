"""Interop with the original JavaScript Thoonk Jobs, both directions, in database 0.

The original peer is :mod:`tests.compat.js_client`: the original scripts' effects,
sent as the original sends them (SCRIPT LOAD + ``EVALSHA sha 0 <name> ...``,
BRPOP then the get script on two connections, client-clock times, no SELECT).
redis-py (``witness``) checks what is stored, byte for byte.
"""

from __future__ import annotations

import collections
import json
import threading
from collections.abc import AsyncIterator, Callable, Iterator

import pytest
import redis
import trio

from thoonk_actors import NotClaimedError, NotFoundError
from thoonk_actors.objects import Job, ObjectEvent, Thoonk, open_thoonk

from ..polling import wait_until
from .js_client import JsError, JsFinishListener, JsJob, date_now, json_stringify

WORKER_ID = "py-worker"


@pytest.fixture
async def thoonk(redis_url_db0: str) -> AsyncIterator[Thoonk]:
    async with open_thoonk(redis_url_db0, worker_id=WORKER_ID) as client:
        yield client


@pytest.fixture
def js_listener(redis_url_db0: str) -> Iterator[Callable[[str], JsFinishListener]]:
    """``js_listener(name)``: a JS publisher's finish subscription (acknowledged)."""
    opened: list[JsFinishListener] = []

    def make(name: str) -> JsFinishListener:
        listener = JsFinishListener(redis_url_db0, name)
        opened.append(listener)
        return listener

    try:
        yield make
    finally:
        for listener in opened:
            listener.close()


def keys_of(r: redis.Redis) -> dict[bytes, bytes]:
    """Every key with its Redis type."""
    kinds: dict[bytes, bytes] = {}
    for key in r.keys("*"):
        kind = r.type(key)
        assert isinstance(key, bytes) and isinstance(kind, bytes)
        kinds[key] = kind
    return kinds


async def claim_one(jobs: Job) -> tuple[str, object, str]:
    job = await jobs.get(timeout=5)
    assert job is not None
    return job.id, job.item, job.token


# ---------------------------------------------------------------- JS -> us -> JS


async def test_js_publish_our_worker_js_listener_gets_exact_finish_bytes(
    thoonk: Thoonk,
    witness: redis.Redis,
    js_job: Callable[[str], JsJob],
    js_listener: Callable[[str], JsFinishListener],
) -> None:
    js, jobs, listener = js_job("mail"), thoonk.job("mail"), js_listener("mail")
    item = {"to": "a@example.org", "n": 1, "tags": ["é", None, True], "w": 2.5}
    before = date_now()
    job_id = js.publish(item)
    after = date_now()
    # What the original stores, exactly.
    assert len(job_id) == 36 and job_id.count("-") == 4
    assert keys_of(witness) == {
        b"job.ids:mail": b"list",
        b"job.items:mail": b"hash",
        b"job.published:mail": b"zset",
        b"job.publishes:mail": b"string",
    }
    text = '{"to":"a@example.org","n":1,"tags":["é",null,true],"w":2.5}'
    assert witness.hget("job.items:mail", job_id) == text.encode()
    score = witness.zscore("job.published:mail", job_id)
    assert score is not None and before <= score <= after  # client ms, as Date.now()
    assert witness.get("job.publishes:mail") == b"1"

    job = await jobs.get(timeout=5)
    assert job is not None
    assert (job.id, job.item, job.failures) == (job_id, item, 0)
    assert witness.zrange("job.claimed:mail", 0, -1) == [job_id.encode()]
    assert witness.hget("job.owners:mail", job_id) == f"{WORKER_ID}:{job.token}".encode()
    assert witness.llen("job.ids:mail") == 0

    await jobs.finish(job, {"sent": True, "at": [1, 2]})
    payload = await trio.to_thread.run_sync(listener.payload)
    assert payload == job_id.encode() + b'\x00{"sent":true,"at":[1,2]}'
    assert listener.on_finish_args(payload) == (job_id, '{"sent":true,"at":[1,2]}')

    # Without a result the payload is the bare id, as the original's finish.lua sends it.
    bare_id = js.publish("no result wanted")
    bare = await jobs.get(timeout=5)
    assert bare is not None and (bare.id, bare.item) == (bare_id, "no result wanted")
    await jobs.finish(bare)
    payload = await trio.to_thread.run_sync(listener.payload)
    assert payload == bare_id.encode()
    assert listener.on_finish_args(payload) == (bare_id, None)
    assert listener.pending() == []

    # Only the counters (and our extension bookkeeping) are left; no original key
    # holds a trace of either job.
    assert witness.get("job.publishes:mail") == b"2"
    assert witness.get("job.finishes:mail") == b"2"
    left = keys_of(witness)
    for key in (b"ids", b"items", b"published", b"claimed", b"cancelled", b"stalled"):
        assert b"job." + key + b":mail" not in left
    assert left[b"job.result:{mail}:" + job_id.encode()] == b"hash"


# ---------------------------------------------------------------- us -> JS -> us


async def test_our_publish_js_worker_gets_the_original_order_and_json_text(
    thoonk: Thoonk, witness: redis.Redis, js_job: Callable[[str], JsJob]
) -> None:
    jobs, js = thoonk.job("order"), js_job("order")
    items: dict[str, object] = {
        "A": {"letter": "A", "text": "ünïcode ✓", "nested": {"k": [1, None]}},
        "B": [1, 2.5, None, True, "x"],
        "C": "just a string",
        "D": 42,
    }
    await jobs.publish(items["A"], id="A")
    await jobs.publish(items["B"], id="B")
    await jobs.publish(items["C"], id="C", priority=True)
    await jobs.publish(items["D"], id="D", priority=True)
    # The list the original leaves after A, B, C(p), D(p): [B, A, C, D].
    assert witness.type("job.ids:order") == b"list"
    assert witness.lrange("job.ids:order", 0, -1) == [b"B", b"A", b"C", b"D"]
    assert witness.get("job.publishes:order") == b"4"

    before = date_now()
    got = [js.get(timeout=1) for _ in range(4)]
    after = date_now()
    assert [g[1] for g in got if g] == ["D", "C", "A", "B"]
    for entry in got:
        assert entry is not None
        text, job_id = entry
        assert text == json_stringify(items[job_id])  # JSON.stringify text: compact
        assert witness.hget("job.items:order", job_id) == text.encode()
        assert json.loads(text) == items[job_id]  # JSON.parse-able
    assert js.get(timeout=0.05) is None  # 'Timeout'
    # JS claims are visible to our reads, with the JS client's claim times.
    claims = await jobs.claimed()
    assert sorted(i for i, _ in claims) == ["A", "B", "C", "D"]
    assert all(before <= ms <= after for _, ms in claims), (before, claims, after)
    stats = await jobs.statistics()
    assert (stats.available, stats.claimed, stats.items) == (0, 4, 4)
    # A JS claim finished by us by id (no token: the way the original finishes).
    await jobs.finish("D", {"by": "py"})
    for job_id in "ABC":
        js.finish(job_id, f"done {job_id}")
    with pytest.raises(JsError, match="Job not claimed"):
        js.finish("D")
    stats = await jobs.statistics()
    assert (stats.claimed, stats.items, stats.publishes, stats.finishes) == (0, 0, 4, 4)


async def test_js_finish_results_reach_publish_and_wait_and_wait_result(
    thoonk: Thoonk, js_job: Callable[[str], JsJob], redis_url_db0: str
) -> None:
    jobs = thoonk.job("results")
    # (what the JS worker finishes with, what we read back)
    cases: list[tuple[str | None, object]] = [
        ("done", "done"),  # a plain string: not JSON, handed back as the text
        ('{"ok":true,"n":[1,2]}', {"ok": True, "n": [1, 2]}),  # JSON text: decoded
        (None, None),  # no result: the bare id
        ("", None),  # falsy: the original leaves it out, so no result either
        ("a\x00b", "a\x00b"),  # we split at the first NUL only
    ]

    def js_worker(count: int) -> None:
        with JsJob(redis_url_db0, "results") as worker:
            for _ in range(count):
                got = worker.get(timeout=10)
                assert got is not None and got[0] is not None
                worker.finish(got[1], json.loads(got[0])["reply"])

    async with trio.open_nursery() as nursery:
        nursery.start_soon(trio.to_thread.run_sync, js_worker, len(cases))
        for reply, expected in cases:
            with trio.fail_after(10):
                assert await jobs.publish_and_wait({"reply": reply}) == expected

    # wait_result on a job already queued, waiting before the JS worker comes.
    job_id = await jobs.publish({"reply": "late but fine"})
    router = await thoonk.result_router(jobs)
    results: list[object] = []

    async def waiter() -> None:
        results.append(await jobs.wait_result(job_id, timeout=10))

    async with trio.open_nursery() as nursery:
        nursery.start_soon(waiter)
        await wait_until(lambda: job_id in router._waiters, what="the waiter to register")
        await trio.to_thread.run_sync(js_worker, 1)
    assert results == ["late but fine"]


async def test_wait_result_after_a_js_finish_publisher_sees_it_others_get_not_found(
    thoonk: Thoonk, js_job: Callable[[str], JsJob], redis_url_db0: str
) -> None:
    """The original stores no result: the publisher kept the finish; another client cannot."""
    jobs, js = thoonk.job("late"), js_job("late")
    job_id = await jobs.publish("x")
    got = js.get(timeout=1)
    assert got is not None
    js.finish(job_id, "gone by")
    with trio.fail_after(10):
        # kept by the router since the publish, though nobody waited yet
        await wait_until(
            lambda: thoonk._routers["late"].kept(job_id) is not None, what="the kept finish"
        )
    async with open_thoonk(redis_url_db0) as other:
        with pytest.raises(NotFoundError, match="never published, retracted"):
            await other.job("late").wait_result(job_id, timeout=10)
    assert await jobs.wait_result(job_id, timeout=10) == "gone by"
    # Taken: a second ask finds nothing stored either.
    with pytest.raises(NotFoundError):
        await jobs.wait_result(job_id, timeout=10)


async def test_js_cancel_stall_retry_on_our_jobs_keep_our_reads_consistent(
    thoonk: Thoonk, witness: redis.Redis, js_job: Callable[[str], JsJob]
) -> None:
    jobs, js = thoonk.job("mixed"), js_job("mixed")
    for job_id in ("x", "y", "z"):
        await jobs.publish({"id": job_id}, id=job_id)

    # JS cancel: back of the queue, count 1 (HINCRBY), visible to our reads.
    assert js.get(timeout=1) == ('{"id":"x"}', "x")
    js.cancel("x")
    assert witness.hget("job.cancelled:mixed", "x") == b"1"
    assert await jobs.failure_count("x") == 1
    assert await jobs.available_ids() == ("y", "z", "x")
    stats = await jobs.statistics()
    assert (stats.available, stats.claimed, stats.stalled, stats.items) == (3, 0, 0, 3)

    # JS stall: in our stalled_ids; its misspelt ZREM leaves job.published (§2.5).
    assert js.get(timeout=1) == ('{"id":"y"}', "y")
    js.stall("y")
    assert await jobs.stalled_ids() == ("y",)
    assert witness.zscore("job.published:mixed", "y") is not None
    stats = await jobs.statistics()
    assert (stats.available, stats.claimed, stats.stalled, stats.items) == (2, 0, 1, 3)
    with pytest.raises(JsError, match="Job not claimed"):
        js.stall("y")

    # Our retry of a JS stall, then a JS claim of it.
    await jobs.retry("y")
    assert await jobs.stalled_ids() == ()
    assert await jobs.available_ids() == ("z", "x", "y")

    # Our claim of the job JS cancelled carries the JS count; our cancel adds to it
    # and a JS worker reads the sum with getFailureCount.
    z = await jobs.get(timeout=5)
    assert z is not None and z.id == "z"
    x = await jobs.get(timeout=5)
    assert x is not None and (x.id, x.failures) == ("x", 1)
    cancelled = await jobs.cancel(x, error="boom", retry_delay_ms=0)
    assert (cancelled.outcome, cancelled.count) == ("cancelled", 2)
    assert js.get_failure_count("x") == 2
    assert js.get(timeout=1) == ('{"id":"y"}', "y")
    js.cancel("y")  # HINCRBY on a field our scripts never wrote: 1
    assert await jobs.failure_count("y") == 1

    # Our stall, then a JS retry of it.
    await jobs.stall(z)
    assert witness.zscore("job.published:mixed", "z") is None
    js.retry("z")
    assert await jobs.stalled_ids() == ()
    assert witness.zscore("job.published:mixed", "z") is not None
    assert await jobs.available_ids() == ("x", "y", "z")

    # A JS finish of a job we hold (no token, like the original) is accepted, and
    # the JS finish of a job nobody claimed is refused as the original refuses it.
    with pytest.raises(JsError, match="Job not claimed"):
        js.finish("x")
    held = await jobs.claim_many(3)
    assert [j.id for j in held] == ["x", "y", "z"]
    js.finish("x", "by js")
    with pytest.raises(NotClaimedError):
        await jobs.finish("x")
    outcomes = await jobs.finish_many([(held[1], None), (held[2], None)])
    assert [o.status for o in outcomes] == ["ok", "ok"]
    stats = await jobs.statistics()
    assert (stats.available, stats.claimed, stats.stalled, stats.items) == (0, 0, 0, 0)
    assert (stats.publishes, stats.finishes) == (3, 3)
    assert witness.exists("job.cancelled:mixed", "job.published:mixed") == 0
    # The JS finish of a job we claimed leaves our owner entry (JS knows nothing of
    # it); the next sweep clears it.
    assert witness.hgetall("job.owners:mixed") == {b"x": f"{WORKER_ID}:{held[0].token}".encode()}
    assert (await jobs.reap()).reaped == ()
    assert witness.exists("job.owners:mixed") == 0


async def test_stall_published_key_ours_fixed_js_misspelt(
    thoonk: Thoonk, witness: redis.Redis, js_job: Callable[[str], JsJob]
) -> None:
    jobs, js = thoonk.job("stalls"), js_job("stalls")
    js.publish("ours to stall", id="a")
    js.publish("js to stall", id="b")
    a = await jobs.get(timeout=5)
    assert a is not None and a.id == "a"
    await jobs.stall(a)
    assert witness.zscore("job.published:stalls", "a") is None  # bug 8, fixed by us
    assert js.get(timeout=1) == ('"js to stall"', "b")
    js.stall("b")
    assert witness.zscore("job.published:stalls", "b") is not None  # the original's bug
    assert witness.exists("job.publishedstalls") == 0  # the misspelt key it ZREMs
    assert witness.smembers("job.stalled:stalls") == {b"a", b"b"}
    assert await jobs.stalled_ids() == ("a", "b")
    assert (await jobs.statistics()).stalled == 2


# ---------------------------------------------------------------- the claim gap


async def reap_until(jobs: Job, want: list[tuple[str, str, str]], *, grace_ms: int) -> int:
    """Sweep until one sweep reaps exactly ``want`` ((id, outcome, reason)); sweeps made."""
    sweeps = 0
    unexpected: list[object] = []

    async def reaped() -> bool:
        nonlocal sweeps
        sweeps += 1
        report = await jobs.reap(orphan_grace_ms=grace_ms)
        got = [(r.id, r.outcome, r.reason) for r in report.reaped]
        if got and got != want:
            unexpected.append(got)
        return got == want

    await wait_until(reaped, what=f"a sweep to reap {want}")
    assert unexpected == []
    return sweeps


async def test_js_worker_dead_between_pop_and_claim_is_recovered_once(
    thoonk: Thoonk, witness: redis.Redis, js_job: Callable[[str], JsJob]
) -> None:
    jobs, js = thoonk.job("gap"), js_job("gap")
    job_id = js.publish({"n": 1})
    assert js.pop(timeout=1) == job_id  # BRPOP, then the worker dies: no get script
    # Lost from every state list, as in the original (§2.2).
    assert witness.exists("job.ids:gap", "job.claimed:gap", "job.stalled:gap") == 0
    assert witness.hexists("job.items:gap", job_id)

    first = await jobs.reap(orphan_grace_ms=20)
    assert first.reaped == ()  # one sighting is not enough: it is only marked
    assert witness.hexists("job.orphans:gap", job_id)
    await reap_until(jobs, [(job_id, "cancelled", "orphan")], grace_ms=20)
    assert witness.lrange("job.ids:gap", 0, -1) == [job_id.encode()]
    assert witness.exists("job.orphans:gap") == 0
    assert await jobs.failure_count(job_id) == 1
    assert "pop and claim" in (await jobs.last_error(job_id) or "")

    async with jobs.events(["finish"]) as events:
        job = await jobs.get(timeout=5)
        assert job is not None and (job.id, job.item, job.failures) == (job_id, {"n": 1}, 1)
        await jobs.finish(job, "recovered")
        assert (await jobs.reap(orphan_grace_ms=0)).reaped == ()
        assert await jobs.get(timeout=0) is None
        with trio.fail_after(5):
            event = await events.receive()
        assert isinstance(event, ObjectEvent)
        assert (event.event, event.id, event.data) == ("finish", job_id, b'"recovered"')
    stats = await jobs.statistics()
    assert (stats.available, stats.claimed, stats.items, stats.finishes) == (0, 0, 0, 1)


async def test_a_js_worker_that_claims_in_time_is_left_alone(
    thoonk: Thoonk, witness: redis.Redis, js_job: Callable[[str], JsJob]
) -> None:
    jobs, js = thoonk.job("slowjs"), js_job("slowjs")
    job_id = js.publish("x")
    assert js.pop(timeout=1) == job_id
    assert (await jobs.reap(orphan_grace_ms=0)).reaped == ()  # marked only
    assert witness.hexists("job.orphans:slowjs", job_id)
    assert js.claim(job_id) == '"x"'  # the claim arrives: not an orphan any more
    assert (await jobs.reap(orphan_grace_ms=0)).reaped == ()
    assert witness.exists("job.orphans:slowjs", "job.ids:slowjs") == 0
    js.finish(job_id)
    assert (await jobs.statistics()).finishes == 1


async def test_a_slow_js_worker_claiming_after_the_reaper_is_not_doubled(
    thoonk: Thoonk, witness: redis.Redis, js_job: Callable[[str], JsJob]
) -> None:
    jobs, js = thoonk.job("late-claim"), js_job("late-claim")
    first = js.publish("first")
    second = js.publish("second")
    # Both popped by slow JS workers; the reaper gives both back.
    assert js.pop(timeout=1) == first
    assert js.pop(timeout=1) == second
    assert (await jobs.reap(orphan_grace_ms=0)).reaped == ()
    report = await jobs.reap(orphan_grace_ms=0)
    assert sorted((r.id, r.reason) for r in report.reaped) == sorted(
        [(first, "orphan"), (second, "orphan")]
    )
    # Then the JS worker of `first` wakes up and claims it: our claim skips the id
    # it holds (the duplicate list entry is dropped, not claimed twice).
    assert js.claim(first) == '"first"'
    ours = await jobs.claim_many(10)
    assert [j.id for j in ours] == [second]
    assert witness.llen("job.ids:late-claim") == 0
    # The other way round: we claimed `second` first; the late JS claim is refused.
    with pytest.raises(JsError, match="Could not claim job"):
        js.claim(second)
    js.finish(first, "js")
    await jobs.finish(ours[0], "py")
    stats = await jobs.statistics()
    assert (stats.available, stats.claimed, stats.items, stats.finishes) == (0, 0, 0, 2)


async def test_an_orphan_beside_a_ghost_claim_is_still_found(
    thoonk: Thoonk, witness: redis.Redis, js_job: Callable[[str], JsJob]
) -> None:
    jobs, js = thoonk.job("ghosts"), js_job("ghosts")
    js.publish("x", id="X")
    js.publish("y", id="Y")
    # A JS worker pops X, X is retracted, then the worker's claim lands: a ghost
    # claim (the original claims ids without an item, §2.2), which nothing expires
    # while no `timeout` is configured.
    assert js.pop(timeout=1) == "X"
    js.retract("X")
    assert js.claim("X") is None
    # Another JS worker dies between its pop of Y and its claim.
    assert js.pop(timeout=1) == "Y"
    assert witness.zrange("job.claimed:ghosts", 0, -1) == [b"X"]
    assert witness.hkeys("job.items:ghosts") == [b"Y"]
    # Two sweeps are enough for an orphan with no grace period (one marks, one reaps);
    # the first also drops the ghost claim, which no worker holds.
    reports = [(await jobs.reap(orphan_grace_ms=0)).reaped for _ in range(3)]
    assert [[(r.id, r.outcome, r.reason) for r in reaped] for reaped in reports] == [
        [("X", "dropped", "ghost")],
        [("Y", "cancelled", "orphan")],
        [],
    ]
    assert witness.exists("job.claimed:ghosts", "job.orphans:ghosts") == 0
    assert witness.lrange("job.ids:ghosts", 0, -1) == [b"Y"]


# ---------------------------------------------------------------- mixed workers


async def test_js_and_our_workers_share_one_queue_every_job_finished_once(
    thoonk: Thoonk, witness: redis.Redis, redis_url_db0: str
) -> None:
    total, half = 500, 250
    jobs = thoonk.job("shared")
    stop = threading.Event()
    all_finished = trio.Event()
    finishes: collections.Counter[str] = collections.Counter()
    data: dict[str, bytes | None] = {}
    claims: dict[str, list[str]] = collections.defaultdict(list)

    def js_worker(label: str) -> None:
        with JsJob(redis_url_db0, "shared") as worker:
            while not stop.is_set():
                got = worker.get(timeout=0.05)
                if got is None:
                    continue
                text, job_id = got
                assert text is not None
                claims[label].append(job_id)
                worker.finish(job_id, f"js:{json.loads(text)['i']}")

    def js_publisher() -> list[str]:
        with JsJob(redis_url_db0, "shared") as publisher:
            return [publisher.publish({"i": i}, priority=i % 10 == 0) for i in range(half)]

    async def py_single(label: str) -> None:
        while not all_finished.is_set():
            job = await jobs.get(timeout=0.05)
            if job is not None:
                claims[label].append(job.id)
                await jobs.finish(job, {"py": job.item["i"]})

    async def py_batch(label: str) -> None:
        while not all_finished.is_set():
            batch = await jobs.claim_many(7)
            if not batch:
                await jobs.wait_for_work(trio.current_time() + 0.05)
                continue
            claims[label].extend(j.id for j in batch)
            outcomes = await jobs.finish_many([(j, {"py": j.item["i"]}) for j in batch])
            assert all(o.status == "ok" for o in outcomes), outcomes

    async with jobs.events(["finish"], buffer=4096) as events:

        async def count_finishes() -> None:
            async for event in events:
                assert isinstance(event, ObjectEvent), event
                finishes[event.id] += 1
                data[event.id] = event.data
                if len(finishes) == total:
                    all_finished.set()

        async with trio.open_nursery() as nursery:
            nursery.start_soon(count_finishes)
            for label in ("js-1", "js-2"):
                nursery.start_soon(trio.to_thread.run_sync, js_worker, label)
            nursery.start_soon(py_single, "py-get")
            nursery.start_soon(py_batch, "py-batch")
            js_ids: list[str] = []
            js_published = trio.Event()

            async def publish_js() -> None:
                js_ids.extend(await trio.to_thread.run_sync(js_publisher))
                js_published.set()

            nursery.start_soon(publish_js)
            py_ids = await jobs.publish_many(({"i": half + i} for i in range(half)), batch=25)
            with trio.fail_after(20):
                await all_finished.wait()
                await js_published.wait()
            stop.set()
            nursery.cancel_scope.cancel()

    index = {job_id: i for i, job_id in enumerate(js_ids + py_ids)}
    assert len(index) == total
    assert finishes == collections.Counter(dict.fromkeys(index, 1))
    assert all(claims[label] for label in ("js-1", "js-2", "py-get", "py-batch")), claims.keys()
    everyone = [job_id for ids in claims.values() for job_id in ids]
    assert sorted(everyone) == sorted(index)  # each claimed by exactly one worker
    for job_id, payload in data.items():
        expected = {f"js:{index[job_id]}".encode(), f'{{"py":{index[job_id]}}}'.encode()}
        assert payload in expected, (job_id, payload)
    assert witness.get("job.finishes:shared") == str(total).encode()
    assert witness.get("job.publishes:shared") == str(total).encode()
    stats = await jobs.statistics()
    assert (stats.available, stats.claimed, stats.stalled, stats.items) == (0, 0, 0, 0)
    assert witness.exists("job.cancelled:shared", "job.published:shared") == 0
