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
from typing import Any

import pytest
import redis
import trio

from thoonk_actors import App, contract, open_thoonk
from thoonk_actors.transport import open_redis

from ..polling import wait_until
from ..transport._private_server import PrivateRedis

QUIET = {"heartbeat_interval": 60.0, "stale_after": 300.0, "reap_interval": 60.0}


def paused_scripts(witness: redis.Redis) -> list[int]:
    """Ids of the clients whose script waits in the pause (flag ``b``, not a BLMOVE)."""
    clients: list[dict[str, Any]] = witness.client_list()
    return [int(c["id"]) for c in clients if "b" in c["flags"] and c["cmd"] in ("evalsha", "eval")]


def kill_paused(witness: redis.Redis) -> None:
    """Kill the clients held in the pause, then let the server go on."""
    for client_id in paused_scripts(witness):
        witness.execute_command("CLIENT", "KILL", "ID", client_id)
    witness.execute_command("CLIENT", "UNPAUSE")


async def test_a_claim_killed_in_flight_is_sent_again_at_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="thoonk_actors")
    with PrivateRedis() as server:
        witness = redis.Redis(unix_socket_path=server.socket)
        app = App(server.url, **QUIET)

        @app.job("q")
        async def double(item: int) -> int:
            return item * 2

        async with open_thoonk(server.url) as client, app.open():
            job = client.job("q")
            await wait_until(
                lambda: witness.info("clients")["blocked_clients"] == 1,
                what="the worker to wait for work (BLMOVE)",
            )
            # One pipeline, so nothing else runs in between: the publish wakes the
            # waiting worker (its BLMOVE is answered at once), the pause then holds
            # the claim the worker sends next.
            call = contract.job_publish(job.keys, "j1", job.codec.encode(21))
            pipe = witness.pipeline(transaction=False)
            pipe.execute_command("EVAL", call.script.source, len(call.keys), *call.keys, *call.args)
            pipe.execute_command("CLIENT", "PAUSE", 10_000, "WRITE")
            pipe.execute()
            try:
                await wait_until(lambda: bool(paused_scripts(witness)), what="the claim to wait")
            finally:
                kill_paused(witness)
            assert await job.wait_result("j1", timeout=10) == 42
        witness.close()

    lost = [r.getMessage() for r in caplog.records if "claimer of 'q' lost" in r.getMessage()]
    assert len(lost) == 1
    assert lost[0].endswith("restarting in 0.00 s")


async def test_a_finish_killed_in_flight_is_written_again_at_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="thoonk_actors")
    with PrivateRedis() as server:
        witness = redis.Redis(unix_socket_path=server.socket)
        app = App(server.url, **QUIET)
        started, release = trio.Event(), trio.Event()

        @app.job("q")
        async def double(item: int) -> int:
            started.set()
            await release.wait()
            return item * 2

        async with open_thoonk(server.url) as client, app.open():
            job = client.job("q")
            job_id = await job.publish(21)
            await started.wait()
            witness.execute_command("CLIENT", "PAUSE", 10_000, "WRITE")
            try:
                release.set()  # its outcome goes to the writer, whose finish waits
                await wait_until(lambda: bool(paused_scripts(witness)), what="the finish to wait")
            finally:
                kill_paused(witness)
            assert await job.wait_result(job_id, timeout=10) == 42
        witness.close()

    retries = [r.getMessage() for r in caplog.records if "could not write" in r.getMessage()]
    assert len(retries) == 1
    assert retries[0].endswith("retrying in 0.00 s")


async def test_a_job_scheduled_while_the_events_were_cut_runs_when_due(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # A waiting claimer stops its wait at the next due time it knows of; a job
    # scheduled later is announced by a ``schedule`` event. Lost in a pub/sub
    # gap, the claimer must look again after the gap, not sleep out its whole
    # wait (30 s) or wait for a reaper sweep (60 s here).
    caplog.set_level(logging.WARNING, logger="thoonk_actors")
    with PrivateRedis() as server:
        witness = redis.Redis(unix_socket_path=server.socket)
        app = App(server.url, **QUIET)

        @app.job("q")
        async def double(item: int) -> int:
            return item * 2

        async with open_thoonk(server.url) as client, app.open():
            job = client.job("q")
            await wait_until(
                lambda: witness.info("clients")["blocked_clients"] == 1,
                what="the worker to wait for work (BLMOVE)",
            )
            # One pipeline: the subscribers are gone when the publish announces
            # the job, so nobody hears of it.
            call = contract.job_publish(job.keys, "later", job.codec.encode(21), delay_ms=200)
            pipe = witness.pipeline(transaction=False)
            pipe.execute_command("CLIENT", "KILL", "TYPE", "pubsub")
            pipe.execute_command("EVAL", call.script.source, len(call.keys), *call.keys, *call.args)
            killed, _ = pipe.execute()
            assert killed >= 1
            assert await job.wait_result("later", timeout=10) == 42
        witness.close()


async def test_a_lease_renewal_killed_in_flight_is_done_again_at_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Renewals run every third of the lease (2 s here). One broken by a lost
    # connection must be redone at once: waiting another third after each
    # break lets two breaks in a row expire the claim of a running job. The
    # pause starts after the first renewal, when nothing else writes (the
    # worker's start-up scripts are done).
    caplog.set_level(logging.WARNING, logger="thoonk_actors")
    with PrivateRedis() as server:
        witness = redis.Redis(unix_socket_path=server.socket)
        app = App(server.url, **QUIET)
        started, release = trio.Event(), trio.Event()

        # No prefetch: holding its one job, the claimer has nothing to write.
        @app.job("q", timeout=6, prefetch=0)
        async def double(item: int) -> int:
            started.set()
            await release.wait()
            return item * 2

        async with open_thoonk(server.url) as client, app.open():
            job = client.job("q")
            job_id = await job.publish(21)
            await started.wait()
            claimed_at = witness.zscore(job.keys.claimed, job_id)
            await wait_until(
                lambda: witness.zscore(job.keys.claimed, job_id) != claimed_at,
                what="the first renewal",
            )
            renewed_at = witness.zscore(job.keys.claimed, job_id)
            witness.execute_command("CLIENT", "PAUSE", 10_000, "WRITE")
            try:
                await wait_until(
                    lambda: bool(paused_scripts(witness)), what="the second renewal to wait"
                )
            finally:
                kill_paused(witness)
            # Within half a renewal interval: the retry, not the next round.
            await wait_until(
                lambda: witness.zscore(job.keys.claimed, job_id) != renewed_at,
                what="the renewal to be done again",
                deadline=1.0,
            )
            release.set()
            assert await job.wait_result(job_id, timeout=10) == 42
        witness.close()

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
                    await wait_until(lambda: bool(blocked_reads(witness)), what="the read")
                    for client_id in blocked_reads(witness):
                        witness.execute_command("CLIENT", "KILL", "ID", client_id)
                    kills += 1
                    await trio.sleep(patience / 3)  # the kill schedule, not a wait for an effect
                await wait_until(lambda: bool(blocked_reads(witness)), what="the read")
                witness.lpush("src", "item")
            assert kills >= 3
            assert result == [b"item"]
        witness.close()


def blocked_reads(witness: redis.Redis) -> list[int]:
    clients: list[dict[str, Any]] = witness.client_list()
    return [int(c["id"]) for c in clients if "b" in c["flags"] and c["cmd"] == "blmove"]
