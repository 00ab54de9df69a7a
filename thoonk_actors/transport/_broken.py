"""A broken connection, said once: stream failures become ThoonkConnectionError.

Synopsis::

    with stream_errors(config.describe()):
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
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

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


@contextmanager
def stream_errors(where: str, consequence: str = IN_FLIGHT) -> Iterator[None]:
    """Raise :class:`ThoonkConnectionError` for any of ``STREAM_ERRORS`` in the block."""
    try:
        yield
    except STREAM_ERRORS as exc:
        raise broken(where, why_broken(exc), consequence) from exc
