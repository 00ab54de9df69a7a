"""``thoonk metrics`` and ``thoonk worker --metrics-port`` as users run them.

Policy: real subprocesses (``python -m thoonk_actors``) on the test's own
database, scraped over HTTP with urllib; the expected figures come from the
queue's ``statistics()`` read with another client (``thoonk_actors.sync``).
"""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from thoonk_actors.sync import SyncThoonk

from ..metrics._scrape import Samples, queue_values, scrape, stats_values, value
from ..transport._private_server import PrivateRedis
from ._cli import Follower, one_line_error, thoonk, wait_until
from .test_runtime_cli import THUMBNAILS, publish_jobs

ROOT = Path(__file__).resolve().parents[2]
THUMBNAILS_NAME = "example-thumbnails"  # examples.worker_app's queue (THUMBNAILS: its keys)
SERVING = re.compile(r"serving metrics on (http://127\.0\.0\.1:(\d+)/metrics); Ctrl-C stops")


@contextmanager
def taken_port() -> Iterator[int]:
    """A loopback port something else listens on for the block."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        yield taken.getsockname()[1]


def free_ports(count: int) -> int:
    """The first of ``count`` consecutive loopback ports free now (for worker i on N+i)."""
    for _ in range(50):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            first = probe.getsockname()[1]
        if first + count - 1 > 65535:
            continue
        try:
            for port in range(first, first + count):
                with socket.socket() as probe:
                    probe.bind(("127.0.0.1", port))
        except OSError:
            continue
        return first
    raise AssertionError(f"no {count} consecutive free ports")


def test_thoonk_metrics_serves_what_statistics_says_until_ctrl_c(
    redis_url: str, t: SyncThoonk
) -> None:
    emails = t.job("emails")
    for i in range(3):
        emails.publish(i)
    claimed = emails.get(timeout=5)
    assert claimed is not None
    args = ["metrics", "--port", "0", "--url", redis_url]
    with Follower(args) as exporter:
        match = SERVING.fullmatch(exporter.line())
        assert match is not None
        samples = scrape(match.group(1))
        stats = emails.statistics()
        assert value(samples, "thoonk_up") == 1
        assert queue_values(samples, "emails") == stats_values(stats)
        assert (stats.available, stats.claimed, stats.publishes) == (2, 1, 3)
        emails.finish(claimed, "done")  # read at the next scrape, not cached
        assert value(scrape(match.group(1)), "thoonk_jobs_finished_total", queue="emails") == 1
        exporter.sigint()
        code, out, err = exporter.finish()
    assert (code, out, err) == (0, [], [])


def test_thoonk_metrics_keeps_answering_while_redis_is_down() -> None:
    with PrivateRedis() as server:
        args = ["metrics", "--port", "0", "--scrape-timeout", "1", "--url", server.url]
        with Follower(args) as exporter:
            match = SERVING.fullmatch(exporter.line())
            assert match is not None
            assert value(scrape(match.group(1)), "thoonk_up") == 1
            server.kill()
            down = scrape(match.group(1))
            assert (value(down, "thoonk_up"), value(down, "thoonk_scrape_errors_total")) == (0, 1)
            server.start()
            wait_until(lambda: value(scrape(match.group(1)), "thoonk_up") == 1, "up again")
            exporter.sigint()
            code, out, err = exporter.finish()
    assert (code, out) == (0, [])
    # One warning when it went down, one when it came back (the transport's own lines aside).
    assert [line for line in err if "metrics:" in line] == [
        "thoonk: metrics: could not read the job queues (no answer within 1 s); thoonk_up is 0",
        "thoonk: metrics: Redis answers again",
    ], err


def test_thoonk_metrics_with_names_exports_only_those(redis_url: str, t: SyncThoonk) -> None:
    t.job("emails").publish("a")
    t.job("other").publish("b")
    with Follower(["metrics", "emails", "--port", "0", "--url", redis_url]) as exporter:
        match = SERVING.fullmatch(exporter.line())
        assert match is not None
        samples = scrape(match.group(1))
        exporter.sigint()
        assert exporter.finish()[0] == 0
    assert value(samples, "thoonk_job_available", queue="emails") == 1
    assert value(samples, "thoonk_job_available", queue="other") is None


def test_thoonk_metrics_refuses_a_bad_or_taken_port(redis_url: str) -> None:
    done = thoonk("metrics", "--port", "70000", url=redis_url)
    assert one_line_error(done, 2) == (
        "argument --port: '70000' is not a TCP port from 0 to 65535 (see `thoonk metrics --help`)"
    )
    with taken_port() as port:
        done = thoonk("metrics", "--port", str(port), url=redis_url)
    assert one_line_error(done, 2) == (
        f"cannot serve metrics on 127.0.0.1:{port}: Address already in use; choose another "
        "port (or stop what listens there)"
    )
    done = thoonk("metrics", "--port", "0", "a{b}", url=redis_url)
    assert one_line_error(done, 2).startswith("object name 'a{b}' holds '{'")


def test_thoonk_metrics_without_the_library_says_what_to_install(redis_url: str) -> None:
    code = (
        "import sys; sys.modules['prometheus_client'] = None; "
        "from thoonk_actors.cli import main; sys.exit(main(sys.argv[1:]))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, "metrics", "--port", "0", "--url", redis_url],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert one_line_error(done, 2) == (
        "metrics need the prometheus-client library, which is not installed: "
        "pip install 'thoonk-actors[metrics]'"
    )


def test_worker_with_metrics_port_shows_its_handler_histogram(
    redis_url: str, t: SyncThoonk
) -> None:
    first = free_ports(2)
    args = ["worker", "examples.worker_app:app", "--processes", "2", "--url", redis_url]
    args += ["--metrics-port", str(first)]
    with Follower(args, cwd=ROOT) as worker:
        publish_jobs(redis_url, THUMBNAILS, [{"image": f"p{i}"} for i in range(40)])
        urls = [f"http://127.0.0.1:{port}/metrics" for port in (first, first + 1)]
        histogram = "thoonk_job_handler_duration_seconds_count"
        queue = THUMBNAILS_NAME

        def handled(samples: Samples) -> float:
            return value(samples, histogram, queue=queue, outcome="ok") or 0

        def all_handled() -> bool:
            try:
                return sum(handled(scrape(url)) for url in urls) == 40
            except OSError:  # a worker not listening yet
                return False

        wait_until(all_handled, "40 handler runs counted by the two workers' histograms")
        scraped = [scrape(url) for url in urls]
        stats = t.job(queue).statistics()
        worker.proc.send_signal(signal.SIGINT)
        code, _, errors = worker.finish()
    assert code == 0, errors
    for samples in scraped:
        # Each process: its own runs; both: the queue's shared figures.
        assert value(samples, "thoonk_worker_jobs_finished_total", queue=queue) == handled(samples)
        assert value(samples, "thoonk_jobs_finished_total", queue=queue) == stats.finishes == 40
        assert value(samples, "thoonk_job_workers", queue=queue) == stats.workers_alive == 2
        assert value(samples, "thoonk_up") == 1


def test_worker_metrics_port_taken_exits_2_before_any_process_starts(redis_url: str) -> None:
    with taken_port() as port:
        done = thoonk(
            "worker", "examples.worker_app:app", "--metrics-port", str(port), url=redis_url,
            cwd=ROOT,
        )  # fmt: skip
    assert one_line_error(done, 2) == (
        f"cannot serve metrics on 127.0.0.1:{port}: Address already in use; choose another "
        "port (or stop what listens there)"
    )
    done = thoonk("worker", "examples.worker_app:app", "--metrics-port", "0", url=redis_url)
    assert one_line_error(done, 2).startswith("argument --metrics-port: '0' is not a TCP port")
