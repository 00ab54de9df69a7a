"""One command over a fresh unix-socket connection, blocking: probe, PING, SHUTDOWN.

Synopsis: ``probe(socket_path) -> Probe(listening=True, info=Info(pid=..., version=...))``.

The lifecycle code runs in plain threads (file locks, subprocesses), before any
trio loop exists, so it does not use the trio transport. Commands are packed by
redis-py (``PythonRespSerializer``) and replies parsed by hiredis: no RESP code
of our own.
"""

from __future__ import annotations

import dataclasses
import socket
import time
from typing import Any

import hiredis
from redis._parsers.encoders import Encoder
from redis.connection import PythonRespSerializer

# How long one probe of the socket may take; a server that accepts but never
# answers (stopped with SIGSTOP, say) must not hang us past the caller's deadline.
PROBE_TIMEOUT = 1.0
# The longest reply we read (INFO server is ~1.5 KB); a fake server cannot make us buffer more.
_MAX_REPLY = 1 << 20

# redis-py packs the command (bulk strings, UTF-8); hiredis parses the reply.
_serializer = PythonRespSerializer(
    6000,
    Encoder("utf-8", "strict", False).encode,  # type: ignore[no-untyped-call]
)


class ErrorReply(Exception):
    """The server answered with a RESP error (``-ERR ...``, ``-LOADING ...``)."""


def request(path: str, *args: str, timeout: float) -> Any:
    """Send one command over a fresh connection and read one reply.

    Raises OSError when nothing listens or the socket times out, EOFError when
    the server closes the connection without a reply (which is how SHUTDOWN
    succeeds), ErrorReply for ``-`` replies, ValueError for bytes that are not RESP.
    """
    reader = hiredis.Reader()
    deadline = time.monotonic() + timeout
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        sock.connect(path)
        sock.sendall(b"".join(_serializer.pack(*args)))  # type: ignore[no-untyped-call]
        received = 0
        while True:
            try:
                reply = reader.gets()
            except hiredis.ProtocolError as exc:
                raise ValueError(f"not a Redis reply: {exc}") from None
            if reply is not False:
                break
            sock.settimeout(max(0.001, deadline - time.monotonic()))
            data = sock.recv(65536)
            if not data:
                raise EOFError("connection closed before a reply")
            received += len(data)
            if received > _MAX_REPLY:
                raise ValueError("the reply is implausibly long for this command")
            reader.feed(data)
    if isinstance(reply, hiredis.ReplyError):
        raise ErrorReply(str(reply))
    return reply


@dataclasses.dataclass(frozen=True, slots=True)
class Info:
    """What INFO says of the server: its pid and version."""

    pid: int
    version: str


@dataclasses.dataclass(frozen=True, slots=True)
class Probe:
    """What is behind the socket: nothing, a healthy server, or something odd."""

    listening: bool
    info: Info | None = None
    problem: str = ""


def probe(path: str, timeout: float = PROBE_TIMEOUT) -> Probe:
    """INFO over the socket (INFO is served even while the AOF is loading)."""
    try:
        reply = request(path, "INFO", "server", timeout=timeout)
    except (FileNotFoundError, ConnectionRefusedError):
        return Probe(listening=False)
    except (OSError, EOFError, ValueError, ErrorReply) as exc:
        # Something accepted the connection: never start a second server beside it.
        return Probe(listening=True, problem=f"{type(exc).__name__}: {exc}")
    fields: dict[str, str] = {}
    if isinstance(reply, bytes):
        for raw in reply.decode(errors="replace").splitlines():
            key, sep, value = raw.partition(":")
            if sep:
                fields[key] = value.strip()
    try:
        info = Info(pid=int(fields["process_id"]), version=fields["redis_version"])
    except (KeyError, ValueError):
        return Probe(listening=True, problem=f"unexpected INFO reply {reply!r:.80}")
    return Probe(listening=True, info=info)


def ping(path: str, timeout: float) -> str:
    """``"PONG"`` when ready, else why not (``LOADING ...``, ``refused`` ...)."""
    try:
        reply = request(path, "PING", timeout=timeout)
    except (FileNotFoundError, ConnectionRefusedError):
        return "not listening yet"
    except ErrorReply as exc:
        return str(exc)  # "LOADING Redis is loading the dataset in memory" among others
    except (OSError, EOFError, ValueError) as exc:
        return f"{type(exc).__name__}: {exc}"
    return "PONG" if reply == b"PONG" else f"unexpected reply {reply!r:.80}"
