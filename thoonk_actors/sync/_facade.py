"""Blocking twins of the Thoonk objects, for notebooks, scripts and the REPL.

Synopsis::

    from thoonk_actors import sync

    t = sync.connect()                     # embedded Redis, or connect(url)
    emails = t.job("emails")
    job_id = emails.publish({"to": "a@example.org"})
    job = emails.get(timeout=5)
    emails.finish(job, {"sent": True})
    for event in t.feed("news").events(timeout=10):
        print(event)
    sub = t.feed("news").subscribe(print)  # a callback in a worker thread
    worker = t.process("emails", send, concurrency=4)   # a worker in this process
    worker.wait(timeout=60); worker.stop()
    t.close()                              # also done at interpreter exit

Every async method of :class:`~thoonk_actors.Job`, :class:`~thoonk_actors.Feed`,
:class:`~thoonk_actors.SortedFeed` and :class:`~thoonk_actors.Queue` is
available here as a blocking call with the same name, arguments and result
(typed from the async method: see ``_twins.py``); it runs in the connection's
background trio loop (see ``_portal.py``), so it never duplicates an operation.
Ctrl-C or a kernel interrupt stops a blocking call.
"""

from __future__ import annotations

import asyncio
import atexit
import functools
import inspect
import queue
import threading
from collections.abc import Awaitable, Callable, Iterable
from contextlib import suppress
from types import TracebackType
from typing import Any, Unpack, cast

import outcome
import trio

from .._redact import redact_url
from ..contract import Codec
from ..objects import (
    Feed,
    Gap,
    Job,
    Queue,
    SortedFeed,
    Thoonk,
    ThoonkObject,
    ThoonkOptions,
    open_thoonk,
)
from ._blocking import blocking_call
from ._portal import Portal, PortalClosedError
from ._twins import (
    FeedMethods,
    JobMethods,
    ObjectMethods,
    QueueMethods,
    SortedFeedMethods,
    ThoonkMethods,
)
from ._views import make_view
from ._workers import CallbackSubscription, WorkerHandle

_OPEN_TIMEOUT = 30.0


class EventStream:
    """Blocking iterator over an object's events; subscribed as soon as it exists.

    ``timeout`` ends the iteration when no event arrived for that many seconds
    (None: wait for ever). Close it (or use ``with``) to unsubscribe.

    Bounded like the subscription under it: one event at a time crosses to
    the reading thread, the others wait in the subscription (``buffer``
    events), so a reader that falls behind gets the subscription's
    ``Gap("overflow")`` in order and memory stays bounded.
    """

    def __init__(
        self,
        portal: Portal[Thoonk],
        obj: ThoonkObject[Any],
        events: Iterable[str] | None,
        *,
        timeout: float | None,
        buffer: int,
    ) -> None:
        self._timeout = timeout
        self._queue: queue.Queue[object] = queue.Queue()
        self._buffer = buffer
        self._portal = portal
        self._closed = False
        subscribed = threading.Event()
        failure: list[BaseException] = []
        decode: Callable[[Any], Any] = getattr(obj, "decode_event", lambda event: event)
        wanted = None if events is None else tuple(events)

        # Taken by the pump before each event it passes on, given back by the
        # reader as it takes one (_AHEAD: how many cross ahead of the reader).
        room = self._room = trio.Semaphore(_AHEAD)

        async def pump() -> None:
            try:
                async with obj.events(wanted, buffer=buffer) as stream:
                    subscribed.set()
                    while True:
                        await room.acquire()
                        try:
                            event = await stream.receive()
                        except trio.EndOfChannel:  # the subscription ended: so does the stream
                            break
                        self._queue.put(event if isinstance(event, Gap) else decode(event))
                self._queue.put(_END)
            except BaseException as exc:
                failure.append(exc)
                subscribed.set()
                self._queue.put(_END)
                raise

        self._scope = portal.spawn(pump)
        subscribed.wait(_OPEN_TIMEOUT)
        if failure:
            raise failure[0]

    def __iter__(self) -> EventStream:
        return self

    def __next__(self) -> Any:
        if self._closed:
            raise StopIteration
        try:
            event = self._queue.get(timeout=self._timeout)
        except queue.Empty:
            self.close()
            raise StopIteration from None
        if event is _END:
            self.close()
            raise StopIteration
        self._portal.call_soon(self._room.release)
        return event

    def close(self) -> None:
        """Unsubscribe."""
        if not self._closed:
            self._closed = True
            self._portal.cancel(self._scope)

    def __enter__(self) -> EventStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        if not self._closed and not self._portal.closed:
            self.close()


