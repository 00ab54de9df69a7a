"""Every exception thoonk-actors raises on purpose.

One root, :class:`ThoonkError`, split three ways the way trio and h11 split them:

* **local** (:class:`UsageError`): you asked for something that cannot be done
  (an invalid name, an unknown config key, a payload too large). Nothing was
  sent to Redis, nothing changed.
* **refused** (:class:`RefusedError`): Redis (one of our scripts) looked at the
  stored state and said no (the job is not claimed, the id is unknown, the key
  holds the wrong type). The script changed nothing.
* **broken** (``ThoonkConnectionError``, ``ThoonkTimeoutError``, defined in
  ``transport/_errors.py``): the world broke (the server is unreachable, the
  connection dropped). They also subclass redis-py's classes so code that
  already catches ``redis.exceptions.ConnectionError`` keeps working; they live
  in the transport so that this module (and the sans-IO contract layer that
  uses it) does not import redis-py, which imports sockets and hiredis.
* **server** (:class:`ServerError`): the server answered with an error reply
  of its own (out of memory, read-only replica, no ACL permission, ...). The
  transport types every error reply where it reads it, with the matching
  redis-py class as a second base.

Messages are one plain sentence that says what happened and what to do.
"""

from __future__ import annotations


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


class BadStoredConfigError(RefusedError):
    """A stored config field holds a value the contract cannot use (someone else wrote it)."""


# ----------------------------------------------------------- server replies (heal)


class ServerError(ThoonkError):
    """Redis answered a command with an error reply of its own (not a contract refusal).

    Out of memory, a read-only replica, a missing ACL permission, a server
    still loading its data, a script running too long, ... The transport
    raises subclasses that also carry redis-py's class for the same reply
    (``redis.exceptions.OutOfMemoryError``, ...), so existing handlers keep working.
    """


class UnexpectedReplyError(ThoonkError):
    """A reply does not have the shape the contract promises (a foreign or outdated script?)."""


# -------------------------------------------------------------------------- broken


class ResultTimeoutError(ThoonkError, TimeoutError):
    """A job's result did not arrive within the time you allowed (the job may still run)."""


class NotReplicatedError(ThoonkError):
    """A durable write ran on the primary, but too few replicas acknowledged it in time.

    The write is not undone (a worker may already hold it, and it may still
    reach the replicas): it is published, but a failover before it replicates
    can lose it. ``job_ids`` names the jobs, ``acknowledged`` how many replicas
    had them when the wait ended, ``wanted`` how many were asked for.
    """

    def __init__(self, message: str, job_ids: list[str], acknowledged: int, wanted: int) -> None:
        super().__init__(message)
        self.job_ids = job_ids
        self.acknowledged = acknowledged
        self.wanted = wanted


class EmbeddedServerError(ThoonkError, RuntimeError):
    """The embedded redis-server could not be found, started or reached."""
