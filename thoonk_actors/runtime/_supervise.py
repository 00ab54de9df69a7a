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
  not a crash: the loop is restarted at once (:func:`link_backoff`). Waiting
  for the server is the client's job: the restarted loop's first command
  waits in the client's reconnect loop (with its own backoff) and goes on
  the moment the server answers again, so a healed connection never leaves
  a worker idle behind a backoff of ours. Only runs that fail again within
  ``CONNECTION_HEALTHY_AFTER`` of their restart (a connection that breaks as
  soon as it is made) are spaced out, by a delay doubling up to
  ``CONNECTION_MAX_DELAY`` (0.5 s), so such a loop never spins.

Both are :class:`~thoonk_actors._backoff.BackoffPolicy` rules (the one
backoff module); only their settings are here.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

import trio

from .._backoff import Backoff, BackoffPolicy
from .._errors import ThoonkError
from ..objects import ThoonkConnectionError, ThoonkTimeoutError

log = logging.getLogger(__name__)

FIRST_DELAY = 0.05
MAX_DELAY = 5.0
HEALTHY_AFTER = 10.0
#: The longest pause before restarting a loop after a connection error.
CONNECTION_MAX_DELAY = 0.5
#: A run (or an attempt) this long before its connection error means the
#: connection had worked meanwhile: the next restart is immediate again.
CONNECTION_HEALTHY_AFTER = 0.05

#: Errors of a broken world: logged in one line, without a traceback. (The
#: transport raises only these for a broken link, never a bare redis-py error.)
CONNECTION_ERRORS: tuple[type[BaseException], ...] = (
    ThoonkConnectionError,
    ThoonkTimeoutError,
    OSError,
)
#: What a background loop survives: a broken world, or a refusal from Redis.
RECOVERABLE: tuple[type[BaseException], ...] = (ThoonkError, *CONNECTION_ERRORS)


def link_backoff(first: float = FIRST_DELAY) -> Backoff:
    """The pauses before trying again after connection errors (see the module doc).

    Synopsis::

        backoff = link_backoff()
        backoff.run_started()
        ... an attempt fails with a connection error ...
        await trio.sleep(backoff.run_failed())

    0 after an attempt that ran ``CONNECTION_HEALTHY_AFTER`` or longer (or
    the first one): the next attempt waits for the server in the client's
    reconnect loop, not here. Attempts that keep failing faster than that get
    ``first``, then twice as long each time, up to ``CONNECTION_MAX_DELAY``
    (or ``first``, if longer).
    """
    return BackoffPolicy(
        first=first,
        maximum=max(first, CONNECTION_MAX_DELAY),
        healthy_after=CONNECTION_HEALTHY_AFTER,
        immediate=True,
    ).start()


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
    # A first delay above max_delay is kept as the cap (it used to shrink to max_delay after it).
    longest = max(first_delay, max_delay)
    crash = BackoffPolicy(first=first_delay, maximum=longest, healthy_after=healthy_after).start()
    link = link_backoff(first_delay)
    while stopping is None or not stopping.is_set():
        crash.run_started()
        link.run_started()
        try:
            await fn()
            return
        except CONNECTION_ERRORS as exc:
            pause = link.run_failed()
            logger.warning("%s lost its connection (%s); restarting in %.2f s", what, exc, pause)
        except Exception:
            pause = crash.run_failed()
            logger.exception("%s crashed; restarting in %.2f s", what, pause)
        await sleep_or_stop(pause, stopping)
        if on_restart is not None and (stopping is None or not stopping.is_set()):
            on_restart()
