"""Adaptive prefetch: the policy on plain inputs and under trio's autojump clock, then
a worker against real Redis (drain gives a grown buffer back; slow handlers in two
processes share the work).

Testing policy: the policy (``runtime/_prefetch.py``) is pure bookkeeping, so its
rules are checked with plain numbers, and its dynamics with handler tasks that
sleep on trio's autojump clock (no Redis, no wall time). The Redis tests wait on
state with ``wait_until`` under a trio deadline, never a bare sleep.
"""

from __future__ import annotations

import collections
import math
import os
import signal
import statistics
import sys
from pathlib import Path

import pytest
import redis
import trio
import trio.testing

from tests.polling import wait_until
from thoonk_actors.objects import open_thoonk
from thoonk_actors.runtime import App
from thoonk_actors.runtime._prefetch import CEILING, HORIZON, Prefetch, floor
from thoonk_actors.runtime._registry import MAX_CLAIM_BATCH

ROOT = Path(__file__).resolve().parents[2]

# ------------------------------------------------------------------ plain inputs


def test_fixed_prefetch_keeps_the_old_capacity_and_refill() -> None:
    for concurrency, prefetch, capacity, refill in [
        (16, 16, 32, 8),
        (200, 200, 400, 100),
        (1, 0, 1, 1),
        (4, 40, 44, 11),
    ]:
        policy = Prefetch(concurrency, prefetch)
        policy.observe(0.0, 0)
        policy.handed(0.0, refill)
        policy.observe(5.0, 0)  # waited 5 s: a fixed prefetch does not care
        policy.claimed(refill, refill)
        assert (policy.prefetch, policy.capacity, policy.refill) == (prefetch, capacity, refill)


def test_adaptive_starts_at_the_floor_and_tops_up_before_the_buffer_runs_dry() -> None:
    for concurrency, start in [(1, 1), (2, 1), (16, 4), (200, 50)]:
        policy = Prefetch(concurrency, None)
        assert floor(concurrency) == policy.prefetch == start
        assert policy.capacity == concurrency + start
        assert 1 <= policy.refill <= policy.prefetch


def drive_fast(policy: Prefetch, claims: int, *, got: int | None = None) -> int:
    """Claims whose jobs idle handlers take at once (1 ms apart), the queue full.

    Returns the jobs handed (and taken).
    """
    now, started = 0.0, 0
    for _ in range(claims):
        policy.observe(now, started)
        asked = min(policy.capacity, MAX_CLAIM_BATCH)
        returned = asked if got is None else min(got, asked)
        policy.claimed(asked, returned)
        policy.handed(now, returned)
        started += returned
        now += 0.001
    return started


def test_fast_handlers_and_a_backlog_grow_it_to_full_claims() -> None:
    policy = Prefetch(16, None)
    drive_fast(policy, 3)
    assert policy.prefetch == 4 * 2 * 2  # doubled after each full claim but the first
    drive_fast(policy, 20)
    assert policy.prefetch == CEILING
    assert policy.refill == MAX_CLAIM_BATCH


def test_no_growth_without_a_backlog() -> None:
    policy = Prefetch(16, None)
    drive_fast(policy, 10, got=3)  # the queue runs dry: claims come back short
    assert policy.prefetch == floor(16)


def test_no_growth_until_the_handlers_took_a_whole_batch() -> None:
    # A full claim right after another one (the capacity just grew) says nothing
    # about how fast the handlers take jobs: growing on it would feed itself.
    policy = Prefetch(16, None)
    policy.observe(0.0, 0)
    asked = policy.capacity
    for _ in range(5):
        policy.claimed(asked, asked)
        policy.handed(0.0, asked)
        policy.observe(0.0, 16)  # the 16 handlers busy, nothing more taken
        asked = 4
    assert policy.prefetch == floor(16)
    policy.taken(0.001, 20)  # the first batch taken at last, at once: evidence
    policy.claimed(4, 4)
    assert policy.prefetch == 2 * floor(16)


def test_a_late_take_shrinks_it_in_proportion_and_stops_growth() -> None:
    policy = Prefetch(16, None)
    handed = drive_fast(policy, 6)
    start = 100.0
    policy.observe(start, handed)  # all taken
    policy.claimed(40, 40)
    grown = policy.prefetch
    assert grown == 4 * 2**6
    policy.handed(start, 40)
    handed += 40
    policy.taken(start + 2 * HORIZON, handed)  # its last job waited 2 x the horizon
    assert policy.waited == pytest.approx(2 * HORIZON)
    policy.observe(start + 2 * HORIZON, handed)
    assert policy.prefetch == grown // 2
    policy.claimed(10, 10)
    assert policy.prefetch == grown // 2
    for step in range(10):  # it keeps waiting too long: down to the floor, no lower
        now = start + 1 + step
        policy.handed(now, 5)
        policy.observe(now + 4 * HORIZON, handed)  # the 5 still waiting
        policy.claimed(5, 5)
        policy.taken(now + 4 * HORIZON, handed + 5)
        handed += 5
    assert policy.prefetch == floor(16)


