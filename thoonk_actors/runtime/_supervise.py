"""Restart a crashed background loop with exponential backoff, and log why.

Synopsis::

    await supervise(claim_loop, what="claimer of 'emails'", stopping=stop_event)

``fn()`` is awaited again after every exception (connection errors included:
a Redis restart or ``CLIENT KILL`` is survived), after ``delay`` seconds that
double up to ``max_delay`` and start over once a run lasted ``healthy_after``
seconds. It returns when ``fn()`` returns, or when ``stopping`` is set (the
backoff sleep is cut short). Cancellation passes through untouched.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

import redis.exceptions
import trio

from .._errors import ThoonkError

log = logging.getLogger(__name__)

FIRST_DELAY = 0.05
MAX_DELAY = 5.0
HEALTHY_AFTER = 10.0

#: Errors of a broken world: logged in one line, without a traceback.
CONNECTION_ERRORS: tuple[type[BaseException], ...] = (
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    OSError,
)
#: What a background loop survives: a broken world, or a refusal from Redis.
RECOVERABLE: tuple[type[BaseException], ...] = (ThoonkError, *CONNECTION_ERRORS)


async def sleep_or_stop(seconds: float, stopping: trio.Event | None) -> None:
    """Sleep ``seconds``, or less if ``stopping`` is set meanwhile."""
    if stopping is None:
        await trio.sleep(seconds)
        return
    with trio.move_on_after(seconds):
        await stopping.wait()


async def supervise(
    fn: Callable[[], Awaitable[None]],
    *,
    what: str,
    logger: logging.Logger = log,
    stopping: trio.Event | None = None,
    on_restart: Callable[[], None] | None = None,
    first_delay: float = FIRST_DELAY,
    max_delay: float = MAX_DELAY,
    healthy_after: float = HEALTHY_AFTER,
) -> None:
    """Run ``fn()`` until it returns or ``stopping`` is set; restart it when it raises."""
    delay = first_delay
    while stopping is None or not stopping.is_set():
        started = trio.current_time()
        try:
            await fn()
            return
        except CONNECTION_ERRORS as exc:
            delay = _next(delay, started, first_delay, healthy_after)
            logger.warning("%s lost its connection (%s); restarting in %.2f s", what, exc, delay)
        except Exception:
            delay = _next(delay, started, first_delay, healthy_after)
            logger.exception("%s crashed; restarting in %.2f s", what, delay)
        await sleep_or_stop(delay, stopping)
        delay = min(delay * 2, max_delay)
        if on_restart is not None and (stopping is None or not stopping.is_set()):
            on_restart()


def _next(delay: float, started: float, first_delay: float, healthy_after: float) -> float:
    # A run that lasted a while was healthy: the next failure starts the backoff over.
    return first_delay if trio.current_time() - started >= healthy_after else delay
