"""Connection chaos: every client of the server killed every few tenths of a second.

Policy: a private redis-server; an in-process worker app and a separate
client of waiters; a killer thread-hops ``CLIENT KILL TYPE normal`` and
``TYPE pubsub`` every ~0.4 s for the whole run. Bounded for CI;
``THOONK_SOAK=1`` runs the long form.
"""

from __future__ import annotations

import os
from typing import Any

import pytest
import redis
import trio

from thoonk_actors import App, open_thoonk

from ..transport._private_server import PrivateRedis

SOAK = os.environ.get("THOONK_SOAK") == "1"
JOBS = 5_000 if SOAK else 300
CONCURRENCY = 16 if SOAK else 8
WORK_S = 0.02 if SOAK else 0.08  # each handler's work: the run lasts several kill periods
KILL_EVERY = 0.4


@pytest.mark.slow
async def test_a_run_completes_while_every_client_is_killed_again_and_again(
    quiet_runtime: None,
) -> None:
    with PrivateRedis() as server:
        witness = redis.Redis(unix_socket_path=server.socket)
        async with open_thoonk(server.url) as producer:
            ids = await producer.job("q").publish_many(range(JOBS))

        app = App(server.url)

        @app.job("q", concurrency=CONCURRENCY)
        async def double(item: int) -> int:
            await trio.sleep(WORK_S)
            return item * 2

        results: dict[str, Any] = {}
        kills = 0
        started = trio.current_time()

        async with open_thoonk(server.url) as client, app.open():
            job = client.job("q")

            async def waiter(job_id: str) -> None:
                results[job_id] = await job.wait_result(job_id, timeout=600)

            def kill_everyone() -> None:
                witness.execute_command("CLIENT", "KILL", "TYPE", "normal")
                witness.execute_command("CLIENT", "KILL", "TYPE", "pubsub")

            with trio.fail_after(600 if SOAK else 120):
                async with trio.open_nursery() as nursery:
                    for job_id in ids:
                        nursery.start_soon(waiter, job_id)
                    while len(results) < JOBS:
                        # The fault schedule, not a wait for an effect.
                        with trio.move_on_after(KILL_EVERY):
                            await trio.sleep_forever()
                        await trio.to_thread.run_sync(kill_everyone)
                        kills += 1

            stats = await job.statistics()
        witness.close()

    print(  # the figures of docs/reliability.md (shown with -s)
        f"\nconnection chaos: {JOBS} jobs, {kills} rounds of CLIENT KILL in "
        f"{trio.current_time() - started:.1f} s, {JOBS - len(results)} waiters without "
        f"a result, finishes {stats.finishes} / publishes {stats.publishes}"
    )
    assert kills >= 3, "the run should have lived through several kills"
    assert results == {job_id: 2 * i for i, job_id in enumerate(ids)}
    assert (stats.publishes, stats.finishes) == (JOBS, JOBS)
    assert (stats.available, stats.claimed, stats.stalled) == (0, 0, 0)
