"""rediss:// through a TLS terminator in front of the test server.

The test servers speak plain RESP, so the test puts a small trio TLS proxy on
loopback (a throw-away self-signed certificate made with the ``openssl``
command) in front of the real server and connects to it with ``rediss://``.
"""

from __future__ import annotations

import shutil
import ssl
import subprocess
from functools import partial
from pathlib import Path

import pytest
import redis
import trio

from thoonk_actors import ThoonkConnectionError
from thoonk_actors.transport import RedisConfig, open_redis
from thoonk_actors.transport._connect import open_stream

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl")


def make_certificate(directory: Path) -> tuple[Path, Path]:
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=DNS:localhost,IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


async def pump(source: trio.abc.Stream, sink: trio.abc.Stream) -> None:
    try:
        while data := await source.receive_some(65536):
            await sink.send_all(data)
    except (trio.BrokenResourceError, trio.ClosedResourceError):
        pass


async def test_rediss_url_connects_through_tls(
    redis_url: str, sync_redis: redis.Redis, tmp_path: Path
) -> None:
    cert, key = make_certificate(tmp_path)
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(cert, key)
    backend = RedisConfig.from_url(redis_url).replace(db=0)

    async def handle(tls_stream: trio.SSLStream[trio.SocketStream]) -> None:
        upstream = await open_stream(backend)
        async with upstream, trio.open_nursery() as nursery:
            nursery.start_soon(pump, tls_stream, upstream)
            await pump(upstream, tls_stream)
            nursery.cancel_scope.cancel()

    async with trio.open_nursery() as nursery:
        listeners = await nursery.start(
            partial(trio.serve_ssl_over_tcp, handle, 0, server_context, host="127.0.0.1")
        )
        port = listeners[0].transport_listener.socket.getsockname()[1]
        db = RedisConfig.from_url(redis_url).db
        url = f"rediss://localhost:{port}/{db}?ssl_ca_certs={cert}"
        async with open_redis(url) as client:
            assert client.config.tls
            assert await client.execute("SET", "over-tls", "yes") == b"OK"
        assert sync_redis.get("over-tls") == b"yes"

        # without trusting the certificate, the handshake fails clearly
        with pytest.raises(ThoonkConnectionError, match="cannot connect"):
            async with open_redis(f"rediss://localhost:{port}/{db}", reconnect_timeout=0.2):
                pass
        nursery.cancel_scope.cancel()
