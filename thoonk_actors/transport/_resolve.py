"""Which Redis a Thoonk client talks to when the caller does not say.

Synopsis: ``url = await resolve_url(None)`` → ``THOONK_REDIS_URL`` if set,
otherwise the embedded server of ``THOONK_DATA_DIR`` (default ``./.thoonk``),
started if it is not running yet.
"""

from __future__ import annotations

import os

import trio

from ._embedded import ensure_embedded_server

URL_ENV = "THOONK_REDIS_URL"


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
