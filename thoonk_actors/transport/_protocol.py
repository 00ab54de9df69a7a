"""RESP2 on the wire: packing commands, turning error replies into exceptions.

Synopsis: ``pack_command(("SET", "k", 1))`` → bytes; ``error_from_reply(err, where)``.

Parsing is hiredis' job (the Redis project's C parser); this module only
writes commands and classifies the error replies hiredis hands back.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import hiredis
import redis.exceptions

from ._errors import ThoonkAuthenticationError

Arg = bytes | str | int | float
"""One command argument: bytes go as they are, str as UTF-8, numbers in decimal."""

Command = Sequence[Arg]


def _encode_arg(arg: Arg) -> bytes:
    if isinstance(arg, bytes):
        return arg
    if isinstance(arg, str):
        return arg.encode()
    if isinstance(arg, bool):
        # bool is an int subclass; "True" on the wire is almost always a bug.
        raise TypeError("a Redis command argument cannot be a bool; send 0/1 or a string")
    if isinstance(arg, int):
        return b"%d" % arg
    if isinstance(arg, float):
        return repr(arg).encode()
    if isinstance(arg, (bytearray, memoryview)):
        return bytes(arg)
    raise TypeError(
        f"a Redis command argument must be bytes, str, int or float, not {type(arg).__name__}"
    )


def pack_command(args: Command) -> bytes:
    """One command as a RESP2 array of bulk strings."""
    if not args:
        raise ValueError("an empty Redis command cannot be sent")
    parts = [b"*%d\r\n" % len(args)]
    for arg in args:
        data = _encode_arg(arg)
        parts.append(b"$%d\r\n" % len(data))
        parts.append(data)
        parts.append(b"\r\n")
    return b"".join(parts)


def pack_commands(commands: Iterable[Command]) -> bytes:
    """Several commands back to back (a pipeline)."""
    return b"".join(pack_command(c) for c in commands)


# Prefix of the error reply → redis-py exception class, as redis-py maps them, so
# code that already catches redis-py's exceptions keeps working.
_PREFIX_CLASSES: dict[str, type[redis.exceptions.RedisError]] = {
    "NOSCRIPT": redis.exceptions.NoScriptError,
    "EXECABORT": redis.exceptions.ExecAbortError,
    "LOADING": redis.exceptions.BusyLoadingError,
    "READONLY": redis.exceptions.ReadOnlyError,
    "NOPERM": redis.exceptions.NoPermissionError,
    "OOM": redis.exceptions.OutOfMemoryError,
    "MOVED": redis.exceptions.MovedError,
    "ASK": redis.exceptions.AskError,
    "TRYAGAIN": redis.exceptions.TryAgainError,
    "CLUSTERDOWN": redis.exceptions.ClusterDownError,
    "CROSSSLOT": redis.exceptions.ClusterCrossSlotError,
    "MASTERDOWN": redis.exceptions.MasterDownError,
}

_AUTH_PREFIXES = ("NOAUTH", "WRONGPASS")


def error_from_reply(reply: hiredis.ReplyError, where: str) -> Exception:
    """The exception for one error reply of the server at ``where``.

    Auth problems become :class:`ThoonkAuthenticationError` (also a redis-py
    ``AuthenticationError``) with advice; everything else the redis-py class for
    its prefix (``ResponseError`` by default) with the server's own text.
    """
    text = str(reply)
    prefix = text.split(" ", 1)[0]
    if prefix in _AUTH_PREFIXES or "invalid password" in text or "without any password" in text:
        return ThoonkAuthenticationError(
            f"Redis at {where} refused authentication ({text}); put the right user and "
            "password in the URL: redis://user:password@host:port/db"
        )
    cls = _PREFIX_CLASSES.get(prefix, redis.exceptions.ResponseError)
    if cls in (redis.exceptions.MovedError, redis.exceptions.AskError):
        moved: Exception = cls(text.split(" ", 1)[1])
        return moved
    error: Exception = cls(text)
    return error
