"""A reader that always finds data must still let the other tasks run.

The pub/sub connection is pushed to: while the server floods it, every read
finds bytes at once, and a read that never waits never yields to trio. The
plain socket stream checkpoints every ``READS_PER_CHECKPOINT`` reads that
found data (``transport/_socket.py``); without that, the task below counts
no step at all while 50,000 messages go by. Over TCP loopback, that is: its
buffers hold the whole flood, so each read finds the next bytes waiting. A
unix socket's small buffer runs dry between reads (the reader then waits, and
waiting yields), so the server here is a private one listening on TCP.
"""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator

import pytest
import trio
import trio.lowlevel

from thoonk_actors.transport import Gap, Message, open_pubsub, open_redis
from thoonk_actors.transport._socket import READS_PER_CHECKPOINT, PlainSocketStream

from ._private_server import PrivateRedis

#: One script call publishes them all: the flood comes from the server, not from this loop.
FLOOD = "for i = 1, tonumber(ARGV[1]) do redis.call('PUBLISH', KEYS[1], ARGV[2]) end return 1"
MESSAGES = 50_000  # ~2.9 MB on the wire: a dozen full reads or more


@pytest.fixture
def tcp_url() -> Iterator[str]:
    with socket.socket() as probe:  # a free port (the server takes it just after)
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with PrivateRedis("--port", str(port), "--bind", "127.0.0.1"):
        yield f"redis://127.0.0.1:{port}/0"


async def test_a_flooded_subscription_does_not_starve_another_task(tcp_url: str) -> None:
    channel = f"flood:{uuid.uuid4().hex}"
    steps = 0  # another task's checkpoint loop (what trio.sleep(0) does)
    seen: list[int] = []  # `steps` at the first and at the last message
    got = 0
    done = trio.Event()

    def sink(event: Message | Gap) -> None:
        nonlocal got
        assert isinstance(event, Message), event
        got += 1
        if got in (1, MESSAGES):
            seen.append(steps)
        if got == MESSAGES:
            done.set()

    async def stepper() -> None:
        nonlocal steps
        while not done.is_set():
            steps += 1
            await trio.lowlevel.checkpoint()

    async with open_redis(tcp_url) as client, open_pubsub(tcp_url) as pubsub:
        async with pubsub.subscribe([channel]) as sub, trio.open_nursery() as nursery:
            sub.deliver_to(sink)
            nursery.start_soon(stepper)
            with trio.fail_after(60):
                await client.execute("EVAL", FLOOD, 1, channel, MESSAGES, "x" * 20)
                await done.wait()
    first, last = seen
    # At least one step per few reads while the messages came in (0 without
    # the checkpoint); a dozen reads or more carry them.
    assert last - first >= 3, f"the other task made {last - first} steps during the flood"


async def test_the_checkpoint_comes_before_the_read_so_a_cancellation_loses_nothing() -> None:
    ours, peer = socket.socketpair()
    stream = PlainSocketStream(ours)
    with peer:
        for i in range(READS_PER_CHECKPOINT):  # reads that find data, without yielding
            peer.sendall(b"read %d" % i)
            assert await stream.receive_some() == b"read %d" % i
        peer.sendall(b"kept")
        with trio.CancelScope() as scope:
            scope.cancel()
            await stream.receive_some()
        assert scope.cancelled_caught
        assert await stream.receive_some() == b"kept"
    await stream.aclose()
