"""Worker SIGKILL storm: `thoonk worker --processes 3`, one worker killed every ~0.5 s.

Policy: the workers are started the way users start them (the ``thoonk
worker`` command, which restarts a worker that dies) and killed with real
SIGKILLs; everything is observed through Redis: a finish subscription opened
before anything is published, every job's ``wait_result``, and the queue's
statistics. Bounded for CI; ``THOONK_SOAK=1`` runs 5,000 jobs.
"""

from __future__ import annotations

import collections
import os
import random
import signal
import sys
from pathlib import Path
from typing import Any

import pytest
import trio

from thoonk_actors import open_thoonk
from thoonk_actors.transport import Gap

from ..polling import wait_until

ROOT = Path(__file__).resolve().parents[2]
SOAK = os.environ.get("THOONK_SOAK") == "1"
JOBS = 5_000 if SOAK else 500
WORK_S = 0.05 if SOAK else 0.1
KILL_EVERY = 0.5
QUEUE = "storm"
#: ``thoonk ...`` as users run it (the console script, without relying on PATH).
THOONK = "import sys; from thoonk_actors.cli import main; sys.exit(main())"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.slow
async def test_workers_killed_every_half_second_lose_nothing(redis_url: str) -> None:
    env = {
        **os.environ,
        "T_QUEUE": QUEUE,
        "THOONK_LOG_LEVEL": "CRITICAL",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }
    finished: collections.Counter[str] = collections.Counter()
    results: dict[str, Any] = {}
    killed: list[int] = []
    async with open_thoonk(redis_url) as thoonk:
        queue = thoonk.job(QUEUE)
        async with queue.events(["finish"], buffer=JOBS * 2) as events:
            ids = await queue.publish_many([{"i": i, "sleep": WORK_S} for i in range(JOBS)])
            argv = [sys.executable, "-c", THOONK, "worker", "tests.runtime.apps:app"]
            argv += ["--processes", "3", "--url", redis_url, "--grace", "5"]
            proc = await trio.lowlevel.open_process(argv, env=env, cwd=ROOT)
            started = trio.current_time()
            try:
                with trio.fail_after(600 if SOAK else 180):
                    async with trio.open_nursery() as nursery:

                        async def waiter(job_id: str) -> None:
                            results[job_id] = await queue.wait_result(job_id)

                        async def count() -> None:
                            async for event in events:
                                assert not isinstance(event, Gap), "the test missed events"
                                if event.id is not None:
                                    finished[event.id] += 1

                        for job_id in ids:
                            nursery.start_soon(waiter, job_id)
                        nursery.start_soon(count)
                        while len(results) < JOBS:
                            # The fault schedule, not a wait for an effect.
                            with trio.move_on_after(KILL_EVERY):
                                await trio.sleep_forever()
                            pids = {int(w.rsplit(":", 2)[1]) for w, _ in await queue.workers()}
                            live = [p for p in pids if p not in killed and _alive(p)]
                            if len(live) >= 2:  # keep one working: the storm must end
                                victim = random.choice(live)
                                os.kill(victim, signal.SIGKILL)
                                killed.append(victim)
                        await wait_until(lambda: len(finished) == JOBS, what="every finish event")
                        nursery.cancel_scope.cancel()
            finally:
                if proc.returncode is None:
                    proc.send_signal(signal.SIGTERM)
                    with trio.move_on_after(20):
                        await proc.wait()
                    if proc.returncode is None:
                        proc.kill()
                        await proc.wait()
        stats = await queue.statistics()
    print(  # the figures of docs/reliability.md (shown with -s)
        f"\nworker storm: {JOBS} jobs, {len(killed)} SIGKILLs in "
        f"{trio.current_time() - started:.1f} s, {JOBS - len(finished)} lost, "
        f"{sum(c - 1 for c in finished.values())} finished twice"
    )
    assert len(killed) >= 3, "the storm should have killed several workers"
    assert results == {job_id: {"i": i} for i, job_id in enumerate(ids)}
    assert set(finished) == set(ids)
    assert max(finished.values()) == 1  # no job finished twice
    assert (stats.publishes, stats.finishes) == (JOBS, JOBS)
    assert (stats.available, stats.claimed, stats.stalled) == (0, 0, 0)
