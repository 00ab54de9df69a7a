"""Restart a crashed background loop with exponential backoff, and log why.

Synopsis::

    await supervise(claim_loop, what="claimer of 'emails'", stopping=stop_event)

``fn()`` is awaited again after every exception, after a delay, and
returns when ``fn()`` returns, or when ``stopping`` is set (the delay is cut
short). Cancellation passes through untouched.

Two kinds of failure, two delays:

* a **crash** (any other exception: a bug, a refusal) waits ``delay`` seconds
  that double up to ``max_delay`` and start over once a run lasted
  ``healthy_after`` seconds, so a loop that fails at once does not spin;
* a **connection error** (``CLIENT KILL``, a restart, a dead connection) is
  not a crash: the loop is restarted after a short delay that doubles only
  up to ``CONNECTION_MAX_DELAY`` (0.5 s), and starts over as soon as a run
  lasted ``CONNECTION_HEALTHY_AFTER`` (the connection had healed). Waiting
  for the server is the client's job: the restarted loop's first command
  waits in the client's reconnect loop (with its own backoff) and goes on
  the moment the server answers again, so a healed connection never leaves
  a worker idle behind a long backoff.
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
#: The longest pause before restarting a loop after a connection error.
CONNECTION_MAX_DELAY = 0.5
#: A run this long after a connection error means the connection had healed.
CONNECTION_HEALTHY_AFTER = 1.0

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
    delay = first_delay  # after crashes
    link_delay = first_delay  # after connection errors
    link_max = max(first_delay, CONNECTION_MAX_DELAY)
    while stopping is None or not stopping.is_set():
        started = trio.current_time()
        try:
            await fn()
            return
        except CONNECTION_ERRORS as exc:
            if trio.current_time() - started >= CONNECTION_HEALTHY_AFTER:
                link_delay = first_delay
            pause = link_delay
            link_delay = min(link_delay * 2, link_max)
            logger.warning("%s lost its connection (%s); restarting in %.2f s", what, exc, pause)
        except Exception:
            delay = _next(delay, started, first_delay, healthy_after)
            pause = delay
            delay = min(delay * 2, max_delay)
            logger.exception("%s crashed; restarting in %.2f s", what, pause)
        await sleep_or_stop(pause, stopping)
        if on_restart is not None and (stopping is None or not stopping.is_set()):
            on_restart()


def _next(delay: float, started: float, first_delay: float, healthy_after: float) -> float:
    # A run that lasted a while was healthy: the next failure starts the backoff over.
    return first_delay if trio.current_time() - started >= healthy_after else delay
