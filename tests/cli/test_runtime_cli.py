"""``thoonk worker``, ``thoonk demo`` and ``thoonk top`` as users run them.

Policy: every command runs as a real subprocess (``python -m thoonk_actors``),
its output read with deadlines; what the workers did is checked with redis-py,
an independent client, in the test's own database. Jobs are published from
the test with the contract's scripts. A few pure helpers (the demo's check,
top's rate and tables, the progress display) are tested directly.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import signal
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from thoonk_actors import contract
from thoonk_actors.cli._demo_app import QUEUE, RESULTS, collatz_steps
from thoonk_actors.cli._demo_report import Counters, DemoRun, problems, summary_lines
from thoonk_actors.cli._progress import Display
from thoonk_actors.cli._top import progress_bar, rate, render
from thoonk_actors.contract import FeedKeys, JobKeys, JobStats, NewJob, job_progress
from thoonk_actors.embedded import embedded_server_status, stop_embedded_server

from ..contract._redis import raw_client, run
from ._cli import Follower, in_terminal, ok, one_line_error, renew_heartbeats, thoonk, wait_until

ROOT = Path(__file__).resolve().parents[2]
NOWHERE = "unix:///tmp/thoonk-test-nowhere.sock"
DEMO = JobKeys.of(QUEUE)
THUMBNAILS, CHECKSUMS = JobKeys.of("example-thumbnails"), JobKeys.of("example-checksums")


def publish_jobs(url: str, keys: JobKeys, items: list[Any]) -> list[str]:
    """Publish ``items`` (as JSON) to a job queue with the contract's script; their ids."""
    jobs = [NewJob(f"job-{i}", json.dumps(item).encode()) for i, item in enumerate(items)]
    client = raw_client(url)
    try:
        run(client, contract.job_publish_many(keys, jobs))
    finally:
        client.close()
    return [job.id for job in jobs]


def count(client: redis.Redis, key: str) -> int:
    value = client.get(key)
    return 0 if value is None else int(value)


def result_of(client: redis.Redis, keys: JobKeys, job_id: str) -> Any:
    stored = client.hget(keys.result(job_id), "result")
    assert stored is not None, f"no result for {job_id}"
    return json.loads(stored)


def assert_drained(client: redis.Redis, keys: JobKeys) -> None:
    """Nothing queued, claimed, stalled or kept as an item: every job was finished."""
    assert client.llen(keys.ids) == 0
    assert client.zcard(keys.claimed) == 0
    assert client.scard(keys.stalled) == 0
    assert client.hlen(keys.items) == 0


# ------------------------------------------------------------------- demo


def test_demo_runs_the_jobs_through_worker_processes_and_checks_them(
    redis_url: str, sync_redis: redis.Redis
) -> None:
    done = thoonk("demo", "--jobs", "2000", "--processes", "2", "--json", url=redis_url)
    assert (done.returncode, done.stderr) == (0, ""), done
    assert done.stdout.count("\n") == 1  # the summary and nothing else
    summary = json.loads(done.stdout)
    assert {k: summary[k] for k in ("jobs", "processes", "published", "finished")} == {
        "jobs": 2000, "processes": 2, "published": 2000, "finished": 2000,
    }  # fmt: skip
    assert (summary["consistent"], summary["problems"], summary["interrupted"]) == (True, [], False)
    assert (summary["available"], summary["claimed"], summary["stalled"]) == (0, 0, 0)
    assert (summary["failures"], summary["failures_exact"], summary["reports"]) == (0, True, 10)
    assert 0 < summary["startup_seconds"] <= summary["seconds"] < 30
    assert summary["jobs_per_second"] == pytest.approx(2000 / summary["seconds"], rel=0.01)

    # What Redis holds, read by another client.
    assert (count(sync_redis, DEMO.publishes), count(sync_redis, DEMO.finishes)) == (2000, 2000)
    assert_drained(sync_redis, DEMO)
    results = sorted(sync_redis.scan_iter(match=DEMO.result("*"), count=1000))
    assert len(results) == 2000
    for key in results[:20]:
        value = json.loads(sync_redis.hget(key, "result") or b"null")
        assert value == {"n": value["n"], "steps": collatz_steps(value["n"])}
    reports = [json.loads(v) for v in sync_redis.hvals(FeedKeys.of(RESULTS).items)]
    assert sorted(r["n"] for r in reports) == list(range(200, 2001, 200))
    assert all(r["steps"] == collatz_steps(r["n"]) and r["attempt"] == 1 for r in reports)