def test_taken_notes_the_wait_of_each_whole_batch() -> None:
    policy = Prefetch(8, None)
    policy.handed(1.0, 3)  # jobs 1-3
    policy.handed(2.0, 2)  # jobs 4-5
    assert policy.head_end == 3
    policy.taken(2.5, 3)
    assert (policy.waited, policy.head_end) == (1.5, 5)
    policy.taken(2.6, 4)  # batch 2 not wholly taken: nothing noted
    assert policy.waited == 1.5
    policy.taken(2.7, 5)
    assert policy.head_end == sys.maxsize


# --------------------------------------------------- dynamics, on the autojump clock


async def simulate(concurrency: int, duration: float, jobs: int) -> tuple[list[int], float]:
    """The worker's claim loop and handler tasks in small (backlog without end, claims
    instant), handlers sleeping ``duration``: (prefetch at each claim, longest buffer wait).
    """
    policy = Prefetch(concurrency, None)
    send, receive = trio.open_memory_channel[float](math.inf)
    active = handled = running = 0
    freed = trio.Event()
    longest = 0.0
    sizes: list[int] = []

    async def handler() -> None:
        nonlocal active, handled, running, freed, longest
        async for handed_at in receive:
            longest = max(longest, trio.current_time() - handed_at)
            running += 1
            await trio.sleep(duration)
            running -= 1
            active -= 1
            handled += 1
            nth = handled + running + 1
            if nth >= policy.head_end:
                policy.taken(trio.current_time(), nth)
            if policy.capacity - active >= policy.refill:
                freed.set()

    async with trio.open_nursery() as nursery:
        for _ in range(concurrency):
            nursery.start_soon(handler)
        claimed = 0
        while claimed < jobs:
            policy.observe(trio.current_time(), handled + running)
            free = policy.capacity - active
            if free < policy.refill:
                freed = trio.Event()
                await freed.wait()
                continue
            asked = min(free, MAX_CLAIM_BATCH)
            policy.claimed(asked, asked)
            sizes.append(policy.prefetch)
            now = trio.current_time()
            for _ in range(asked):
                send.send_nowait(now)
            active += asked
            claimed += asked
            policy.handed(now, asked)
            await trio.lowlevel.checkpoint()
        await send.aclose()
    return sizes, longest


async def test_fast_handlers_reach_the_ceiling(autojump_clock: trio.testing.MockClock) -> None:
    sizes, longest = await simulate(16, 0.0001, 20_000)
    assert sizes[-1] == CEILING
    assert longest < HORIZON


