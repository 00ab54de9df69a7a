"""Every waiter gets an answer, with original JavaScript clients on the same queue.

The JS side is tests/compat/js_client.py: the original's exact command sequences
(on database 0, as the original only uses that one).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable

import pytest
import redis
import trio

from thoonk_actors import NotFoundError
from thoonk_actors.contract import JobKeys, RawCodec
from thoonk_actors.objects import Thoonk, _results, open_thoonk
from thoonk_actors.runtime import App

from ..compat.js_client import JsFinishListener, JsJob
from ..polling import wait_until


@pytest.fixture
async def thoonk(redis_url_db0: str) -> AsyncIterator[Thoonk]:
    async with open_thoonk(redis_url_db0, worker_id="py") as client:
        yield client


def js_worker(url: str, queue: str, count: int, reply: Callable[[object], str]) -> None:
    """An original-style worker: get, then finish with ``reply(item)`` as the result text."""
    with JsJob(url, queue) as worker:
        for _ in range(count):
            got = worker.get(timeout=30)
            assert got is not None and got[0] is not None, got
            worker.finish(got[1], reply(json.loads(got[0])))


async def test_publish_many_then_wait_for_each_while_a_js_worker_finishes_them(
    thoonk: Thoonk, redis_url_db0: str
) -> None:
    """The JS finish stores no result: the publisher caught every finish since publishing."""
    jobs = thoonk.job("many")
    n = 2000
    ids = await jobs.publish_many([{"n": i} for i in range(n)])
    async with trio.open_nursery() as nursery:
        nursery.start_soon(
            trio.to_thread.run_sync,
            js_worker,
            redis_url_db0,
            "many",
            n,
            lambda item: json.dumps({"twice": item["n"] * 2}),  # type: ignore[index]
        )
        with trio.fail_after(120):
            got = [await jobs.wait_result(job_id, timeout=60) for job_id in ids]
    assert got == [{"twice": i * 2} for i in range(n)]


async def test_wait_result_on_an_unknown_id_raises_not_found_at_once(thoonk: Thoonk) -> None:
    jobs = thoonk.job("unknown")
    with trio.fail_after(10), pytest.raises(NotFoundError, match="never published, retracted"):
        await jobs.wait_result("no-such-job", timeout=None)


async def test_wait_result_after_the_result_expired_raises_not_found(
    thoonk: Thoonk, witness: redis.Redis, redis_url_db0: str
) -> None:
    jobs = thoonk.job("expiring")
    await jobs.create({"result_ttl": 50})
    job_id = await jobs.publish("x")
    claimed = await jobs.get(timeout=5)
    assert claimed is not None and claimed.id == job_id
    await jobs.finish(claimed, "done")
    key = JobKeys.of("expiring").result_key(job_id)
    await wait_until(lambda: not witness.exists(key), what="the stored result to expire")
    # The kept finish event is the publisher's; another client has nothing left to see.
    async with open_thoonk(redis_url_db0) as other:
        with trio.fail_after(10), pytest.raises(NotFoundError, match=r"expired after 0\.05 s"):
            await other.job("expiring").wait_result(job_id, timeout=None)


async def test_a_job_retracted_by_js_while_waited_on_raises_not_found(
    thoonk: Thoonk, js_job: Callable[[str], JsJob]
) -> None:
    """The original retract sends no event: the periodic re-check notices it."""
    jobs, js = thoonk.job("retracted"), js_job("retracted")
    jobs.result_recheck_s = 0.2
    job_id = await jobs.publish("x")
    router = await thoonk.result_router(jobs)
    outcome: list[BaseException] = []

    async def waiter() -> None:
        try:
            await jobs.wait_result(job_id, timeout=None)
        except NotFoundError as exc:
            outcome.append(exc)

    with trio.fail_after(20):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(waiter)
            await wait_until(lambda: job_id in router._waiters, what="the waiter to register")
            js.retract(job_id)
    assert len(outcome) == 1 and "never published, retracted" in str(outcome[0])


@pytest.mark.parametrize("first_finisher", ["ours", "js"])
async def test_an_id_published_again_by_js_never_answers_with_the_older_run(
    thoonk: Thoonk, js_job: Callable[[str], JsJob], redis_url_db0: str, first_finisher: str
) -> None:
    jobs, js = thoonk.job("reused"), js_job("reused")
    await jobs.publish({"run": 1}, id="dup")
    if first_finisher == "ours":  # stores a result key the original never clears
        claimed = await jobs.get(timeout=5)
        assert claimed is not None
        await jobs.finish(claimed, "first")
    else:  # the publisher keeps the JS finish event
        js_worker(redis_url_db0, "reused", 1, lambda item: "first")
        router = await thoonk.result_router(jobs)
        await wait_until(lambda: router.kept("dup") is not None, what="the kept finish")
    js.publish({"run": 2}, id="dup")
    results: list[object] = []

    async def waiter() -> None:
        results.append(await jobs.wait_result("dup", timeout=30))

    router = await thoonk.result_router(jobs)
    with trio.fail_after(40):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(waiter)
            await wait_until(lambda: "dup" in router._waiters, what="the waiter to register")
            await trio.to_thread.run_sync(
                js_worker, redis_url_db0, "reused", 1, lambda item: "second"
            )
    assert results == ["second"]


@pytest.mark.parametrize(("result_codec", "js_sees"), [(None, '"ok"'), (RawCodec(text=True), "ok")])
async def test_a_result_codec_gives_js_publishers_the_text_they_expect(
    redis_url_db0: str, js_job: Callable[[str], JsJob], result_codec: RawCodec | None, js_sees: str
) -> None:
    """JSON by default (JS gets JSON text); a text result codec: JS gets the plain string."""
    codecs = {} if result_codec is None else {"facing": result_codec}
    app = App(redis_url_db0, reap_interval=0.5, heartbeat_interval=0.5, stale_after=5.0)

    @app.job("facing")
    async def answer(item: object) -> str:
        return "ok"

    js = js_job("facing")
    with JsFinishListener(redis_url_db0, "facing") as listener:
        job_id = js.publish({"q": 1})
        with trio.fail_after(30):
            async with open_thoonk(redis_url_db0, result_codecs=codecs) as thoonk:
                async with app.open(thoonk=thoonk):
                    payload = await trio.to_thread.run_sync(listener.payload, 20.0)
                    # Our own waiters decode with the same codec.
                    assert await thoonk.job("facing").wait_result(job_id, timeout=10) == "ok"
    assert JsFinishListener.on_finish_args(payload) == (job_id, js_sees)


async def test_kept_results_are_bounded_oldest_first(monkeypatch: pytest.MonkeyPatch) -> None:
    """A publisher that never waits cannot grow the kept results without end."""
    monkeypatch.setattr(_results, "MAX_EXPECTED", 4)
    monkeypatch.setattr(_results, "MAX_KEPT", 2)
    router = _results.ResultRouter("fin", "ret")
    for n in range(6):
        router.expect(f"j{n}")
    for n in range(6):
        router.dispatch(b"fin", f"j{n}\0r{n}".encode())
    # j0, j1 were no longer marked; of j2..j5 only the two newest finishes are kept.
    assert [n for n in range(6) if router.kept(f"j{n}") is not None] == [4, 5]
    assert router.kept("j5") == _results.Outcome("finish", b"r5")


async def test_reap_stalls_a_job_the_original_cancelled_max_cancels_times(
    thoonk: Thoonk, js_job: Callable[[str], JsJob], witness: redis.Redis
) -> None:
    """The original's cancel ignores max_cancels and queues the job again; our sweep stalls it."""
    jobs, js = thoonk.job("cancelled"), js_job("cancelled")
    await jobs.create({"max_cancels": 3})
    job_id = js.publish({"n": 1})
    other = js.publish({"n": 2})
    # Both ids take turns (cancel is HINCRBY and LPUSH back): 3 cancels of job_id,
    # 2 of the other; the original queues job_id again after its third.
    for expected in (job_id, other, job_id, other, job_id):
        got = js.get(timeout=5)
        assert got is not None and got[1] == expected
        js.cancel(expected)
    assert js.get_failure_count(job_id) == 3
    assert set(await jobs.available_ids()) == {job_id, other}

    report = await jobs.reap()
    assert [(r.id, r.outcome, r.reason) for r in report.reaped] == [
        (job_id, "stalled", "max_cancels")
    ]
    assert await jobs.stalled_ids() == (job_id,)
    assert await jobs.available_ids() == (other,)
    assert "max_cancels is 3" in (await jobs.last_error(job_id) or "")
    stats = await jobs.statistics()
    assert (stats.available, stats.stalled, stats.items) == (1, 1, 2)
    assert not witness.zscore("job.published:cancelled", job_id)
    # The next sweep has nothing more to do.
    assert (await jobs.reap()).reaped == ()