def test_demo_for_people_starts_afresh_each_time(redis_url: str, sync_redis: redis.Redis) -> None:
    for jobs in (1000, 300):
        done = thoonk("demo", "--jobs", str(jobs), "--processes", "1", url=redis_url)
        assert (done.returncode, done.stderr) == (0, ""), done
        lines = done.stdout.splitlines()
        assert lines[0] == f"Thoonk demo on {redis_url}."
        assert lines[1].startswith(f"Published {jobs:,} jobs to the job queue 'thoonk-demo' in ")
        assert lines[2] == (
            "Starting 1 worker process: thoonk worker thoonk_actors.cli._demo_app:app "
            "--processes 1 --burst"
        )
        step = jobs // 10
        reports = [line for line in lines if line.startswith("  job ")]
        assert sorted(int(r.split()[1].rstrip(":").replace(",", "")) for r in reports) == list(
            range(step, jobs + 1, step)
        )
        progress = [line for line in lines if line.startswith("progress: ")]
        assert progress[-1] == f"progress: {jobs:,} / {jobs:,} finished (100%)"
        summary = lines[lines.index("Summary") :]
        assert (
            summary[1] == f"  jobs        {jobs:,} published, {jobs:,} finished by 1 worker process"
        )
        assert summary[2].startswith("  time        ")
        assert summary[3].startswith("  rate        ")
        assert summary[4] == "  failures    0"
        assert summary[5] == (
            f"  counters    publishes +{jobs:,}, finishes +{jobs:,}; "
            "0 available, 0 claimed, 0 stalled"
        )
        assert summary[6].startswith("all counters consistent (10 reports in the results feed")
        assert summary[7].startswith("Look again with `thoonk top --once`")
        assert len(summary) == 8
        assert count(sync_redis, DEMO.finishes) == jobs  # deleted first: this run's only
        assert sync_redis.hlen(FeedKeys.of(RESULTS).items) == 10


def test_demo_on_a_terminal_draws_one_progress_line(redis_url: str) -> None:
    code, output = in_terminal(["demo", "--jobs", "500", "--processes", "1", "--url", redis_url])
    assert code == 0, output
    assert "\r" + "█" * 24 + "  500 / 500 finished (100%)\x1b[K\r\n" in output
    assert "all counters consistent" in output
    assert "progress:" not in output  # no plain lines on a terminal


@pytest.fixture
def data_dir() -> Iterator[str]:
    root = tempfile.mkdtemp(prefix="th-", dir="/tmp" if os.path.isdir("/tmp") else None)
    path = os.path.join(root, "d")
    try:
        yield path
    finally:
        stop_embedded_server(path)
        shutil.rmtree(root, ignore_errors=True)


def test_demo_without_a_url_starts_the_embedded_server_and_says_so(data_dir: str) -> None:
    done = thoonk("demo", "--jobs", "200", "--processes", "1", "--data-dir", data_dir)
    assert (done.returncode, done.stderr) == (0, ""), done
    lines = done.stdout.splitlines()
    socket = os.path.join(data_dir, "redis.sock")
    assert lines[0] == (
        f"Thoonk demo on unix://{socket}?db=0 (the embedded Redis, started for the demo)."
    )
    assert lines[-1] == (
        f"The demo started the embedded Redis server (data in {data_dir}); it keeps running "
        "for the next command: `thoonk server stop` stops it."
    )
    assert embedded_server_status(data_dir) is not None


def test_demo_cannot_reach_redis() -> None:
    done = thoonk("demo", "--url", NOWHERE, "--connect-timeout", "1")
    assert one_line_error(done, 3).startswith(f"cannot connect to Redis at {NOWHERE}?db=0 ")


def test_the_demo_check_says_what_is_off() -> None:
    demo = DemoRun(jobs=100, processes=2, reports=10, workers_code=0, seconds=1.0)
    before = Counters(publishes=5, finishes=5, available=0, claimed=0, stalled=0)
    good = Counters(publishes=105, finishes=105, available=0, claimed=0, stalled=0)
    right = ({"n": 100, "steps": 25}, {"n": 100, "steps": 25})
    assert problems(demo, before, good, feed_length=10, last_result=right) == []
    bad = Counters(publishes=105, finishes=102, available=1, claimed=2, stalled=0)
    demo.workers_code = 1
    assert problems(demo, before, bad, feed_length=9, last_result=None) == [
        "100 jobs were published but 97 finished",
        "1 job still queued",
        "2 jobs still claimed",
        "the results feed holds 9 reports, not 10",
        "the last job's result could not be read",
        "the worker processes' supervisor exited with code 1",
    ]
    lines = summary_lines(demo, before, bad, ["x"])
    assert not any("consistent" in line for line in lines)


