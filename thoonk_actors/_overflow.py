"""A bounded buffer that never blocks its producer: past its bound it drops and marks a gap.

Synopsis::

    class Box(OverflowBuffer[Message, Gap]):
        MARKER = Gap                     # what a gap hands the consumer: MARKER(reason)

    box = Box(capacity=256, max_bytes=32 << 20)
    box.offer(message)                   # producer: never blocks; dropped when full
    box.gap("reconnected")               # events may have been lost upstream
    item = await box.receive()           # consumer: a message, or a marker

The one drop-and-mark rule of the package (the transport's ``Subscription``
and the runtime's actor ``Mailbox`` are both this buffer): a message that
does not fit -- more than ``capacity`` items, or more than ``max_bytes`` of
payload (one message always fits in an empty buffer) -- is dropped, and so
is every later one until the consumer has emptied the buffer; the consumer
then gets one marker (``reason="overflow"``) and resyncs from stored state.
So a slow consumer costs only itself, and what it receives is: everything
that was buffered, the marker, then what came after the marker was handed
out. A gap is queued in order like a message (markers count towards
``capacity``, not towards bytes); a gap that does not fit, or that comes
while a marker is pending already, is folded into the pending marker.

Not a trio memory channel: one of those (two channel objects and their
shared state) weighed 1.8 KB, most of an idle actor's memory at 10,000
actors (issue 12). An idle buffer is one slotted object: the consumer
waiting in :meth:`~OverflowBuffer.receive` is parked with trio's low-level
API and an item offered then is handed straight to it; a queue is only made
when items wait (and kept: a busy buffer stays busy). One consumer at a
time: a second task receiving while one waits gets ``trio.BusyResourceError``.
"""

from __future__ import annotations

from collections import deque
from typing import ClassVar, Generic, Protocol, TypeVar

import outcome
import trio


class Payload(Protocol):
    """What a buffer holds: its ``data`` is what the byte budget counts."""

    @property
    def data(self) -> bytes: ...


class Activity:
    """``activity.changes``: bumped by every offer, gap and receive of the buffers that share it.

    An app's refresh of its statistics (twice a second) compares it with the
    value it last saw and, when nothing moved, keeps the actors' statistics it
    has instead of asking each of thousands of idle actors (issue 12: idle CPU).

    ``activity.settled()`` / ``await activity.wait_settled(seen)``: something
    may have gone idle -- a consumer found its buffer empty and waits, a job
    was settled -- so whoever waits for the app to drain looks again
    (``runtime._drain``). ``settles`` counts them, so a waiter that read it
    before looking misses none.
    """

    __slots__ = ("_lot", "changes", "settles")

    def __init__(self) -> None:
        self.changes = 0
        self.settles = 0
        self._lot: trio.lowlevel.ParkingLot | None = None

    def settled(self) -> None:
        """Something may have gone idle: wake the tasks in :meth:`wait_settled`."""
        self.settles += 1
        lot = self._lot
        if lot is not None and lot:
            lot.unpark_all()

    async def wait_settled(self, seen: int) -> None:
        """Return once :attr:`settles` is past ``seen`` (at once if it is already)."""
        if self.settles != seen:
            await trio.lowlevel.checkpoint()
            return
        if self._lot is None:
            self._lot = trio.lowlevel.ParkingLot()
        await self._lot.park()


#: The activity of buffers made without one (a false "changed" costs a rebuild only).
UNSHARED = Activity()

P = TypeVar("P", bound=Payload)
M = TypeVar("M")


