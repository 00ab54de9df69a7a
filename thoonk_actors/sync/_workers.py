"""In-kernel workers and callback subscriptions, in the connection's background loop.

Synopsis::

    t = thoonk_actors.sync.connect()

    def send(item):                                  # a plain def runs in a thread
        return {"sent": item["to"]}

    worker = t.process("emails", send, concurrency=4, max_cancels=3)
    worker.wait(timeout=60)                           # until the queue is drained
    worker.statistics().finished
    worker.stop()                                     # graceful: nothing stays claimed

    sub = t.feed("news").subscribe(print)             # print runs in a worker thread
    sub.close()

A worker is the runtime (:class:`~thoonk_actors.runtime.App` with one
``@app.job`` registration) run in the connection's trio loop, next to what
the notebook does with the blocking API. It shares the connection's Redis
client but claims under a worker id of its own (a fresh one per start): two
apps must never share a worker id, or the first to stop would say goodbye
(``heartbeat(leave=True)``) for both. Handler exceptions are kept, with the
id of the job that raised, for :meth:`WorkerHandle.errors` and the
:class:`~thoonk_actors.widgets.WorkerPanel`.

Threads: everything that touches trio objects (``AsyncValue``, the running
app) happens in the loop's thread; blocking methods get there through the
portal, so they work from the kernel's thread and from any other thread.
"""

from __future__ import annotations

import collections
import dataclasses
import functools
import inspect
import logging
import threading
import time
import traceback
from collections.abc import Callable, Iterable
from typing import Any, Literal

import trio
from trio_util import AsyncValue

from .._backoff import BackoffPolicy
from .._errors import ThoonkError, UsageError
from ..objects import Gap, Thoonk, ThoonkObject
from ..runtime import App, QueueStatistics, RunningApp, current_job
from ._portal import Portal, PortalClosedError
from ._views import make_view

log = logging.getLogger(__name__)

WorkerState = Literal["starting", "running", "stopping", "stopped"]

#: Handler errors a worker keeps (the oldest are forgotten first).
ERRORS_KEPT = 50
#: How long ``close()`` of a subscription waits for its task to end.
_CLOSE_WAIT = 10.0
_OPEN_TIMEOUT = 30.0
#: Pauses before following a queue's events again; a stream that opened starts them over.
_FOLLOW_BACKOFF = BackoffPolicy(first=0.5, maximum=10.0)


class DrainTimeoutError(ThoonkError, TimeoutError):
    """:meth:`WorkerHandle.wait` ran out of time before the queue was drained."""


@dataclasses.dataclass(frozen=True, slots=True)
class HandlerError:
    """One exception a worker's handler raised, and the job it raised for.

    ``worker.errors()[-1].job_id``. A handler cut by its ``timeout`` raised
    nothing itself: it is counted in ``statistics().timed_out`` instead.

    Attributes:
        job_id: the job being handled.
        failures: the job's failure count before this attempt.
        error: ``Type: message`` (what the runtime stores as the job's last error).
        traceback: the formatted traceback, from the handler's frame down.
        at: when it happened (``time.time()``).
    """

    job_id: str
    failures: int
    error: str
    traceback: str
    at: float


def _is_async(fn: Callable[..., Any]) -> bool:
    # inspect unwraps functools.partial; a callable object counts by its __call__.
    if inspect.iscoroutinefunction(fn):
        return True
    call = getattr(fn, "__call__", None)  # noqa: B004 (we want the method, not callable())
    return call is not None and inspect.iscoroutinefunction(call)


def _label(fn: Callable[..., Any]) -> str:
    return getattr(fn, "__qualname__", None) or repr(fn)


def _add(past: QueueStatistics | None, current: QueueStatistics) -> QueueStatistics:
    """``current`` with the counts of earlier runs added (in-flight figures are current)."""
    if past is None:
        return current
    return dataclasses.replace(
        current,
        claimed=past.claimed + current.claimed,
        finished=past.finished + current.finished,
        failed=past.failed + current.failed,
        timed_out=past.timed_out + current.timed_out,
        stalled=past.stalled + current.stalled,
        released=past.released + current.released,
        lost=past.lost + current.lost,
    )


