"""Every exception thoonk-actors raises on purpose.

One root, :class:`ThoonkError`, split three ways the way trio and h11 split them:

* **local** (:class:`UsageError`): you asked for something that cannot be done
  (an invalid name, an unknown config key, a payload too large). Nothing was
  sent to Redis, nothing changed.
* **refused** (:class:`RefusedError`): Redis (one of our scripts) looked at the
  stored state and said no (the job is not claimed, the id is unknown, the key
  holds the wrong type). The script changed nothing.
* **broken** (:class:`ThoonkConnectionError`): the world broke (the server is
  unreachable, the connection dropped). These also subclass redis-py's classes
  so code that already catches ``redis.exceptions.ConnectionError`` keeps working.

Messages are one plain sentence that says what happened and what to do.
"""

from __future__ import annotations

import redis.exceptions


class ThoonkError(Exception):
    """Root of every error thoonk-actors raises on purpose."""


# --------------------------------------------------------------------------- local


class UsageError(ThoonkError, ValueError):
    """The call itself is wrong; nothing was sent to Redis."""


class InvalidNameError(UsageError):
    """An object name is empty, not UTF-8, or holds control characters, ``{`` or ``}``."""


class InvalidConfigError(UsageError):
    """An object config has an unknown key or a value of the wrong type or range."""


class PayloadError(UsageError):
    """An item or result cannot be encoded (not serialisable, not UTF-8, ...)."""


class PayloadTooLargeError(PayloadError):
    """An encoded item or result is over the configured size limit."""


class InvalidIdError(UsageError):
    """An id is empty, not a string, or holds a NUL byte."""


# ------------------------------------------------------------------------- refused


class RefusedError(ThoonkError):
    """A contract operation was refused by the stored state; nothing changed."""


class NotFoundError(RefusedError, LookupError):
    """The id (or object) does not exist."""


class DuplicateIdError(RefusedError):
    """An id that already exists was published again."""


class NotClaimedError(RefusedError):
    """finish / cancel / stall / touch of a job that is not claimed."""


class ClaimLostError(NotClaimedError):
    """The job is claimed, but no longer by you (reaped and claimed again)."""


class NotStalledError(RefusedError):
    """retry of a job that is not stalled."""


class ObjectExistsError(RefusedError):
    """create of an object that already exists."""


class NoSuchObjectError(NotFoundError):
    """An operation on an object that was never created (where creation is required)."""


class WrongTypeError(RefusedError):
    """A key that belongs to the object holds another Redis type (someone else wrote it)."""


# -------------------------------------------------------------------------- broken


class ThoonkConnectionError(ThoonkError, redis.exceptions.ConnectionError):
    """Redis cannot be reached, or the connection broke while a command was in flight."""


class ThoonkTimeoutError(ThoonkError, redis.exceptions.TimeoutError):
    """Redis did not answer (connect or command) within the allowed time."""


class ThoonkAuthenticationError(ThoonkConnectionError, redis.exceptions.AuthenticationError):
    """AUTH was refused, or the server wants a password we did not send."""


class EmbeddedServerError(ThoonkError, RuntimeError):
    """The embedded redis-server could not be found, started or reached."""
