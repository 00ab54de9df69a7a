"""``run_workers(..., worker_setup=WorkerSetup(...))``: a hook run around the app in each worker.

The hook's checks are plain unit tests; that it runs in real worker processes
(each told its slot, entered before the app runs, ended after it stopped,
seeing the process's statistics) is tested with ``run_workers`` in its own
process, the way users start it, in burst mode so it ends by itself.
"""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import trio

from tests.polling import eventually
from thoonk_actors import UsageError
from thoonk_actors.objects import open_thoonk
from thoonk_actors.runtime import WorkerSetup, run_workers

ROOT = Path(__file__).resolve().parents[2]
RECORD = "tests.runtime._setup_hooks:open_record"


def test_a_setup_crosses_to_the_worker_as_json_unchanged() -> None:
    setup = WorkerSetup(RECORD, {"out": "/tmp/x", "n": [1, 2.5, None, True], "d": {"k": "v"}})
    assert WorkerSetup.from_json(setup.to_json()) == setup


@pytest.mark.parametrize(
    ("function", "kwargs", "why"),
    [
        ("tests.runtime._setup_hooks", {}, "'module:function'"),
        (":open_record", {}, "'module:function'"),
        (RECORD, {"when": (1, 2)}, "as JSON"),  # a tuple would come back a list
        (RECORD, {"ids": {1, 2}}, "as JSON"),
        (RECORD, {"x": math.nan}, "as JSON"),
        (RECORD, {"d": {1: "a"}}, "as JSON"),  # an int key would come back a str
        (RECORD, {1: "a"}, "str keys"),
    ],
)
def test_a_setup_that_cannot_cross_is_refused_at_once(
    function: str, kwargs: dict[object, object], why: str
) -> None:
    with pytest.raises(UsageError, match=why):
        WorkerSetup(function, kwargs)  # type: ignore[arg-type]


def test_a_setup_text_that_is_not_one_is_a_usage_error() -> None:
    for text in ("{", "[]", '{"kwargs": {}}', '{"function": 3}'):
        with pytest.raises(UsageError, match="worker setup"):
            WorkerSetup.from_json(text)


def test_loading_a_setup_explains_what_is_missing() -> None:
    assert WorkerSetup(RECORD).load().__name__ == "open_record"
    with pytest.raises(UsageError, match="cannot import"):
        WorkerSetup("tests.runtime.no_such_hooks:open").load()
    with pytest.raises(UsageError, match="no attribute"):
        WorkerSetup("tests.runtime._setup_hooks:nope").load()
    with pytest.raises(UsageError, match="is a str, not a function"):
        WorkerSetup("tests.runtime.test_worker_setup:RECORD").load()


def test_run_workers_refuses_a_bad_setup_before_any_worker_starts() -> None:
    with pytest.raises(UsageError, match="no attribute 'nope'"):
        run_workers("tests.runtime.apps:app", 1, worker_setup=WorkerSetup("tests.runtime:nope"))
    with pytest.raises(UsageError, match="must be a WorkerSetup, not a str"):
        run_workers("tests.runtime.apps:app", 1, worker_setup=RECORD)  # type: ignore[arg-type]


def test_run_workers_metrics_port_was_removed_and_says_what_to_use() -> None:
    with pytest.raises(UsageError, match=r"worker_setup=worker_exporter\(port, host\)"):
        run_workers("tests.runtime.apps:app", 1, metrics_port=9100)


def _env(redis_url: str, queue: str) -> dict[str, str]:
    return {
        **os.environ,
        "THOONK_REDIS_URL": redis_url,
        "THOONK_LOG_LEVEL": "WARNING",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
        "T_QUEUE": queue,
    }


def _records(out: Path) -> list[dict[str, Any]]:
    """What each worker's hook wrote (read once the processes are gone)."""
    return [json.loads(path.read_text()) for path in sorted(out.glob("slot-*.json"))]


@pytest.mark.slow
async def test_each_worker_process_runs_the_hook_around_its_app(
    redis_url: str, tmp_path: Path
) -> None:
    queue, n = "setup-hook", 60
    async with open_thoonk(redis_url) as thoonk:
        await thoonk.job(queue).publish_many([{"i": i, "sleep": 0.005} for i in range(n)])
    setup = WorkerSetup(RECORD, {"out": str(tmp_path)})
    supervisor = (
        "import sys; from thoonk_actors.runtime import WorkerSetup, run_workers; "
        "sys.exit(run_workers('tests.runtime.apps:app', 2, burst=True, "
        "worker_setup=WorkerSetup.from_json(sys.argv[1])))"
    )
    with trio.fail_after(60):
        done = await trio.run_process(
            [sys.executable, "-c", supervisor, setup.to_json()],
            env=_env(redis_url, queue),
            cwd=ROOT,
            capture_stderr=True,
            check=False,
        )
    assert done.returncode == 0, done.stderr.decode()
    records = _records(tmp_path)
    assert sorted(r["slot"] for r in records) == [0, 1]  # one run each: burst, none restarted
    for record in records:
        assert record["jobs"] == [queue]
        assert record["running_at_entry"] is False  # entered before the app ran
        assert record["running_worker_id"] == record["client_worker_id"]
        assert f":{record['pid']}:" in record["client_worker_id"]  # its own process's client
    assert sum(r["finished"][queue] for r in records) == n


def test_a_setup_that_returns_no_context_manager_ends_the_worker_with_code_2(
    redis_url: str,
) -> None:
    setup = WorkerSetup("tests.runtime._setup_hooks:not_a_context_manager")
    child = [sys.executable, "-m", "thoonk_actors.runtime._child", "tests.runtime.apps:app"]
    done = subprocess.run(
        [*child, "--setup", setup.to_json(), "--slot", "0"],
        env=_env(redis_url, "setup-mistake"),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2, done.stderr
    assert "returned a str, not an async context manager" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_hook_stuck_in_its_clean_up_ends_at_the_third_signal(
    redis_url: str, tmp_path: Path
) -> None:
    setup = WorkerSetup("tests.runtime._setup_hooks:open_stuck", {"out": str(tmp_path)})
    child = [sys.executable, "-m", "thoonk_actors.runtime._child", "tests.runtime.apps:app"]
    log = tmp_path / "stderr"
    with log.open("w") as stderr:
        proc = subprocess.Popen(
            [*child, "--setup", setup.to_json()],
            env={**_env(redis_url, "setup-stuck"), "THOONK_LOG_LEVEL": "INFO"},
            cwd=ROOT,
            stderr=stderr,
            start_new_session=True,
        )
    try:
        eventually((tmp_path / "running").exists, "the app to run")
        proc.send_signal(signal.SIGINT)
        eventually((tmp_path / "closing").exists, "the hook's block to end")
        proc.send_signal(signal.SIGINT)
        eventually(lambda: "stopping at once" in log.read_text(), "the second signal")
        assert proc.poll() is None  # still waiting for the hook
        proc.send_signal(signal.SIGINT)
        code = proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    errors = log.read_text()
    assert code == 0, errors
    assert "a third time: cancelling everything" in errors
    assert "Traceback" not in errors
