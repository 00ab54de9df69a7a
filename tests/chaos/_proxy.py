"""A loopback TCP proxy to a Redis unix socket that can black-hole its connections.

Synopsis::

    async with open_proxy(server.socket) as proxy:     # proxy.url: redis://127.0.0.1:port/0
        ...
        proxy.blackhole()   # every open connection stops forwarding, without closing

What a NAT table or a load balancer does when it drops a flow: the peers'
sockets stay open, bytes go nowhere, nothing is ever answered. Connections
opened after :meth:`Proxy.blackhole` are forwarded normally (the new flow gets
a new NAT entry).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial

import trio


class _Pair:
    def __init__(self) -> None:
        self.dead = False


class Proxy:
    def __init__(self, backend: str) -> None:
        self.backend = backend
        self.port = 0
        self._pairs: list[_Pair] = []
        self.accepted = 0

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def blackhole(self) -> None:
        """Stop forwarding on every connection open now; they stay open."""
        for pair in self._pairs:
            pair.dead = True

    async def _pump(self, source: trio.abc.Stream, sink: trio.abc.Stream, pair: _Pair) -> None:
        try:
            while True:
                data = await source.receive_some(65536)
                if not data:
                    return
                if not pair.dead:
                    await sink.send_all(data)
        except (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
            return

    async def _serve(self, client: trio.SocketStream) -> None:
        self.accepted += 1
        pair = _Pair()
        self._pairs.append(pair)
        async with client, await trio.open_unix_socket(self.backend) as upstream:
            async with trio.open_nursery() as nursery:

                async def one_way(src: trio.abc.Stream, dst: trio.abc.Stream) -> None:
                    await self._pump(src, dst, pair)
                    if not pair.dead:  # a black hole never tells anyone
                        nursery.cancel_scope.cancel()

                nursery.start_soon(one_way, client, upstream)
                nursery.start_soon(one_way, upstream, client)


@asynccontextmanager
async def open_proxy(backend: str) -> AsyncIterator[Proxy]:
    proxy = Proxy(backend)
    async with trio.open_nursery() as nursery:
        listeners = await nursery.start(partial(trio.serve_tcp, proxy._serve, 0, host="127.0.0.1"))
        proxy.port = listeners[0].socket.getsockname()[1]
        yield proxy
        nursery.cancel_scope.cancel()
