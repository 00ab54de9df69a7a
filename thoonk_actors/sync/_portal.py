"""A trio event loop in a daemon thread, and blocking calls into it.

Synopsis::

    portal = Portal.start(setup)          # setup: async context manager factory
    value = portal.run(some_async_fn, arg)

Why a thread: inside Jupyter the main thread already runs the kernel's asyncio
loop, so neither ``trio.run`` nor ``asyncio.run`` can start there. A trio loop
in its own daemon thread works everywhere — kernel, script, REPL — without
``nest_asyncio``. Blocking calls wait on a ``threading.Event``, which Ctrl-C
(or a kernel interrupt) breaks: the call running in the loop is then cancelled
and ``KeyboardInterrupt`` raised in the caller. Exceptions cross unchanged
(same object, same type, traceback kept).

After ``fork()`` (``multiprocessing`` with the ``fork`` start method) the child
has a copy of the portal but not its thread: a call would wait for ever for a
loop that does not exist, and so would closing at exit. The portal remembers
the pid that started it; in another process every call raises
:class:`PortalClosedError` at once, saying to connect again, and closing only
marks it closed (the parent's connection, whose sockets the child shares, is
left untouched).
"""

from __future__ import annotations

import os
import threading
import weakref
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager, suppress
from typing import Any, Generic, TypeVar

import outcome
import trio

from .._errors import ThoonkError, UsageError

T = TypeVar("T")
R = TypeVar("R")

_CLOSE_TIMEOUT = 10.0


class PortalClosedError(ThoonkError, RuntimeError):
    """The connection's background loop is closed; connect again."""


