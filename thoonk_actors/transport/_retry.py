"""What may be sent to Redis again after a failure, and the loop that does it.

Synopsis::

    reply = await resend_while_safe(
        attempt, idempotent=True, patience=10.0, where=url, answered=lambda: client.connects
    )

The rule, decided only from what the caller declares:

* a ``LOADING`` reply (the server is still loading its data set) means the
  command did not run: any command is sent again, after a short pause;
* a connection that broke (or went silent) while the command was in flight
  leaves it unknown whether it ran: only a command the caller declared
  ``idempotent`` (a read, a heartbeat) is sent again, on a new connection;
* anything else (a refusal, a wrong password) is the caller's to handle.

Retries stop once the server has not answered for ``patience`` seconds (the
client's ``reconnect_timeout``), and the last error is raised. "Answered" is
a new connection opened since the last failure (``answered``, a counter): a
command broken again and again by ``CLIENT KILL`` while every reconnect works
is a server that answers, so its caller keeps its own timeout, not ours
(up to :data:`PATIENCE_ROUNDS` times ``patience`` in all, so a command that
breaks every connection it is sent on, a reply the client cannot read, still
ends with its error).
The pauses are cancellable: a cancelled caller never waits for a retry.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Awaitable, Callable
from typing import TypeVar

import trio

from .._backoff import BackoffPolicy
from ._errors import (
    ThoonkAuthenticationError,
    ThoonkConnectionError,
    ThoonkLoadingError,
    ThoonkTimeoutError,
)

log = logging.getLogger(__name__)

T = TypeVar("T")

#: First pause between two attempts; doubles up to RETRY_MAX.
RETRY_FIRST = 0.01
RETRY_MAX = 0.25
#: The pauses between two sends of one command (and of a pipeline's LOADING replies).
RETRY_BACKOFF = BackoffPolicy(first=RETRY_FIRST, maximum=RETRY_MAX)
#: The pauses between two attempts to open a connection (the client's, and
#: pub/sub's); a connection that opened starts them over.
RECONNECT_BACKOFF = BackoffPolicy(first=0.02, maximum=1.0)
#: How many ``patience`` windows a command may be resent in, at most, in all.
PATIENCE_ROUNDS = 6

#: The failures :func:`may_resend` looks at; any other exception passes through.
RESENDABLE: tuple[type[Exception], ...] = (
    ThoonkLoadingError,
    ThoonkConnectionError,
    ThoonkTimeoutError,
)


def may_resend(exc: BaseException, *, idempotent: bool) -> bool:
    """Whether the command that failed with ``exc`` may be sent again."""
    if isinstance(exc, ThoonkLoadingError):
        return True  # it did not run
    if isinstance(exc, ThoonkAuthenticationError):
        return False  # a wrong password does not heal by itself
    if isinstance(exc, ThoonkConnectionError | ThoonkTimeoutError):
        return idempotent
    return False


async def resend_while_safe(
    attempt: Callable[[], Awaitable[T]],
    *,
    idempotent: bool,
    patience: float,
    where: str,
    answered: Callable[[], int] | None = None,
) -> T:
    """``await attempt()``, again after each failure :func:`may_resend` allows.

    Gives up ``patience`` seconds after the first failure (raising the last
    error), counted again from the latest failure after which ``answered()``
    had changed (the server answered a new connection meanwhile), and at most
    :data:`PATIENCE_ROUNDS` times ``patience`` after the first. A connection
    that cannot be reopened already waited its own reconnect time inside
    ``attempt``, so a dead server is not waited for twice.
    """
    deadline: float | None = None
    limit = math.inf
    backoff = RETRY_BACKOFF.start()
    seen = None if answered is None else answered()
    while True:
        try:
            return await attempt()
        except RESENDABLE as exc:
            if not may_resend(exc, idempotent=idempotent):
                raise
            now = trio.current_time()
            if answered is not None and answered() != seen:
                # The server is up (it took a new connection): start over.
                seen = answered()
                deadline = None
                backoff.reset()
            if limit == math.inf:
                limit = now + PATIENCE_ROUNDS * patience
            if deadline is None:
                deadline = min(now + patience, limit)
            delay = backoff.next_delay()
            if now + delay > deadline:
                raise
            log.debug("sending again to %s after: %s", where, exc)
        await trio.sleep(delay)
