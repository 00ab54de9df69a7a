"""The runtime's restart loops follow the one backoff rule, on trio's virtual clock.

``supervise`` after connection errors (at once, then doubling to 0.5 s, at
once again after a run that worked) and the worker-process supervisor (0.5 s
doubling to 10 s, back to 0.5 s after a run of a minute). ``autojump_clock``
makes every asserted time exact. (A crash's doubling and its reset after a
healthy run: tests/runtime/test_units.py.)
"""

from __future__ import annotations

import itertools
import logging
import os

import pytest
import trio
import trio.testing

from thoonk_actors.objects import ThoonkConnectionError
from thoonk_actors.runtime import _supervisor
from thoonk_actors.runtime._supervise import supervise


async def test_supervise_restarts_after_connection_errors_at_once_then_spaced_out(
    autojump_clock: trio.testing.MockClock, caplog: pytest.LogCaptureFixture
) -> None:
    # Run lengths: five that break at once, one that worked for a second,
    # then two more that break at once; the ninth returns.
    runs = [0, 0, 0, 0, 0, 0, 1.0, 0, 0]
    starts: list[float] = []

    async def loop() -> None:
        starts.append(trio.current_time())
        ran = runs[len(starts) - 1]
        await trio.sleep(ran)
        if len(starts) < len(runs):
            raise ThoonkConnectionError("connection closed by server")

    await supervise(loop, what="claimer")
    pauses = [
        round(float(r.message.rsplit(" ", 2)[-2]), 2)
        for r in caplog.records
        if "lost its connection" in r.message
    ]
    assert pauses == [0.0, 0.05, 0.1, 0.2, 0.4, 0.5, 0.0, 0.05]
    assert starts == pytest.approx([0, 0, 0.05, 0.15, 0.35, 0.75, 1.25, 2.25, 2.3])


class _FakeProcess:
    """A worker process that runs ``seconds`` of virtual time, then exits with ``code``."""

    def __init__(self, pid: int, seconds: float, code: int) -> None:
        self.pid = pid
        self.returncode: int | None = None
        self._seconds = seconds
        self._code = code

    async def wait(self) -> int:
        await trio.sleep(self._seconds)
        self.returncode = self._code
        return self._code

    def kill(self) -> None:
        self.returncode = -9


async def test_supervisor_restarts_workers_with_backoff_reset_by_a_minute_long_run(
    autojump_clock: trio.testing.MockClock,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger=_supervisor.__name__)
    # How long each start of worker 0 runs before it exits with code 1; a
    # run of 60 s is healthy. The last start is stopped (the test's end).
    runs = [1, 1, 1, 1, 1, 1, 60, 1, 1]
    starts: list[float] = []
    pool = _supervisor._Pool([], {}, 1, burst=False, kill_after=1.0)

    async def fake_start(slot: int) -> _supervisor._Worker:
        starts.append(trio.current_time())
        read, write = os.pipe()
        os.close(read)
        last = len(starts) > len(runs)
        if last:
            pool._stopping.set()
        process = _FakeProcess(len(starts), 0 if last else runs[len(starts) - 1], 0 if last else 1)
        worker = pool._workers[slot] = _supervisor._Worker(process, write)  # type: ignore[arg-type]
        return worker

    monkeypatch.setattr(pool, "_start", fake_start)
    with trio.fail_after(1000):
        await pool._keep(0)
    restarts = [r.message for r in caplog.records if "restarting in" in r.message]
    assert [m.rsplit(" ", 2)[-2] for m in restarts] == [
        "0.5", "1.0", "2.0", "4.0", "8.0", "10.0", "0.5", "1.0", "2.0",
    ]  # fmt: skip
    assert restarts[0] == "worker 0 (pid 1) exited (exit code 1); restarting in 0.5 s"
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert gaps == [1.5, 2.0, 3.0, 5.0, 9.0, 11.0, 60.5, 2.0, 3.0]