class WorkerHandle:
    """``worker = t.process("emails", fn, concurrency=4)``: a job worker in this kernel.

    Make one with :meth:`SyncThoonk.process <thoonk_actors.sync.SyncThoonk.process>`;
    it is running on return. Blocking methods (``stop``, ``wait``,
    ``statistics``, ...) may be called from any thread but the loop's own.
    Closing the connection stops it at once (running jobs are released).

    Attributes:
        name: the job queue.
        fn: the handler (called with each job's item; returns its result).
    """

    def __init__(
        self,
        portal: Portal[Thoonk],
        name: str,
        fn: Callable[[Any], Any],
        *,
        concurrency: int,
        timeout: float | None,
        max_cancels: int | None,
        prefetch: int | None,
        grace: float,
    ) -> None:
        if not callable(fn):
            raise UsageError(f"process() needs a callable handler, not {type(fn).__name__}")
        self._portal = portal
        self.name = name
        self.fn = fn
        self._concurrency = concurrency
        self._options: dict[str, Any] = {
            "timeout": timeout, "max_cancels": max_cancels, "prefetch": prefetch,
        }  # fmt: skip
        self._grace = grace
        self._handler = self._wrap(fn)
        self._make_app(concurrency)  # registration errors (UsageError) surface here, at once
        self._errors: collections.deque[HandlerError] = collections.deque(maxlen=ERRORS_KEPT)
        self._errors_lock = threading.Lock()
        self._error_count = 0
        # Loop-side state (read from other threads only as plain attributes).
        self._state: AsyncValue[WorkerState] = AsyncValue("stopped")
        self._changes: AsyncValue[int] = AsyncValue(0)
        self._running: RunningApp | None = None
        self._past: QueueStatistics | None = None
        self._worker_id: str | None = None
        self._failure: BaseException | None = None
        self._lock: trio.Lock | None = None
        self._nursery: trio.Nursery | None = None
        self._host_scope: trio.CancelScope | None = None
        self._closed = False

    # ----------------------------------------------------------- properties

    @property
    def concurrency(self) -> int:
        """Handler tasks (threads, for a plain ``def``) of the current or next run."""
        return self._concurrency

    @property
    def state(self) -> WorkerState:
        """``"starting"``, ``"running"``, ``"stopping"`` or ``"stopped"``."""
        state: WorkerState = self._state.value
        return state

    @property
    def running(self) -> bool:
        """Whether the worker is claiming jobs (or about to)."""
        return self._state.value in ("starting", "running")

    @property
    def worker_id(self) -> str | None:
        """The worker id of the current (or last) run, as in the queue's heartbeats."""
        return self._worker_id

    @property
    def failure(self) -> BaseException | None:
        """What stopped the last run, if it stopped by itself with an error (else None)."""
        return self._failure

    # -------------------------------------------------------------- control

    def start(self) -> None:
        """``worker.start()``: start again after :meth:`stop` (nothing happens if running).

        Raises:
            UsageError: the handle was replaced by another ``process()`` of its queue.
        """
        self._portal.run(self._astart)

    def stop(self, grace: float | None = None) -> None:
        """``worker.stop(grace=5)``: stop gracefully and wait until stopped.

        Claiming stops at once; jobs claimed but not started are released;
        running handlers get ``grace`` seconds (default: the ``grace`` given
        to ``process()``), then they are cancelled and their jobs released
        (no failure counted). Nothing stays claimed by this worker. A plain
        ``def`` that is still running then is abandoned (threads cannot be
        interrupted): its result is ignored.
        """
        self._portal.run(self._astop, grace)

    def restart(self, *, concurrency: int | None = None, grace: float | None = None) -> None:
        """``worker.restart(concurrency=8)``: stop gracefully, start with the new settings.

        The runtime sizes its handler tasks when it starts, so a new
        concurrency means a new run; the statistics carry on across runs.
        A stopped worker only takes the new setting (:meth:`start` uses it).
        """
        self._portal.run(self._arestart, concurrency, grace)

    # ------------------------------------------------------------ observing

    def statistics(self) -> QueueStatistics:
        """``worker.statistics()``: the runtime's :class:`~thoonk_actors.runtime.QueueStatistics`.

        Counts since the handle was made, across restarts; ``in_flight``,
        ``running`` and ``rate`` are those of the current run (0 when stopped).
        """
        return self._portal.run_sync(self._snapshot)

    def wait(self, timeout: float | None = None) -> QueueStatistics:
        """``stats = worker.wait(timeout=60)``: block until the queue is drained, or stopped.

        Drained: nothing queued, claimed or scheduled (by anyone), nothing in flight
        here — the runtime's burst rule. Stalled jobs do not count. Returns
        :meth:`statistics`. Ctrl-C (a kernel interrupt) stops the wait, not
        the worker.

        Raises:
            DrainTimeoutError: ``timeout`` seconds passed first.
        """
        return self._portal.run(self._await_drained, timeout)

    def errors(self) -> list[HandlerError]:
        """``worker.errors()``: the last handler exceptions (at most 50), oldest first."""
        with self._errors_lock:
            return list(self._errors)

    @property
    def error_count(self) -> int:
        """Handler exceptions since the handle was made (also those forgotten)."""
        return self._error_count

    # -------------------------------------------------------------- display

    def view(self) -> Any:
        """A live :class:`~thoonk_actors.widgets.WorkerPanel` of this worker."""
        return make_view("worker", self)

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        # The last expression of a notebook cell shows its live widget.
        try:
            widget = self.view()
        except (ImportError, NotImplementedError):
            return {"text/plain": repr(self)}
        return widget._repr_mimebundle_(**kwargs)

    def __repr__(self) -> str:
        return (
            f"<worker {self.name!r} handler={_label(self.fn)} "
            f"concurrency={self._concurrency} {self.state}>"
        )

    # ------------------------------------------------- loop side (widgets)

    def _snapshot(self) -> QueueStatistics:
        """The statistics now (in the loop's thread)."""
        running = self._running
        if running is not None:
            return _add(self._past, running.statistics().queue(self.name))
        if self._past is not None:
            return dataclasses.replace(
                self._past, concurrency=self._concurrency, in_flight=0, running=0, rate=0.0
            )
        return QueueStatistics(
            name=self.name, concurrency=self._concurrency, claimed=0, in_flight=0, running=0,
            finished=0, failed=0, timed_out=0, stalled=0, released=0, lost=0, rate=0.0,
        )  # fmt: skip

    async def _wait_changed(self, seen: int) -> int:
        """Wait until something changed since revision ``seen``; the new revision.

        Changes: the worker's state, its statistics (refreshed by the runtime
        twice a second), a handler error, an event of its queue.
        """
        revision: int = await self._changes.wait_value(lambda value: value != seen)
        return revision

    def _bump(self) -> None:
        self._changes.value += 1

    async def _astart(self) -> None:
        if self._closed:
            raise UsageError(
                f"this worker of {self.name!r} was replaced by a newer process() call; "
                "use the new handle"
            )
        assert self._lock is not None and self._nursery is not None
        async with self._lock:
            if self._running is None:
                await self._nursery.start(self._serve, self._make_app(self._concurrency))

    async def _astop(self, grace: float | None) -> None:
        assert self._lock is not None
        async with self._lock:
            await self._stop_locked(grace)

    async def _arestart(self, concurrency: int | None, grace: float | None) -> None:
        assert self._lock is not None
        if concurrency is not None:
            self._make_app(concurrency)  # refuse a bad value before stopping anything
        async with self._lock:
            was_running = self._running is not None
            await self._stop_locked(grace)
            if concurrency is not None:
                self._concurrency = concurrency
                self._bump()
            if was_running:
                assert self._nursery is not None
                await self._nursery.start(self._serve, self._make_app(self._concurrency))

    async def _stop_locked(self, grace: float | None) -> None:
        running = self._running
        if running is not None:
            await running.stop(self._grace if grace is None else grace)
            await self._state.wait_value("stopped")

    async def _await_drained(self, timeout: float | None) -> QueueStatistics:  # noqa: ASYNC109
        with trio.move_on_after(float("inf") if timeout is None else timeout):
            running = self._running
            if running is not None:
                # The runtime's one drained rule (False: this run stopped first).
                await running.wait_drained()
            return self._snapshot()
        raise DrainTimeoutError(
            f"the queue {self.name!r} was not drained within {timeout:g} s "
            f"({self._snapshot().finished} finished by this worker so far)"
        )

    # -------------------------------------------------------------- running

    def _make_app(self, concurrency: int) -> App:
        app = App(grace=self._grace)
        app.job(self.name, concurrency=concurrency, **self._options)(self._handler)
        return app

    def _wrap(self, fn: Callable[[Any], Any]) -> Callable[[Any], Any]:
        """``fn``, keeping its exceptions (with the job id) before the runtime sees them."""
        record = self._record

        async def async_handler(item: Any) -> Any:
            try:
                return await fn(item)
            except Exception as exc:
                record(exc)
                raise

        def thread_handler(item: Any) -> Any:  # a plain def: the runtime runs it in a thread
            try:
                return fn(item)
            except Exception as exc:
                record(exc)
                raise

        handler: Callable[[Any], Any] = async_handler if _is_async(fn) else thread_handler
        functools.update_wrapper(handler, fn)
        return handler

    def _record(self, exc: Exception) -> None:
        # Runs where the handler runs: the loop, or a worker thread (hence the lock).
        job = current_job()
        assert exc.__traceback__ is not None
        entry = HandlerError(
            job_id=job.id,
            failures=job.failures,
            error=f"{type(exc).__name__}: {exc}",
            traceback="".join(
                traceback.format_exception(type(exc), exc, exc.__traceback__.tb_next)
            ),
            at=time.time(),
        )
        with self._errors_lock:
            self._errors.append(entry)
            self._error_count += 1

    def _launch(self) -> None:
        """Start the handle's host task in the loop, then its first run (blocking)."""
        ready = threading.Event()
        self._host_scope = self._portal.spawn(self._host, ready)
        if not ready.wait(_OPEN_TIMEOUT):
            self._close()
            raise PortalClosedError("the connection's loop did not start the worker")
        try:
            self._portal.run(self._astart)
        except BaseException:
            self._close()
            raise

    def _close(self) -> None:
        """End the handle for good (its run, if any, is cancelled: jobs released)."""
        self._closed = True
        if self._host_scope is not None:
            self._portal.cancel(self._host_scope)

    async def _host(self, ready: threading.Event) -> None:
        """The handle's life in the loop: its runs, and what tells its watchers of changes."""
        self._lock = trio.Lock()
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            nursery.start_soon(self._follow_queue)
            ready.set()
            await trio.sleep_forever()

    async def _follow_queue(self) -> None:
        # Every event of the queue (a publish elsewhere, a retry from the
        # JobBoard...) may change what watchers show: bump the revision.
        job = self._portal.resource.job(self.name)
        backoff = _FOLLOW_BACKOFF.start()
        while True:
            try:
                async with job.events() as events:
                    backoff.reset()
                    async for _ in events:
                        self._bump()
            except Exception as exc:  # a watcher must not take the worker down
                log.warning("following the events of %r failed: %s", self.name, exc)
            await trio.sleep(backoff.next_delay())

    async def _serve(self, app: App, task_status: trio.TaskStatus[RunningApp]) -> None:
        """One run: the app on a client that shares the connection, under a fresh worker id."""
        started = False
        self._failure = None
        self._set_state("starting")
        try:
            # Same Redis connection as everything else, a fresh worker id per run.
            async with self._portal.resource.open_derived() as client:
                self._worker_id = client.worker_id
                async with app.open(thoonk=client) as running:
                    self._running = running
                    started = True
                    self._set_state("running")
                    task_status.started(running)
                    async with trio.open_nursery() as follow:
                        follow.start_soon(self._follow_run, running)
                        await running.wait_stopped()
                        follow.cancel_scope.cancel()
        except Exception as exc:
            if not started:
                raise  # start() raises it
            log.exception("the worker of %r stopped with an error", self.name)
            self._failure = exc
        finally:
            running_app = self._running
            if running_app is not None:
                self._past = _add(self._past, running_app.statistics().queue(self.name))
                self._running = None
            self._set_state("stopped")

    async def _follow_run(self, running: RunningApp) -> None:
        async def states() -> None:
            async for state in running.state.eventual_values():
                if state in ("stopping", "stopped"):
                    self._set_state("stopping")

        async with trio.open_nursery() as nursery:
            nursery.start_soon(states)
            async for _ in running.live.eventual_values():
                self._bump()

    def _set_state(self, state: WorkerState) -> None:
        self._state.value = state
        self._bump()