# ----------------------------------------------------------------- worker


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT])
def test_worker_processes_jobs_in_two_processes_until_a_signal(
    redis_url: str, sync_redis: redis.Redis, stop: signal.Signals
) -> None:
    args = ["worker", "examples.worker_app:app", "--processes", "2", "--url", redis_url]
    with Follower(args, cwd=ROOT) as worker:
        first = worker.err_line()
        assert first.endswith(
            "INFO thoonk_actors.cli._worker: running 2 worker processes of "
            "examples.worker_app:app (job queues example-checksums, example-thumbnails) on "
            f"{redis_url}; Ctrl-C or SIGTERM stops them gracefully"
        )
        thumbnails = publish_jobs(redis_url, THUMBNAILS, [{"image": f"p{i}"} for i in range(300)])
        checksums = publish_jobs(redis_url, CHECKSUMS, [{"data": f"b{i}"} for i in range(300)])
        wait_until(lambda: count(sync_redis, THUMBNAILS.finishes) == 300, "300 thumbnails")
        wait_until(lambda: count(sync_redis, CHECKSUMS.finishes) == 300, "300 checksums")
        # Two processes, each heartbeating on each queue.
        wait_until(lambda: sync_redis.zcard(THUMBNAILS.workers) == 2, "2 live workers")
        assert result_of(sync_redis, THUMBNAILS, thumbnails[7]) == {
            "thumbnail": "p7.small.png", "attempt": 1,
        }  # fmt: skip
        digest = result_of(sync_redis, CHECKSUMS, checksums[0])
        assert isinstance(digest, str) and len(digest) == 64
        worker.proc.send_signal(stop)
        code, _, errors = worker.finish()
    assert code == 0, errors
    assert errors[-1].endswith("INFO thoonk_actors.cli._worker: every worker stopped")
    for keys in (THUMBNAILS, CHECKSUMS):
        assert_drained(sync_redis, keys)
        assert sync_redis.zcard(keys.workers) == 0  # each said goodbye
    assert (count(sync_redis, THUMBNAILS.finishes), count(sync_redis, CHECKSUMS.finishes)) == (
        300,
        300,
    )


def test_worker_burst_stops_once_the_queues_are_drained(
    redis_url: str, sync_redis: redis.Redis
) -> None:
    publish_jobs(redis_url, THUMBNAILS, [{"image": f"p{i}"} for i in range(50)])
    args = ["worker", "examples.worker_app:app", "--burst", "--grace", "1"]
    done = thoonk(*args, url=redis_url, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert count(sync_redis, THUMBNAILS.finishes) == 50
    assert_drained(sync_redis, THUMBNAILS)


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("examples.worker_app", "'examples.worker_app' is not 'module:app' (for example "),
        ("no_such_module:app", "cannot import 'no_such_module' for 'no_such_module:app': "),
        ("examples.worker_app:nothing", "module 'examples.worker_app' has no attribute 'nothing'"),
        ("examples.worker_app:N", "'examples.worker_app:N' is a int, not a thoonk_actors App"),
        ("broken:app", "importing 'broken:app' failed: RuntimeError: no config file"),
        ("empty:app", "the App at 'empty:app' has no handlers; register some with @app.job"),
    ],
)
def test_worker_with_a_bad_target_exits_2_before_touching_redis(
    target: str, message: str, tmp_path: Path
) -> None:
    (tmp_path / "broken.py").write_text('raise RuntimeError("no config file")\n')
    (tmp_path / "empty.py").write_text("from thoonk_actors.runtime import App\napp = App()\n")
    env = {"PYTHONPATH": str(tmp_path)}  # examples from the current directory, these from here
    done = thoonk("worker", target, url=NOWHERE, env=env, cwd=ROOT)  # Redis is not asked
    assert one_line_error(done, 2).startswith(message)


def test_worker_cannot_reach_redis() -> None:
    done = thoonk(
        "worker", "examples.worker_app:app", "--connect-timeout", "1", url=NOWHERE, cwd=ROOT
    )
    assert one_line_error(done, 3).startswith(f"cannot connect to Redis at {NOWHERE}?db=0 ")


def test_worker_usage_errors() -> None:
    done = thoonk("worker", "examples.worker_app:app", "--processes", "0")
    assert one_line_error(done, 2) == (
        "argument --processes: '0' is not a number of processes >= 1 (see `thoonk worker --help`)"
    )
    assert "thoonk worker examples.worker_app:app --processes 2" in ok("worker", "--help")


# -------------------------------------------------------------------- top


