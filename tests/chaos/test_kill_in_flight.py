"""A connection killed at the exact moment it matters.

A worker's claim, finish or lease renewal in flight, its pub/sub connection
just as a job is scheduled (the event lost in the gap), or a read killed in
flight again and again while the server answers every reconnect.

Policy: a private redis-server (``CLIENT PAUSE`` stops the whole server, so
never the shared one). ``CLIENT PAUSE ... WRITE`` holds the worker's script
on the server, the test kills that client (the script never ran), then
unpauses: the worker must try again at once, not after a backoff of its own
(the connection chaos run lost up to 0.5 s per kill to such pauses while jobs
were waiting). The pause each loop took is the one its log line states.
Heartbeats and reaper sweeps are spaced out so that the only script in
flight at the kill is the one under test.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import pytest
import redis
import trio

from thoonk_actors import App, contract, open_thoonk
from thoonk_actors.objects import Job
from thoonk_actors.transport import open_redis

from ..polling import wait_until
from ..transport._private_server import PrivateRedis

QUIET = {"heartbeat_interval": 60.0, "stale_after": 300.0, "reap_interval": 60.0}


def blocked(witness: redis.Redis, *commands: str, behind: int = 0) -> list[int]:
    """Ids of the clients blocked (flag ``b``: in a pause, or a blocking read) in ``commands``.

    ``behind``: only those with more than that many bytes of commands queued
    behind the blocked one (sent, not read yet).
    """
    clients: list[dict[str, Any]] = witness.client_list()
    return [
        int(c["id"])
        for c in clients
        if "b" in c["flags"] and c["cmd"] in commands and int(c["qbuf"]) >= behind
    ]


def paused_scripts(witness: redis.Redis, behind: int = 0) -> list[int]:
    """Ids of the clients whose script waits in the pause."""
    return blocked(witness, "evalsha", "eval", behind=behind)


def kill_paused(witness: redis.Redis) -> None:
    """Kill the clients held in the pause, then let the server go on."""
    for client_id in paused_scripts(witness):
        witness.execute_command("CLIENT", "KILL", "ID", client_id)
    witness.execute_command("CLIENT", "UNPAUSE")


async def pause_and_kill(
    witness: redis.Redis, what: str, *, paused: bool = False, behind: int = 0
) -> None:
    """Pause writes (unless ``paused``), wait for ``what`` to be held, kill it, unpause."""
    if not paused:
        witness.execute_command("CLIENT", "PAUSE", 10_000, "WRITE")
    try:
        await wait_until(lambda: bool(paused_scripts(witness, behind)), what=what)
    finally:
        kill_paused(witness)


def eval_args(call: contract.Call[Any]) -> tuple[Any, ...]:
    """A contract call as an ``EVAL`` the witness sends (in a pipeline of its own)."""
    return ("EVAL", call.script.source, len(call.keys), *call.keys, *call.args)


@dataclass
class Scene:
    witness: redis.Redis
    job: Job  # the queue "q", seen from a client of the test
    release: trio.Event  # lets a held handler return


@asynccontextmanager
async def idle_worker() -> AsyncIterator[Scene]:
    """An app whose worker waits for work (BLMOVE) on an empty queue "q"."""
    async with app_scene(hold=False) as scene:
        await wait_until(
            lambda: bool(blocked(scene.witness, "blmove")), what="the worker to wait for work"
        )
        yield scene


@asynccontextmanager
async def app_scene(*, hold: bool, **options: Any) -> AsyncIterator[Scene]:
    """A private server, its witness, and an app whose handler doubles its item.

    ``hold``: the handler waits for ``scene.release`` first.
    """
    with PrivateRedis() as server:
        witness = redis.Redis(unix_socket_path=server.socket)
        app = App(server.url, **QUIET)
        release = trio.Event()
        if not hold:
            release.set()

        @app.job("q", **options)
        async def double(item: int) -> int:
            await release.wait()
            return item * 2

        async with open_thoonk(server.url) as client, app.open():
            yield Scene(witness, client.job("q"), release)
        witness.close()


async def test_a_claim_killed_in_flight_is_sent_again_at_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="thoonk_actors")
    async with idle_worker() as scene:
        # The idle worker's claim is queued behind its BLMOVE, on the same
        # connection (the server runs it as soon as the wait ends). Writes
        # paused, the test ends the wait (CLIENT UNBLOCK is no write): the
        # server takes the claim, the pause holds it, the test kills it. Then
        # the job published is claimed by the claimer restarted at once.
        job, witness = scene.job, scene.witness
        (waiting,) = blocked(witness, "blmove")
        witness.execute_command("CLIENT", "PAUSE", 10_000, "WRITE")
        assert witness.execute_command("CLIENT", "UNBLOCK", waiting) == 1
        await pause_and_kill(witness, "the claim to wait", paused=True)
        job_id = await job.publish(21)
        assert await job.wait_result(job_id, timeout=10) == 42

    lost = [r.getMessage() for r in caplog.records if "claimer of 'q' lost" in r.getMessage()]
    assert len(lost) == 1
    assert lost[0].endswith("restarting in 0.00 s")


async def test_a_finish_killed_in_flight_is_written_again_at_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # One handler, no prefetch: the claimer waits for the slot (no command) until the
    # handler returns; then it claims while the writer finishes, so two
    # scripts are held, one behind the other on the worker's connection.
    caplog.set_level(logging.WARNING, logger="thoonk_actors")
    async with app_scene(hold=True, concurrency=1, prefetch=0) as scene:
        job_id = await scene.job.publish(21)
        await running(scene, job_id)
        scene.witness.execute_command("CLIENT", "PAUSE", 10_000, "WRITE")
        scene.release.set()  # its outcome goes to the writer, whose finish waits
        await pause_and_kill(scene.witness, "the finish and a claim", paused=True, behind=1)
        assert await scene.job.wait_result(job_id, timeout=10) == 42

    retries = [r.getMessage() for r in caplog.records if "could not write" in r.getMessage()]
    assert len(retries) == 1
    assert retries[0].endswith("retrying in 0.00 s")


async def running(scene: Scene, job_id: str) -> float:
    """Wait until ``job_id`` is claimed (its handler then holds it); its claim time."""
    await wait_until(
        lambda: scene.witness.zscore(scene.job.keys.claimed, job_id) is not None,
        what="the job to be claimed",
    )
    return float(scene.witness.zscore(scene.job.keys.claimed, job_id))


async def test_a_job_scheduled_while_the_events_were_cut_runs_when_due() -> None:
    # A waiting claimer stops its wait at the next due time it knows of; a job
    # scheduled later is announced by a ``schedule`` event. Lost in a pub/sub
    # gap, the claimer must look again after the gap, not sleep out its whole
    # wait (30 s) or wait for a reaper sweep (60 s here).
    async with idle_worker() as scene:
        # One pipeline: the subscribers are gone when the publish announces
        # the job, so nobody hears of it.
        job = scene.job
        call = contract.job_publish(job.keys, "later", job.codec.encode(21), delay_ms=200)
        pipe = scene.witness.pipeline(transaction=False)
        pipe.execute_command("CLIENT", "KILL", "TYPE", "pubsub")
        pipe.execute_command(*eval_args(call))
        killed, _ = pipe.execute()
        assert killed >= 1
        assert await job.wait_result("later", timeout=10) == 42


async def test_a_lease_renewal_killed_in_flight_is_done_again_at_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Renewals run every third of the lease (2 s here). One broken by a lost
    # connection must be redone at once: waiting another third after each
    # break lets two breaks in a row expire the claim of a running job. The
    # pause starts after the first renewal, when nothing else writes (the
    # worker's start-up scripts are done). One handler, no prefetch: holding its one job,
    # the claimer has nothing to write.
    caplog.set_level(logging.WARNING, logger="thoonk_actors")
    async with app_scene(hold=True, concurrency=1, prefetch=0, timeout=6) as scene:
        witness, job = scene.witness, scene.job
        job_id = await job.publish(21)
        claimed_at = await running(scene, job_id)
        await wait_until(
            lambda: witness.zscore(job.keys.claimed, job_id) != claimed_at,
            what="the first renewal",
        )
        renewed_at = witness.zscore(job.keys.claimed, job_id)
        await pause_and_kill(witness, "the second renewal to wait")
        # Within half a renewal interval: the retry, not the next round.
        await wait_until(
            lambda: witness.zscore(job.keys.claimed, job_id) != renewed_at,
            what="the renewal to be done again",
            deadline=1.0,
        )
        scene.release.set()
        assert await job.wait_result(job_id, timeout=10) == 42

    lost = [r.getMessage() for r in caplog.records if "lost its connection" in r.getMessage()]
    assert lost and all("lease renewal of 'q'" in m for m in lost)


async def test_a_read_killed_again_and_again_is_resent_while_the_server_answers() -> None:
    # Connection chaos lost waiters this way: a read (here a blocking one) broken
    # in flight, again and again, by kills the client recovered from each time.
    # The server answered every reconnect, so the read is not given up after
    # reconnect_timeout counted from its first failure.
    patience = 0.3
    with PrivateRedis() as server:
        witness = redis.Redis(unix_socket_path=server.socket)
        async with open_redis(server.url, reconnect_timeout=patience) as client:
            result: list[Any] = []

            async def read() -> None:
                result.append(
                    await client.execute_blocking(
                        "BLMOVE", "src", "dst", "RIGHT", "LEFT", 5, block_s=5, idempotent=True
                    )
                )

            async with trio.open_nursery() as nursery:
                nursery.start_soon(read)
                started = trio.current_time()
                kills = 0
                while trio.current_time() - started < 3 * patience:
                    await wait_until(lambda: bool(blocked(witness, "blmove")), what="the read")
                    for client_id in blocked(witness, "blmove"):
                        witness.execute_command("CLIENT", "KILL", "ID", client_id)
                    kills += 1
                    await trio.sleep(patience / 3)  # the kill schedule, not a wait for an effect
                await wait_until(lambda: bool(blocked(witness, "blmove")), what="the read")
                witness.lpush("src", "item")
            assert kills >= 3
            assert result == [b"item"]
        witness.close()