_END = object()
#: Events an EventStream passes to its reading thread ahead of the reader.
_AHEAD = 1


class AsyncView:
    """``q.aio``: an object's async methods, for asyncio (a notebook's ``await``) and trio.

    ``await q.aio.statistics()`` in a Jupyter cell runs ``statistics()`` in
    the connection's trio loop and awaits its result from the kernel's
    asyncio loop; exceptions keep their type and traceback. Inside the
    connection's own loop the methods are the object's own (trio)
    coroutines. Attributes that are not async methods are the object's own
    (``events()`` is trio-only: from a cell use the blocking ``q.events()``
    or ``q.subscribe(callback)``).
    """

    __slots__ = ("_obj", "_portal")

    def __init__(self, portal: Portal[Thoonk], obj: ThoonkObject[Any]) -> None:
        self._portal = portal
        self._obj = obj

    def __getattr__(self, attribute: str) -> Any:
        value = getattr(self._obj, attribute)
        if not inspect.iscoroutinefunction(value):
            return value
        portal = self._portal

        @functools.wraps(value)
        def call(*args: Any, **kwargs: Any) -> Awaitable[Any]:
            if threading.current_thread() is not portal._thread and _in_asyncio():
                return _await_in_loop(portal, functools.partial(value, *args, **kwargs))
            coroutine: Awaitable[Any] = value(*args, **kwargs)
            return coroutine

        return call

    def __dir__(self) -> list[str]:
        return sorted(n for n in dir(self._obj) if not n.startswith("_"))

    def __repr__(self) -> str:
        return f"<async {type(self._obj).__name__} {self._obj.name!r}>"


def _in_asyncio() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


