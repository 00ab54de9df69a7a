"""The app: handler registrations, and running them as trio actors.

Synopsis::

    app = App()                                     # THOONK_REDIS_URL or the embedded server

    @app.job("emails", concurrency=16, timeout=30, max_cancels=3)
    async def send(item):                           # or a plain def: runs in a thread
        return {"sent": item["to"]}

    @app.feed("news")
    async def on_news(event):                       # FeedEvent, or Resync(items=...)
        ...

    @app.every(60)                                  # recurring: one run per tick in
    async def cleanup(tick): ...                    # any number of processes
    @app.cron("*/5 * * * *", tz="Europe/Paris")     # (see _schedules)
    async def report(tick): ...

    await app.run()                                 # until cancelled (or stopped)
    async with app.open() as running:               # or embedded in your own service
        running.statistics(); await running.stop(grace=5)

Leaving the ``open()`` block normally stops gracefully (in-flight handlers
get the grace period); leaving it with an exception, or being cancelled,
stops at once (handlers cancelled, their jobs released, shielded and
bounded). Errors come out as themselves, never as an ExceptionGroup.
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from typing import TypeVar

import trio

from .._errors import UsageError
from .._nursery import open_service_nursery
from .._overflow import Activity
from ..objects import HEARTBEAT_STALE_MS, Thoonk, default_worker_id, open_thoonk
from ._actor import FeedActor, channels_of, watched_object
from ._burst import stop_when_drained
from ._gcpause import StartPause
from ._mailbox import Mailbox
from ._registry import FeedKind, FeedRegistration, JobRegistration
from ._router import EventRouter
from ._running import RunningApp
from ._schedules import Cron, Every, ScheduleRegistration, ticker
from ._signals import stop_on_signals
from ._snapshots import SnapshotReader
from ._worker import JobWorker, UpkeepSettings

F = TypeVar("F", bound=Callable[..., object])

DEFAULT_GRACE = 10.0

#: From this many actors of one object type on, the event listener subscribes
#: to the type's pattern (``event.feed.*``) instead of each of their channels.
PATTERN_FROM = 1000

#: From this many feed actors on, the garbage collector is paused while they
#: start (see _gcpause: measured at 10,000).
GC_PAUSE_FROM = 1000


def _seconds(value: float, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < math.inf:
        raise UsageError(f"{what} must be seconds > 0, not {value!r}")
    return float(value)


class App:
    """Handlers for job queues and feeds, run as trio actors (see the module doc).

    Args:
        url: the Redis URL; None means ``$THOONK_REDIS_URL`` or the embedded server.
        grace: default seconds running handlers get to finish when stopping.
        heartbeat_interval: seconds between heartbeats of each job queue.
        stale_after: seconds of silence after which a worker counts as dead
            and reapers take its claims back (every worker of a queue should
            agree on it).
        reap_interval: seconds between reaper sweeps (in every worker).
    """

    def __init__(
        self,
        url: str | None = None,
        *,
        grace: float = DEFAULT_GRACE,
        heartbeat_interval: float = HEARTBEAT_STALE_MS / 3000,
        stale_after: float = HEARTBEAT_STALE_MS / 1000,
        reap_interval: float = 2.0,
    ) -> None:
        if grace != 0:
            _seconds(grace, "grace")
        heartbeat_interval = _seconds(heartbeat_interval, "heartbeat_interval")
        stale_after = _seconds(stale_after, "stale_after")
        if heartbeat_interval >= stale_after:
            raise UsageError(
                f"heartbeat_interval ({heartbeat_interval:g} s) must be shorter than "
                f"stale_after ({stale_after:g} s), or live workers would be reaped"
            )
        self.url = url
        self.grace = float(grace)
        self.upkeep = UpkeepSettings(
            heartbeat_interval=heartbeat_interval,
            stale_ms=math.ceil(stale_after * 1000),
            reap_interval=_seconds(reap_interval, "reap_interval"),
        )
        self.jobs: dict[str, JobRegistration] = {}
        self.feeds: dict[tuple[FeedKind, str], FeedRegistration] = {}
        self.schedules: dict[str, ScheduleRegistration] = {}

    def __repr__(self) -> str:
        return f"<App jobs={sorted(self.jobs)} feeds={sorted(n for _, n in self.feeds)}>"

    # ---------------------------------------------------------- registering

    def job(
        self,
        name: str,
        *,
        concurrency: int = 16,
        timeout: float | None = 300.0,
        max_cancels: int | None = None,
        prefetch: int | None = None,
    ) -> Callable[[F], F]:
        """``@app.job("emails")``: handle the jobs of a queue; returns the function unchanged.

        The handler gets the job's item and returns its result (JSON by
        default). Raising cancels the job (its failure count + 1, the error
        ``Type: message`` kept); at ``max_cancels`` failures it is stalled.

        Args:
            concurrency: handlers running at once in this process.
            timeout: seconds a handler may run; then it is cancelled and the
                job cancelled with ``timed out after Ns``. Also the queue's
                claim timeout (a claim is renewed every third of it while the
                job is held). None: no deadline, queue setting left alone.
            max_cancels: failures after which a job is stalled (sets the
                queue's config); None: the queue's setting.
            prefetch: jobs claimed ahead of free handlers, fixed; 0 claims
                only for free handlers. None (default): adaptive, from a
                quarter of ``concurrency`` up to 400 while handlers keep up,
                never more than ~25 ms of work at their measured rate.
        """

        def register(fn: F) -> F:
            if name in self.jobs:
                raise UsageError(f"job queue {name!r} already has a handler in this app")
            self.jobs[name] = JobRegistration.make(
                fn,
                name,
                concurrency=concurrency,
                timeout=timeout,
                max_cancels=max_cancels,
                prefetch=prefetch,
            )
            return fn

        return register

    def every(
        self,
        seconds: float,
        *,
        name: str | None = None,
        catch_up: bool = False,
        concurrency: int = 1,
        timeout: float | None = 300.0,
        max_cancels: int | None = None,
    ) -> Callable[[F], F]:
        """``@app.every(60)``: a recurring job, one run per tick across every process.

        Ticks fall on the multiples of ``seconds`` since the epoch, by the
        Redis server's clock. The handler is registered as the job handler of
        the queue ``name`` (default: the function's name) and gets
        ``{"schedule": name, "tick_ms": ms, "tick": "2026-...Z"}``. After
        downtime only the most recent missed tick runs, unless ``catch_up``
        (every missed tick, at most 1000). The other arguments are
        :meth:`job`'s. See ``thoonk_actors.runtime._schedules``.
        """
        rule = Every.of(seconds)
        return self._register_schedule(
            rule, name, catch_up, concurrency=concurrency, timeout=timeout, max_cancels=max_cancels
        )

    def cron(
        self,
        expression: str,
        *,
        tz: str | None = None,
        name: str | None = None,
        catch_up: bool = False,
        concurrency: int = 1,
        timeout: float | None = 300.0,
        max_cancels: int | None = None,
    ) -> Callable[[F], F]:
        """``@app.cron("*/5 * * * *", tz="Europe/Paris")``: as :meth:`every`, on a cron rule.

        Five fields (minute hour day-of-month month day-of-week), read by
        ``cronsim`` (the ``cron`` extra) in the IANA time zone ``tz`` (UTC by
        default). An invalid expression or unknown zone is a UsageError here.
        """
        rule = Cron.of(expression, tz)
        return self._register_schedule(
            rule, name, catch_up, concurrency=concurrency, timeout=timeout, max_cancels=max_cancels
        )

    def _register_schedule(
        self,
        rule: Every | Cron,
        name: str | None,
        catch_up: bool,
        *,
        concurrency: int,
        timeout: float | None,
        max_cancels: int | None,
    ) -> Callable[[F], F]:
        if not isinstance(catch_up, bool):
            raise UsageError(f"catch_up must be True or False, not {catch_up!r}")

        def register(fn: F) -> F:
            queue = name if name is not None else getattr(fn, "__name__", None)
            if not isinstance(queue, str) or not queue:
                raise UsageError("give the schedule a name=: the function has no __name__")
            if queue in self.schedules:
                raise UsageError(f"schedule {queue!r} is already registered in this app")
            self.job(queue, concurrency=concurrency, timeout=timeout, max_cancels=max_cancels)(fn)
            self.schedules[queue] = ScheduleRegistration(queue, queue, rule, catch_up)
            return fn

        return register

    def feed(self, name: str, *, buffer: int = 256, snapshot: bool = True) -> Callable[[F], F]:
        """``@app.feed("news")``: one actor gets the feed's events in order.

        The handler gets :class:`~thoonk_actors.objects.FeedEvent` values,
        and a :class:`Resync` with the stored items whenever it must rebuild
        its state: at start (unless ``snapshot=False``), after it fell more
        than ``buffer`` events behind, after a reconnect, after a crash.
        """
        return self._register_feed(name, "feed", buffer=buffer, snapshot=snapshot)

    def sorted_feed(
        self, name: str, *, buffer: int = 256, snapshot: bool = True
    ) -> Callable[[F], F]:
        """``@app.sorted_feed("agenda")``: like :meth:`feed`, with ``SortedFeedEvent`` values."""
        return self._register_feed(name, "sorted_feed", buffer=buffer, snapshot=snapshot)

    def _register_feed(
        self, name: str, kind: FeedKind, *, buffer: int, snapshot: bool
    ) -> Callable[[F], F]:
        def register(fn: F) -> F:
            if (kind, name) in self.feeds:
                raise UsageError(f"{kind.replace('_', ' ')} {name!r} already has an actor")
            self.feeds[(kind, name)] = FeedRegistration.make(
                fn, name, kind=kind, buffer=buffer, snapshot=snapshot
            )
            return fn

        return register

    # -------------------------------------------------------------- running

    async def run(
        self,
        *,
        burst: bool = False,
        handle_signals: bool = False,
        grace: float | None = None,
        thoonk: Thoonk | None = None,
        task_status: trio.TaskStatus[RunningApp] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        """``await app.run()``: run until stopped or cancelled.

        Args:
            burst: return once every job queue is drained (tests, batch runs).
            handle_signals: SIGINT/SIGTERM stop gracefully (main thread only).
            grace: seconds running handlers get on a signal (default: the app's).
            thoonk: a connected client to use instead of opening one.
            task_status: for ``nursery.start(app.run)``: gives the :class:`RunningApp`.
        """
        async with (
            self.open(thoonk=thoonk, burst=burst) as running,
            open_service_nursery() as nursery,
        ):
            if handle_signals:
                await nursery.start(stop_on_signals, running, grace)
            task_status.started(running)
            await running.wait_stopped()
            nursery.cancel_scope.cancel()

    @asynccontextmanager
    async def open(
        self, *, thoonk: Thoonk | None = None, burst: bool = False
    ) -> AsyncIterator[RunningApp]:
        """``async with app.open() as running``: run the app for the block (see the module doc)."""
        if not self.jobs and not self.feeds:
            raise UsageError("this app has no handlers; register some with @app.job / @app.feed")
        async with AsyncExitStack() as stack:
            if thoonk is None:
                thoonk = await stack.enter_async_context(
                    open_thoonk(self.url, worker_id=default_worker_id())
                )
            async with open_service_nursery() as nursery:
                running: RunningApp = await nursery.start(self._serve, thoonk, burst)
                try:
                    yield running
                except BaseException:
                    running.cancel()
                    raise
                await running.stop()

    def _patterns(self) -> tuple[str, ...]:
        """``event.<kind>.*`` for each object type with at least :data:`PATTERN_FROM` actors."""
        kinds = [registration.kind for registration in self.feeds.values()]
        return tuple(
            f"event.{kind}.*" for kind in sorted(set(kinds)) if kinds.count(kind) >= PATTERN_FROM
        )

    async def _serve(
        self, thoonk: Thoonk, burst: bool, task_status: trio.TaskStatus[RunningApp]
    ) -> None:
        activity = Activity()
        workers = [
            JobWorker(registration, thoonk, upkeep=self.upkeep, activity=activity)
            for registration in self.jobs.values()
        ]
        routes: dict[str, Mailbox] = {}
        actors: list[FeedActor] = []
        snapshots = SnapshotReader(thoonk)
        # Thousands of actors start as thousands of long-lived objects: the
        # collector stays off until they all had their start resync (_gcpause).
        starting = [r for r in self.feeds.values() if r.snapshot]
        pause = StartPause(len(starting) if len(self.feeds) >= GC_PAUSE_FROM else 0)
        try:
            for registration in self.feeds.values():
                obj = watched_object(thoonk, registration)
                mailbox = Mailbox(registration.buffer, activity=activity)
                on_started = pause.started if registration.snapshot else None
                actors.append(FeedActor(registration, obj, mailbox, snapshots, on_started))
                routes.update(dict.fromkeys(channels_of(obj), mailbox))
            running = RunningApp(
                worker_id=thoonk.worker_id,
                workers=workers,
                actors=actors,
                grace=self.grace,
                activity=activity,
            )
        except BaseException:
            pause.release()
            raise
        try:
            async with trio.open_nursery() as nursery:
                running._cancel_scope = nursery.cancel_scope
                nursery.start_soon(pause.serve)
                if routes:
                    # Subscribed (acknowledged) before any actor reads its snapshot.
                    router = EventRouter(thoonk, routes, self._patterns())
                    # The router keeps the channels as bytes: this frame lives
                    # as long as the app, and 5 strs per feed add up (issue 12).
                    routes.clear()
                    await nursery.start(router.serve)
                    nursery.start_soon(snapshots.serve)
                for actor in actors:
                    nursery.start_soon(actor.serve)
                nursery.start_soon(running._refresh_live)
                for schedule in self.schedules.values():
                    nursery.start_soon(ticker, thoonk, schedule)
                workers_done = trio.Event()
                nursery.start_soon(_run_workers, workers, workers_done)
                if burst:
                    nursery.start_soon(stop_when_drained, running)
                running._set_state("running")
                task_status.started(running)
                await running._stop_requested.wait()
                await workers_done.wait()
                nursery.cancel_scope.cancel()
        finally:
            pause.release()
            running._set_state("stopped")
            running.live.value = running.statistics()
            running._stopped.set()


async def _run_workers(workers: list[JobWorker], done: trio.Event) -> None:
    try:
        async with trio.open_nursery() as nursery:
            for worker in workers:
                nursery.start_soon(worker.serve)
    finally:
        done.set()
