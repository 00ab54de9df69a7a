"""Errors of the transport: a broken world, and the server's own error replies.

They subclass both :class:`ThoonkError` and redis-py's exception classes, so
code that already catches ``redis.exceptions.ConnectionError`` (or
``OutOfMemoryError``, ``ResponseError``, ...) keeps working. They live here,
not in ``thoonk_actors._errors``, because importing redis-py imports sockets
and hiredis, which the sans-IO contract layer must not.

Every error reply of the server becomes one of these in the reply decoder
(``_protocol.error_from_reply``): nothing above the transport ever sees a bare
redis-py exception, and nothing above it matches error texts.
"""

from __future__ import annotations

import redis.exceptions

from .._errors import ServerError, ThoonkError, WrongTypeError


class ThoonkConnectionError(ThoonkError, redis.exceptions.ConnectionError):
    """Redis cannot be reached, or the connection broke while a command was in flight."""


class ThoonkTimeoutError(ThoonkError, redis.exceptions.TimeoutError):
    """Redis did not answer (connect or command) within the allowed time."""


class ThoonkAuthenticationError(ThoonkConnectionError, redis.exceptions.AuthenticationError):
    """AUTH was refused, or the server wants a password we did not send."""


class ThoonkTLSError(ThoonkConnectionError):
    """TLS cannot be set up: a certificate or key file is missing or unreadable, or
    the server's certificate was refused. Retrying cannot help, so it is not retried."""


# ------------------------------------------------------------- error replies


class ThoonkResponseError(ServerError, redis.exceptions.ResponseError):
    """An error reply without a more specific class (``ERR ...``, a failing script)."""


class ThoonkWrongTypeError(WrongTypeError, ThoonkResponseError):
    """WRONGTYPE: a key holds another Redis type than the command needs."""


class ThoonkBusyError(ThoonkResponseError):
    """BUSY: a script has run past the server's time limit; the server serves nothing else."""


class ThoonkNoScriptError(ServerError, redis.exceptions.NoScriptError):
    """NOSCRIPT: the server does not have the script (the client loads it and runs it again)."""


class ThoonkExecAbortError(ServerError, redis.exceptions.ExecAbortError):
    """EXECABORT: a MULTI block was refused as a whole."""


class ThoonkLoadingError(ServerError, redis.exceptions.BusyLoadingError):
    """LOADING: the server is still loading its data set; the command did not run."""


class ThoonkReadOnlyError(ServerError, redis.exceptions.ReadOnlyError):
    """READONLY: a write was sent to a read-only replica."""


class ThoonkNoPermissionError(ServerError, redis.exceptions.NoPermissionError):
    """NOPERM: the ACL user may not run this command or touch this key."""


class ThoonkOutOfMemoryError(ServerError, redis.exceptions.OutOfMemoryError):
    """OOM: the server is at ``maxmemory`` and refused a write; nothing was written."""


class ThoonkMovedError(ServerError, redis.exceptions.MovedError):
    """MOVED: (cluster) the key's slot lives on another node."""


class ThoonkAskError(ServerError, redis.exceptions.AskError):
    """ASK: (cluster) the key's slot is migrating; ask the other node once."""


class ThoonkTryAgainError(ServerError, redis.exceptions.TryAgainError):
    """TRYAGAIN: (cluster) a multi-key command hit a slot being migrated."""


class ThoonkClusterDownError(ServerError, redis.exceptions.ClusterDownError):
    """CLUSTERDOWN: the cluster cannot serve the slot right now."""


class ThoonkCrossSlotError(ServerError, redis.exceptions.ClusterCrossSlotError):
    """CROSSSLOT: (cluster) the keys of one command live in different slots."""


class ThoonkMasterDownError(ServerError, redis.exceptions.MasterDownError):
    """MASTERDOWN: a replica lost its primary and serves no stale data."""
