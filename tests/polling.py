"""Waiting for an effect in tests: poll with a trio deadline, never a bare sleep."""

from __future__ import annotations

import inspect
import time
from collections.abc import Awaitable, Callable

import trio


async def wait_until(
    predicate: Callable[[], bool | Awaitable[bool]],
    *,
    what: str,
    deadline: float = 15.0,
    interval: float = 0.01,
) -> None:
    """Return as soon as ``predicate()`` is true; fail the test after ``deadline`` s."""
    with trio.move_on_after(deadline):
        while True:
            result = predicate()
            if inspect.isawaitable(result):
                result = await result
            if result:
                return
            await trio.sleep(interval)
    raise AssertionError(f"timed out after {deadline:g} s waiting for {what}")


def eventually(
    check: Callable[[], bool], what: str, deadline: float = 15.0, interval: float = 0.01
) -> None:
    """The blocking twin of :func:`wait_until`, for sync tests whose effect happens in
    another thread or process: return as soon as ``check()`` is true, fail after
    ``deadline`` seconds. The short sleep is the polling interval, never a wait
    for the effect itself."""
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if check():
            return
        time.sleep(interval)
    raise AssertionError(f"timed out after {deadline:g} s waiting for {what}")
