"""Faults with real processes, real signals and real connection kills.

Testing policy: worker processes are started the way users start them
(``run_workers`` in its own process, which spawns ``python -m
thoonk_actors.runtime._child``), killed with real signals, and observed only
through Redis: finish/claim/release events on a subscription opened before
anything is published, and the queue's own statistics. Every wait polls with
a trio deadline; nothing sleeps to wait for an effect. Sizes are small by
default (the whole file runs in well under a minute on 2 cores);
``THOONK_SOAK=1`` makes them ten times larger.
"""

from __future__ import annotations

import collections
import os
import random
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path

import pytest
import redis
import trio

from tests.polling import wait_until
from thoonk_actors.objects import Events, Job, ObjectEvent, open_thoonk
from thoonk_actors.runtime import App
from thoonk_actors.transport import Gap

ROOT = Path(__file__).resolve().parents[2]
SOAK = os.environ.get("THOONK_SOAK") == "1"
SCALE = 10 if SOAK else 1

SUPERVISOR = (
    "import sys; from thoonk_actors.runtime import run_workers; "
    "sys.exit(run_workers('tests.runtime.apps:app', int(sys.argv[1]), grace=float(sys.argv[2])))"
)

pytestmark = pytest.mark.slow


@asynccontextmanager
async def supervisor(
    redis_url: str, processes: int, *, grace: float = 5.0, **settings: str
) -> AsyncIterator[trio.Process]:
    """``run_workers`` of ``tests.runtime.apps:app`` in its own process (stopped at the end)."""
    env = {
        **os.environ,
        "THOONK_REDIS_URL": redis_url,
        "THOONK_LOG_LEVEL": os.environ.get("THOONK_LOG_LEVEL", "WARNING"),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
        **settings,
    }
    proc = await trio.lowlevel.open_process(
        [sys.executable, "-c", SUPERVISOR, str(processes), str(grace)], env=env, cwd=ROOT
    )
    try:
        yield proc
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
            with trio.move_on_after(grace + 15) as scope:
                await proc.wait()
            if scope.cancelled_caught:
                proc.kill()
                await proc.wait()


def worker_pid(worker_id: str) -> int:
    return int(worker_id.rsplit(":", 2)[1])  # host:pid:random


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


async def collect(events: Events, into: collections.Counter[str], *, until: str) -> None:
    """Count events per id until the marker id ``until`` arrives; a gap fails the test."""
    async for event in events:
        assert not isinstance(event, Gap), "the test's subscription missed events"
        if event.id == until:
            return
        into[event.id] += 1


async def mark_end(job: Job, event: str) -> str:
    """Publish a marker on ``event``'s channel: everything published before it has arrived
    once the marker has."""
    marker = "end-of-test-marker"
    await job.thoonk.execute("PUBLISH", job.channel(event), marker)
    return marker


async def test_sigkill_random_workers_every_job_finished_exactly_once(redis_url: str) -> None:
    n = 5_000 * SCALE
    kills = 5
    finished: collections.Counter[str] = collections.Counter()
    with trio.fail_after(60 * SCALE):
        async with open_thoonk(redis_url) as thoonk:
            queue = thoonk.job("faults")
            async with queue.events(["finish"], buffer=n + 1000) as events:
                ids = await queue.publish_many([{"i": i, "sleep": 0.01} for i in range(n)])
                marker_seen = trio.Event()

                async def count() -> None:
                    await collect(events, finished, until="end-of-test-marker")
                    marker_seen.set()

                async with trio.open_nursery() as nursery:
                    nursery.start_soon(count)
                    async with supervisor(redis_url, 3) as proc:
                        killed: list[int] = []
                        for k in range(kills):
                            target = n * (k + 1) // (kills + 2)
                            await wait_until(
                                lambda: len(finished) >= target,  # noqa: B023 (awaited here)
                                what=f"progress before kill {k + 1}",
                                deadline=30 * SCALE,
                            )
                            victims: list[int] = []

                            async def pick(victims: list[int] = victims) -> bool:
                                pids = [worker_pid(w) for w, _ in await queue.workers()]
                                victims[:] = [p for p in pids if p not in killed and alive(p)]
                                return bool(victims)

                            await wait_until(pick, what="a live worker to kill")
                            victim = random.choice(victims)
                            os.kill(victim, signal.SIGKILL)
                            killed.append(victim)
                        await wait_until(
                            lambda: len(finished) == n,
                            what="every job to finish",
                            deadline=40 * SCALE,
                        )
                        proc.send_signal(signal.SIGTERM)
                        assert await proc.wait() == 0
                    await mark_end(queue, "finish")
                    await marker_seen.wait()
            stats = await queue.statistics()
    assert len(killed) == kills
    assert set(finished) == set(ids)
    assert max(finished.values()) == 1, [i for i, c in finished.items() if c > 1][:5]
    assert (stats.available, stats.claimed, stats.stalled, stats.items) == (0, 0, 0, 0)
    assert stats.finishes == n


