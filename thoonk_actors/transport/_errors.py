"""Errors of a broken world: the server is unreachable or the connection broke.

They subclass both :class:`ThoonkError` and redis-py's exception classes, so
code that already catches ``redis.exceptions.ConnectionError`` keeps working.
They live here, not in ``thoonk_actors._errors``, because importing redis-py
imports sockets and hiredis, which the sans-IO contract layer must not.
"""

from __future__ import annotations

import redis.exceptions

from .._errors import ThoonkError


class ThoonkConnectionError(ThoonkError, redis.exceptions.ConnectionError):
    """Redis cannot be reached, or the connection broke while a command was in flight."""


class ThoonkTimeoutError(ThoonkError, redis.exceptions.TimeoutError):
    """Redis did not answer (connect or command) within the allowed time."""


class ThoonkAuthenticationError(ThoonkConnectionError, redis.exceptions.AuthenticationError):
    """AUTH was refused, or the server wants a password we did not send."""
