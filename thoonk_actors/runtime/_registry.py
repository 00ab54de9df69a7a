"""Handler registrations: what ``@app.job(...)`` and ``@app.feed(...)`` record.

Synopsis::

    reg = JobRegistration.make(send, "emails", concurrency=16, timeout=30, max_cancels=3)
    reg.is_async, reg.capacity, reg.refill

Validation happens here, at registration time, so a wrong option fails at
import of the app module rather than when the worker starts.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from .. import contract
from .._errors import InvalidConfigError, UsageError

JobHandler = Callable[[Any], Any]
"""``async def handler(item) -> result`` or ``def handler(item) -> result`` (run in a thread)."""

FeedHandler = Callable[[Any], Any]
"""``async def handler(event)`` or ``def handler(event)``; ``event`` is a FeedEvent or Resync."""

FeedKind = Literal["feed", "sorted_feed"]

#: Most jobs claimed in one claim script.
MAX_CLAIM_BATCH = 100
#: Largest concurrency / prefetch of one registration (one trio task per slot).
MAX_CONCURRENCY = 10_000
MAX_PREFETCH = 10_000
#: Largest handler timeout in seconds: the claim lease in ms must fit contract.MAX_MS.
MAX_TIMEOUT_S = contract.MAX_MS / 1000


def _is_int_in(value: object, low: int, high: int) -> bool:
    return not isinstance(value, bool) and isinstance(value, int) and low <= value <= high


def is_async_callable(fn: Callable[..., Any]) -> bool:
    """Whether calling ``fn`` returns a coroutine (functions, partials, callable objects)."""
    while isinstance(fn, functools.partial):
        fn = fn.func
    if inspect.iscoroutinefunction(fn):
        return True
    call = getattr(fn, "__call__", None)  # noqa: B004 (we want the method, not callable())
    return call is not None and inspect.iscoroutinefunction(call)


def _label(fn: Callable[..., Any]) -> str:
    return getattr(fn, "__qualname__", None) or repr(fn)


@dataclass(frozen=True, slots=True)
class JobRegistration:
    """One ``@app.job(name, ...)``: the handler and how to run it.

    ``prefetch``: jobs claimed ahead of free handlers, fixed; None: adaptive
    (see ``runtime/_prefetch.py``, which also decides when the claimer tops up).
    """

    name: str
    handler: JobHandler
    is_async: bool
    concurrency: int
    timeout: float | None
    max_cancels: int | None
    prefetch: int | None

    @property
    def label(self) -> str:
        return f"job handler {_label(self.handler)} of {self.name!r}"

    @classmethod
    def make(
        cls,
        handler: JobHandler,
        name: str,
        *,
        concurrency: int,
        timeout: float | None,
        max_cancels: int | None,
        prefetch: int | None,
    ) -> JobRegistration:
        contract.validate_name(name, kind="job queue")
        if not callable(handler):
            raise UsageError(f"a job handler must be callable, not {type(handler).__name__}")
        if not _is_int_in(concurrency, 1, MAX_CONCURRENCY):
            raise InvalidConfigError(
                f"concurrency must be an int from 1 to {MAX_CONCURRENCY}, not {concurrency!r}"
            )
        if timeout is not None and (
            isinstance(timeout, bool)
            or not isinstance(timeout, int | float)
            or not 0 < timeout <= MAX_TIMEOUT_S
        ):
            raise InvalidConfigError(
                f"timeout must be None or seconds > 0 and at most {MAX_TIMEOUT_S:g} "
                f"(it is the lease of every claim, in ms in Redis), not {timeout!r}"
            )
        if max_cancels is not None and not _is_int_in(max_cancels, 1, contract.MAX_COUNT):
            raise InvalidConfigError(
                "max_cancels must be None (the queue's setting) or an int from 1 to "
                f"{contract.MAX_COUNT}, not {max_cancels!r}"
            )
        if prefetch is not None and not _is_int_in(prefetch, 0, MAX_PREFETCH):
            raise InvalidConfigError(
                f"prefetch must be None or an int from 0 to {MAX_PREFETCH}, not {prefetch!r}"
            )
        return cls(
            name=name,
            handler=handler,
            is_async=is_async_callable(handler),
            concurrency=concurrency,
            timeout=None if timeout is None else float(timeout),
            max_cancels=max_cancels,
            prefetch=prefetch,
        )


@dataclass(frozen=True, slots=True)
class FeedRegistration:
    """One ``@app.feed(name, ...)`` (or ``@app.sorted_feed``): the actor's handler."""

    name: str
    kind: FeedKind
    handler: FeedHandler
    is_async: bool
    buffer: int
    snapshot: bool

    @property
    def label(self) -> str:
        return f"{self.kind.replace('_', ' ')} actor {_label(self.handler)} of {self.name!r}"

    @classmethod
    def make(
        cls, handler: FeedHandler, name: str, *, kind: FeedKind, buffer: int, snapshot: bool
    ) -> FeedRegistration:
        contract.validate_name(name, kind=kind.replace("_", " "))
        if not callable(handler):
            raise UsageError(f"a feed handler must be callable, not {type(handler).__name__}")
        if isinstance(buffer, bool) or not isinstance(buffer, int) or buffer < 1:
            raise UsageError(f"buffer must be an int >= 1, not {buffer!r}")
        return cls(
            name=name,
            kind=kind,
            handler=handler,
            is_async=is_async_callable(handler),
            buffer=buffer,
            snapshot=bool(snapshot),
        )
