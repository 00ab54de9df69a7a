"""What is sent again across a broken connection or a loading server, with real faults.

Policy: a private redis-server per test (``CLIENT KILL`` and restarts must not
reach the session's server); faults are real (``CLIENT KILL``, a server
restarted on a large AOF); every wait on an effect polls with a deadline.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Iterator
from functools import partial

import pytest
import redis
import trio

from thoonk_actors import (
    ThoonkAuthenticationError,
    ThoonkConnectionError,
    ThoonkTimeoutError,
    UsageError,
    open_thoonk,
)
from thoonk_actors.transport import RedisConfig, ThoonkLoadingError, open_redis
from thoonk_actors.transport._connect import open_stream
from thoonk_actors.transport._retry import may_resend
from thoonk_actors.transport._socket import PlainSocketStream

from ..polling import wait_until
from ._private_server import PrivateRedis


@pytest.fixture
def server() -> Iterator[PrivateRedis]:
    with PrivateRedis() as private:
        yield private


@pytest.fixture
def witness(server: PrivateRedis) -> Iterator[redis.Redis]:
    client = redis.Redis(unix_socket_path=server.socket)
    try:
        yield client
    finally:
        client.close()


def _blocked(witness: redis.Redis, *, exclude: set[int] = frozenset()) -> set[int]:  # type: ignore[assignment]
    """Ids of the clients blocked in BLMOVE right now (minus ``exclude``)."""
    return {int(c["id"]) for c in witness.client_list() if c.get("cmd") == "blmove"} - exclude


async def test_get_with_a_timeout_survives_client_kill(
    server: PrivateRedis, witness: redis.Redis
) -> None:
    async with open_thoonk(server.url) as thoonk, open_thoonk(server.url) as publisher:
        job = thoonk.job("q")
        got: list[object] = []

        async def getter() -> None:
            claimed = await job.get(timeout=10)
            got.append(claimed.item if claimed is not None else None)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(getter)
            await wait_until(lambda: bool(_blocked(witness)), what="get() to block")
            first = _blocked(witness)
            witness.execute_command("CLIENT", "KILL", "TYPE", "normal")
            # The wait is sent again on a new connection, not failed.
            await wait_until(
                lambda: bool(_blocked(witness, exclude=first)), what="the wait to be resent"
            )
            await publisher.job("q").publish({"n": 1})
        assert got == [{"n": 1}]


async def test_get_on_an_empty_queue_returns_none_after_client_kill(
    server: PrivateRedis, witness: redis.Redis
) -> None:
    async with open_thoonk(server.url) as thoonk:
        results: list[object] = []

        async def getter() -> None:
            results.append(await thoonk.job("q").get(timeout=3))

        async with trio.open_nursery() as nursery:
            nursery.start_soon(getter)
            await wait_until(lambda: bool(_blocked(witness)), what="get() to block")
            witness.execute_command("CLIENT", "KILL", "TYPE", "normal")
        assert results == [None]


async def test_a_blocking_command_not_declared_idempotent_is_not_resent(
    server: PrivateRedis, witness: redis.Redis
) -> None:
    async with open_redis(server.url) as client:
        with trio.fail_after(10):
            async with trio.open_nursery() as nursery:

                async def killer() -> None:
                    await wait_until(lambda: bool(_blocked(witness)), what="BLMOVE to block")
                    witness.execute_command("CLIENT", "KILL", "TYPE", "normal")

                nursery.start_soon(killer)
                with pytest.raises(ThoonkConnectionError, match="may or may not have run"):
                    await client.execute_blocking("BLMOVE", "a", "b", "RIGHT", "LEFT", 5, block_s=5)


async def test_waiters_and_reads_survive_client_kill_normal_and_pubsub(
    server: PrivateRedis, witness: redis.Redis
) -> None:
    """Kill every normal and pub/sub client over and over while reads and waits run.

    A stream of reads keeps one always in flight, so each kill breaks some
    read mid-way: all of them must still succeed, and every waiter must get
    its job's result once the jobs are finished.
    """
    async with open_thoonk(server.url) as thoonk, open_thoonk(server.url) as worker:
        job = thoonk.job("q")
        ids = [await job.publish(i) for i in range(40)]
        results: dict[str, object] = {}
        reads = 0
        stop = trio.Event()

        async def waiter(job_id: str) -> None:
            results[job_id] = await job.wait_result(job_id, timeout=60)

        async def reader() -> None:
            nonlocal reads
            while not stop.is_set():
                stats = await job.statistics()
                assert stats.publishes == 40
                reads += 1

        async with trio.open_nursery() as nursery:
            for job_id in ids:
                nursery.start_soon(waiter, job_id)
            for _ in range(10):
                nursery.start_soon(reader)
            for _round in range(6):
                seen = reads
                await wait_until(lambda: reads > seen + 50, what="reads to flow")  # noqa: B023
                # From a thread, so the kill lands while our reads are on the wire.
                await trio.to_thread.run_sync(
                    witness.execute_command, "CLIENT", "KILL", "TYPE", "normal"
                )
                await trio.to_thread.run_sync(
                    witness.execute_command, "CLIENT", "KILL", "TYPE", "pubsub"
                )
            # The jobs are finished by another client (its own calls may be
            # killed too: those are not reads, so it simply tries again).
            queue = worker.job("q")
            while True:
                try:
                    claimed = await queue.get(timeout=0)
                    if claimed is None:
                        break
                    await queue.finish(claimed, {"done": claimed.item})
                except ThoonkConnectionError:
                    continue
            await wait_until(lambda: len(results) == 40, what="every waiter's result", deadline=30)
            stop.set()
        assert results == {job_id: {"done": i} for i, job_id in enumerate(ids)}


def _fill_aof(server: PrivateRedis, keys: int) -> None:
    """Write ``keys`` incompressible values and compact them into the AOF."""
    client = redis.Redis(unix_socket_path=server.socket)
    try:
        pipe = client.pipeline(transaction=False)
        for i in range(keys):
            pipe.set(f"filler:{i}", os.urandom(500).hex())
        pipe.execute()
        client.bgrewriteaof()

        def rewritten() -> bool:
            info = client.info("persistence")
            return not info["aof_rewrite_in_progress"] and not info["aof_rewrite_scheduled"]

        deadline = time.monotonic() + 60
        while not rewritten():
            assert time.monotonic() < deadline, "BGREWRITEAOF did not finish"
            time.sleep(0.05)  # polling interval (this runs before the trio run starts)
    finally:
        client.close()


@pytest.mark.slow
async def test_a_publish_while_the_server_loads_its_aof_succeeds(server: PrivateRedis) -> None:
    # 10,000 keys of 1 kB, each slowed by 300 µs while loading: ~3 s of LOADING.
    _fill_aof(server, 10_000)
    server.stop()
    server.start("--key-load-delay", "300")

    def loading() -> bool:
        probe = redis.Redis(unix_socket_path=server.socket)
        try:
            return bool(probe.info("persistence")["loading"])
        finally:
            probe.close()

    assert loading(), "the restarted server should still be loading its AOF"
    async with open_thoonk(server.url, reconnect_timeout=120) as thoonk:
        job_id = await thoonk.job("q").publish({"after": "restart"})
        assert await thoonk.job("q").item(job_id) == {"after": "restart"}
    probe = redis.Redis(unix_socket_path=server.socket)
    try:
        assert probe.dbsize() > 10_000  # the AOF's data, plus the job
    finally:
        probe.close()


def test_what_may_be_sent_again() -> None:
    loading = ThoonkLoadingError("LOADING Redis is loading the dataset in memory")
    broken = ThoonkConnectionError("the connection broke")
    silent = ThoonkTimeoutError("no reply")
    refused = ThoonkAuthenticationError("WRONGPASS")
    for idempotent in (False, True):
        assert may_resend(loading, idempotent=idempotent)  # it did not run
        assert not may_resend(refused, idempotent=idempotent)
        assert not may_resend(ValueError("a bug"), idempotent=idempotent)
    assert may_resend(broken, idempotent=True) and may_resend(silent, idempotent=True)
    assert not may_resend(broken, idempotent=False) and not may_resend(silent, idempotent=False)


def test_health_timeout_comes_from_the_url_and_is_checked() -> None:
    config = RedisConfig.from_url("redis://127.0.0.1:6379/0?health_timeout=3")
    assert (config.health_timeout, config.max_block, config.block_margin) == (3.0, 1.5, 1.5)
    assert config.reply_timeout == 3.0  # below the default response timeout of 30 s
    assert RedisConfig().health_timeout == 15.0
    for bad in ("0", "-1", "soon"):
        with pytest.raises(UsageError, match="health_timeout"):
            RedisConfig.from_url(f"redis://127.0.0.1/0?health_timeout={bad}")


async def test_tcp_connections_get_keepalive_probes_that_follow_the_health_timeout() -> None:
    async def accept(stream: trio.SocketStream) -> None:
        await trio.sleep_forever()

    async with trio.open_nursery() as nursery:
        listeners = await nursery.start(partial(trio.serve_tcp, accept, 0, host="127.0.0.1"))
        port = listeners[0].socket.getsockname()[1]
        stream = await open_stream(RedisConfig(host="127.0.0.1", port=port, health_timeout=9))
        assert isinstance(stream, PlainSocketStream)
        sock = stream._sock
        assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE) == 1
        if hasattr(socket, "TCP_KEEPIDLE"):
            assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE) == 3
            assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL) == 1
            assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT) == 3
        await stream.aclose()
        nursery.cancel_scope.cancel()