async def _await_in_loop(portal: Portal[Thoonk], fn: Callable[[], Awaitable[Any]]) -> Any:
    """Run ``fn`` in the connection's trio loop; await its outcome from asyncio."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[Any] = loop.create_future()

    def settle(result: outcome.Outcome[Any]) -> None:
        if future.done():
            return
        if isinstance(result, outcome.Value):
            future.set_result(result.value)
        elif isinstance(result, outcome.Error):
            future.set_exception(result.error)

    async def call() -> None:
        result: outcome.Outcome[Any] = outcome.Error(
            PortalClosedError("the call was cancelled because the connection closed")
        )
        try:
            captured = await outcome.acapture(fn)
            cancelled = isinstance(captured, outcome.Error) and isinstance(
                captured.error, trio.Cancelled
            )
            if not cancelled:
                result = captured
        finally:
            with suppress(RuntimeError):  # the asyncio loop is closed: nobody waits
                loop.call_soon_threadsafe(settle, result)

    scope = portal.spawn(call)
    try:
        return await future
    except asyncio.CancelledError:
        portal.cancel(scope)
        raise


class SyncObject(ObjectMethods):
    """Blocking twin of one object; every async method becomes a blocking one.

    The subclasses list each async method (``_twins.py``), typed from it;
    ``__getattr__`` forwards what they do not list (the object's plain
    attributes: ``keys``, ``codec``, ``channel()``, ...).
    """

    def __init__(self, portal: Portal[Thoonk], obj: ThoonkObject[Any]) -> None:
        self._portal = portal
        self._obj = obj

    @property
    def name(self) -> str:
        return self._obj.name

    @property
    def aio(self) -> Any:
        """``await q.aio.statistics()``: the async methods, awaitable from a notebook cell.

        In Jupyter a cell's top-level ``await`` runs on the kernel's asyncio
        loop, while the object lives in the connection's trio loop. Called
        from asyncio, each async method runs in the connection's loop and is
        awaited as an asyncio future (cancelling the cell's task cancels it);
        called inside the connection's loop (a widget, an in-kernel worker),
        it is the trio coroutine itself. See :class:`AsyncView`.
        """
        return AsyncView(self._portal, self._obj)

    def _blocking(self, name: str) -> Callable[..., Any]:
        return blocking_call(self._portal, getattr(self._obj, name))

    def __getattr__(self, attribute: str) -> Any:
        value = getattr(self._obj, attribute)
        if inspect.iscoroutinefunction(value):
            return blocking_call(self._portal, value)
        return value

    def __dir__(self) -> list[str]:
        return sorted({*super().__dir__(), *(n for n in dir(self._obj) if not n.startswith("_"))})

    def events(
        self,
        events: Iterable[str] | None = None,
        *,
        timeout: float | None = None,
        buffer: int = 1024,
    ) -> EventStream:
        """A blocking iterator of this object's events (subscribed on return)."""
        return EventStream(self._portal, self._obj, events, timeout=timeout, buffer=buffer)

    def subscribe(
        self,
        callback: Callable[[Any], object],
        events: Iterable[str] | None = None,
        *,
        buffer: int = 1024,
    ) -> CallbackSubscription:
        """``sub = feed.subscribe(print)``: call ``callback(event)`` for every event, until closed.

        Subscribed on return. The callback runs in a worker thread (never in
        the loop), one event at a time, in order; what it raises is logged,
        not fatal. ``events`` picks event names (default: all of them). See
        :class:`CallbackSubscription`.
        """
        return CallbackSubscription(self._portal, self._obj, callback, events, buffer=buffer)

    def __repr__(self) -> str:
        return f"<sync {type(self._obj).__name__} {self._obj.name!r}>"

    # ---------------------------------------------------- notebook display

    _view_kind = ""

    def view(self) -> Any:
        """A live widget for this object (needs ``pip install 'thoonk-actors[notebook]'``)."""
        return make_view(self._view_kind, self)

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        # The last expression of a notebook cell shows its live widget.
        try:
            widget = self.view()
        except (ImportError, NotImplementedError):
            return {"text/plain": repr(self)}
        return widget._repr_mimebundle_(**kwargs)


class SyncJob(JobMethods, SyncObject):
    """Blocking twin of :class:`~thoonk_actors.Job`."""

    _view_kind = "job"  # shown as a JobBoard

    @property
    def aio(self) -> Job:
        """As :attr:`SyncObject.aio`, typed as the async object (its methods awaitable)."""
        return cast(Job, AsyncView(self._portal, self._obj))


class SyncFeed(FeedMethods, SyncObject):
    """Blocking twin of :class:`~thoonk_actors.Feed`."""

    _view_kind = "feed"  # shown as a FeedView

    @property
    def aio(self) -> Feed:
        """As :attr:`SyncObject.aio`, typed as the async object (its methods awaitable)."""
        return cast(Feed, AsyncView(self._portal, self._obj))


class SyncSortedFeed(SortedFeedMethods, SyncObject):
    """Blocking twin of :class:`~thoonk_actors.SortedFeed`."""

    _view_kind = "sorted_feed"  # shown as a FeedView

    @property
    def aio(self) -> SortedFeed:
        """As :attr:`SyncObject.aio`, typed as the async object (its methods awaitable)."""
        return cast(SortedFeed, AsyncView(self._portal, self._obj))


class SyncQueue(QueueMethods, SyncObject):
    """Blocking twin of :class:`~thoonk_actors.Queue`."""

    @property
    def aio(self) -> Queue:
        """As :attr:`SyncObject.aio`, typed as the async object (its methods awaitable)."""
        return cast(Queue, AsyncView(self._portal, self._obj))


class SyncThoonk(ThoonkMethods):
    """A connection with its own background trio loop. Make one with :func:`connect`.

    ``names``, ``discover``, ``register`` and ``execute`` are the blocking
    twins of :class:`~thoonk_actors.Thoonk`'s (see ``_twins.py``).
    """

    def __init__(self, portal: Portal[Thoonk]) -> None:
        self._portal = portal
        self._workers: dict[str, WorkerHandle] = {}
        self._workers_lock = threading.Lock()

    @property
    def url(self) -> str:
        return self._portal.resource.url

    @property
    def worker_id(self) -> str:
        return self._portal.resource.worker_id

    @property
    def closed(self) -> bool:
        return self._portal.closed

    @property
    def portal(self) -> Portal[Thoonk]:
        """The background loop (for the runtime and widgets built on this connection)."""
        return self._portal

    def _check(self) -> Thoonk:
        if self._portal.closed:
            raise PortalClosedError("this connection is closed; open a new one with connect()")
        return self._portal.resource

    def _blocking(self, name: str) -> Callable[..., Any]:
        return blocking_call(self._portal, getattr(self._check(), name))

    def job(self, name: str, *, codec: Codec | None = None) -> SyncJob:
        """The job queue ``name``, with blocking methods."""
        return SyncJob(self._portal, self._check().job(name, codec=codec))

    def feed(self, name: str, *, codec: Codec | None = None) -> SyncFeed:
        """The feed ``name``, with blocking methods."""
        return SyncFeed(self._portal, self._check().feed(name, codec=codec))

    def sorted_feed(self, name: str, *, codec: Codec | None = None) -> SyncSortedFeed:
        """The sorted feed ``name``, with blocking methods."""
        return SyncSortedFeed(self._portal, self._check().sorted_feed(name, codec=codec))

    def queue(self, name: str, *, codec: Codec | None = None) -> SyncQueue:
        """The queue ``name``, with blocking methods."""
        return SyncQueue(self._portal, self._check().queue(name, codec=codec))

    def process(
        self,
        name: str,
        fn: Callable[[Any], Any],
        *,
        concurrency: int = 16,
        timeout: float | None = 300.0,
        max_cancels: int | None = None,
        prefetch: int | None = None,
        grace: float = 10.0,
    ) -> WorkerHandle:
        """``worker = t.process("emails", send, concurrency=4)``: handle a queue's jobs here.

        Runs the runtime's job worker for ``fn`` in this connection's
        background loop — an ``async def`` as trio tasks, a plain ``def`` in
        threads — until ``worker.stop()`` or :meth:`close`. ``fn`` gets each
        job's item; what it returns is the job's result; what it raises
        cancels the job (stalled at ``max_cancels`` failures). The options
        are those of ``@app.job`` (see ``docs/runtime.md``); ``grace`` is how
        long running handlers get when the worker stops.

        One worker per queue and connection: calling ``process()`` again for
        the same queue (re-running a notebook cell) stops the previous worker
        gracefully and replaces it.

        Raises:
            UsageError: a bad option (checked before anything starts).
        """
        self._check()
        with self._workers_lock:
            previous = self._workers.pop(name, None)
        if previous is not None:
            previous.stop()
            previous._close()
        handle = WorkerHandle(
            self._portal,
            name,
            fn,
            concurrency=concurrency,
            timeout=timeout,
            max_cancels=max_cancels,
            prefetch=prefetch,
            grace=grace,
        )
        handle._launch()
        with self._workers_lock:
            self._workers[name] = handle
        return handle

    @property
    def workers(self) -> dict[str, WorkerHandle]:
        """The in-kernel workers of this connection (from :meth:`process`), by queue name."""
        with self._workers_lock:
            return dict(self._workers)

    def close(self) -> None:
        """Close the connection and stop its loop (idempotent)."""
        self._portal.close()

    def __enter__(self) -> SyncThoonk:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        # Never the password: a repr ends up in saved notebooks and logs.
        state = "closed" if self.closed else redact_url(self.url)
        return f"<thoonk sync connection {state}>"


def connect(url: str | None = None, **options: Unpack[ThoonkOptions]) -> SyncThoonk:
    """Connect, with a background trio loop; works in Jupyter, scripts and the REPL.

    ``url`` and ``options`` are those of :func:`thoonk_actors.open_thoonk`
    (None: ``$THOONK_REDIS_URL`` or the embedded server; the options are
    :class:`~thoonk_actors.objects.ThoonkOptions`).

    Raises:
        UsageError: an unknown or invalid option.
        ThoonkConnectionError: the server cannot be reached.
    """
    portal: Portal[Thoonk] = Portal.start(
        functools.partial(open_thoonk, url, **options), name="thoonk-sync-loop"
    )
    return SyncThoonk(portal)


atexit.register(Portal.close_all)
