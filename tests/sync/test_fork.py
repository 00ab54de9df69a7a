"""A sync connection in a forked child: a clear error at once, never a hang (issue 10.5).

Real ``fork()``s: ``multiprocessing`` with the ``fork`` start method, and a
script that calls ``os.fork()`` and lets the child exit normally (atexit runs
there, and used to wait for ever for the parent's loop). Every join is bounded.
"""

from __future__ import annotations

import multiprocessing
import subprocess
import sys
import textwrap
from typing import Any

import pytest

from thoonk_actors.sync import SyncThoonk, connect

DEADLINE = 15.0

pytestmark = pytest.mark.filterwarnings(
    # Python >= 3.12 warns about fork() in a process with threads: that is the case tested.
    "ignore:This process .* is multi-threaded:DeprecationWarning"
)


def run_in_fork(target: Any, *args: Any) -> tuple[int | None, list[str]]:
    """Run ``target(queue, *args)`` in a forked child; its exit code and what it reported."""
    ctx = multiprocessing.get_context("fork")
    reports: multiprocessing.SimpleQueue[str] = ctx.SimpleQueue()
    child = ctx.Process(target=target, args=(reports, *args))
    child.start()
    child.join(DEADLINE)
    if child.exitcode is None:
        child.kill()
        child.join()
        return None, []
    out = []
    while not reports.empty():
        out.append(reports.get())
    return child.exitcode, out


def use_inherited(reports: Any, t: SyncThoonk) -> None:
    try:
        t.job("emails").publish("from the child")
    except Exception as exc:
        reports.put(f"{type(exc).__name__}: {exc}")
    else:
        reports.put("published")
    t.close()  # must not block either
    reports.put("closed")


def test_an_inherited_connection_fails_at_once_in_a_forked_child(t: SyncThoonk) -> None:
    jobs = t.job("emails")
    jobs.publish("before")
    code, reports = run_in_fork(use_inherited, t)
    assert code == 0, "the child hung or died"
    assert len(reports) == 2
    assert reports[0].startswith("PortalClosedError: this connection belongs to process ")
    assert "a fork of it" in reports[0]
    assert "sync.connect() again in the child" in reports[0]
    assert reports[1] == "closed"
    # The parent's connection is untouched by the child's attempt and close.
    jobs.publish("after")
    assert len(jobs.available_ids()) == 2


def connect_anew(reports: Any, url: str) -> None:
    with connect(url) as fresh:
        reports.put(fresh.job("emails").publish("from the child"))


def test_a_forked_child_can_connect_again(t: SyncThoonk, redis_url: str) -> None:
    code, reports = run_in_fork(connect_anew, redis_url)
    assert code == 0
    (job_id,) = reports
    assert t.job("emails").item(job_id) == "from the child"


SCRIPT = textwrap.dedent(
    """
    import os, sys, time
    from thoonk_actors import sync

    t = sync.connect(sys.argv[1])
    t.job("emails").publish("parent")
    pid = os.fork()
    if pid == 0:
        print("child exits", flush=True)
        sys.exit(0)  # a normal exit: atexit closes every sync connection
    end = time.monotonic() + float(sys.argv[2])
    while time.monotonic() < end:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            print("child exited", os.waitstatus_to_exitcode(status), flush=True)
            break
        time.sleep(0.01)
    else:
        os.kill(pid, 9)
        print("child hung", flush=True)
    t.job("emails").publish("parent again")
    print("parent works", len(t.job("emails").available_ids()), flush=True)
    """
)


def test_a_forked_child_that_exits_normally_does_not_hang(redis_url: str) -> None:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, redis_url, str(DEADLINE)],
        capture_output=True,
        text=True,
        timeout=DEADLINE * 2,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["child exits", "child exited 0", "parent works 2"]
