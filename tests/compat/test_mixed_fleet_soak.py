"""Mixed fleet: an original-style worker process and our runtime share one queue.

A Python client publishes every job first, then waits for each result. Every
waiter must get the right result, whoever finished the job, and each job is
finished exactly once (finish counter, and the two workers' own records).
1,000 jobs in CI; ``THOONK_SOAK=1`` runs 5,000.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import redis
import trio

from thoonk_actors.objects import open_thoonk
from thoonk_actors.runtime import App, current_job

from ..polling import wait_until

ROOT = Path(__file__).resolve().parents[2]
JOBS = 5000 if os.environ.get("THOONK_SOAK") == "1" else 1000


@pytest.mark.slow
async def test_js_worker_process_and_our_runtime_answer_every_waiter_once(
    redis_url_db0: str, tmp_path: Path
) -> None:
    log_path, stop_path = tmp_path / "js-finished.txt", tmp_path / "stop"
    proc = subprocess.Popen(  # noqa: ASYNC220 (started before any trio work; waited in a thread)
        [sys.executable, "-m", "tests.compat._js_worker_proc", redis_url_db0, "mixed",
         str(log_path), str(stop_path)],
        cwd=ROOT,
    )  # fmt: skip
    ours: list[str] = []
    app = App(redis_url_db0, reap_interval=0.5, heartbeat_interval=0.5, stale_after=5.0)

    @app.job("mixed", concurrency=8)
    async def double(item: dict[str, int]) -> dict[str, object]:
        ours.append(current_job().id)
        return {"twice": item["n"] * 2, "by": "py"}

    try:
        with trio.fail_after(300):
            async with open_thoonk(redis_url_db0) as thoonk:
                queue = thoonk.job("mixed")
                ids = await queue.publish_many([{"n": n} for n in range(JOBS)])
                # The JS worker is at work before ours joins in: both take jobs.
                await wait_until(
                    lambda: log_path.exists() and log_path.stat().st_size > 0,
                    what="the JS worker's first finish",
                    deadline=60,
                )
                async with app.open():
                    results = [await queue.wait_result(job_id, timeout=120) for job_id in ids]
    finally:
        stop_path.touch()
        await trio.to_thread.run_sync(proc.wait, 30)

    assert proc.returncode == 0
    assert [r["twice"] for r in results] == [n * 2 for n in range(JOBS)]
    theirs = log_path.read_text(encoding="utf-8").split() if log_path.exists() else []
    print(f"{len(theirs)} finished by the JS worker, {len(ours)} by ours")
    assert len(theirs) + len(ours) == JOBS
    assert set(theirs).isdisjoint(ours) and set(theirs) | set(ours) == set(ids)
    assert [r["by"] for r in results] == ["js" if i in set(theirs) else "py" for i in ids]
    witness = redis.Redis.from_url(redis_url_db0)
    try:
        assert int(witness.get("job.finishes:mixed") or 0) == JOBS
    finally:
        witness.close()
