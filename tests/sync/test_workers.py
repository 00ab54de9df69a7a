"""In-kernel workers (``t.process``) and callback subscriptions (``feed.subscribe``).

These tests are sync, like a notebook: the worker runs in the connection's
background loop while the test thread (and other threads) use the blocking
API. Every wait for an effect polls with a deadline.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from typing import Any

import pytest
import redis

from thoonk_actors import UsageError
from thoonk_actors.objects import FeedEvent
from thoonk_actors.runtime import current_job
from thoonk_actors.sync import (
    DrainTimeoutError,
    PortalClosedError,
    SyncThoonk,
    WorkerHandle,
    connect,
)

from ..polling import eventually

N = 1_000


def test_a_plain_def_handles_1000_jobs_in_threads_while_other_threads_use_the_facade(
    t: SyncThoonk,
) -> None:
    loop_thread = t.portal._thread
    handler_threads: set[str] = set()
    lock = threading.Lock()

    def double(item: dict[str, int]) -> int:
        with lock:
            handler_threads.add(threading.current_thread().name)
        assert threading.current_thread() is not loop_thread
        return item["n"] * 2

    jobs = t.job("inkernel-plain")
    worker = t.process("inkernel-plain", double, concurrency=4)
    assert worker.running and worker.state == "running"
    assert worker.worker_id is not None and worker.worker_id != t.worker_id

    ids: list[str] = []
    seen_finishes: list[int] = []

    def producer(part: int) -> None:
        # Facade calls from plain threads while the runtime works in the loop.
        for n in range(part * N // 4, (part + 1) * N // 4):
            job_id = jobs.publish({"n": n})
            with lock:
                ids.append(job_id)
            if n % 50 == 0:
                seen_finishes.append(jobs.statistics().finishes)

    threads = [threading.Thread(target=producer, args=(p,)) for p in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(ids) == N
    stats = worker.wait(timeout=60)
    assert (stats.finished, stats.failed, stats.in_flight, stats.concurrency) == (N, 0, 0, 4)
    counts = jobs.statistics()
    assert (counts.finishes, counts.publishes, counts.available, counts.claimed) == (N, N, 0, 0)
    assert jobs.wait_result(ids[0], timeout=5) % 2 == 0
    assert len(handler_threads) >= 1 and loop_thread.name not in handler_threads
    later = worker.statistics()  # the same counts (only the rate moves with time)
    assert dataclasses.replace(later, rate=0.0) == dataclasses.replace(stats, rate=0.0)
    worker.stop()
    assert not worker.running and worker.state == "stopped"


def test_an_async_handler_runs_in_the_loop_and_its_errors_keep_the_job_id(
    t: SyncThoonk, quiet_runtime: None
) -> None:
    async def check(item: str) -> str:
        if item.startswith("bad"):
            raise ValueError(f"refused {item} (attempt {current_job().failures + 1})")
        return item.upper()

    jobs = t.job("inkernel-async")
    worker = t.process("inkernel-async", check, concurrency=8, max_cancels=2)
    good = jobs.publish("fine")
    bad = jobs.publish("bad-1")
    stats = worker.wait(timeout=30)
    assert (stats.finished, stats.failed, stats.stalled) == (1, 2, 1)
    assert jobs.wait_result(good, timeout=5) == "FINE"
    assert jobs.stalled_ids() == (bad,)
    errors = worker.errors()
    assert [(e.job_id, e.failures, e.error) for e in errors] == [
        (bad, 0, "ValueError: refused bad-1 (attempt 1)"),
        (bad, 1, "ValueError: refused bad-1 (attempt 2)"),
    ]
    assert worker.error_count == 2
    assert "in check" in errors[-1].traceback and "raise ValueError" in errors[-1].traceback
    assert "sync/_workers.py" not in errors[-1].traceback  # starts at the handler's frame
    assert jobs.last_error(bad) == "ValueError: refused bad-1 (attempt 2)"
    worker.stop()


def test_stop_leaves_nothing_claimed(t: SyncThoonk, sync_redis: redis.Redis) -> None:
    release = threading.Event()
    started = threading.Semaphore(0)

    def slow(item: int) -> int:
        started.release()
        release.wait(30)  # held until the test lets go (a thread cannot be interrupted)
        return item

    jobs = t.job("inkernel-stop")
    worker = t.process("inkernel-stop", slow, concurrency=2, prefetch=3)
    jobs.publish_many(range(10))
    for _ in range(2):
        assert started.acquire(timeout=10)
    eventually(lambda: worker.statistics().in_flight == 5, "2 running + 3 prefetched")
    assert jobs.statistics().claimed == 5
    try:
        worker.stop(grace=0.2)  # the two running jobs outlive the grace period
    finally:
        release.set()
    counts = jobs.statistics()
    assert (counts.claimed, counts.available, counts.finishes) == (0, 10, 0)
    stats = worker.statistics()
    assert (stats.released, stats.in_flight, stats.finished, stats.failed) == (5, 0, 0, 0)
    assert [f for _, f in jobs.claimed()] == []
    # The heartbeat said goodbye for this worker's id only.
    assert sync_redis.zscore("job.workers:inkernel-stop", worker.worker_id or "") is None
    assert worker.state == "stopped" and not worker.running


def test_a_graceful_stop_lets_running_jobs_finish(t: SyncThoonk) -> None:
    gate = threading.Event()
    running = threading.Event()

    def wait_for_gate(item: str) -> str:
        running.set()
        gate.wait(30)
        return f"done {item}"

    jobs = t.job("inkernel-grace")
    worker = t.process("inkernel-grace", wait_for_gate, concurrency=1, prefetch=0)
    job_id = jobs.publish("x")
    assert running.wait(10)
    stopper = threading.Thread(target=worker.stop, kwargs={"grace": 20})
    stopper.start()
    eventually(lambda: worker.state == "stopping", "the stop to begin")
    gate.set()
    stopper.join(30)
    assert not stopper.is_alive()
    assert jobs.wait_result(job_id, timeout=5) == "done x"
    assert worker.statistics().finished == 1 and jobs.statistics().claimed == 0


def test_start_again_and_restart_with_another_concurrency(t: SyncThoonk) -> None:
    jobs = t.job("inkernel-restart")
    worker = t.process("inkernel-restart", lambda item: item, concurrency=2)
    jobs.publish_many(range(20))
    assert worker.wait(timeout=30).finished == 20
    first_id = worker.worker_id
    worker.stop()
    worker.stop()  # idempotent
    jobs.publish_many(range(5))
    time_before = jobs.statistics()
    assert time_before.available == 5  # stopped: nobody takes them
    worker.start()
    assert worker.running and worker.worker_id != first_id  # a fresh id per run
    assert worker.wait(timeout=30).finished == 25
    worker.restart(concurrency=6)
    assert worker.running and worker.concurrency == 6
    assert worker.statistics().concurrency == 6
    jobs.publish_many(range(5))
    stats = worker.wait(timeout=30)
    assert (stats.finished, stats.concurrency) == (30, 6)  # counts carry on across runs
    worker.stop()
    worker.restart(concurrency=3)  # a stopped worker only takes the setting
    assert not worker.running and worker.concurrency == 3
    with pytest.raises(UsageError, match="concurrency"):
        worker.restart(concurrency=0)
    assert worker.concurrency == 3


def test_wait_times_out_and_returns_at_once_when_stopped(t: SyncThoonk) -> None:
    gate = threading.Event()
    jobs = t.job("inkernel-wait")
    worker = t.process("inkernel-wait", lambda item: gate.wait(30), concurrency=1)
    jobs.publish("held")
    try:
        with pytest.raises(DrainTimeoutError, match=r"not drained within 0\.3 s"):
            worker.wait(timeout=0.3)
        with pytest.raises(TimeoutError):
            worker.wait(timeout=0.05)
    finally:
        gate.set()
    assert worker.wait(timeout=30).finished == 1
    worker.stop()
    jobs.publish("nobody takes this")
    assert worker.wait(timeout=5).finished == 1  # stopped: returns at once


def test_process_again_replaces_the_previous_worker(t: SyncThoonk) -> None:
    jobs = t.job("inkernel-replace")
    old = t.process("inkernel-replace", lambda item: "old")
    new = t.process("inkernel-replace", lambda item: "new")  # re-running a notebook cell
    assert not old.running and new.running
    assert t.workers == {"inkernel-replace": new}
    assert jobs.publish_and_wait("x", timeout=10) == "new"
    with pytest.raises(UsageError, match="replaced"):
        old.start()
    new.stop()


def test_bad_options_fail_before_anything_starts(t: SyncThoonk) -> None:
    with pytest.raises(UsageError, match="concurrency"):
        t.process("inkernel-bad", lambda item: item, concurrency=0)
    with pytest.raises(UsageError, match="callable"):
        t.process("inkernel-bad", "not a function")  # type: ignore[arg-type]
    with pytest.raises(UsageError):
        t.process("bad{name}", lambda item: item)
    assert t.workers == {}


def test_closing_the_connection_stops_its_workers(redis_url: str, sync_redis: redis.Redis) -> None:
    gate = threading.Event()
    started = threading.Event()

    def held(item: int) -> None:
        started.set()
        gate.wait(30)

    t = connect(redis_url)
    jobs = t.job("inkernel-close")
    worker = t.process("inkernel-close", held, concurrency=1, prefetch=0)
    jobs.publish(1)
    try:
        assert started.wait(10)
        t.close()  # cancels the worker: its claim is released (shielded cleanup)
    finally:
        gate.set()
    assert worker.state == "stopped"
    with connect(redis_url) as again:
        counts = again.job("inkernel-close").statistics()
    assert (counts.claimed, counts.available) == (0, 1)  # back in the queue
    assert sync_redis.zscore("job.workers:inkernel-close", worker.worker_id or "") is None
    with pytest.raises(PortalClosedError):
        worker.statistics()


def test_display_of_a_worker(t: SyncThoonk) -> None:
    def send(item: Any) -> None:
        return None

    worker = t.process("inkernel-display", send, concurrency=3)
    assert repr(worker) == "<worker 'inkernel-display' handler=" + (
        "test_display_of_a_worker.<locals>.send concurrency=3 running>"
    )
    bundle = worker._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    worker.stop()
    assert isinstance(worker, WorkerHandle)


# ------------------------------------------------------------------ subscribe


def test_subscribe_calls_back_in_a_worker_thread_in_order(t: SyncThoonk) -> None:
    got: list[FeedEvent] = []
    threads: set[threading.Thread] = set()

    def on_event(event: FeedEvent) -> None:
        threads.add(threading.current_thread())
        got.append(event)

    news = t.feed("subscribed-news")
    with news.subscribe(on_event) as sub:  # subscribed on return
        news.publish({"title": "one"}, id="1")
        news.publish({"title": "one, edited"}, id="1")
        news.retract("1")
        eventually(lambda: len(got) == 3, "three events")
    assert [(e.event, e.id, e.item) for e in got] == [
        ("publish", "1", {"title": "one"}),
        ("edit", "1", {"title": "one, edited"}),
        ("retract", "1", None),
    ]
    assert t.portal._thread not in threads and threading.current_thread() not in threads
    assert sub.closed and sub.delivered == 3
    news.publish("after close", id="2")
    assert news.get("2") == "after close"
    assert len(got) == 3  # closed: no more callbacks (close() waited for its task)


def test_a_failing_callback_is_logged_and_the_next_event_still_arrives(
    t: SyncThoonk, caplog: pytest.LogCaptureFixture
) -> None:
    got: list[str] = []

    def picky(event: FeedEvent) -> None:
        if event.id == "boom":
            raise RuntimeError("callback bug")
        got.append(event.id)

    news = t.feed("subscribed-failing")
    sub = news.subscribe(picky, events=["publish"])
    try:
        with caplog.at_level(logging.ERROR, logger="thoonk_actors.sync"):
            news.publish("x", id="boom")
            news.retract("boom")  # not subscribed to retract events
            news.publish("y", id="after")
            eventually(lambda: got == ["after"], "the event after the failure")
        assert sub.failed == 1 and sub.delivered == 2
        assert any("callback bug" in r.getMessage() or r.exc_info for r in caplog.records)
        assert any("subscribe() callback" in r.getMessage() for r in caplog.records)
    finally:
        sub.close()
    sub.close()  # idempotent


def test_a_slow_callback_does_not_block_the_loop(t: SyncThoonk) -> None:
    gate = threading.Event()
    got: list[str] = []

    def slow(event: FeedEvent) -> None:
        gate.wait(30)
        got.append(event.id)

    news = t.feed("subscribed-slow")
    with news.subscribe(slow):
        news.publish("a", id="a")
        news.publish("b", id="b")
        # The callback is stuck on "a"; the loop still serves blocking calls.
        assert news.ids() == ["a", "b"]
        gate.set()
        eventually(lambda: got == ["a", "b"], "both events, in order")


def test_subscribe_needs_a_callable(t: SyncThoonk) -> None:
    with pytest.raises(UsageError, match="callable"):
        t.feed("x").subscribe("print")  # type: ignore[arg-type]