class CallbackSubscription:
    """``sub = t.feed("news").subscribe(callback)``: call ``callback(event)`` for every event.

    Subscribed on return, so nothing published afterwards is missed. The
    callback runs in a worker thread, one event at a time and in order, so a
    slow callback never blocks the connection's loop (events wait in a
    buffer of ``buffer``; past it they are dropped and the callback gets a
    :class:`~thoonk_actors.objects.Gap`: re-read the stored state then).
    An exception in the callback is logged and counted, and the next event
    is delivered as usual. ``close()`` (or leaving ``with``) unsubscribes.

    Attributes:
        delivered: events handed to the callback.
        failed: of those, the calls that raised.
    """

    def __init__(
        self,
        portal: Portal[Thoonk],
        obj: ThoonkObject[Any],
        callback: Callable[[Any], object],
        events: Iterable[str] | None,
        *,
        buffer: int,
    ) -> None:
        if not callable(callback):
            raise UsageError(f"subscribe() needs a callable, not {type(callback).__name__}")
        self._portal = portal
        self.callback = callback
        self.delivered = 0
        self.failed = 0
        self._closed = False
        self._subscribed = threading.Event()
        self._finished = threading.Event()
        self._failure: list[BaseException] = []
        decode: Callable[[Any], Any] = getattr(obj, "decode_event", lambda event: event)
        wanted = None if events is None else tuple(events)
        label = f"{type(obj).__name__} {obj.name!r}"

        def call(event: Any) -> None:
            try:
                callback(event)
            except Exception:
                self.failed += 1
                log.exception("a subscribe() callback of %s raised on %r", label, event)

        async def serve() -> None:
            try:
                async with obj.events(wanted, buffer=buffer) as stream:
                    self._subscribed.set()
                    async for event in stream:
                        try:
                            decoded = event if isinstance(event, Gap) else decode(event)
                        except Exception:
                            log.exception("an event of %s could not be decoded", label)
                            continue
                        self.delivered += 1
                        await trio.to_thread.run_sync(call, decoded, abandon_on_cancel=True)
            except Exception as exc:  # kept for the caller; never crashes the loop
                self._failure.append(exc)
                if self._subscribed.is_set():
                    log.exception("the subscription to %s ended", label)
            finally:
                self._subscribed.set()
                self._finished.set()

        self._scope = portal.spawn(serve)
        self._subscribed.wait(_OPEN_TIMEOUT)
        if self._failure and self._finished.is_set():
            self._closed = True
            raise self._failure[0]

    @property
    def closed(self) -> bool:
        """Whether it was closed (or ended with an error)."""
        return self._closed or self._finished.is_set()

    def close(self) -> None:
        """``sub.close()``: unsubscribe; no callback starts after it returns (idempotent)."""
        if not self._closed:
            self._closed = True
            self._portal.cancel(self._scope)
            self._finished.wait(_CLOSE_WAIT)

    def __enter__(self) -> CallbackSubscription:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self.closed else "open"
        return f"<subscription {_label(self.callback)} {state}, {self.delivered} delivered>"