def test_top_once_json_shows_every_object_with_its_counts(
    redis_url: str, sync_redis: redis.Redis
) -> None:
    publish_jobs(redis_url, JobKeys.of("emails"), ["a", "b", "c"])
    publish_jobs(redis_url, JobKeys.of("reports"), ["r"])
    ok("get", "emails", url=redis_url)  # job-0: claimed
    ok("get", "emails", url=redis_url)  # job-1
    ok("finish", "emails", "job-1", url=redis_url)
    ok("publish", "feed", "news", "hello", url=redis_url)
    ok("publish", "queue", "tasks", "1", url=redis_url)
    workers = sync_redis.zcard("job.workers:emails")  # one per `get`, alive for 15 s
    renew_heartbeats(sync_redis, "job.workers:emails")
    done = thoonk("top", "--once", "--json", "--interval", "0.2", url=redis_url)
    assert (done.returncode, done.stderr) == (0, ""), done
    snapshot = json.loads(done.stdout)
    assert done.stdout.count("\n") == 1 and snapshot["time"].endswith("+00:00")
    assert snapshot["objects"] == [
        {
            "type": "job", "name": "emails", "registered": True,
            "available": 1, "claimed": 1, "stalled": 0,
            "scheduled": 0, "publishes": 3, "finishes": 1, "rate": 0.0, "workers": workers,
            "held": None,
            "progress": [],
        },
        {
            "type": "job", "name": "reports", "registered": True,
            "available": 1, "claimed": 0, "stalled": 0,
            "scheduled": 0, "publishes": 1, "finishes": 0, "rate": 0.0, "workers": 0,
            "held": None,
            "progress": [],
        },
        {"type": "feed", "name": "news", "registered": True, "length": 1},
        {"type": "queue", "name": "tasks", "registered": True, "length": 1},
    ]  # fmt: skip
    assert workers == 2

    table = thoonk("top", "--once", "--interval", "0.1", url=redis_url)
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    assert lines[0].startswith(f"thoonk top  {redis_url}  ")
    assert lines[2:] == [
        "JOB      AVAILABLE  CLAIMED  STALLED  SCHEDULED  PUBLISHES  FINISHES  RATE/S  WORKERS"
        "  HELD",
        "emails           1        1        0          0          3         1     0.0        2"
        "     -",
        "reports          1        0        0          0          1         0     0.0        0"
        "     -",
        "",
        "FEED  LENGTH",
        "news       1",
        "",
        "QUEUE  LENGTH",
        "tasks       1",
    ]


def test_top_shows_the_progress_of_running_jobs(redis_url: str, sync_redis: redis.Redis) -> None:
    keys = JobKeys.of("emails")
    publish_jobs(redis_url, keys, ["a", "b"])
    ok("get", "emails", url=redis_url)  # job-0: claimed, reports progress
    ok("get", "emails", url=redis_url)  # job-1: claimed, reports nothing
    owner = sync_redis.hget(keys.owners, "job-0")
    assert owner is not None
    token = owner.decode().rpartition(":")[2]
    run(sync_redis, job_progress(keys, "job-0", token, 0.4, {"step": "upload"}))
    done = thoonk("top", "--once", "--json", "--interval", "0.1", url=redis_url)
    [row] = json.loads(done.stdout)["objects"]
    assert row["progress"] == [{"id": "job-0", "fraction": 0.4, "info": {"step": "upload"}}]
    table = thoonk("top", "--once", "--interval", "0.1", url=redis_url)
    lines = table.stdout.splitlines()
    assert lines[-2:] == [
        "JOB     RUNNING  PROGRESS                     INFO",
        'emails  job-0    [########............]  40%  {"step":"upload"}',
    ]


def test_top_progress_bar() -> None:
    assert progress_bar(0.0, 4) == "[....]   0%"
    assert progress_bar(0.5, 4) == "[##..]  50%"
    assert progress_bar(1.0, 4) == "[####] 100%"


def test_top_follows_until_ctrl_c(redis_url: str) -> None:
    publish_jobs(redis_url, JobKeys.of("emails"), ["a"])
    with Follower(["top", "--interval", "0.2", "--url", redis_url]) as top:
        for snapshot in range(2):  # one after the other, as plain text: not a terminal
            assert top.line().startswith(f"thoonk top  {redis_url}  ")
            assert top.line() == ""
            assert top.line().startswith("JOB ")
            rate_column = "-" if snapshot == 0 else "0.0"  # no rate before a second snapshot
            assert top.line().split()[-3] == rate_column
            assert top.line() == ""
        top.sigint()
        code, _, errors = top.finish()
    assert (code, errors) == (0, [])


