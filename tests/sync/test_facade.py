"""The blocking facade: calls from plain threads, Ctrl-C, exceptions, shutdown, asyncio.

Interrupts and interpreter exit are tested in child processes so that a
signal never reaches pytest itself.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import textwrap
import threading
import traceback
from datetime import UTC, datetime, timedelta

import pytest
import redis

from thoonk_actors import NotFoundError, UsageError
from thoonk_actors.objects import Gap
from thoonk_actors.sync import PortalClosedError, SyncThoonk, connect

from ..contract._redis import snapshot
from ..polling import eventually

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def run_child(code: str, redis_url: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "THOONK_REDIS_URL": redis_url, "PYTHONPATH": ROOT}
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_blocking_twins_of_object_operations(redis_url: str, sync_redis: redis.Redis) -> None:
    with connect(redis_url) as t:
        jobs = t.job("sync-jobs")
        job_id = jobs.publish({"n": 1})
        job = jobs.get(timeout=5)
        assert job is not None and job.item == {"n": 1}
        jobs.finish(job, {"ok": True})
        assert jobs.wait_result(job_id, timeout=5) == {"ok": True}
        assert jobs.statistics().finishes == 1

        feed = t.feed("sync-feed")
        feed.publish("a", id="1")
        assert feed.items() == [("1", "a")]
        queue = t.queue("sync-queue")
        queue.put("q")
        assert queue.get(timeout=1) == "q"
        sorted_feed = t.sorted_feed("sync-sorted")
        sorted_feed.append("x", id="x")
        assert sorted_feed.ids() == ["x"]
        assert t.names("job") == ["sync-jobs"]
    assert sync_redis.get("job.finishes:sync-jobs") == b"1"


def test_exceptions_keep_their_type_and_traceback(redis_url: str) -> None:
    with connect(redis_url) as t:
        with pytest.raises(NotFoundError) as info:
            t.job("errors").retract("no-such-job")
        frames = "".join(traceback.format_tb(info.value.__traceback__))
        assert "_job.py" in frames  # the frame that raised it, in the loop's thread


def test_events_as_a_blocking_iterator(redis_url: str) -> None:
    with connect(redis_url) as t:
        feed = t.feed("sync-events")
        with feed.events(timeout=10) as events:  # subscribed on return
            feed.publish("one", id="1")
            feed.retract("1")
            got = [next(events), next(events)]
        assert [(e.event, e.id, e.item) for e in got] == [
            ("publish", "1", "one"),
            ("retract", "1", None),
        ]
        # a timeout ends the iteration
        assert list(feed.events(timeout=0.2)) == []


def test_a_slow_events_reader_gets_the_subscriptions_overflow_gap(redis_url: str) -> None:
    """The stream holds the subscription's buffer plus one event in passing, then a Gap."""
    with connect(redis_url) as t:
        feed = t.feed("sync-slow-reader")
        with feed.events(buffer=2, timeout=10) as slow, feed.events(timeout=10) as fast:
            for n in range(10):
                feed.publish(str(n), id=str(n))
            # One connection reads each message for both streams: once the fast one
            # has the tenth, the slow one's subscription has had all ten.
            assert [next(fast).id for _ in range(10)] == [str(n) for n in range(10)]
            got = []
            while not isinstance(event := next(slow), Gap):
                got.append(event.id)
            assert event == Gap("overflow")
            # buffered (2), plus one passed to this thread, plus one the pump holds
            assert 2 <= len(got) <= 4 and got == [str(n) for n in range(len(got))]
            feed.publish("after", id="after")
            assert next(slow).id == "after"  # nothing dropped after the gap


