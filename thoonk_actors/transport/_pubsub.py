"""One reconnecting pub/sub connection shared by many subscriptions.

Synopsis::

    async with open_pubsub(config) as pubsub:
        async with pubsub.subscribe(channels=["event.feed.publish:news"]) as sub:
            async for event in sub:
                if isinstance(event, Gap):
                    ...  # events may have been missed: resync from the stored state
                else:
                    handle(event.channel, event.data)

``subscribe`` returns only once Redis has acknowledged every channel, so a
publish made after it returns is never missed. Each subscription has a bounded
buffer: a consumer that falls behind does not slow the others down; it loses
the overflow and receives one :class:`Gap` (``reason="overflow"``) after the
events it still has. When the server drops the connection (restart,
``CLIENT KILL TYPE pubsub``), the connection is reopened with backoff, every
channel and pattern is subscribed again, and every subscription receives a
:class:`Gap` (``reason="reconnected"``) placed after the resubscription was
acknowledged, so a resync that starts at the gap sees everything after it.

A connection can also die without a word (a NAT table or load balancer that
drops the flow): the connection PINGs every third of the config's
``health_timeout``, and one that stays silent for the whole of it is
replaced the same way (resubscribe, then a :class:`Gap`).

When a reconnect cannot open a connection, the config's ``revive`` callback
is awaited once per outage (an embedded server that died is started again),
as the command connections do: a client that only listens heals too.
"""

from __future__ import annotations

import collections
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager
from functools import partial
from typing import Any, Literal

import hiredis
import trio

from .._errors import ThoonkError, UsageError
from .._nursery import open_service_nursery
from ._broken import STREAM_ERRORS, why_broken
from ._config import RedisConfig
from ._connect import connect_stream
from ._errors import ThoonkLoadingError, ThoonkTimeoutError
from ._protocol import error_from_reply, pack_command
from ._retry import RECONNECT_BACKOFF
from ._subscription import Gap, Message, Subscription

log = logging.getLogger(__name__)

_READ_SIZE = 1 << 18


_Kind = Literal["channel", "pattern"]


class _Topic:
    __slots__ = ("confirmed", "error", "subscribers")

    def __init__(self) -> None:
        self.subscribers: set[Subscription] = set()
        self.confirmed = trio.Event()
        # set (with `confirmed`) when the server refused the SUBSCRIBE
        self.error: Exception | None = None


