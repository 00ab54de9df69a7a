"""``open_metrics_exporter``: real Redis, real HTTP scrapes (urllib in a thread).

Policy: every exporter listens on a free loopback port (``port=0``); the test
scrapes it over HTTP from a worker thread and parses the text format with
``prometheus_client``'s own parser; the expected figures come from the
objects' ``statistics()`` and the running app's ``statistics()``, never from
constants the exporter could share with the test.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
from typing import Any

import pytest
import redis
import trio

from thoonk_actors import App, InvalidNameError, UsageError, open_thoonk
from thoonk_actors.metrics import open_metrics_exporter
from thoonk_actors.metrics._collector import METRICS
from thoonk_actors.runtime._stats import DURATION_BUCKETS

from ..polling import wait_until
from ..transport._private_server import PrivateRedis
from ._scrape import Samples, queue_values, scrape, stats_values, value


async def scrape_async(url: str) -> Samples:
    return await trio.to_thread.run_sync(scrape, url)


async def test_a_scrape_shows_each_queue_as_its_statistics_say(
    redis_url: str, sync_redis: redis.Redis
) -> None:
    async with open_thoonk(redis_url) as thoonk:
        emails = thoonk.job("emails")
        for i in range(5):
            await emails.publish(i)
        await emails.publish("later", delay=3600)
        first = await emails.get(timeout=5)
        second = await emails.get(timeout=5)
        assert first is not None and second is not None
        await emails.stall(first, reason="for a person")
        await emails.heartbeat(worker_id="w-1")
        legacy = thoonk.job("legacy")
        await legacy.publish("from JS")
        sync_redis.srem("jobs", "legacy")  # as the original JS client leaves it: unregistered
        await thoonk.job("done").publish("x")
        done = await thoonk.job("done").get(timeout=5)
        assert done is not None
        await thoonk.job("done").finish(done, "ok")

        async with open_metrics_exporter(thoonk, port=0) as exporter:
            assert exporter.url == f"http://127.0.0.1:{exporter.port}/metrics"
            samples = await scrape_async(exporter.url)

        assert value(samples, "thoonk_up") == 1
        assert value(samples, "thoonk_scrape_errors_total") == 0
        for name in ("emails", "legacy", "done"):
            stats = await thoonk.job(name).statistics()
            assert queue_values(samples, name) == stats_values(stats), name
        emails_stats = await emails.statistics()
        assert (emails_stats.available, emails_stats.claimed, emails_stats.stalled) == (3, 1, 1)
        # Live workers: the client that claimed (get() beats) and w-1.
        assert (emails_stats.scheduled, emails_stats.workers_alive) == (1, 2)
        assert value(samples, "thoonk_job_registered", queue="emails") == 1
        assert value(samples, "thoonk_job_registered", queue="legacy") == 0
        assert value(samples, "thoonk_job_held_back", queue="emails", reason="rate") == 0
        # No worker runs here: the exporter has no thoonk_worker_* figures.
        assert not [name for name, _ in samples if name.startswith("thoonk_worker_")]


async def test_named_queues_only_and_held_back(redis_url: str) -> None:
    async with open_thoonk(redis_url) as thoonk:
        limited = thoonk.job("limited")
        await limited.create({"max_concurrent": 1})
        await limited.publish("a")
        await limited.publish("b")
        assert await limited.get(timeout=5) is not None
        assert await limited.get(timeout=0.1) is None  # the limit holds "b" back
        await thoonk.job("other").publish("x")
        async with open_metrics_exporter(thoonk, port=0, queues=["limited"]) as exporter:
            samples = await scrape_async(exporter.url)
        stats = await limited.statistics()
        assert stats.held_back == "concurrency"
        assert value(samples, "thoonk_job_held_back", queue="limited", reason="concurrency") == 1
        assert value(samples, "thoonk_job_held_back", queue="limited", reason="rate") == 0
        assert value(samples, "thoonk_job_available", queue="limited") == stats.available == 1
        assert value(samples, "thoonk_job_available", queue="other") is None


async def test_a_running_app_adds_its_own_figures_and_the_duration_histogram(
    redis_url: str,
) -> None:
    app = App(redis_url)

    @app.job("work", concurrency=4, max_cancels=1)
    async def work(item: int) -> int:
        if item % 5 == 0:
            raise ValueError("multiples of five fail")
        return item * 2

    async with open_thoonk(redis_url) as thoonk:
        for i in range(1, 21):
            await thoonk.job("work").publish(i)
        async with (
            app.open(thoonk=thoonk) as running,
            open_metrics_exporter(thoonk, port=0, queues=["work"], running=running) as exporter,
        ):

            def settled() -> bool:
                mine = running.statistics().queue("work")
                return mine.finished + mine.stalled == 20 and mine.in_flight == 0

            await wait_until(settled, what="20 jobs settled")
            samples = await scrape_async(exporter.url)
            mine = running.statistics().queue("work")
            queue_stats = await thoonk.job("work").statistics()

    assert (mine.finished, mine.failed, mine.stalled) == (16, 4, 4)
    assert (mine.durations.count("ok"), mine.durations.count()) == (16, 20)
    work_ = {"queue": "work"}
    assert value(samples, "thoonk_worker_jobs_claimed_total", **work_) == mine.claimed == 20
    assert value(samples, "thoonk_worker_jobs_finished_total", **work_) == mine.finished
    assert value(samples, "thoonk_worker_jobs_cancelled_total", **work_) == mine.failed
    assert value(samples, "thoonk_worker_jobs_stalled_total", **work_) == mine.stalled
    assert value(samples, "thoonk_worker_jobs_in_flight", **work_) == 0
    assert value(samples, "thoonk_worker_concurrency", **work_) == 4
    assert value(samples, "thoonk_worker_uptime_seconds", worker_id=running.worker_id) is not None
    histogram = "thoonk_job_handler_duration_seconds"
    assert value(samples, f"{histogram}_count", queue="work", outcome="ok") == 16
    assert value(samples, f"{histogram}_count", queue="work", outcome="error") == 4
    assert value(samples, f"{histogram}_bucket", queue="work", outcome="ok", le="+Inf") == 16
    buckets = [
        value(samples, f"{histogram}_bucket", queue="work", outcome="ok", le=repr(bound))
        for bound in DURATION_BUCKETS
    ]
    assert buckets == sorted(buckets)  # cumulative
    ok_sum = value(samples, f"{histogram}_sum", queue="work", outcome="ok")
    assert ok_sum is not None and ok_sum >= 0
    # The queue-level figures are the queue's, read at that scrape.
    assert value(samples, "thoonk_jobs_finished_total", **work_) == queue_stats.finishes == 16
    assert value(samples, "thoonk_job_stalled", **work_) == queue_stats.stalled == 4


async def test_the_histogram_tells_timeouts_from_errors_for_tasks_and_threads(
    redis_url: str,
) -> None:
    app = App(redis_url)

    @app.job("slow-task", timeout=0.2, max_cancels=1)
    async def slow_task(item: str) -> None:
        await trio.sleep_forever()  # cut by the watchdog

    @app.job("slow-thread", timeout=0.2, max_cancels=1)
    def slow_thread(item: str) -> None:
        finished.wait(20)  # a thread cannot be cut: it returns once released below

    finished = threading.Event()
    async with open_thoonk(redis_url) as thoonk:
        await thoonk.job("slow-task").publish("x")
        await thoonk.job("slow-thread").publish("y")
        async with (
            app.open(thoonk=thoonk) as running,
            open_metrics_exporter(thoonk, port=0, queues=[], running=running) as exporter,
        ):

            def timed_out(name: str) -> bool:
                return running.statistics().queue(name).timed_out == 1

            await wait_until(lambda: timed_out("slow-task"), what="the task timed out")
            await wait_until(
                lambda: running.statistics().queue("slow-thread").running == 1,
                what="the thread running",
            )
            finished.set()
            await wait_until(lambda: timed_out("slow-thread"), what="the thread timed out")
            samples = await scrape_async(exporter.url)

    count = "thoonk_job_handler_duration_seconds_count"
    for name in ("slow-task", "slow-thread"):
        assert value(samples, count, queue=name, outcome="timeout") == 1, name
        assert value(samples, count, queue=name, outcome="ok") == 0, name
        assert value(samples, count, queue=name, outcome="error") is None, name
        assert value(samples, "thoonk_worker_jobs_timed_out_total", queue=name) == 1
        # At least the timeout: the run lasted past 0.2 s, in the buckets from 0.25 s on.
        assert value(
            samples, "thoonk_job_handler_duration_seconds_bucket", queue=name,
            outcome="timeout", le="0.1",
        ) == 0  # fmt: skip


async def test_when_redis_stops_answering_a_scrape_still_answers_with_up_0() -> None:
    with PrivateRedis() as server:
        async with (
            open_thoonk(server.url, reconnect_timeout=60) as thoonk,
            open_metrics_exporter(thoonk, port=0, scrape_timeout=1) as exporter,
        ):
            await thoonk.job("emails").publish("x")
            before = await scrape_async(exporter.url)
            assert value(before, "thoonk_up") == 1
            assert value(before, "thoonk_job_available", queue="emails") == 1
            server.kill()
            with trio.fail_after(15):  # 1 s of scrape timeout, plus the HTTP thread's margin
                down = await scrape_async(exporter.url)
            assert value(down, "thoonk_up") == 0
            assert value(down, "thoonk_scrape_errors_total") == 1
            assert value(down, "thoonk_job_available", queue="emails") is None  # no stale figure
            server.start()

            async def up_again() -> bool:
                return value(await scrape_async(exporter.url), "thoonk_up") == 1

            await wait_until(up_again, what="thoonk_up 1 once Redis is back", deadline=30)
            again = await scrape_async(exporter.url)
            assert value(again, "thoonk_job_available", queue="emails") == 1
            assert value(again, "thoonk_scrape_errors_total") is not None


async def test_a_trio_loop_that_does_not_answer_gives_up_0_within_the_margin(
    redis_url: str,
) -> None:
    async with (
        open_thoonk(redis_url) as thoonk,
        open_metrics_exporter(thoonk, port=0, scrape_timeout=0.2) as exporter,
    ):
        answered: list[Samples] = []
        got_it = threading.Event()

        def scrape_in_a_thread() -> None:
            answered.append(scrape(exporter.url))
            got_it.set()

        threading.Thread(target=scrape_in_a_thread, daemon=True).start()
        # This blocking wait is the point: it blocks the trio loop (as a handler
        # that never checkpoints would) until the scrape answered without the
        # loop; bounded, so an exporter that hangs fails the test.
        assert got_it.wait(timeout=20), "the scrape hung while the trio loop was blocked"
        assert value(answered[0], "thoonk_up") == 0
        assert value(answered[0], "thoonk_scrape_errors_total") == 1
        # The loop runs again: the next scrape reads Redis.
        assert value(await scrape_async(exporter.url), "thoonk_up") == 1


@pytest.mark.parametrize(
    ("options", "error", "message"),
    [
        ({"port": -1}, UsageError, "the metrics port must be a whole number from 0 to 65535"),
        ({"port": 70000}, UsageError, "the metrics port must be a whole number from 0 to 65535"),
        ({"port": "9100"}, UsageError, "the metrics port must be a whole number"),
        ({"port": 0, "scrape_timeout": 0}, UsageError, "the scrape timeout must be seconds > 0"),
        ({"port": 0, "queues": ["a{b}"]}, InvalidNameError, "object name 'a{b}' holds '{'"),
    ],
)
async def test_bad_options_are_refused_before_anything_is_served(
    redis_url: str, options: dict[str, Any], error: type[Exception], message: str
) -> None:
    async with open_thoonk(redis_url) as thoonk:
        with pytest.raises(error, match=message):
            async with open_metrics_exporter(thoonk, **options):
                raise AssertionError("served")


async def test_a_port_in_use_is_a_usage_error_that_says_so(redis_url: str) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        async with open_thoonk(redis_url) as thoonk:
            with pytest.raises(UsageError) as caught:
                async with open_metrics_exporter(thoonk, port=port):
                    raise AssertionError("served")
    assert str(caught.value) == (
        f"cannot serve metrics on 127.0.0.1:{port}: Address already in use; choose another "
        "port (or stop what listens there)"
    )


def test_without_prometheus_client_the_error_says_what_to_install(redis_url: str) -> None:
    code = f"""
