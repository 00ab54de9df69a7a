"""An embedded server that dies under a live client is restarted by that client (issue 10.4).

The server is really SIGKILLed; the clients are real (``thoonk_actors.sync``,
a pub/sub connection) and found the server through ``THOONK_DATA_DIR``. AOF
with ``appendfsync always`` (``THOONK_APPENDFSYNC``), so every acknowledged
write is on disk when the kill lands. The repeated-kill form under a live
sync client is tests/chaos/test_embedded_kill.py.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator

import pytest
import redis
import trio

from thoonk_actors import ThoonkConnectionError, sync
from thoonk_actors.embedded import (
    embedded_server_status,
    ensure_embedded_server,
    resolve_url,
    revive_embedded_server,
    reviver_for,
    stop_embedded_server,
)
from thoonk_actors.transport import Gap, Message, RedisConfig, open_pubsub

from ..chaos._embedded import embedded_data_dir, gone, noticed_the_loss
from ..polling import eventually, wait_until


@pytest.fixture
def data_dir(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    with embedded_data_dir(monkeypatch) as path:
        yield path


def test_a_server_stopped_on_purpose_stays_stopped(data_dir: str) -> None:
    with sync.connect(reconnect_timeout=0.5) as t:
        jobs = t.job("emails")
        jobs.publish("x")
        assert stop_embedded_server(data_dir) is True
        with pytest.raises(ThoonkConnectionError):
            jobs.publish("y")
        assert embedded_server_status(data_dir) is None
        assert revive_embedded_server(data_dir) is False


def test_revive_restarts_only_a_dead_server(data_dir: str) -> None:
    server = ensure_embedded_server(data_dir)
    assert revive_embedded_server(data_dir) is False  # alive: nothing to do
    os.kill(server.pid, signal.SIGKILL)
    eventually(lambda: gone(server.pid), "the killed server to be gone")
    assert revive_embedded_server(data_dir) is True
    again = embedded_server_status(data_dir)
    assert again is not None
    assert again.pid != server.pid


def test_a_server_that_cannot_be_restarted_says_why(data_dir: str) -> None:
    with sync.connect() as t:
        jobs = t.job("emails")
        jobs.publish("x")
        first = embedded_server_status(data_dir)
        assert first is not None
        # Untrusted before the kill: the client's pub/sub connection (its result
        # router listens since the publish) tries a restart of its own at once.
        os.chmod(data_dir, 0o777)
        try:
            os.kill(first.pid, signal.SIGKILL)
            eventually(lambda: gone(first.pid), "the killed server to be gone")
            eventually(lambda: noticed_the_loss(t), "the client to read the EOF")
            with pytest.raises(ThoonkConnectionError) as info:
                jobs.publish("y")
        finally:
            os.chmod(data_dir, 0o700)
        message = str(info.value)
        assert message.startswith(f"the embedded Redis server of {data_dir} died and could not")
        assert "writable by other users" in message
        assert embedded_server_status(data_dir) is None


async def test_a_pubsub_only_client_restarts_the_killed_server(data_dir: str) -> None:
    """A client that only listens (no command connection to notice) revives the server too.

    Its pub/sub connection's reconnect loop restarts the server, subscribes
    again and reports the ``Gap``; messages published afterwards arrive.
    """
    url = await resolve_url(None)  # starts the embedded server of THOONK_DATA_DIR
    config = RedisConfig.from_url(url, revive=reviver_for(url))
    first = embedded_server_status(data_dir)
    assert first is not None
    with trio.fail_after(30):
        async with open_pubsub(config) as pubsub, pubsub.subscribe(channels=["news"]) as sub:
            os.kill(first.pid, signal.SIGKILL)
            assert isinstance(await sub.receive(), Gap)  # back, and subscribed again
            second = embedded_server_status(data_dir)
            assert second is not None
            assert second.pid != first.pid
            publisher = redis.Redis(unix_socket_path=second.socket_path)
            try:
                await wait_until(lambda: publisher.publish("news", "back") == 1, what="a listener")
            finally:
                publisher.close()
            message = await sub.receive()
            assert isinstance(message, Message)
            assert message.data == b"back"