async def test_slow_handlers_keep_a_small_buffer(autojump_clock: trio.testing.MockClock) -> None:
    # 50 ms handlers: 16 of them finish 320 jobs/s, so 25 ms of work is 8 jobs.
    sizes, longest = await simulate(16, 0.05, 2_000)
    assert collections.Counter(sizes).most_common(1)[0][0] <= 8  # the old default: 16
    assert max(sizes[len(sizes) // 2 :]) <= 32  # a brief overshoot at most
    # Handlers finishing in waves: a job buffered just after a wave waits for the next
    # one, so the floor's jobs wait one handler run, rarely two.
    assert longest <= 2 * 0.05 + 1e-6


async def test_handlers_of_5_ms_keep_the_buffer_near_the_horizon(
    autojump_clock: trio.testing.MockClock,
) -> None:
    # 16 handlers of 5 ms: 3,200 jobs/s, so 25 ms of work is 80 jobs. Doubling
    # overshoots before the wait is seen: within a few horizons, far below the ceiling.
    sizes, longest = await simulate(16, 0.005, 2_000)
    assert statistics.median(sizes[len(sizes) // 2 :]) <= 2 * 80
    assert max(sizes[len(sizes) // 2 :]) < CEILING
    assert longest <= 4 * HORIZON


# -------------------------------------------------------------------- real Redis


def test_largest_is_the_most_capacity_ever_reaches() -> None:
    assert Prefetch(4, 3).largest == 7
    for concurrency in (1, 16, 4 * CEILING + 4):  # the last: a floor above CEILING
        policy = Prefetch(concurrency, None)
        assert policy.largest == concurrency + max(floor(concurrency), CEILING)
        drive_fast(policy, 30)  # grown as far as it goes
        assert policy.capacity == policy.largest


async def test_the_worker_holds_at_most_its_capacity_in_a_bounded_buffer(redis_url: str) -> None:
    app = App(redis_url)
    gate = trio.Event()

    @app.job("bounded", concurrency=2, prefetch=3)
    async def handler(item: int) -> int:
        await gate.wait()
        return item

    with trio.fail_after(30):
        async with open_thoonk(redis_url) as thoonk:
            await thoonk.job("bounded").publish_many(range(20))
            async with app.open() as running:
                await wait_until(
                    lambda: running.statistics().queue("bounded").in_flight == 5,
                    what="2 running and 3 buffered",
                )
                await trio.testing.wait_all_tasks_blocked(cushion=0.2)  # it claims no more
                worker = running.workers[0]
                buffer = worker._jobs_send.statistics()
                assert (len(worker.outstanding), worker.active) == (5, 5)
                assert (buffer.current_buffer_used, buffer.max_buffer_size) == (3, 5)
                gate.set()
                await wait_until(
                    lambda: running.statistics().queue("bounded").finished == 20,
                    what="every job finished",
                )
                assert worker.active == 0


async def test_drain_gives_a_grown_buffer_back_to_the_queue(redis_url: str) -> None:
    app = App(redis_url, reap_interval=0.1, heartbeat_interval=0.5, stale_after=2.0)
    gate = trio.Event()
    fast, gated = 600, 300

    @app.job("grown", concurrency=4)
    async def handler(item: int) -> int:
        if item >= fast:
            await gate.wait()
        return item

    with trio.fail_after(30):
        async with open_thoonk(redis_url) as thoonk:
            queue = thoonk.job("grown")
            await queue.publish_many(range(fast + gated))
            async with app.open() as running:

                def stats_now() -> tuple[int, int, int]:
                    s = running.statistics().queue("grown")
                    return s.finished, s.running, s.in_flight

                # The fast jobs grew the prefetch; now 4 handlers wait at the gate and
                # the claimer filled the buffer behind them (more than the old 4).
                await wait_until(
                    lambda: stats_now()[:2] == (fast, 4) and stats_now()[2] > 4 + 4 + 8,
                    what="the fast jobs done, 4 gated running, a grown buffer",
                )
                running.stop_nowait(grace=30)

                def buffer_released() -> bool:
                    s = running.statistics().queue("grown")
                    return s.released > 0 and s.released == s.claimed - fast - 4

                # (A claim in flight at the stop is completed, then released too.)
                await wait_until(buffer_released, what="every buffered job released")
                gate.set()
                await running.wait_stopped()
                stats = running.statistics().queue("grown")
            jobs = await queue.statistics()
    assert (stats.finished, stats.failed, stats.lost) == (fast + 4, 0, 0)
    assert stats.released == stats.claimed - fast - 4 > 4 + 8
    assert (jobs.available, jobs.claimed, jobs.finishes) == (gated - 4, 0, fast + 4)


SUPERVISOR = (
    "import sys; from thoonk_actors.runtime import run_workers; "
    "sys.exit(run_workers('tests.runtime.apps:app', 2, grace=5.0))"
)


@pytest.mark.slow
async def test_slow_handlers_in_two_processes_share_the_work(
    redis_url: str, sync_redis: redis.Redis
) -> None:
    # Default (adaptive) prefetch, 50 ms handlers: neither process may hoard the backlog.
    n = 120
    env = {
        **os.environ,
        "THOONK_REDIS_URL": redis_url,
        "THOONK_LOG_LEVEL": "WARNING",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
        "T_QUEUE": "shared",
        "T_CONCURRENCY": "4",
        "T_TIMEOUT": "30",
    }
    env.pop("T_PREFETCH", None)
    with trio.fail_after(60):
        async with open_thoonk(redis_url) as thoonk:
            queue = thoonk.job("shared")
            proc = await trio.lowlevel.open_process(
                [sys.executable, "-c", SUPERVISOR], env=env, cwd=ROOT
            )
            try:

                async def both_alive() -> bool:
                    return (await queue.statistics()).workers_alive >= 2

                await wait_until(both_alive, what="2 worker processes", deadline=30)
                await queue.publish_many({"i": i, "sleep": 0.05, "pid": True} for i in range(n))

                async def all_done() -> bool:
                    return (await queue.statistics()).finishes >= n

                await wait_until(all_done, what=f"{n} jobs finished", deadline=40)
            finally:
                proc.send_signal(signal.SIGTERM)
                await proc.wait()
    ran_by = collections.Counter(v for v in sync_redis.hvals("ran_by"))
    assert sum(ran_by.values()) == n
    assert len(ran_by) == 2, ran_by
    assert min(ran_by.values()) >= n // 4, ran_by  # 4 handlers each: an even split is 60
