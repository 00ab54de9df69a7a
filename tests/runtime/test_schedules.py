"""Delayed jobs in a running app, and recurring jobs (``@app.every`` / ``@app.cron``).

Assertions are on ids, counts and the server's clock, never on timing.
"""

from __future__ import annotations

import math
import os
import signal
import sys
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import pytest
import redis
import trio

from tests.polling import wait_until
from thoonk_actors import UsageError, contract
from thoonk_actors.objects import open_thoonk
from thoonk_actors.runtime import App, current_job
from thoonk_actors.runtime._schedules import (
    MAX_CATCH_UP,
    Cron,
    Every,
    ScheduleRegistration,
    publish_tick,
)

DEADLINE = 15


def server_ms(r: redis.Redis) -> int:
    seconds, micros = r.time()
    return int(seconds) * 1000 + int(micros) // 1000


async def test_a_delayed_publish_wakes_a_waiting_worker(
    redis_url: str, sync_redis: redis.Redis
) -> None:
    # Long blocks (health_timeout 120 s: 60 s server-side waits) and a slow reaper:
    # only the schedule event can get the job to the worker within the deadline.
    url = redis_url + ("&" if "?" in redis_url else "?") + "health_timeout=120"
    app = App(url, reap_interval=600, heartbeat_interval=5, stale_after=60)
    ran: list[tuple[str, int]] = []
    done = trio.Event()

    @app.job("delayed")
    async def handle(item: str) -> None:
        ran.append((item, server_ms(sync_redis)))
        done.set()

    with trio.fail_after(DEADLINE):
        async with open_thoonk(redis_url) as thoonk, app.open() as running:
            jobs = thoonk.job("delayed")
            await wait_until(lambda: running.workers[0]._awaiting_work, what="the claimer to block")
            job_id = await jobs.publish("later", delay=0.2)
            [(_, due_ms)] = await jobs.scheduled()
            await done.wait()
            assert await jobs.scheduled() == ()
    [(item, ran_ms)] = ran
    assert item == "later" and job_id
    assert ran_ms >= due_ms  # never early


async def test_a_job_delayed_after_the_queue_drained_is_not_missed(
    redis_url: str, sync_redis: redis.Redis
) -> None:
    # The claim of the 7 held jobs found the queue drained (nothing scheduled):
    # the claimer keeps that and will wait without claiming once slots free up.
    # A delayed job published meanwhile (the claimer waits for slots, not for
    # work) must make that stale: waiting by it would sleep through the due time.
    url = redis_url + ("&" if "?" in redis_url else "?") + "health_timeout=120"
    app = App(url, reap_interval=600, heartbeat_interval=5, stale_after=60)
    release = trio.Event()
    ran: list[str] = []
    done = trio.Event()

    @app.job("drained", concurrency=8, prefetch=0)  # claims 8, refills 2 at a time
    async def handle(item: str) -> None:
        if item == "held":
            await release.wait()
        else:
            ran.append(item)
            done.set()

    with trio.fail_after(DEADLINE):
        async with open_thoonk(redis_url) as thoonk, app.open() as running:
            jobs = thoonk.job("drained")
            worker = running.workers[0]
            await wait_until(lambda: worker._awaiting_work, what="the claimer to block")
            await jobs.publish_many(["held"] * 7)
            await wait_until(lambda: worker.counters.running == 7, what="7 held jobs to run")
            assert worker._drained is not None and not worker._awaiting_work
            wakes = worker._wakes
            await jobs.publish("later", delay=0.2)
            await wait_until(lambda: worker._wakes > wakes, what="the schedule event")
            release.set()
            await done.wait()
    assert ran == ["later"]


# ------------------------------------------------------------- recurring jobs


def test_every_ticks_on_multiples_of_the_period_since_the_epoch() -> None:
    rule = Every.of(0.25)
    assert (rule.latest(1_000_249), rule.latest(1_000_250), rule.after(1_000_250)) == (
        1_000_000,
        1_000_250,
        1_000_500,
    )
    assert rule.spec == "every 0.25s"


def test_cron_reads_the_expression_in_its_time_zone() -> None:
    rule = Cron.of("0 3 * * *", tz="Europe/Paris")
    # 2026-03-29 is the spring DST change in Paris: 03:00 local is 01:00 UTC.
    noon = int(datetime(2026, 3, 28, 12, tzinfo=UTC).timestamp() * 1000)
    tick = rule.after(noon)
    assert datetime.fromtimestamp(tick / 1000, UTC) == datetime(2026, 3, 29, 1, tzinfo=UTC)
    assert rule.latest(tick) == tick and rule.latest(tick - 1) < tick
    assert rule.spec == "cron 0 3 * * * Europe/Paris"


