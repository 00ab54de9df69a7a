"""The receiving end of a pub/sub subscription: messages, gaps, a bounded buffer.

Synopsis::

    async for event in subscription:       # Message or Gap
        ...

A subscription never slows its connection down: past its capacity -- a
number of messages, and a number of bytes (:data:`DEFAULT_BUFFER_BYTES`) -- it
drops messages and hands its reader one :class:`Gap` (``reason="overflow"``)
once the buffer is drained. The byte budget is what bounds memory: another
client of the same Redis can publish 400 events of 5 MB each.
:class:`~thoonk_actors.transport.PubSub` feeds it.
"""

from __future__ import annotations

import collections
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import trio

#: The bytes of message payloads one buffer may hold before it overflows.
DEFAULT_BUFFER_BYTES = 32 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Message:
    """One published message: its channel, payload, and the pattern that matched."""

    channel: bytes
    data: bytes
    pattern: bytes | None = None


@dataclass(frozen=True, slots=True)
class Gap:
    """Messages may have been lost just before this point: resync from stored state.

    ``reason`` is ``"reconnected"`` (the connection dropped and was restored) or
    ``"overflow"`` (this subscription's buffer was full).
    """

    reason: Literal["reconnected", "overflow"]


Event = Message | Gap


@dataclass(frozen=True, slots=True)
class SubscriptionStatistics:
    """What a subscription has seen so far."""

    buffered: int
    capacity: int
    delivered: int
    dropped: int
    gaps: int
    buffered_bytes: int = 0


class Subscription:
    """The receiving end of :meth:`PubSub.subscribe`; iterate it or call :meth:`receive`."""

    def __init__(self, capacity: int, max_bytes: int = DEFAULT_BUFFER_BYTES) -> None:
        self._queue: collections.deque[Event] = collections.deque()
        self._capacity = capacity
        self._max_bytes = max_bytes
        self._bytes = 0
        self._overflowed = False
        self._wakeup = trio.Event()
        self._closed = False
        self._delivered = 0
        self._dropped = 0
        self._gaps = 0
        self._sink: Callable[[Event], None] | None = None

    def deliver_to(self, sink: Callable[[Event], None]) -> None:
        """``sub.deliver_to(route)``: call ``route(event)`` for each event, in order, unbuffered.

        What is buffered now goes first; from then on each event is handed
        over by the connection's reader task as it is read, sparing a task
        switch per event (the actor runtime's router). ``sink`` must not block
        and must not raise: it runs inside the reader. Iterating the
        subscription afterwards finds nothing.
        """
        while True:
            try:
                event = self.receive_nowait()
            except (trio.WouldBlock, trio.EndOfChannel):
                break
            sink(event)
        self._sink = sink

    def _put(self, event: Event) -> None:
        sink = self._sink
        if sink is not None:
            if isinstance(event, Gap):
                self._gaps += 1
            else:
                self._delivered += 1
            sink(event)
            return
        if isinstance(event, Gap):
            self._queue.append(event)
        elif (
            self._overflowed
            or len(self._queue) >= self._capacity
            # One message always fits in an empty buffer, whatever its size.
            or (self._bytes and self._bytes + len(event.data) > self._max_bytes)
        ):
            self._overflowed = True
            self._dropped += 1
            return
        else:
            self._queue.append(event)
            self._bytes += len(event.data)
        self._wakeup.set()

    def receive_nowait(self) -> Event:
        """The next event, or raise ``trio.WouldBlock``."""
        if self._queue:
            event = self._queue.popleft()
        elif self._overflowed:
            self._overflowed = False
            event = Gap("overflow")
        elif self._closed:
            raise trio.EndOfChannel
        else:
            raise trio.WouldBlock
        if isinstance(event, Gap):
            self._gaps += 1
        else:
            self._delivered += 1
            self._bytes -= len(event.data)
        return event

    async def receive(self) -> Event:
        """Wait for the next event (a :class:`Message` or a :class:`Gap`)."""
        while True:
            try:
                event = self.receive_nowait()
            except trio.WouldBlock:
                self._wakeup = trio.Event()
                await self._wakeup.wait()
                continue
            await trio.lowlevel.checkpoint()
            return event

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> Event:
        try:
            return await self.receive()
        except trio.EndOfChannel:
            raise StopAsyncIteration from None

    def statistics(self) -> SubscriptionStatistics:
        """``sub.statistics()``: buffered, delivered, dropped and gap counts so far."""
        return SubscriptionStatistics(
            buffered=len(self._queue),
            capacity=self._capacity,
            delivered=self._delivered,
            dropped=self._dropped,
            gaps=self._gaps,
            buffered_bytes=self._bytes,
        )

    def _close(self) -> None:
        self._closed = True
        self._wakeup.set()
