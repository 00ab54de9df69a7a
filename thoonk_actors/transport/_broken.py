"""A broken connection, said once: stream failures become ThoonkConnectionError.

Synopsis::

    with StreamErrors(config.describe()):
        data = await stream.receive_some(size)

The socket, trio's streams and hiredis each report a broken connection their
own way: ``OSError`` (reset, broken pipe), ``trio.BrokenResourceError`` (with
the ``OSError`` or ``SSLError`` as its ``__cause__``),
``trio.ClosedResourceError`` (this side closed the stream under a reader or
writer), ``hiredis.ProtocolError`` (the peer is not speaking RESP). Inside the
block each becomes :class:`ThoonkConnectionError` with one message format,
``the connection to Redis at <where> broke (<why>); <consequence>``, raised
``from`` the original so the cause is kept. Cancellation and every other
exception pass through untouched. Like trio's translation at its socket
boundary, the list of what counts as "broken" lives here and nowhere else.

A class rather than a generator-based context manager: a connection keeps one
and enters it on every send (the fast path of each command), where the
generator's set-up would cost microseconds per command.
"""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType

import hiredis
import trio

from ._errors import ThoonkConnectionError

#: What a broken stream raises (``except STREAM_ERRORS`` where only the reason is wanted).
STREAM_ERRORS = (
    OSError,
    trio.BrokenResourceError,
    trio.ClosedResourceError,
    hiredis.ProtocolError,
)

#: The consequence for a connection that carried commands.
IN_FLIGHT = "commands in flight may or may not have run"


def reason(exc: BaseException) -> str:
    """The words of an OS or library error, without its class noise."""
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__


def why_broken(exc: BaseException) -> str:
    """Why a stream failed, in a few words (the ``<why>`` of the message)."""
    if isinstance(exc, trio.BrokenResourceError) and exc.__cause__ is not None:
        return reason(exc.__cause__)  # trio wraps the OSError / SSLError that did it
    if isinstance(exc, trio.ClosedResourceError):
        return "this client closed it"
    if isinstance(exc, hiredis.ProtocolError):
        return f"the server sent bytes that are not RESP: {exc}; is that address a Redis server?"
    return reason(exc)


def broken(where: str, why: str, consequence: str = IN_FLIGHT) -> ThoonkConnectionError:
    """The error of a connection that broke; also for breaks no exception reports (EOF)."""
    return ThoonkConnectionError(f"the connection to Redis at {where} broke ({why}); {consequence}")


class StreamErrors:
    """Translate ``STREAM_ERRORS`` in the block; reusable (it keeps nothing per use).

    ``on_break``: instead of raising, hand the error to this callback and
    carry on after the block (a connection fails its waiting callers that
    way: raising would only end its reader or writer task).
    """

    __slots__ = ("consequence", "on_break", "where")

    def __init__(
        self,
        where: str,
        consequence: str = IN_FLIGHT,
        on_break: Callable[[ThoonkConnectionError], None] | None = None,
    ) -> None:
        self.where = where
        self.consequence = consequence
        self.on_break = on_break

    def __enter__(self) -> None:
        return None

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> bool:
        if exc is None or not isinstance(exc, STREAM_ERRORS):
            return False
        error = broken(self.where, why_broken(exc), self.consequence)
        if self.on_break is None:
            raise error from exc
        error.__cause__ = exc
        self.on_break(error)
        return True
