"""Background upkeep of one job queue: heartbeats, the reaper, lease renewal.

Synopsis::

    async with trio.open_nursery() as nursery:
        nursery.start_soon(heartbeat_loop, job, identities, outstanding, 5.0)
        nursery.start_soon(reaper_loop, job, 2.0, 15_000)
        nursery.start_soon(lease_loop, job, outstanding, configured, lease, check)
        nursery.start_soon(claims_watch_loop, job, check)

Each loop is supervised (a failure is logged and the loop restarted with
backoff) and runs until cancelled. Any number of processes run the reaper at
once: its script is idempotent.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

import trio

from .._errors import NotClaimedError
from ..objects import ClaimedJob, Gap, Job
from ._identity import ClaimIdentities
from ._supervise import CONNECTION_ERRORS, supervise

log = logging.getLogger(__name__)


async def heartbeat_loop(
    job: Job, identities: ClaimIdentities, outstanding: dict[str, ClaimedJob], interval: float
) -> None:
    """Tell reapers this worker is alive, every ``interval`` seconds.

    It beats for every claim id in use, and says goodbye for a retired one
    once the jobs it knows of that id are settled (see ``_identity``).
    """

    async def beat() -> None:
        while True:
            for identity in identities.beating():
                await job.heartbeat(worker_id=identity)
            for identity in identities.settled(outstanding):
                await job.heartbeat(worker_id=identity, leave=True)
                log.info(
                    "job queue %r: left claim id %s; reapers take back what it may hold",
                    job.name, identity,
                )  # fmt: skip
            await trio.sleep(interval)

    await supervise(beat, what=f"heartbeat of {job.name!r}", logger=log)


async def reaper_loop(job: Job, interval: float, stale_ms: int) -> None:
    """Take back the claims of dead workers and timed-out claims, every ``interval`` s."""

    async def reap() -> None:
        while True:
            report = await job.reap(stale_ms=stale_ms)
            for reaped in report.reaped:
                log.info(
                    "reaper took back job %s of %r (%s): %s",
                    reaped.id, job.name, reaped.reason, reaped.outcome,
                )  # fmt: skip
            await trio.sleep(interval)

    await supervise(reap, what=f"reaper of {job.name!r}", logger=log)


ClaimCheck = Callable[[dict[str, str] | None], Awaitable[None]]
"""``await check({id: event, ...})`` (None: every held job): drop or cancel lost claims."""

#: Events that may mean a claim this worker holds went away (``schedule``: a
#: delayed publish, which only wakes a waiting claimer; it names no held job).
CLAIM_EVENTS = ("retract", "cancel", "stall", "schedule")


async def lease_loop(
    job: Job,
    outstanding: dict[str, ClaimedJob],
    configured: trio.Event,
    lease: Callable[[], float | None],
    check: ClaimCheck | None = None,
) -> None:
    """Renew (``touch``) every claim this worker holds, every third of its lease.

    ``lease()`` gives this worker's lease in seconds once ``configured`` is
    set: the lease recorded with each of its claims (its ``timeout=``, else the
    queue's timeout when it started; None: no time limit, nothing to renew).
    It never changes while the worker runs, whatever other processes configure.
    A touch refused because the claim went away is handed to ``check`` (a
    missed event). The next round is due a third of the lease after the last
    round that went through, so a round broken by a lost connection is done
    again as soon as the loop is restarted, not a third of a lease later (two
    such breaks in a row would let the claims expire).
    """
    renewed = trio.current_time()  # when the last round that went through began

    async def renew() -> None:
        nonlocal renewed
        await configured.wait()
        seconds = lease()
        if seconds is None:
            return
        while True:
            await trio.sleep_until(renewed + seconds / 3)
            began = trio.current_time()
            if outstanding:
                lost = await touch_all(job, list(outstanding.values()))
                if lost and check is not None:
                    await check(dict.fromkeys((claimed.id for claimed in lost), "touch"))
            renewed = began

    await supervise(renew, what=f"lease renewal of {job.name!r}", logger=log)


async def claims_watch_loop(job: Job, check: ClaimCheck) -> None:
    """Watch the queue's retract / cancel / stall events for jobs this worker holds.

    An event naming a held job triggers ``check`` (which asks Redis whether
    the claim is still ours: our own cancels and stalls name jobs too); a gap
    in the events checks every held job.
    """

    async def watch() -> None:
        async with job.events(CLAIM_EVENTS, buffer=4096) as events:
            await check(None)  # what happened before the subscription
            while True:
                event = await events.receive()
                if isinstance(event, Gap):
                    await check(None)
                else:
                    await check({event.id: event.event})

    await supervise(watch, what=f"claim watch of {job.name!r}", logger=log)


async def touch_all(job: Job, jobs: list[ClaimedJob]) -> list[ClaimedJob]:
    """Touch every job in ``jobs`` at once (pipelined); the ones whose claim is gone."""
    failures: list[BaseException] = []
    lost: list[ClaimedJob] = []

    async def touch(claimed: ClaimedJob) -> None:
        try:
            await job.touch(claimed)
        except NotClaimedError:
            # Settled meanwhile, or taken away: check_claims tells which.
            lost.append(claimed)
        except CONNECTION_ERRORS as exc:
            failures.append(exc)

    async with trio.open_nursery() as nursery:
        for claimed in jobs:
            nursery.start_soon(touch, claimed)
    if failures:
        raise failures[0]
    return lost