class OverflowBuffer(Generic[P, M]):
    """A drop-and-mark buffer of ``P`` items and ``M`` markers (see the module doc).

    Subclasses set :attr:`MARKER`, the marker type, called with the reason.
    """

    #: The marker type: ``MARKER(reason)`` is what a consumer gets for a gap.
    MARKER: ClassVar[type]

    # One per actor, thousands per process: no per-instance dict.
    __slots__ = (
        "_capacity",
        "_closed",
        "_max_bytes",
        "_missed",
        "_queue",
        "_waiter",
        "activity",
        "buffered_bytes",
        "delivered",
        "dropped",
        "gaps",
    )

    def __init__(self, capacity: int, max_bytes: int, activity: Activity | None = None) -> None:
        if capacity < 1:
            raise ValueError(f"a buffer holds at least 1 item, not {capacity}")
        self._capacity = capacity
        self._queue: deque[P | M] | None = None
        #: The consumer task parked in receive(), when the buffer is empty.
        self._waiter: trio.lowlevel.Task | None = None
        # Payload bytes held: a count of messages alone does not bound memory
        # when another client publishes 5 MB events (issue 17).
        self._max_bytes = max_bytes
        self.buffered_bytes = 0
        #: The reason of the marker owed once the buffer is empty (None: none owed).
        self._missed: str | None = None
        self._closed = False
        self.dropped = 0
        #: Items and markers handed to the consumer so far.
        self.delivered = 0
        self.gaps = 0
        self.activity = UNSHARED if activity is None else activity

    @property
    def buffered(self) -> int:
        """Items and markers waiting to be received."""
        queue = self._queue
        return 0 if queue is None else len(queue)

    def _put(self, item: P | M) -> int:
        """Hand ``item`` to the parked consumer (0), queue it (1), or not: full (-1)."""
        waiter = self._waiter
        if waiter is not None:
            # Parked only while the buffer is empty: the item is next in order.
            self._waiter = None
            trio.lowlevel.reschedule(waiter, outcome.Value(item))
            return 0
        queue = self._queue
        if queue is None:
            queue = self._queue = deque()
        elif len(queue) >= self._capacity:
            return -1
        queue.append(item)
        return 1

    def offer(self, item: P) -> None:
        """Queue ``item`` (or hand it to the waiting consumer); full: drop it, owe a marker."""
        self.activity.changes += 1
        if self._missed is not None:
            self.dropped += 1
            return
        size = len(item.data)
        # One item always fits in an empty buffer, whatever its size.
        put = -1 if self.buffered_bytes and self.buffered_bytes + size > self._max_bytes else 0
        if put == 0:
            put = self._put(item)
        if put < 0:
            self._missed = "overflow"
            self.dropped += 1
        elif put:
            self.buffered_bytes += size
        else:
            self.delivered += 1

    def gap(self, reason: str) -> None:
        """Items may have been lost before now: the consumer gets a marker after what it has."""
        self.activity.changes += 1
        if self._missed is not None:
            return
        put = self._put(self.MARKER(reason))
        if put < 0:
            self._missed = reason
        elif put == 0:
            self.gaps += 1

    def _take(self) -> P | M:
        """The next item, or the marker owed; only when :meth:`_ready`."""
        self.activity.changes += 1
        queue = self._queue
        if queue:
            item = queue.popleft()
            if type(item) is self.MARKER:
                self.gaps += 1
            else:
                self.delivered += 1
                self.buffered_bytes -= len(item.data)  # type: ignore[union-attr]
            return item
        # Cleared before the consumer resyncs from the stored state: whatever
        # is offered from here on is queued and comes after that snapshot.
        reason, self._missed = self._missed, None
        self.gaps += 1
        marker: M = self.MARKER(reason)
        return marker

    def receive_nowait(self) -> P | M:
        """The next item or marker, or raise ``trio.WouldBlock`` (``trio.EndOfChannel``: closed)."""
        if self._queue or self._missed is not None:
            return self._take()
        if self._closed:
            raise trio.EndOfChannel
        raise trio.WouldBlock

    def _abort(self, raise_cancel: object) -> trio.lowlevel.Abort:
        # The parked consumer was cancelled: nothing was handed to it.
        self._waiter = None
        return trio.lowlevel.Abort.SUCCEEDED

    async def receive(self) -> P | M:
        """The next item, or a marker once an overflowed buffer is empty.

        Always a checkpoint; cancelled, it takes nothing out of the buffer.

        Raises:
            trio.EndOfChannel: closed and empty.
            trio.BusyResourceError: another task is receiving already.
        """
        await trio.lowlevel.checkpoint_if_cancelled()
        if self._queue or self._missed is not None:
            item = self._take()
            await trio.lowlevel.cancel_shielded_checkpoint()
            return item
        if self._closed:
            raise trio.EndOfChannel
        if self._waiter is not None:
            raise trio.BusyResourceError(
                f"another task is already receiving from this {type(self).__name__}; "
                "it has one consumer: receive in one task and pass the items on"
            )
        self._waiter = trio.lowlevel.current_task()
        self.activity.settled()  # its consumer is idle now (see Activity)
        handed: P | M = await trio.lowlevel.wait_task_rescheduled(self._abort)
        # Handed over directly by _put: never counted in buffered_bytes.
        self.activity.changes += 1
        return handed

    def close(self) -> None:
        """No more items: once empty, :meth:`receive` raises ``trio.EndOfChannel``."""
        self._closed = True
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None
            trio.lowlevel.reschedule(waiter, outcome.Error(trio.EndOfChannel()))