class Portal(Generic[R]):
    """Owns one background trio loop and the resource opened in it."""

    _live: weakref.WeakSet[Portal[Any]] = weakref.WeakSet()

    def __init__(self, setup: Callable[[], AbstractAsyncContextManager[R]], name: str) -> None:
        self._setup = setup
        self._ready = threading.Event()
        self._stopped = threading.Event()
        self._startup: outcome.Outcome[R] | None = None
        self._token: trio.lowlevel.TrioToken | None = None
        self._nursery: trio.Nursery | None = None
        self._close_requested: trio.Event | None = None
        self._closed = False
        self._pid = os.getpid()  # a forked child must not wait for a loop it lacks
        self._thread = threading.Thread(target=self._thread_main, name=name, daemon=True)

    @classmethod
    def start(
        cls, setup: Callable[[], AbstractAsyncContextManager[R]], *, name: str = "thoonk-loop"
    ) -> Portal[R]:
        """Start the loop, open ``setup()`` in it, and wait until it is ready.

        Raises whatever opening it raised (a connection error, say).
        """
        portal = cls(setup, name)
        portal._thread.start()
        try:
            portal._ready.wait()
        except KeyboardInterrupt:
            portal.close()
            raise
        assert portal._startup is not None
        if isinstance(portal._startup, outcome.Error):
            portal._thread.join(_CLOSE_TIMEOUT)
        portal._startup.unwrap()
        cls._live.add(portal)
        return portal

    @property
    def resource(self) -> R:
        """What ``setup()`` yielded (for example the async Thoonk client)."""
        assert isinstance(self._startup, outcome.Value)
        value: R = self._startup.value
        return value

    @property
    def closed(self) -> bool:
        return self._closed or self._stopped.is_set()

    # ---------------------------------------------------------------- thread

    def _thread_main(self) -> None:
        try:
            trio.run(self._main)
        except BaseException as exc:  # startup failed before _ready was set
            if not self._ready.is_set():
                self._startup = outcome.Error(exc)
                self._ready.set()
        finally:
            self._stopped.set()

    async def _main(self) -> None:
        self._token = trio.lowlevel.current_trio_token()
        self._close_requested = trio.Event()
        try:
            async with self._setup() as resource, trio.open_nursery() as nursery:
                self._nursery = nursery
                self._startup = outcome.Value(resource)
                self._ready.set()
                await self._close_requested.wait()
                nursery.cancel_scope.cancel()
        except BaseException as exc:
            if not self._ready.is_set():
                self._startup = outcome.Error(exc)
                self._ready.set()
                return
            raise

    # ----------------------------------------------------------------- calls

    @property
    def forked(self) -> bool:
        """Whether this process is a fork of the one that started the loop."""
        return os.getpid() != self._pid

    def _check_caller(self) -> None:
        if self.forked:
            raise PortalClosedError(
                f"this connection belongs to process {self._pid}, and this is process "
                f"{os.getpid()}, a fork of it (multiprocessing's 'fork' start method): a "
                "connection's event loop does not survive fork(). Call "
                "thoonk_actors.sync.connect() again in the child process, or use the "
                "'spawn' start method."
            )
        if self.closed:
            raise PortalClosedError("this connection is closed; open a new one with connect()")
        if threading.current_thread() is self._thread:
            raise UsageError(
                "a blocking call was made from inside the connection's own event loop; "
                "use the async API (thoonk_actors.open_thoonk) in async code"
            )

    def run(self, fn: Callable[..., Awaitable[T]], *args: Any) -> T:
        """Run ``await fn(*args)`` in the loop and wait for it; Ctrl-C cancels it.

        An interrupt is raised afresh from this frame (hidden from IPython's
        tracebacks), so its traceback ends at the caller, not in ``threading``.
        """
        __tracebackhide__ = True  # IPython leaves this frame out of tracebacks
        self._check_caller()
        done = threading.Event()
        result: list[outcome.Outcome[T]] = []
        scope = trio.CancelScope()

        async def call() -> None:
            with scope:
                result.append(await outcome.acapture(fn, *args))
            done.set()

        self._spawn(call)
        interrupted = False
        try:
            done.wait()
        except KeyboardInterrupt:
            interrupted = True
        if interrupted:
            self._cancel(scope)
            done.wait(_CLOSE_TIMEOUT)
            raise KeyboardInterrupt  # outside the handler: no threading frames as context
        if not result:
            raise PortalClosedError("the call was cancelled because the connection closed")
        return result[0].unwrap()

    def run_sync(self, fn: Callable[..., T], *args: Any) -> T:
        """Run a plain function in the loop's thread (for loop-bound objects)."""
        self._check_caller()
        assert self._token is not None
        return trio.from_thread.run_sync(fn, *args, trio_token=self._token)

    def spawn(self, fn: Callable[..., Awaitable[None]], *args: Any) -> trio.CancelScope:
        """Start a background task in the loop; returns its cancel scope."""
        self._check_caller()
        scope = trio.CancelScope()

        async def task() -> None:
            with scope:
                await fn(*args)

        self._spawn(task)
        return scope

    def call_soon(self, fn: Callable[[], object]) -> None:
        """Run ``fn()`` in the loop soon, without waiting for it (from any thread).

        Nothing happens once the loop has stopped. ``fn`` must not block or raise.
        """
        if self._token is None or self._stopped.is_set() or self.forked:
            return
        with suppress(trio.RunFinishedError):
            self._token.run_sync_soon(fn)

    def cancel(self, scope: trio.CancelScope) -> None:
        """Cancel a scope that lives in the loop (from any thread)."""
        self._cancel(scope)

    def _spawn(self, fn: Callable[[], Awaitable[None]]) -> None:
        assert self._token is not None and self._nursery is not None
        nursery = self._nursery
        try:
            trio.from_thread.run_sync(nursery.start_soon, fn, trio_token=self._token)
        except trio.RunFinishedError:
            raise PortalClosedError(
                "this connection is closed; open a new one with connect()"
            ) from None

    def _cancel(self, scope: trio.CancelScope) -> None:
        if self._token is None or self._stopped.is_set() or self.forked:
            return
        with suppress(trio.RunFinishedError):
            trio.from_thread.run_sync(scope.cancel, trio_token=self._token)

    # ----------------------------------------------------------------- close

    def close(self, timeout: float = _CLOSE_TIMEOUT) -> None:
        """Stop the loop: cancel what runs in it, close the connection, join the thread."""
        if self._closed:
            return
        self._closed = True
        if self.forked:
            # No loop here to stop; the parent's connection stays the parent's.
            Portal._live.discard(self)
            return
        if self._token is not None and self._close_requested is not None:
            with suppress(trio.RunFinishedError):
                trio.from_thread.run_sync(self._close_requested.set, trio_token=self._token)
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout)
        Portal._live.discard(self)

    @classmethod
    def close_all(cls) -> None:
        """Close every portal still open (run at interpreter exit)."""
        for portal in list(cls._live):
            portal.close(timeout=2.0)
