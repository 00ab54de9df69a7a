"""The receiving end of a pub/sub subscription: messages, gaps, a bounded buffer.

Synopsis::

    async for event in subscription:       # Message or Gap
        ...

A subscription never slows its connection down: past its capacity -- a
number of events, and a number of bytes (:data:`DEFAULT_BUFFER_BYTES`) -- it
drops messages and hands its reader one :class:`Gap` (``reason="overflow"``)
once the buffer is drained (the package's one drop-and-mark rule:
``thoonk_actors._overflow``). The byte budget is what bounds memory: another
client of the same Redis can publish 400 events of 5 MB each.
:class:`~thoonk_actors.transport.PubSub` feeds it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import trio

from .._overflow import OverflowBuffer

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


class Subscription(OverflowBuffer[Message, Gap]):
    """The receiving end of :meth:`PubSub.subscribe`; iterate it or call :meth:`receive`.

    The package's one drop-and-mark buffer (``thoonk_actors._overflow``, shared
    with the actor runtime's mailboxes) with :class:`Gap` as its marker. One
    reader at a time: a second task calling :meth:`receive` while one waits
    gets ``trio.BusyResourceError``.
    """

    MARKER = Gap
    __slots__ = ("_sink",)

    def __init__(self, capacity: int, max_bytes: int = DEFAULT_BUFFER_BYTES) -> None:
        super().__init__(capacity, max_bytes)
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

    def _deliver(self, event: Event) -> None:
        """What the connection's reader calls for each message or gap it reads."""
        sink = self._sink
        if sink is not None:
            if type(event) is Message:
                self.delivered += 1
            else:
                self.gaps += 1
            sink(event)
        elif type(event) is Message:
            self.offer(event)
        else:
            assert isinstance(event, Gap)
            self.gap(event.reason)

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
            buffered=self.buffered,
            capacity=self._capacity,
            delivered=self.delivered,
            dropped=self.dropped,
            gaps=self.gaps,
            buffered_bytes=self.buffered_bytes,
        )
