"""TLS: no silent downgrade, no ignored option, no retry of what cannot heal (issue 17.6).

A TLS server with a self-signed certificate made in the test (the proxy of
tests/transport/test_tls.py) stands in front of the test server.
"""

from __future__ import annotations

import logging
import shutil
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path

import pytest
import trio

from thoonk_actors import UsageError
from thoonk_actors.transport import RedisConfig, ThoonkTLSError, open_redis
from thoonk_actors.transport import _config as config_module
from thoonk_actors.transport._connect import open_stream

from ..transport.test_tls import make_certificate, pump

needs_openssl = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl")


@pytest.mark.parametrize(
    "url",
    [
        "redis://localhost:6379/0?ssl_ca_certs=/etc/ssl/ca.pem",
        "redis://localhost:6379/0?ssl_cert_reqs=required",
        "unix:///tmp/r.sock?ssl_certfile=/tmp/c.pem",
    ],
)
def test_tls_options_on_a_plaintext_url_are_refused(url: str) -> None:
    with pytest.raises(UsageError, match="plaintext connection; use a rediss://"):
        RedisConfig.from_url(url)
    with pytest.raises(UsageError, match="plaintext"):
        RedisConfig.from_url("redis://localhost/0", ssl_ca_certs="/etc/ssl/ca.pem")


def test_unsupported_tls_options_are_refused() -> None:
    for option in ("ssl_crlfile=/x.pem", "ssl_ciphers=ALL", "ssl_password=x"):
        with pytest.raises(UsageError, match="is not supported"):
            RedisConfig.from_url(f"rediss://localhost:6380/0?{option}")
    with pytest.raises(UsageError, match="ssl_min_version"):  # redis-py's parser refuses it
        RedisConfig.from_url("rediss://localhost:6380/0?ssl_min_version=TLSv1_3")
    assert RedisConfig.from_url("rediss://localhost:6380/0?ssl_cert_reqs=optional").tls


def test_unverified_tls_warns_once(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(config_module, "_warned_unverified", False)
    caplog.set_level(logging.WARNING)
    for _ in range(3):
        RedisConfig.from_url("rediss://localhost:6380/0?ssl_cert_reqs=none")
    warnings = [r for r in caplog.records if "ssl_cert_reqs=none" in r.getMessage()]
    assert len(warnings) == 1
    assert "not checked" in warnings[0].getMessage()


async def test_a_missing_ca_file_fails_at_once_saying_so(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-ca.pem"
    with trio.fail_after(30):
        with pytest.raises(ThoonkTLSError, match="cannot set up TLS") as caught:
            # A long reconnect_timeout: were it retried, this would take 60 s.
            async with open_redis(
                f"rediss://127.0.0.1:1/0?ssl_ca_certs={missing}", reconnect_timeout=60
            ):
                pass
    assert str(missing) in str(caught.value)
    assert "start the server" not in str(caught.value)
    assert "attempts" not in str(caught.value)


@asynccontextmanager
async def tls_proxy(redis_url: str, directory: Path) -> AsyncIterator[tuple[int, Path]]:
    cert, key = make_certificate(directory)
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(cert, key)
    backend = RedisConfig.from_url(redis_url).replace(db=0)
    handshakes = 0

    async def handle(tls_stream: trio.SSLStream[trio.SocketStream]) -> None:
        nonlocal handshakes
        handshakes += 1
        try:
            await tls_stream.do_handshake()
        except trio.BrokenResourceError:
            return
        upstream = await open_stream(backend)
        async with upstream, trio.open_nursery() as nursery:
            nursery.start_soon(pump, tls_stream, upstream)
            await pump(upstream, tls_stream)
            nursery.cancel_scope.cancel()

    async with trio.open_nursery() as nursery:
        listeners = await nursery.start(
            partial(trio.serve_ssl_over_tcp, handle, 0, server_context, host="127.0.0.1")
        )
        yield listeners[0].transport_listener.socket.getsockname()[1], cert
        nursery.cancel_scope.cancel()


@needs_openssl
async def test_a_refused_certificate_fails_at_once_saying_so(
    redis_url: str, tmp_path: Path
) -> None:
    with trio.fail_after(30):
        async with tls_proxy(redis_url, tmp_path) as (port, cert):
            with pytest.raises(ThoonkTLSError, match="certificate verify failed") as caught:
                async with open_redis(f"rediss://localhost:{port}/0", reconnect_timeout=60):
                    pass
            message = str(caught.value)
            assert "ssl_ca_certs" in message and "start the server" not in message
            # Trusting the CA made in the test, the same proxy works.
            async with open_redis(f"rediss://localhost:{port}/0?ssl_ca_certs={cert}") as client:
                assert await client.execute("PING") == b"PONG"
