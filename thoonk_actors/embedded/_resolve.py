"""Which Redis a Thoonk client talks to when the caller does not say, and reviving it.

Synopsis::

    url = await resolve_url(None)     # $THOONK_REDIS_URL, else the embedded server
    revive = reviver_for(url)         # None unless url is an embedded server's socket

``resolve_url`` starts the embedded server of ``THOONK_DATA_DIR`` (default
``./.thoonk``) if it is not running yet. ``reviver_for`` gives the transport a
callback (``RedisConfig.revive``) that it awaits when it cannot connect: if the
server crashed or was killed it is started again on its AOF, so a client that
uses it heals by itself. A server stopped on purpose stays stopped.
"""

from __future__ import annotations

import logging
import os
import urllib.parse
from collections.abc import Awaitable, Callable

import trio

from .._errors import EmbeddedServerError
from ..transport import URL_ENV, ThoonkConnectionError
from ._datadir import Paths, is_our_config
from ._lifecycle import ensure_embedded_server
from ._process import is_our_server, read_pidfile

log = logging.getLogger(__name__)


async def resolve_url(url: str | None) -> str:
    """The URL to connect to: ``url``, else ``$THOONK_REDIS_URL``, else the embedded server."""
    if url:
        await trio.lowlevel.checkpoint()
        return url
    from_env = os.environ.get(URL_ENV)
    if from_env:
        await trio.lowlevel.checkpoint()
        return from_env
    server = await trio.to_thread.run_sync(ensure_embedded_server)
    return server.url


def resolve_url_sync(url: str | None) -> str:
    """:func:`resolve_url` for synchronous callers (the CLI, the sync facade)."""
    return url or os.environ.get(URL_ENV) or ensure_embedded_server().url


def embedded_data_dir(url: str) -> str | None:
    """The data directory if ``url`` is an embedded server's socket (our redis.conf beside it)."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme != "unix":
        return None
    path = urllib.parse.unquote(parts.path)
    if os.path.basename(path) != "redis.sock":
        return None
    data_dir = os.path.dirname(path)
    return data_dir if is_our_config(os.path.join(data_dir, "redis.conf")) else None


def revive_embedded_server(data_dir: str | os.PathLike[str]) -> bool:
    """Start the server of ``data_dir`` again if it died; return whether it was started.

    Died means: its pid file is still there (a clean shutdown removes it) and no
    redis-server of ours runs under that pid. A server stopped on purpose
    (``thoonk server stop``, SHUTDOWN) has no pid file and stays stopped.

    Raises:
        EmbeddedServerError: it died and cannot be started again (the message
            includes the end of ``redis.log``).
    """
    paths = Paths.of(data_dir)
    pid = read_pidfile(paths)
    if pid is None or is_our_server(pid, paths):
        return False
    server = ensure_embedded_server(data_dir)
    if server.started:
        log.warning(
            "the embedded Redis server of %s had died (pid %d); started it again (pid %d) "
            "on its append-only file",
            paths.data_dir,
            pid,
            server.pid,
        )
    return server.started


def reviver_for(url: str) -> Callable[[], Awaitable[None]] | None:
    """A ``RedisConfig.revive`` callback for ``url``, or None if it is not an embedded server."""
    data_dir = embedded_data_dir(url)
    if data_dir is None:
        return None

    async def revive() -> None:
        try:
            await trio.to_thread.run_sync(revive_embedded_server, data_dir)
        except EmbeddedServerError as exc:
            # The caller is reconnecting: a connection error is what it expects,
            # with the reason the restart failed rather than "cannot connect".
            raise ThoonkConnectionError(
                f"the embedded Redis server of {data_dir} died and could not be "
                f"started again: {exc}"
            ) from exc

    return revive
