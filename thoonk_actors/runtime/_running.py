"""A running app: what ``app.open()`` yields — statistics, live state, stop.

Synopsis::

    async with app.open() as running:
        running.statistics()                      # RuntimeStatistics (frozen)
        await running.state.wait_value("running") # trio_util.AsyncValue[str]
        async for stats in running.live.eventual_values():  # refreshed twice a second
            ...
        await running.wait_drained()              # True once nothing is left to do
        await running.stop(grace=5)               # graceful; returns when stopped

``stop_nowait(grace)`` starts a graceful stop (a second call may shorten the
grace period); ``cancel()`` stops at once (handlers cancelled, their jobs
released within a few seconds, shielded).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import trio
from trio_util import AsyncValue

from .._errors import UsageError
from .._nursery import open_service_nursery
from .._overflow import Activity
from ._actor import FeedActor
from ._drain import wait_drained
from ._stats import ActorStatistics, AppState, RuntimeStatistics
from ._worker import JobWorker

#: Seconds between refreshes of :attr:`RunningApp.live`.
LIVE_INTERVAL = 0.5


class RunningApp:
    """Handle on a running app. Get one from ``App.open()`` or ``App.run(task_status=...)``.

    Attributes:
        worker_id: how this process's claims and heartbeats are labelled.
        state: ``AsyncValue`` of ``"starting"``, ``"running"``, ``"stopping"``, ``"stopped"``.
        live: ``AsyncValue`` of the latest :class:`RuntimeStatistics`, refreshed
            every :data:`LIVE_INTERVAL` seconds (for dashboards and widgets).
        grace: default seconds in-flight handlers get to finish on a stop.
    """

    def __init__(
        self,
        *,
        worker_id: str,
        workers: Sequence[JobWorker],
        actors: Sequence[FeedActor],
        grace: float,
        activity: Activity | None = None,
    ) -> None:
        # What every actor's mailbox bumps: while it stands still, the actors'
        # statistics are the ones built last (None: always rebuild them). The
        # workers' and mailboxes' settles wake wait_drained().
        self._activity = activity
        self.worker_id = worker_id
        self.grace = grace
        self.workers = tuple(workers)
        self.actors = tuple(actors)
        self._actor_stats: tuple[ActorStatistics, ...] = ()
        self._actor_stats_at = -1
        self._started = trio.current_time()
        self._state: AppState = "starting"
        self.state: AsyncValue[AppState] = AsyncValue(self._state)
        self.live: AsyncValue[RuntimeStatistics] = AsyncValue(self.statistics())
        self._stop_requested = trio.Event()
        self._stopped = trio.Event()
        self._cancel_scope: trio.CancelScope | None = None

    # ------------------------------------------------------------ observing

    def statistics(self) -> RuntimeStatistics:
        """``stats = running.statistics()``: a frozen snapshot of every queue and actor here."""
        return RuntimeStatistics(
            state=self._state,
            worker_id=self.worker_id,
            uptime=trio.current_time() - self._started,
            queues=tuple(worker.statistics() for worker in self.workers),
            actors=self._actor_statistics(),
        )

    def _actor_statistics(self) -> tuple[ActorStatistics, ...]:
        activity = self._activity
        if activity is None:
            return tuple(actor.statistics() for actor in self.actors)
        if activity.changes != self._actor_stats_at:
            # Read first: a change during the walk below is seen next time.
            self._actor_stats_at = activity.changes
            self._actor_stats = tuple(actor.statistics() for actor in self.actors)
        return self._actor_stats

    @property
    def stopped(self) -> bool:
        return self._stopped.is_set()

    async def wait_drained(self) -> bool:
        """``await running.wait_drained()``: True once nothing is left to do; False if it stopped.

        Drained: every job queue of the app has no queued, claimed or scheduled
        job (by anyone), nothing is in flight here, and every feed actor has
        handled what reached it (``_drain``: the one rule, also burst mode's).
        It waits on events, not a timer. False when the app stopped first.
        """
        activity = self._activity
        if activity is None:
            raise UsageError("wait_drained() needs the app's activity (made by App.open())")
        drained = False
        async with open_service_nursery() as nursery:

            async def drain() -> None:
                nonlocal drained
                await wait_drained(self.workers, self.actors, activity)
                drained = True
                nursery.cancel_scope.cancel()

            nursery.start_soon(drain)
            await self._stopped.wait()
            nursery.cancel_scope.cancel()
        return drained

    async def wait_stopped(self) -> None:
        """``await running.wait_stopped()``: once every job is settled or released."""
        await self._stopped.wait()

    # -------------------------------------------------------------- stopping

    def stop_nowait(self, grace: float | None = None) -> None:
        """``running.stop_nowait(grace=5)``: start a graceful stop, without waiting.

        Claim no more, release jobs not started at once, and give running
        handlers ``grace`` seconds (default: the app's) before they are
        cancelled and their jobs released (no failure counted). A second call
        may shorten the grace period, never lengthen it.
        """
        seconds = self.grace if grace is None else grace
        if math.isnan(seconds) or seconds < 0:
            seconds = 0.0
        deadline = trio.current_time() + seconds
        if self._state in ("starting", "running"):
            self._set_state("stopping")
        self._stop_requested.set()
        for worker in self.workers:
            worker.begin_stop(deadline)

    async def stop(self, grace: float | None = None) -> None:
        """``await running.stop(grace=5)``: :meth:`stop_nowait`, then wait until stopped."""
        self.stop_nowait(grace)
        await self.wait_stopped()

    def cancel(self) -> None:
        """``running.cancel()``: stop at once; claimed jobs are still released (shielded)."""
        if self._state != "stopped":
            self._set_state("stopping")
        self._stop_requested.set()
        if self._cancel_scope is not None:
            self._cancel_scope.cancel()

    # ------------------------------------------------------------- internals

    def _set_state(self, state: AppState) -> None:
        self._state = state
        self.state.value = state

    async def _refresh_live(self) -> None:
        while True:
            await trio.sleep(LIVE_INTERVAL)
            self.live.value = self.statistics()