import sys
sys.modules["prometheus_client"] = None  # as if it were not installed
import thoonk_actors, thoonk_actors.metrics, trio
from thoonk_actors import UsageError, open_thoonk
from thoonk_actors.metrics import open_metrics_exporter
assert "prometheus_client" not in [m for m in sys.modules if sys.modules[m] is not None]

async def main():
    async with open_thoonk({redis_url!r}) as thoonk:
        try:
            async with open_metrics_exporter(thoonk, port=0):
                pass
        except UsageError as exc:
            print(exc)

trio.run(main)
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stderr) == (0, ""), done
    assert done.stdout == (
        "metrics need the prometheus-client library, which is not installed: "
        "pip install 'thoonk-actors[metrics]'\n"
    )


def test_every_metric_name_follows_the_prometheus_conventions() -> None:
    names = [name for name, _, _, _ in METRICS]
    assert len(names) == len(set(names))
    for name, kind, labels, help_text in METRICS:
        assert name.startswith("thoonk_"), name
        assert name.endswith("_total") == (kind == "counter"), name
        assert not any(word in name.split("_") for word in ("gauge", "counter", "histogram"))
        assert not name.endswith(("_ms", "_milliseconds", "_count", "_sum", "_bucket")), name
        assert "le" not in labels and help_text, name
