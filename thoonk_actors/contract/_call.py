"""What the contract hands the transport, and how replies are read back.

Synopsis::

    call = job_publish(keys, "job-1", b'{"to":"a@b"}')
    reply = await transport.evalsha(call.script, call.keys, call.args)  # NOSCRIPT -> EVAL
    published = call.decode(reply)            # typed result, or a ThoonkError raised
    for command in call.after:                # cluster mode only: registry upkeep
        await transport.execute(*command)

A :class:`Call` runs one contract script; a :class:`Command` is one plain
read-only Redis command (``args`` starts with the command name). Both carry the
``decode`` that turns the raw RESP2 reply (bytes, int, list, None, as hiredis
returns them) into a typed value or raises the contract error.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeAlias, TypeVar

from .._errors import UnexpectedReplyError
from ._names import id_text
from ._scripts import Script

#: A raw RESP2 reply as hiredis returns it (errors are raised by the transport).
Reply: TypeAlias = "bytes | int | list[Reply] | None"
#: A plain Redis command: name first, then its arguments.
Args: TypeAlias = tuple[str | bytes, ...]

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Call(Generic[T]):
    """One contract script to run: ``EVALSHA script.sha1 len(keys) *keys *args``.

    ``after`` lists idempotent plain commands to run once the script's reply
    decoded without error. It is empty except in cluster mode, where the
    registry set (another slot) cannot be touched by the script itself.

    ``idempotent`` declares that running the script twice does no more than
    running it once (a pure read, a heartbeat): the transport may then send it
    again when the connection broke while it was in flight. The transport
    never guesses this; a script that changes state leaves it False.
    """

    script: Script
    keys: tuple[str | bytes, ...]
    args: tuple[bytes, ...]
    decode: Callable[[Reply], T]
    after: tuple[Args, ...] = ()
    idempotent: bool = False


@dataclass(frozen=True, slots=True)
class Command(Generic[T]):
    """One plain read-only command: ``execute(*args)``; ``keys`` for cluster routing.

    A command is a read, so ``idempotent`` is True: sending it again after a
    broken connection is safe. ``block_s`` is set on blocking reads (BLMOVE):
    how long the server may hold the reply (0: for ever); the transport runs
    them on a dedicated connection with a client-side deadline past it.
    """

    args: Args
    keys: tuple[str | bytes, ...]
    decode: Callable[[Reply], T]
    idempotent: bool = True
    block_s: float | None = None


# ------------------------------------------------------------------ reply reading


def unexpected(what: str, reply: object) -> UnexpectedReplyError:
    """The error for a reply whose shape breaks the contract."""
    return UnexpectedReplyError(
        f"{what}: unexpected reply {reply!r}; the server ran a script that does not follow "
        "this version of the contract (mixed thoonk-actors versions?), so upgrade all clients"
    )


def as_list(reply: Reply, what: str) -> list[Reply]:
    """``as_list(reply, "claim")``: the reply as a list, or raise UnexpectedReplyError."""
    if not isinstance(reply, list):
        raise unexpected(what, reply)
    return reply


def as_bytes(value: Reply, what: str) -> bytes:
    """A bulk string value, or raise UnexpectedReplyError."""
    if not isinstance(value, bytes):
        raise unexpected(what, value)
    return value


def as_int(value: Reply, what: str) -> int:
    """An integer value (integer reply or decimal bulk string), or raise."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, bytes):
        try:
            return int(value)
        except ValueError:
            pass
    raise unexpected(what, value)


def as_text(value: Reply, what: str) -> str:
    """A bulk string as text (ids: reversible, see ``_names.id_text``), or raise."""
    return id_text(as_bytes(value, what))


def status(reply: Reply, what: str) -> tuple[str, list[Reply]]:
    """``status(reply, "job/publish")`` -> ``("ok", [values...])``."""
    items = as_list(reply, what)
    if not items:
        raise unexpected(what, reply)
    return as_text(items[0], what), items[1:]
