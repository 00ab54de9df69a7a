"""RESP2 on the wire: packing commands, turning error replies into exceptions.

Synopsis: ``pack_command(("SET", "k", 1))`` → bytes; ``error_from_reply(err, where)``.

Parsing is hiredis' job (the Redis project's C parser); this module only
writes commands and classifies the error replies hiredis hands back.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, cast

import hiredis

from ._errors import (
    ThoonkAskError,
    ThoonkAuthenticationError,
    ThoonkBusyError,
    ThoonkClusterDownError,
    ThoonkCrossSlotError,
    ThoonkExecAbortError,
    ThoonkLoadingError,
    ThoonkMasterDownError,
    ThoonkMovedError,
    ThoonkNoPermissionError,
    ThoonkNoScriptError,
    ThoonkOutOfMemoryError,
    ThoonkReadOnlyError,
    ThoonkResponseError,
    ThoonkTryAgainError,
    ThoonkWrongTypeError,
)

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
    """One command as a RESP2 array of bulk strings.

    hiredis packs a tuple of str, bytes, int and float in C (floats as ``repr``
    writes them, like :func:`_encode_arg`); anything else (a bool, a bytearray)
    takes the Python path, which packs it or says why not.
    """
    if not args:
        raise ValueError("an empty Redis command cannot be sent")
    try:
        # (its stubs type the tuple as one element: hence the Any)
        packed: bytes = hiredis.pack_command(
            cast(Any, args if type(args) is tuple else tuple(args))
        )
    except TypeError:
        return _pack_each(args)
    return packed


def _pack_each(args: Command) -> bytes:
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


# Code of the error reply -> our class (each also a redis-py class, see _errors.py)
# and what to do about it, said after the server's own text.
_CODES: dict[str, tuple[type[Exception], str]] = {
    "WRONGTYPE": (
        ThoonkWrongTypeError,
        "a key holds another Redis type than this command needs (another program wrote "
        "it): delete or rename that key, or use another object name",
    ),
    "OOM": (
        ThoonkOutOfMemoryError,
        "the server is at its maxmemory and wrote nothing: free memory, raise maxmemory "
        "or choose an eviction policy",
    ),
    "READONLY": (ThoonkReadOnlyError, "this server is a read-only replica: use the primary's URL"),
    "NOPERM": (
        ThoonkNoPermissionError,
        "the Redis user lacks an ACL permission for this: grant it (ACL SETUSER) or "
        "connect as another user",
    ),
    "LOADING": (
        ThoonkLoadingError,
        "the server is still loading its data after a restart and ran nothing: try again "
        "in a moment",
    ),
    "BUSY": (
        ThoonkBusyError,
        "a script is running past the server's time limit: wait for it, or SCRIPT KILL it",
    ),
    "NOSCRIPT": (ThoonkNoScriptError, "the script is loaded again and re-run automatically"),
    "EXECABORT": (ThoonkExecAbortError, "nothing of the transaction ran"),
    "TRYAGAIN": (ThoonkTryAgainError, "a cluster slot is moving: try again"),
    "CLUSTERDOWN": (ThoonkClusterDownError, "the cluster cannot serve this slot right now"),
    "CROSSSLOT": (ThoonkCrossSlotError, "the keys of one command must share a slot"),
    "MASTERDOWN": (ThoonkMasterDownError, "this replica lost its primary: use the primary"),
}
# Parsed by redis-py's own constructors ("3999 127.0.0.1:6381"): keep the text bare.
_REDIRECTS: dict[str, type[Exception]] = {"MOVED": ThoonkMovedError, "ASK": ThoonkAskError}

_AUTH_PREFIXES = ("NOAUTH", "WRONGPASS")
# Redis 6.2 wraps an error raised inside a script: "ERR Error running script
# (call to f_...): @user_script:1: WRONGTYPE Operation against ...".
_SCRIPT_MARK = "@user_script:"
# An ACL refusal met inside a script is a plain ERR on 6.2 and 7 alike ("The user
# executing the script can't run this command or subcommand" / "can't publish to
# the channel mentioned in the command"): it is a NOPERM all the same.
_SCRIPT_ACL = "The user executing the script can't"


def reply_code(text: str) -> str:
    """The code of an error reply's text (``"WRONGTYPE"``), also inside 6.2's script wrapper."""
    code = text.split(" ", 1)[0]
    if code == "ERR" and _SCRIPT_ACL in text:
        return "NOPERM"
    if code == "ERR" and _SCRIPT_MARK in text:
        inner = text.rsplit(_SCRIPT_MARK, 1)[1].partition(": ")[2]
        wrapped = inner.split(" ", 1)[0].lstrip("-")
        if wrapped in _CODES:
            return wrapped
    return code


def error_from_reply(reply: hiredis.ReplyError, where: str) -> Exception:
    """The exception for one error reply of the server at ``where``.

    Every error reply becomes a :class:`ThoonkError` subclass that is also the
    redis-py class for that reply: auth problems a
    :class:`ThoonkAuthenticationError`, known codes their own class (table
    above) with the server's text and what to do, anything else a
    :class:`ThoonkResponseError`.
    """
    text = str(reply)
    code = reply_code(text)
    if code in _AUTH_PREFIXES or "invalid password" in text or "without any password" in text:
        return ThoonkAuthenticationError(
            f"Redis at {where} refused authentication ({text}); put the right user and "
            "password in the URL: redis://user:password@host:port/db"
        )
    redirect = _REDIRECTS.get(code)
    if redirect is not None:
        return redirect(text.split(" ", 1)[1])
    known = _CODES.get(code)
    if known is None:
        return ThoonkResponseError(f"{text} (Redis at {where})")
    cls, advice = known
    return cls(f"{text} (Redis at {where}: {advice})")
