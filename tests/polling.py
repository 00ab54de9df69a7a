"""Waiting for an effect in tests: poll with a trio deadline, never a bare sleep."""

from __future__ import annotations

import inspect
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