def test_top_on_a_terminal_redraws_in_place(redis_url: str) -> None:
    publish_jobs(redis_url, JobKeys.of("emails"), ["a"])

    def drawn_twice(output: str) -> bool:
        return output.count("\x1b[H") >= 2 and output.endswith("\x1b[J")

    args = ["top", "--interval", "0.1", "--url", redis_url]
    code, output = in_terminal(args, until=drawn_twice)
    assert code == 0, output
    assert output.startswith("\x1b[?25l\x1b[2J\x1b[Hthoonk top  ")
    second = output[output.index("\x1b[H", 4) :]  # drawn again from the top left
    assert second.startswith("\x1b[Hthoonk top  ")
    row = "emails          1        0        0          0          1         0     0.0"
    assert "\x1b[K\r\n" + row in second
    assert output.endswith("\x1b[?25h")  # the cursor is shown again


def test_top_cannot_reach_redis() -> None:
    done = thoonk("top", "--once", "--connect-timeout", "1", url=NOWHERE)
    assert one_line_error(done, 3).startswith(f"cannot connect to Redis at {NOWHERE}?db=0 ")


def stats(at_ms: int, finishes: int) -> JobStats:
    return JobStats(at_ms, 0, 0, 0, 0, finishes, finishes, 0)


def test_top_rate_is_finishes_per_second_of_server_time() -> None:
    assert rate(stats(3_000, 500), stats(1_000, 100)) == 200.0
    assert rate(stats(1_000, 100), None) is None  # the first snapshot
    assert rate(stats(1_000, 100), stats(1_000, 50)) is None  # the same millisecond
    assert rate(stats(2_000, 0), stats(1_000, 50)) is None  # deleted meanwhile


def test_top_tables() -> None:
    assert render([]) == ["No Thoonk objects."]
    row = {
        "type": "job", "name": "q", "registered": True, "available": 1, "claimed": 2, "stalled": 3,
        "scheduled": 0, "publishes": 4, "finishes": 5, "rate": 12345.6, "workers": 6,
        "held": None,
    }  # fmt: skip
    slow = {**row, "name": "slow", "rate": 0.25, "held": "rate"}
    assert render([row, slow, {**row, "rate": None, "held": "concurrency"}]) == [
        "JOB   AVAILABLE  CLAIMED  STALLED  SCHEDULED  PUBLISHES  FINISHES  RATE/S  WORKERS"
        "         HELD",
        "q             1        2        3          0          4         5  12,346        6"
        "            -",
        "slow          1        2        3          0          4         5     0.2        6"
        "         rate",
        "q             1        2        3          0          4         5       -        6"
        "  concurrency",
    ]


# ---------------------------------------------------------------- display


class FakeTerminal(io.StringIO):
    encoding = "utf-8"

    def isatty(self) -> bool:
        return True


def test_progress_on_a_terminal_is_one_line_with_notes_above() -> None:
    out = FakeTerminal()
    display = Display(out, columns=100)
    display.progress(0, 10, rate=None, workers=0)
    display.note("a note")
    display.progress(10, 10, rate=5.0, workers=2, final=True)
    display.close()
    bar = "\r" + "░" * 24 + "  0 / 10 finished (0%)  0 workers alive"
    assert out.getvalue() == (
        f"{bar}\x1b[K"
        f"\ra note\x1b[K\n{bar[1:]}"
        "\r" + "█" * 24 + "  10 / 10 finished (100%)  5 jobs/s  2 workers alive\x1b[K"
        "\n"
    )


@pytest.mark.parametrize(
    ("columns", "line"),
    [
        (60, "██░░░  5 / 10 finished (50%)  1,234 jobs/s  2 workers alive"),
        (40, "5 / 10 finished (50%)  1,234 jobs/s  2 "),  # no room for a bar
    ],
)
def test_progress_fits_a_narrow_terminal(columns: int, line: str) -> None:
    out = FakeTerminal()
    Display(out, columns=columns).progress(5, 10, rate=1234.0, workers=2)
    assert out.getvalue() == f"\r{line}\x1b[K"
    assert len(line) < columns  # a wrapped line could not be drawn again in place


def test_progress_as_plain_lines_is_throttled_and_quiet_with_json() -> None:
    out = io.StringIO()
    display = Display(out)
    display.progress(1, 10, rate=None, workers=1)
    display.progress(2, 10, rate=None, workers=1)  # too soon: skipped
    display.progress(10, 10, final=True)
    display.close()
    assert out.getvalue() == (
        "progress: 1 / 10 finished (10%)  1 worker alive\nprogress: 10 / 10 finished (100%)\n"
    )
    quiet = io.StringIO()
    silent = Display(quiet, quiet=True)
    silent.note("x")
    silent.progress(1, 1, final=True)
    assert quiet.getvalue() == ""