async def test_sigterm_lets_running_handlers_finish_and_releases_the_rest(
    redis_url: str, sync_redis: redis.Redis
) -> None:
    seen: dict[str, list[str]] = collections.defaultdict(list)
    with trio.fail_after(40):
        async with open_thoonk(redis_url) as thoonk:
            queue = thoonk.job("drain")
            wanted = ["claim", "release", "finish", "cancel", "stall"]
            async with queue.events(wanted) as events:
                ids = await queue.publish_many(
                    [{"i": i, "sleep": 1.0, "mark": True} for i in range(10)]
                )
                settings = {"T_QUEUE": "drain", "T_CONCURRENCY": "2", "T_PREFETCH": "2"}
                async with supervisor(redis_url, 1, grace=10, T_TIMEOUT="30", **settings) as proc:
                    await wait_until(
                        lambda: sync_redis.scard("started") == 2, what="2 handlers to start"
                    )
                    stopping = trio.current_time()
                    proc.send_signal(signal.SIGTERM)
                    assert await proc.wait() == 0
                    took = trio.current_time() - stopping
                marker = await mark_end(queue, "stall")
                async for event in events:
                    assert isinstance(event, ObjectEvent)
                    if event.id == marker:
                        break
                    seen[event.event].append(event.id)
            started = {m.decode() for m in sync_redis.smembers("started") if isinstance(m, bytes)}
            jobs = await queue.statistics()
            failures = [await queue.failure_count(i) for i in ids]
    assert len(seen["claim"]) == 4  # 2 running + 2 prefetched
    assert set(seen["finish"]) == started
    assert set(seen["release"]) == set(seen["claim"]) - started
    assert seen["cancel"] == seen["stall"] == []
    assert failures == [0] * 10
    assert (jobs.available, jobs.claimed, jobs.finishes) == (8, 0, 2)
    assert took < 10  # within the grace period (the handlers had < 1 s left)


async def test_sigterm_past_the_grace_period_releases_running_jobs(redis_url: str) -> None:
    with trio.fail_after(40):
        async with open_thoonk(redis_url) as thoonk:
            queue = thoonk.job("stuck")
            async with queue.events(["claim"]) as events:
                ids = await queue.publish_many([{"i": i, "sleep": 60} for i in range(6)])
                settings = {"T_QUEUE": "stuck", "T_CONCURRENCY": "2", "T_PREFETCH": "1"}
                async with supervisor(redis_url, 1, grace=0.5, T_TIMEOUT="120", **settings) as proc:
                    for _ in range(3):
                        await events.receive()
                    proc.send_signal(signal.SIGTERM)
                    assert await proc.wait() == 0
            jobs = await queue.statistics()
            failures = [await queue.failure_count(i) for i in ids]
    assert (jobs.available, jobs.claimed, jobs.finishes) == (6, 0, 0)
    assert failures == [0] * 6


def kill_connections(client: redis.Redis, db: int) -> int:
    """CLIENT KILL every normal and pub/sub connection of database ``db`` but ``client``'s.

    On the local cluster (``client`` is the cluster suite's witness, which sends
    ``CLIENT KILL`` to every node): every normal and pub/sub connection of every
    node (the cluster is the test's own; replication links are of other types).
    """
    if isinstance(client, redis.RedisCluster):
        return sum(
            int(client.execute_command("CLIENT", "KILL", "TYPE", kind, "SKIPME", "yes"))
            for kind in ("normal", "pubsub")
        )
    own = client.client_id()
    victims = [c["id"] for c in client.client_list() if int(c["db"]) == db and int(c["id"]) != own]
    for victim in victims:
        client.client_kill_filter(_id=victim)
    return len(victims)


async def test_client_kill_of_every_connection_mid_run_is_survived(
    redis_url: str, sync_redis: redis.Redis
) -> None:
    n = 3_000 * SCALE
    pool = getattr(sync_redis, "connection_pool", None)  # a cluster client has none (db 0)
    db = int(pool.connection_kwargs.get("db", 0)) if pool is not None else 0
    app = App(redis_url, reap_interval=0.25, heartbeat_interval=0.5, stale_after=2.0)

    @app.job("survivor", concurrency=16, timeout=1.0)
    async def handler(item: int) -> int:
        await trio.sleep(0.001)
        return item

    with trio.fail_after(60 * SCALE):
        async with open_thoonk(redis_url) as thoonk:
            queue = thoonk.job("survivor")
            await queue.publish_many(range(n))
            async with trio.open_nursery() as nursery:
                running = await nursery.start(partial(app.run, burst=True))
                killed: list[int] = []
                for k in range(3):
                    target = n * (k + 1) // 5
                    await wait_until(
                        lambda: running.statistics().queue("survivor").finished >= target,  # noqa: B023
                        what=f"progress before kill {k + 1}",
                        deadline=30 * SCALE,
                    )
                    killed.append(await trio.to_thread.run_sync(kill_connections, sync_redis, db))
                await running.wait_stopped()
            stats = await queue.statistics()
    assert min(killed) >= 1  # each round killed at least the app's shared connection
    assert (stats.available, stats.claimed, stats.stalled, stats.items) == (0, 0, 0, 0)
    assert stats.finishes == n