def test_missed_ticks_one_without_catch_up_all_with_it() -> None:
    lazy = ScheduleRegistration("s", "s", Every(1000), catch_up=False)
    eager = ScheduleRegistration("s", "s", Every(1000), catch_up=True)
    assert lazy.ticks(10_000, 15_500) == [15_000]
    assert eager.ticks(10_000, 15_500) == [11_000, 12_000, 13_000, 14_000, 15_000]
    assert lazy.ticks(15_000, 15_999) == eager.ticks(15_000, 15_999) == []
    assert len(eager.ticks(0, 10**9)) == MAX_CATCH_UP


@pytest.mark.parametrize(
    "make",
    [
        lambda app: app.every(-1),
        lambda app: app.every(0),
        lambda app: app.every(math.nan),
        lambda app: app.every("5"),
        lambda app: app.every(5, catch_up="yes"),
        lambda app: app.cron("not cron"),
        lambda app: app.cron("61 * * * *"),
        lambda app: app.cron("* * * * *", tz="Mars/Olympus"),
    ],
)
def test_bad_schedules_are_usage_errors_that_register_nothing(make: Any) -> None:
    app = App("redis://127.0.0.1:1")
    with pytest.raises(UsageError):
        make(app)(lambda tick: None)
    assert app.schedules == {} and app.jobs == {}


async def test_a_tick_is_published_once_even_after_its_job_finished(redis_url: str) -> None:
    registration = ScheduleRegistration("beat", "beat", Every(1000), catch_up=False)
    async with open_thoonk(redis_url) as thoonk:
        jobs = thoonk.job("beat")
        assert await publish_tick(thoonk, registration, 5000)
        assert not await publish_tick(thoonk, registration, 5000)  # queued: taken
        claimed = await jobs.get(timeout=5)
        assert claimed is not None and claimed.id == "tick:beat:5000"
        assert claimed.item == {"schedule": "beat", "tick_ms": 5000, "tick": "1970-01-01T00:00:05Z"}
        await jobs.finish(claimed)
        assert not await publish_tick(thoonk, registration, 5000)  # finished: still once
        assert not await publish_tick(thoonk, registration, 4000)  # older
        assert await publish_tick(thoonk, registration, 6000)
        records = await thoonk.read(contract.job_ticks(jobs.keys))
        assert records == {"beat": contract.TickRecord(6000, "every 1s")}
        assert (await jobs.statistics()).publishes == 2


async def test_two_apps_on_one_queue_run_each_tick_once(redis_url: str) -> None:
    runs: list[int] = []

    def make_app() -> App:
        app = App(redis_url, reap_interval=0.1, heartbeat_interval=0.5, stale_after=2.0)

        @app.every(0.05, name="pulse", concurrency=4)
        async def pulse(tick: dict[str, Any]) -> None:
            runs.append(tick["tick_ms"])

        return app

    with trio.fail_after(30):
        async with open_thoonk(redis_url) as thoonk:
            async with make_app().open(), make_app().open():
                await wait_until(lambda: len(set(runs)) >= 10, what="ten ticks to run")
            stats = await thoonk.job("pulse").statistics()
            left = stats.available + stats.scheduled + stats.claimed + stats.stalled
    assert len(runs) == len(set(runs))  # no tick twice
    assert all(tick % 50 == 0 for tick in runs)
    assert stats.publishes == len(runs) + left  # one publish per tick, each run once


@pytest.mark.parametrize("catch_up", [False, True])
async def test_downtime_runs_one_missed_tick_or_all_with_catch_up(
    redis_url: str, catch_up: bool
) -> None:
    name = f"downtime-{catch_up}".lower()
    every = Every(200)
    runs: list[int] = []
    async with open_thoonk(redis_url) as thoonk:
        jobs = thoonk.job(name)
        start = (await thoonk.run(contract.job_promote(jobs.keys))).at_ms
        old = every.latest(start) - 10 * every.period_ms
        earlier = ScheduleRegistration(name, name, every, catch_up=catch_up)
        assert await publish_tick(thoonk, earlier, old)  # the last tick before the downtime
        job = await jobs.get(timeout=5)
        assert job is not None
        await jobs.finish(job)
        app = App(redis_url, reap_interval=0.1, heartbeat_interval=0.5, stale_after=2.0)

        @app.every(0.2, name=name, catch_up=catch_up, concurrency=16)
        async def handle(tick: dict[str, Any]) -> None:
            runs.append(tick["tick_ms"])

        with trio.fail_after(30):
            async with app.open():
                await wait_until(lambda: any(t > start for t in runs), what="a new tick")
    missed = sorted(t for t in runs if old < t <= start)
    if catch_up:
        assert missed == list(range(old + 200, every.latest(start) + 1, 200))
    else:
        # One missed tick (the latest; none if the app started after the next one).
        assert missed in ([every.latest(start)], [])
    assert len(runs) == len(set(runs))


