"""An actor's bounded inbox that never blocks the sender and remembers what it dropped.

Synopsis::

    box = Mailbox(256)
    box.offer(message)            # from the router: never blocks
    box.gap("reconnected")        # events may have been lost upstream
    item = await box.receive()    # in the actor: a Message, or a Resync marker

A full mailbox drops the message and every later one until the actor has
emptied it; the actor then gets one :class:`Missed` marker and resyncs from
the stored state, so a slow actor costs only itself. The order the actor
sees is: everything that was buffered, then the marker, then what came
after the marker was handed out (nothing is dropped after it unless the
mailbox overflows again).
"""

from __future__ import annotations

from dataclasses import dataclass

import trio

from ..transport import DEFAULT_BUFFER_BYTES, Message
from ._resync import ResyncReason


@dataclass(frozen=True, slots=True)
class Missed:
    """Messages were dropped or lost before this point: resync."""

    reason: ResyncReason


class Mailbox:
    """A bounded trio memory channel with overflow bookkeeping (see the module doc)."""

    # One per actor, thousands per process: no per-instance dict.
    __slots__ = (
        "_max_bytes",
        "_missed",
        "_receive",
        "_send",
        "buffered_bytes",
        "changes",
        "dropped",
    )

    def __init__(self, capacity: int, max_bytes: int = DEFAULT_BUFFER_BYTES) -> None:
        self._send, self._receive = trio.open_memory_channel[Message | Missed](capacity)
        # Payload bytes held: a count of messages alone does not bound memory
        # when another client publishes 5 MB events (issue 17).
        self._max_bytes = max_bytes
        self.buffered_bytes = 0
        self._missed: ResyncReason | None = None
        self.dropped = 0
        #: Bumped by every offer, gap and receive: statistics are rebuilt only
        #: when it moved (see FeedActor.statistics).
        self.changes = 0

    @property
    def buffered(self) -> int:
        return self._send.statistics().current_buffer_used

    def offer(self, message: Message) -> None:
        """Queue ``message``, or drop it (and remember to resync) when full."""
        self.changes += 1
        if self._missed is not None:
            self.dropped += 1
            return
        size = len(message.data)
        try:
            if self.buffered_bytes and self.buffered_bytes + size > self._max_bytes:
                raise trio.WouldBlock  # one message always fits in an empty box
            self._send.send_nowait(message)
        except trio.WouldBlock:
            self._missed = "overflow"
            self.dropped += 1
        else:
            self.buffered_bytes += size

    def gap(self, reason: ResyncReason) -> None:
        """Events may have been lost before now: the actor resyncs after what it has."""
        self.changes += 1
        if self._missed is not None:
            return
        try:
            self._send.send_nowait(Missed(reason))
        except trio.WouldBlock:
            self._missed = reason

    async def receive(self) -> Message | Missed:
        """The next message, or a :class:`Missed` marker once the overflowed box is empty."""
        if self._missed is not None and self._receive.statistics().current_buffer_used == 0:
            # Cleared before the resync reads the stored state: whatever is
            # published from here on is queued and applied after the snapshot.
            reason, self._missed = self._missed, None
            self.changes += 1
            await trio.lowlevel.checkpoint()
            return Missed(reason)
        # A flag is only ever set while the box holds messages, so blocking
        # here (box empty, flag checked above, no checkpoint since) is safe.
        message = await self._receive.receive()
        self.changes += 1
        if isinstance(message, Message):
            self.buffered_bytes -= len(message.data)
        return message