class PubSub:
    """A pub/sub connection and the subscriptions on it. Make one with :func:`open_pubsub`."""

    def __init__(self, config: RedisConfig) -> None:
        self.config = config.replace(response_timeout=None)
        self._topics: dict[tuple[_Kind, bytes], _Topic] = {}
        # SUBSCRIBE commands sent but not yet acknowledged, per topic: a topic
        # is confirmed only when the last of them is (see _on_confirm).
        self._unconfirmed: collections.Counter[tuple[_Kind, bytes]] = collections.Counter()
        self._outgoing: list[bytes] = []
        self._write_wanted = trio.Event()
        self._connected = False
        self._connections = 0
        self._last_heard = 0.0
        # barrier token -> set when its PING's reply arrived (see barrier()).
        self._barriers: dict[bytes, trio.Event] = {}
        self._barrier_count = 0

    @property
    def where(self) -> str:
        return self.config.describe()

    @property
    def reconnects(self) -> int:
        """How many times the connection was re-established after the first."""
        return max(0, self._connections - 1)

    # ------------------------------------------------------------ subscribing

    @asynccontextmanager
    async def subscribe(
        self,
        channels: Iterable[str | bytes] = (),
        patterns: Iterable[str | bytes] = (),
        *,
        buffer: int = 1024,
        ack_timeout: float | None = None,
        into: Subscription | None = None,
    ) -> AsyncIterator[Subscription]:
        """Receive the messages of ``channels`` and ``patterns`` while the block runs.

        Synopsis: ``async with pubsub.subscribe(["news"]) as sub: ...``.

        Enters only once Redis has acknowledged every channel and pattern, so
        nothing published after that is missed. Channels other subscriptions
        already hold are shared (one SUBSCRIBE per channel on the connection);
        leaving the block unsubscribes the ones nobody else holds.

        Args:
            channels: channel names to subscribe to.
            patterns: glob-style patterns (PSUBSCRIBE).
            buffer: how many events the subscription holds for a slow
                consumer before it drops the overflow (then one ``Gap``).
            ack_timeout: how many seconds to wait for the acknowledgement,
                including waiting for a connection; default the config's
                ``reconnect_timeout``.
            into: deliver into this subscription instead of a new one (the
                cluster pub/sub merges several node connections into one).

        Raises:
            UsageError: no channel or pattern, a name that is not str/bytes, or
                ``buffer`` below 1.
            ThoonkTimeoutError: no acknowledgement within ``ack_timeout``.
            ServerError: the server refused the subscription
                (:class:`ThoonkNoPermissionError` when an ACL denies a channel).
        """
        if buffer < 1:
            raise UsageError("a subscription buffer must hold at least 1 event")
        wanted: list[tuple[_Kind, bytes]] = [("channel", _b(c)) for c in channels]
        wanted += [("pattern", _b(p)) for p in patterns]
        if not wanted:
            raise UsageError("subscribe to at least one channel or pattern")
        sub = Subscription(buffer) if into is None else into
        new: list[tuple[_Kind, bytes]] = []
        topics: list[_Topic] = []
        for key in dict.fromkeys(wanted):
            topic = self._topics.get(key)
            if topic is None:
                topic = self._topics[key] = _Topic()
                new.append(key)
            topic.subscribers.add(sub)
            topics.append(topic)
        try:
            if new and self._connected:
                self._send_subscribe(new)
            limit = self.config.reconnect_timeout if ack_timeout is None else ack_timeout
            try:
                with trio.fail_after(limit):
                    for topic in topics:
                        if not topic.confirmed.is_set():  # (wait() checkpoints even if set:
                            await topic.confirmed.wait()  # one scheduler pass per channel)
                        if topic.error is not None:
                            raise topic.error
            except trio.TooSlowError:
                raise ThoonkTimeoutError(
                    f"Redis at {self.where} did not acknowledge the subscription within "
                    f"{limit:g} s; is the server reachable?"
                ) from None
            yield sub
        finally:
            sub.close()
            gone: list[tuple[_Kind, bytes]] = []
            for key in dict.fromkeys(wanted):
                topic = self._topics[key]
                topic.subscribers.discard(sub)
                if not topic.subscribers:
                    del self._topics[key]
                    gone.append(key)
            if gone and self._connected:
                self._send_unsubscribe(gone)

    async def barrier(self) -> None:
        """Return once every message the server sent before this call was handed out.

        Synopsis: ``await pubsub.barrier()``, then every message published
        before it is in its subscriptions' buffers (``receive_nowait`` gets it).
        A ``PING <token>`` on this connection: Redis writes its reply after every
        message it published to this connection before it ran the PING. Cheaper
        than subscribing to a fresh channel and leaving it (one command, no
        channel to add and drop). Across a reconnect the PING is sent again on
        the new connection (after the resubscription; the subscribers also get
        their Gap). Waits at most the config's ``reconnect_timeout``.

        Raises:
            ThoonkTimeoutError: no reply in time.
        """
        self._barrier_count += 1
        token = b"barrier:%d" % self._barrier_count
        done = self._barriers[token] = trio.Event()
        try:
            if self._connected:
                self._send(("PING", token))
            limit = self.config.reconnect_timeout
            with trio.move_on_after(limit):
                await done.wait()
                return
            raise ThoonkTimeoutError(
                f"Redis at {self.where} did not answer a PING on the pub/sub connection "
                f"within {limit:g} s; is the server reachable?"
            )
        finally:
            self._barriers.pop(token, None)

    def _send_subscribe(self, keys: list[tuple[_Kind, bytes]]) -> None:
        channels = [name for kind, name in keys if kind == "channel"]
        patterns = [name for kind, name in keys if kind == "pattern"]
        for key in keys:
            self._unconfirmed[key] += 1
        if channels:
            self._send(("SUBSCRIBE", *channels))
        if patterns:
            self._send(("PSUBSCRIBE", *patterns))

    def _send_unsubscribe(self, keys: list[tuple[_Kind, bytes]]) -> None:
        channels = [name for kind, name in keys if kind == "channel"]
        patterns = [name for kind, name in keys if kind == "pattern"]
        if channels:
            self._send(("UNSUBSCRIBE", *channels))
        if patterns:
            self._send(("PUNSUBSCRIBE", *patterns))

    def _send(self, command: tuple[Any, ...]) -> None:
        self._outgoing.append(pack_command(command))
        self._write_wanted.set()

    # ----------------------------------------------------------------- running

    async def _run(self, task_status: trio.TaskStatus[None]) -> None:
        """Connect, (re)subscribe, read; reconnect with backoff for ever."""
        first = True
        backoff = RECONNECT_BACKOFF.start()
        revived = False  # once per outage, as the command connections do
        while True:
            try:
                stream, reader = await self._connect()
            except ThoonkError as exc:
                if first:
                    raise
                if (
                    self.config.revive is not None
                    and not revived
                    and not isinstance(exc, ThoonkLoadingError)  # a loading server is alive
                ):
                    revived = True  # e.g. restart an embedded server that died
                    try:
                        await self.config.revive()
                    except ThoonkError as failed:
                        log.warning("pub/sub of %s: %s", self.where, failed)
                    continue
                log.warning("pub/sub reconnect to %s failed (%s); retrying", self.where, exc)
                await trio.sleep(backoff.next_delay())
                continue
            backoff.reset()
            revived = False
            self._connections += 1
            reconnected = not first
            if first:
                task_status.started()
                first = False
            try:
                failure = await self._serve(stream, reader, reconnected)
                log.warning("pub/sub connection to %s lost (%s); reconnecting", self.where, failure)
            finally:
                self._connected = False
                self._unconfirmed.clear()
                for topic in self._topics.values():
                    if topic.confirmed.is_set():
                        topic.confirmed = trio.Event()
                await trio.aclose_forcefully(stream)

    async def _connect(self) -> tuple[trio.abc.Stream, hiredis.Reader]:
        """Open and greet the connection (the cluster variant picks a live node)."""
        return await connect_stream(self.config)

    async def _serve(
        self, stream: trio.abc.Stream, reader: hiredis.Reader, reconnected: bool
    ) -> str:
        """Run one connection until it breaks; say why it did."""
        self._outgoing.clear()
        self._connected = True
        failure = "the server closed it"
        async with trio.open_nursery() as nursery:

            async def guarded(fn: Callable[[], Awaitable[None]]) -> None:
                # Errors stop this connection here, inside the task, so they
                # never surface as an ExceptionGroup from the nursery.
                nonlocal failure
                try:
                    await fn()
                except STREAM_ERRORS as exc:
                    failure = why_broken(exc)
                nursery.cancel_scope.cancel()

            nursery.start_soon(guarded, partial(self._write_loop, stream))
            if self.config.health_timeout is not None:

                async def watch() -> None:
                    nonlocal failure
                    failure = await self._watch_health(self.config.health_timeout or 0.0)
                    nursery.cancel_scope.cancel()

                nursery.start_soon(watch)
            if self._topics:
                self._send_subscribe(list(self._topics))
            for token in self._barriers:  # after the resubscription (see barrier())
                self._send(("PING", token))
            if reconnected:
                nursery.start_soon(self._announce_gap)
            nursery.start_soon(guarded, partial(self._read_loop, stream, reader))
        return failure

    async def _watch_health(self, limit: float) -> str:
        """PING every third of ``limit``; return (a reason) once silent for ``limit``."""
        self._last_heard = trio.current_time()
        while True:
            await trio.sleep(limit / 3)
            silent = trio.current_time() - self._last_heard
            if silent >= limit:
                return f"no reply to PING for {silent:.1f} s (health_timeout {limit:g} s)"
            self._send(("PING",))

    async def _announce_gap(self) -> None:
        # Only after the resubscription is acknowledged: a consumer that
        # resyncs at the gap must not miss anything published after it.
        for topic in list(self._topics.values()):
            await topic.confirmed.wait()
        subs = {s for topic in self._topics.values() for s in topic.subscribers}
        for sub in subs:
            sub._deliver(Gap("reconnected"))

    async def _write_loop(self, stream: trio.abc.Stream) -> None:
        while True:
            if not self._outgoing:
                await self._write_wanted.wait()
                self._write_wanted = trio.Event()
                continue
            data = b"".join(self._outgoing)
            self._outgoing.clear()
            await stream.send_all(data)

    async def _read_loop(self, stream: trio.abc.Stream, reader: hiredis.Reader) -> None:
        while True:
            data = await stream.receive_some(_READ_SIZE)
            if not data:
                return
            self._last_heard = trio.current_time()
            reader.feed(bytes(data))
            while (reply := reader.gets()) is not False:
                self._dispatch(reply)

    def _dispatch(self, reply: Any) -> None:
        if isinstance(reply, hiredis.ReplyError):
            # In pub/sub mode the only replies that can fail are our (P)SUBSCRIBEs
            # (an ACL without the channel, say): fail the ones still waiting.
            error = error_from_reply(reply, self.where)
            waiting = [t for t in self._topics.values() if not t.confirmed.is_set()]
            if not waiting:
                log.error("pub/sub connection to %s got an error: %s", self.where, reply)
            for refused in waiting:
                refused.error = error
                refused.confirmed.set()
            self._unconfirmed.clear()
            return
        if not isinstance(reply, list) or not reply:
            # +PONG (or a PING's payload) when no channel is subscribed
            if isinstance(reply, bytes):
                self._pong(reply)
            return
        kind = reply[0]
        if kind == b"message":
            topic = self._topics.get(("channel", reply[1]))
            if topic is not None:
                message = Message(reply[1], reply[2])
                for sub in topic.subscribers:
                    sub._deliver(message)
        elif kind == b"pmessage":
            topic = self._topics.get(("pattern", reply[1]))
            if topic is not None:
                message = Message(reply[2], reply[3], reply[1])
                for sub in topic.subscribers:
                    sub._deliver(message)
        elif kind == b"subscribe":
            self._on_confirm(("channel", reply[1]))
        elif kind == b"psubscribe":
            self._on_confirm(("pattern", reply[1]))
        elif kind == b"pong":
            self._pong(reply[1])

    def _pong(self, token: bytes) -> None:
        done = self._barriers.get(token)
        if done is not None:
            done.set()

    def _on_confirm(self, key: tuple[_Kind, bytes]) -> None:
        self._unconfirmed[key] -= 1
        if self._unconfirmed[key] <= 0:
            del self._unconfirmed[key]
            topic = self._topics.get(key)
            if topic is not None:
                topic.confirmed.set()


def _b(name: str | bytes) -> bytes:
    if isinstance(name, bytes):
        return name
    if isinstance(name, str):
        return name.encode()
    raise UsageError(f"a channel or pattern must be str or bytes, not {type(name).__name__}")


@asynccontextmanager
async def open_pubsub(config: RedisConfig | str) -> AsyncIterator[PubSub]:
    """A :class:`PubSub` that stays connected (reconnecting as needed) for the block.

    The first connection is made here: an unreachable server fails at once
    with :class:`ThoonkConnectionError`.
    """
    if isinstance(config, str):
        config = RedisConfig.from_url(config)
    pubsub = PubSub(config)
    async with open_service_nursery() as nursery:
        await nursery.start(pubsub._run)
        yield pubsub
        nursery.cancel_scope.cancel()