# ------------------------------------------------------ real processes, many ticks

TICK_CHILD = Path(__file__).with_name("_tick_child.py")
REPO = Path(__file__).resolve().parents[2]
SOAK = os.environ.get("THOONK_SOAK") == "1"


@pytest.mark.slow
async def test_three_processes_run_each_of_100_ticks_exactly_once(
    redis_url: str, tmp_path: Path
) -> None:
    """Three worker processes on one ``@app.every(0.05)`` schedule: every tick runs once.

    CI: 100 ticks (about 5 s of ticks); THOONK_SOAK=1: 1000.
    """
    wanted, period = (1000 if SOAK else 100), 0.05
    logs = [tmp_path / f"child-{n}.log" for n in range(3)]

    def runs() -> list[tuple[int, int]]:
        lines = [line for log in logs if log.exists() for line in log.read_text().splitlines()]
        return [(int(tick), int(pid)) for tick, pid in (line.split() for line in lines)]

    async with open_thoonk(redis_url) as thoonk, trio.open_nursery() as nursery:
        children = [
            await nursery.start(
                partial(
                    trio.run_process,
                    [sys.executable, str(TICK_CHILD), redis_url, str(period), str(log)],
                    cwd=REPO,
                    check=False,
                )
            )
            for log in logs
        ]
        # Count the ticks once all three processes take part.
        await wait_until(
            lambda: all(log.exists() and log.stat().st_size for log in logs),
            what="each process to run a tick",
            deadline=60,
        )
        first = len(runs())
        await wait_until(
            lambda: len({tick for tick, _ in runs()}) >= first + wanted,
            what=f"{wanted} more ticks to run",
            deadline=(wanted * period) * 4 + 60,
        )
        for child in children:
            child.send_signal(signal.SIGTERM)  # graceful: a run in flight finishes
        with trio.fail_after(30):
            for child in children:
                await child.wait()
        stats = await thoonk.job("pulse").statistics()
    done = runs()
    ticks = [tick for tick, _ in done]
    assert len(ticks) == len(set(ticks)), "a tick ran twice"
    assert all(tick % 50 == 0 for tick in ticks)
    assert len({pid for _, pid in done}) == 3  # the processes really shared the schedule
    assert len(ticks) >= first + wanted
    # One publish per tick across the three processes; every published tick ran or waits.
    left = stats.available + stats.scheduled + stats.claimed + stats.stalled
    assert stats.publishes == len(ticks) + left
    assert all(child.returncode == 0 for child in children)


async def test_no_delayed_job_is_claimed_before_its_due_time(
    redis_url: str, sync_redis: redis.Redis
) -> None:
    """40 delayed jobs (0 to 780 ms) through a running worker: each claim is at or after its due
    time, both by the server's clock (the claim time the claim script wrote)."""
    app = App(redis_url, reap_interval=0.1, heartbeat_interval=0.5, stale_after=2.0)
    claims: dict[str, int] = {}

    @app.job("later", concurrency=8)
    async def handler(item: int) -> None:
        claims[current_job().id] = current_job().claimed_ms

    delays_ms = {f"d{n}": n * 20 for n in range(40)}
    with trio.fail_after(30):
        async with open_thoonk(redis_url) as thoonk:
            jobs = thoonk.job("later")
            due: dict[str, int] = {}
            for job_id, delay_ms in delays_ms.items():
                await jobs.publish(delay_ms, id=job_id, delay=delay_ms / 1000)
                published_ms = sync_redis.zscore("job.published:later", job_id)
                assert published_ms is not None
                due[job_id] = int(published_ms) + delay_ms
            async with app.open():  # started after the publishes: their times are known
                await wait_until(lambda: len(claims) == len(delays_ms), what="every job to run")
    assert all(claimed_ms > 0 for claimed_ms in claims.values())
    for job_id, due_ms in due.items():
        assert claims[job_id] >= due_ms, f"{job_id} claimed {due_ms - claims[job_id]} ms early"