def test_calls_from_many_threads_and_several_connections(redis_url: str) -> None:
    with connect(redis_url) as a, connect(redis_url) as b:
        jobs_a, jobs_b = a.job("threads"), b.job("threads")
        ids: list[str] = []
        lock = threading.Lock()

        def produce(n: int) -> None:
            for i in range(50):
                job_id = (jobs_a if n % 2 else jobs_b).publish({"n": n, "i": i})
                with lock:
                    ids.append(job_id)

        threads = [threading.Thread(target=produce, args=(n,)) for n in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        claimed = set()
        while (job := jobs_b.get(timeout=0)) is not None:
            claimed.add(job.id)
            jobs_b.finish(job)
        assert claimed == set(ids) and len(ids) == 200


def test_works_while_an_asyncio_loop_runs_on_the_main_thread(redis_url: str) -> None:
    """What a Jupyter kernel looks like: a running asyncio loop on the calling thread."""

    async def cell() -> object:
        t = connect(redis_url)
        try:
            t.job("kernel").publish("from a notebook")
            job = t.job("kernel").get(timeout=5)
            assert job is not None
            return job.item
        finally:
            t.close()

    assert asyncio.run(cell()) == "from a notebook"


def test_closed_connection_refuses_calls(redis_url: str) -> None:
    t = connect(redis_url)
    jobs = t.job("closed")
    t.close()
    t.close()  # idempotent
    with pytest.raises(PortalClosedError, match="connect"):
        jobs.publish("x")
    with pytest.raises(PortalClosedError):
        t.job("closed")


def test_calling_from_inside_the_loop_is_a_usage_error(redis_url: str) -> None:
    with connect(redis_url) as t:
        jobs = t.job("inside")

        async def inside() -> None:
            jobs.publish("x")

        with pytest.raises(UsageError, match="async API"):
            t.portal.run(inside)


def test_ctrl_c_stops_a_blocking_get_and_the_job_is_not_taken(redis_url: str) -> None:
    done = run_child(
        """
        import os, signal, threading, time
        import redis
        from thoonk_actors import sync

        t = sync.connect()
        jobs = t.job("interrupt")
        probe = redis.Redis.from_url(os.environ["THOONK_REDIS_URL"])

        def interrupt_when_blocked():
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                if any(c.get("cmd") == "blmove" for c in probe.client_list()):
                    os.kill(os.getpid(), signal.SIGINT)
                    return
                time.sleep(0.01)  # polling with a deadline, in the child

        threading.Thread(target=interrupt_when_blocked, daemon=True).start()
        try:
            jobs.get()
        except KeyboardInterrupt:
            print("interrupted")
        job_id = jobs.publish("after")
        job = jobs.get(timeout=5)
        assert job is not None and job.id == job_id, job
        jobs.finish(job)
        print("still works")
        t.close()
        """,
        redis_url,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["interrupted", "still", "works"]


def test_interpreter_exit_without_close_is_clean(redis_url: str) -> None:
    done = run_child(
        """
        from thoonk_actors import sync
        t = sync.connect()
        t.job("exit").publish("x")
        u = sync.connect()
        print("bye")
        """,
        redis_url,
        timeout=30,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "bye"
    assert done.stderr == ""


@pytest.mark.parametrize(
    ("kwargs", "says"),
    [
        ({"delay": -5}, "delay must be seconds >= 0"),
        ({"at": datetime(2030, 1, 1)}, "naive datetime"),
    ],
)
def test_bad_delays_through_the_sync_facade_are_clear_usage_errors(
    t: SyncThoonk, sync_redis: redis.Redis, kwargs: dict[str, object], says: str
) -> None:
    jobs = t.job("sync-delays")
    jobs.publish("seed")
    before = snapshot(sync_redis)
    with pytest.raises(UsageError, match=says):
        jobs.publish("x", **kwargs)
    assert snapshot(sync_redis) == before


def test_progress_through_the_sync_facade(t: SyncThoonk) -> None:
    jobs = t.job("sync-progress")
    jobs.publish("x")
    job = jobs.get(timeout=5)
    assert job is not None
    assert jobs.progress(job, 0.5, {"step": 1}) is True
    stored = jobs.progress_of(job.id)
    assert stored is not None and (stored.fraction, stored.info) == (0.5, {"step": 1})
    with pytest.raises(UsageError, match="from 0 to 1"):
        jobs.progress(job, 2)


def test_blocking_twins_of_configure_and_config(t: SyncThoonk, sync_redis: redis.Redis) -> None:
    jobs = t.job("limited-sync")
    jobs.create()
    jobs.configure(max_per_second=20, max_concurrent=3)
    config = jobs.config()
    assert (config.max_per_second, config.max_concurrent) == (20, 3)
    before = sync_redis.hgetall("job.config:limited-sync")
    with pytest.raises(UsageError, match="max_per_second"):  # InvalidConfigError, nothing written
        jobs.configure(max_per_second=-1, max_concurrent=5)
    assert sync_redis.hgetall("job.config:limited-sync") == before
    jobs.configure(max_concurrent=None)
    assert jobs.config().max_concurrent == 0
    with pytest.raises(NotFoundError, match="does not exist"):
        t.feed("never-made").configure(max_length=5)


def test_delayed_publish_through_the_sync_facade(t: SyncThoonk, sync_redis: redis.Redis) -> None:
    jobs = t.job("sync-delayed")
    later = jobs.publish("later", delay=300)
    batch = jobs.publish_many(["a", "b"], delay=300)
    at = (datetime.now(UTC) + timedelta(hours=1)).replace(microsecond=0)  # whole ms
    fixed = jobs.publish("at", at=at)
    scheduled = dict(jobs.scheduled())
    assert set(scheduled) == {later, *batch, fixed}
    assert scheduled[batch[0]] == scheduled[batch[1]]  # one due time for the batch
    assert scheduled[fixed] == int(at.timestamp() * 1000)
    assert jobs.statistics().scheduled == 4 and jobs.get(timeout=0) is None
    jobs.retract(later)
    assert later not in dict(jobs.scheduled())


def test_wait_result_follows_progress_through_the_sync_facade(t: SyncThoonk) -> None:
    jobs = t.job("sync-follow")
    job_id = jobs.publish("x")
    job = jobs.get(timeout=5)
    assert job is not None
    jobs.progress(job, 0.25, {"step": "start"})
    seen: list[float] = []
    results: list[object] = []
    waiter = threading.Thread(
        target=lambda: results.append(
            jobs.wait_result(job_id, 30, on_progress=lambda p: seen.append(p.fraction))
        )
    )
    waiter.start()
    try:
        eventually(lambda: seen == [0.25], "the stored progress, told first")
        assert jobs.progress(job, 1.0) is True  # 1.0: never throttled (0 < f < 1 may be)
        eventually(lambda: seen == [0.25, 1.0], "the next progress")
        jobs.finish(job, "done")
    finally:
        waiter.join(30)
    assert results == ["done"]
