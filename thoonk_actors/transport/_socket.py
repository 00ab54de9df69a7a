"""A plain (TCP or unix) socket as a trio stream, with a write that need not yield.

Synopsis: ``stream = PlainSocketStream.adopt(await trio.open_tcp_stream(host, port))``.

Why not trio's ``SocketStream`` as it is: every ``send_all`` and
``receive_some`` there ends with a scheduling checkpoint even when the socket
was ready. For a request/response protocol that is two extra trips through
the scheduler per command, about a fifth of a loopback round trip. Here
``send_nowait`` writes what the kernel accepts at once without yielding, and
``receive_some`` yields when there is nothing to read, and otherwise once
every ``READS_PER_CHECKPOINT`` reads: a reader that always finds data (a
flooded pub/sub connection: the server pushes without being asked) must not
starve the other tasks. Callers still checkpoint: they wait for their reply.
TLS keeps trio's ``SSLStream``.
"""

from __future__ import annotations

import contextlib
import select
import socket

import trio

_READ_SIZE = 1 << 18

#: Reads that found data in a row before ``receive_some`` lets other tasks run.
READS_PER_CHECKPOINT = 1


class PlainSocketStream(trio.abc.Stream):
    """A connected non-blocking stdlib socket driven by trio's I/O primitives."""

    def __init__(self, sock: socket.socket) -> None:
        sock.setblocking(False)
        self._sock = sock
        self._closed = False
        self._reads_without_yield = 0
        self._poll = select.poll()
        self._poll.register(sock, select.POLLIN)

    @classmethod
    def adopt(cls, stream: trio.SocketStream) -> PlainSocketStream:
        """Take over the socket of a connected trio ``SocketStream``."""
        fd = stream.socket.detach()
        return cls(socket.socket(fileno=fd))

    def send_nowait(self, data: bytes | memoryview) -> int:
        """Write what the kernel takes right now; how many bytes that was."""
        if self._closed:
            raise trio.ClosedResourceError("the socket is closed")
        try:
            return self._sock.send(data)
        except BlockingIOError:
            return 0

    def readable_now(self) -> bool:
        """Is there something to read (data, or the peer's hang-up)? One ``poll``, no wait.

        Cheaper than a ``recv`` that finds nothing: that raises
        BlockingIOError, and building the exception costs three times the
        ``poll`` (1.6 against 0.55 us), on a path taken once per command.
        """
        return bool(self._poll.poll(0))

    def receive_nowait(self, max_bytes: int = _READ_SIZE) -> bytes | None:
        """What the kernel holds right now (``b""``: the peer hung up), or None: nothing yet."""
        if self._closed:
            raise trio.ClosedResourceError("the socket is closed")
        try:
            return self._sock.recv(max_bytes)
        except BlockingIOError:
            return None

    async def receive_when_ready(self, max_bytes: int = _READ_SIZE) -> bytes:
        """Wait until the socket is readable, then read: always a checkpoint.

        For a caller that has just sent a request and reads its own reply
        (``Connection``'s direct path): the reply is never there yet, so it
        waits first instead of paying a ``recv`` that finds nothing. A
        cancellation can only land in the wait, before the read: no byte is
        lost. Leaves ``receive_some``'s count of reads without a yield alone.
        """
        while True:
            if self._closed:
                raise trio.ClosedResourceError("the socket is closed")
            await trio.lowlevel.wait_readable(self._sock)
            try:
                return self._sock.recv(max_bytes)
            except BlockingIOError:
                continue  # woken without data (it happens): wait again

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        view = memoryview(data)
        while view:
            sent = self.send_nowait(view)
            if sent:
                view = view[sent:]
            else:
                await trio.lowlevel.wait_writable(self._sock)
        await trio.lowlevel.checkpoint_if_cancelled()

    async def wait_send_all_might_not_block(self) -> None:
        await trio.lowlevel.wait_writable(self._sock)

    async def receive_some(self, max_bytes: int | None = None) -> bytes:
        size = max_bytes or _READ_SIZE
        if self._reads_without_yield >= READS_PER_CHECKPOINT:
            # Before the read, not after: a cancellation here loses no bytes.
            self._reads_without_yield = 0
            await trio.lowlevel.checkpoint()
        while True:
            if self._closed:
                raise trio.ClosedResourceError("the socket is closed")
            try:
                data = self._sock.recv(size)
            except BlockingIOError:
                self._reads_without_yield = 0  # waiting is a checkpoint
                await trio.lowlevel.wait_readable(self._sock)
            else:
                self._reads_without_yield += 1
                return data

    async def aclose(self) -> None:
        if not self._closed:
            self._closed = True
            trio.lowlevel.notify_closing(self._sock)
            self._sock.close()
        await trio.lowlevel.checkpoint()


def enable_keepalive(sock: socket.socket | trio.socket.SocketType, health_timeout: float) -> None:
    """Turn on TCP keepalive so a peer that vanished is noticed within ``health_timeout``.

    The kernel then probes an idle connection after a third of it, every
    ninth, and drops it after three unanswered probes; options the platform
    lacks (TCP_KEEPIDLE is Linux and recent macOS) are skipped. A peer whose
    kernel still answers (a proxy that stops forwarding) is the health
    checks' job, not keepalive's.
    """
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    idle = max(1, int(health_timeout / 3))
    interval = max(1, int(health_timeout / 9))
    for name, value in (("TCP_KEEPIDLE", idle), ("TCP_KEEPINTVL", interval), ("TCP_KEEPCNT", 3)):
        option = getattr(socket, name, None)
        if option is not None:
            with contextlib.suppress(OSError):  # a platform that refuses the value
                sock.setsockopt(socket.IPPROTO_TCP, option, value)
