"""Opening a connection: a byte stream to the server, greeted (AUTH, SELECT, SETNAME).

Synopsis: ``stream, reader = await connect_stream(config)``.

Everything that can go wrong before the first command becomes one clear
:class:`ThoonkConnectionError` / :class:`ThoonkTimeoutError` /
:class:`ThoonkAuthenticationError`, and nothing is left open on failure.
TCP connections get keepalive probes that follow the config's
``health_timeout``.
"""

from __future__ import annotations

import ssl
from typing import Any

import hiredis
import trio

from ._broken import StreamErrors, broken, reason
from ._config import RedisConfig
from ._errors import ThoonkConnectionError, ThoonkTimeoutError, ThoonkTLSError
from ._protocol import Command, error_from_reply, pack_command
from ._socket import PlainSocketStream, enable_keepalive

_READ_SIZE = 1 << 18

#: What a break during the handshake means (see ``_broken.broken``).
_IN_HANDSHAKE = "that was during the handshake: no command of yours was sent"


async def open_stream(config: RedisConfig) -> trio.abc.Stream:
    """A connected byte stream to the server (unix, TCP or TLS), not yet greeted."""
    where = config.describe()
    context = tls_context(config) if config.tls and config.path is None else None
    try:
        with trio.fail_after(config.connect_timeout):
            stream: trio.abc.Stream
            if config.path is not None:
                stream = PlainSocketStream.adopt(await trio.open_unix_socket(config.path))
            else:
                stream = await trio.open_tcp_stream(config.host, config.port)
                if config.health_timeout is not None:
                    enable_keepalive(stream.socket, config.health_timeout)
                if context is not None:
                    tls = trio.SSLStream(stream, context, server_hostname=config.host)
                    try:
                        await tls.do_handshake()
                    except trio.BrokenResourceError as exc:
                        await trio.aclose_forcefully(stream)
                        refused = _tls_refusal(exc.__cause__)
                        if refused is None:
                            raise
                        raise ThoonkTLSError(
                            f"cannot connect to Redis at {where}: the TLS handshake failed "
                            f"({refused}); check ssl_ca_certs (the CA that signed the "
                            "server's certificate), the host name in the URL, and that the "
                            "server speaks TLS on this port"
                        ) from exc.__cause__
                    except BaseException:
                        await trio.aclose_forcefully(stream)
                        raise
                    stream = tls
                else:
                    stream = PlainSocketStream.adopt(stream)
    except trio.TooSlowError:
        raise ThoonkTimeoutError(
            f"could not connect to Redis at {where} within {config.connect_timeout:g} s; "
            "check that the server is running and reachable"
        ) from None
    except (OSError, trio.BrokenResourceError) as exc:
        cause = exc.__cause__ if isinstance(exc, trio.BrokenResourceError) else exc
        raise ThoonkConnectionError(
            f"cannot connect to Redis at {where} ({reason(cause or exc)}); start the server, "
            "or point THOONK_REDIS_URL / url= at one that is running"
        ) from exc
    return stream


def tls_context(config: RedisConfig) -> ssl.SSLContext:
    """The client TLS context, or ThoonkTLSError saying which file is wrong."""
    try:
        return config.ssl_context()
    except (OSError, ValueError) as exc:
        files = {
            "ssl_ca_certs": config.ssl_ca_certs,
            "ssl_certfile": config.ssl_certfile,
            "ssl_keyfile": config.ssl_keyfile,
        }
        named = ", ".join(f"{k}={v}" for k, v in files.items() if v) or "the system CA store"
        raise ThoonkTLSError(
            f"cannot set up TLS for Redis at {config.describe()}: {reason(exc)} (with {named}); "
            "check that these files exist, are readable and hold PEM certificates / keys"
        ) from exc


def _tls_refusal(cause: BaseException | None) -> str | None:
    """Why the handshake was refused, if retrying cannot help (None: maybe transient)."""
    if isinstance(cause, ssl.SSLCertVerificationError):
        return f"certificate verify failed: {cause.verify_message}"
    if isinstance(cause, ssl.SSLEOFError | ssl.SSLZeroReturnError | ssl.SSLSyscallError):
        return None  # the peer went away mid-handshake: like a refused connection
    if isinstance(cause, ssl.SSLError):
        return cause.reason or str(cause)
    return None


def handshake_commands(config: RedisConfig) -> list[Command]:
    """AUTH / SELECT / CLIENT SETNAME, as this config asks."""
    commands: list[Command] = []
    if config.password is not None:
        if config.username:
            commands.append(("AUTH", config.username, config.password))
        else:
            commands.append(("AUTH", config.password))
    if config.db:
        commands.append(("SELECT", config.db))
    if config.client_name:
        commands.append(("CLIENT", "SETNAME", config.client_name))
    return commands


async def greet(stream: trio.abc.Stream, config: RedisConfig, reader: hiredis.Reader) -> None:
    """Send the handshake and check every reply before the stream is used."""
    commands = handshake_commands(config)
    if not commands:
        return
    await stream.send_all(b"".join(pack_command(c) for c in commands))
    replies: list[Any] = []
    with trio.fail_after(config.connect_timeout):
        while len(replies) < len(commands):
            data = await stream.receive_some(_READ_SIZE)
            if not data:
                raise broken(config.describe(), "Redis closed the connection", _IN_HANDSHAKE)
            reader.feed(bytes(data))
            while (reply := reader.gets()) is not False:
                replies.append(reply)
    for reply in replies:
        if isinstance(reply, hiredis.ReplyError):
            raise error_from_reply(reply, config.describe())


async def connect_stream(config: RedisConfig) -> tuple[trio.abc.Stream, hiredis.Reader]:
    """Open and greet a stream; on any failure nothing is left open."""
    stream = await open_stream(config)
    reader = hiredis.Reader()
    try:
        with StreamErrors(config.describe(), _IN_HANDSHAKE):
            await greet(stream, config, reader)
    except trio.TooSlowError:
        await trio.aclose_forcefully(stream)
        raise ThoonkTimeoutError(
            f"Redis at {config.describe()} did not answer the handshake within "
            f"{config.connect_timeout:g} s"
        ) from None
    except BaseException:
        await trio.aclose_forcefully(stream)
        raise
    return stream, reader
