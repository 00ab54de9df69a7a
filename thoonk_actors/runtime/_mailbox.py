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

from collections import deque
from dataclasses import dataclass

import trio

from ..objects import DEFAULT_BUFFER_BYTES, Message
from ._resync import ResyncReason


@dataclass(frozen=True, slots=True)
class Missed:
    """Messages were dropped or lost before this point: resync."""

    reason: ResyncReason


class Activity:
    """``activity.changes``: bumped by every mailbox and actor that shares it.

    An app's refresh of its statistics (twice a second) compares it with the
    value it last saw and, when nothing moved, keeps the actors' statistics it
    has instead of asking each of thousands of idle actors (issue 12: idle CPU).
    """

    __slots__ = ("changes",)

    def __init__(self) -> None:
        self.changes = 0


#: The activity of mailboxes made without one (a false "changed" costs a rebuild only).
_UNSHARED = Activity()


class Mailbox:
    """A bounded single-consumer queue with overflow bookkeeping (see the module doc).

    Not a trio memory channel: one of those (two channel objects and their
    shared state) weighed 1.8 KB, most of an idle actor's memory at 10,000
    actors (issue 12). Here an idle box is one slotted object: the actor task
    waiting in :meth:`receive` is parked with trio's low-level API and a
    message offered then is handed straight to it; a queue is only made when
    messages wait (and kept: a busy box stays busy).
    """

    # One per actor, thousands per process: no per-instance dict.
    __slots__ = (
        "_capacity",
        "_handed",
        "_max_bytes",
        "_missed",
        "_queue",
        "_waiter",
        "activity",
        "buffered_bytes",
        "changes",
        "dropped",
    )

    def __init__(
        self,
        capacity: int,
        max_bytes: int = DEFAULT_BUFFER_BYTES,
        activity: Activity | None = None,
    ) -> None:
        if capacity < 1:
            raise ValueError(f"a mailbox holds at least 1 message, not {capacity}")
        self._capacity = capacity
        self._queue: deque[Message | Missed] | None = None
        #: The actor task parked in receive(), when the box is empty.
        self._waiter: trio.lowlevel.Task | None = None
        #: What offer() handed to the parked receiver (read once it runs).
        self._handed: Message | Missed | None = None
        # Payload bytes held: a count of messages alone does not bound memory
        # when another client publishes 5 MB events (issue 17).
        self._max_bytes = max_bytes
        self.buffered_bytes = 0
        self._missed: ResyncReason | None = None
        self.dropped = 0
        #: Bumped by every offer, gap and receive: statistics are rebuilt only
        #: when it moved (see FeedActor.statistics); ``activity`` with it.
        self.changes = 0
        self.activity = _UNSHARED if activity is None else activity

    @property
    def buffered(self) -> int:
        """Messages and markers waiting to be received."""
        queue = self._queue
        return 0 if queue is None else len(queue)

    def _put(self, item: Message | Missed) -> int:
        """Hand ``item`` to the parked receiver (0), queue it (1), or not: full (-1)."""
        waiter = self._waiter
        if waiter is not None:
            # Parked only while the box is empty: the item is next in order.
            self._waiter = None
            self._handed = item
            trio.lowlevel.reschedule(waiter)
            return 0
        queue = self._queue
        if queue is None:
            queue = self._queue = deque()
        elif len(queue) >= self._capacity:
            return -1
        queue.append(item)
        return 1

    def offer(self, message: Message) -> None:
        """Queue ``message``, or drop it (and remember to resync) when full."""
        self.changes += 1
        self.activity.changes += 1
        if self._missed is not None:
            self.dropped += 1
            return
        size = len(message.data)
        # One message always fits in an empty box, whatever its size.
        put = -1 if self.buffered_bytes and self.buffered_bytes + size > self._max_bytes else 0
        if put == 0:
            put = self._put(message)
        if put < 0:
            self._missed = "overflow"
            self.dropped += 1
        elif put:
            self.buffered_bytes += size

    def gap(self, reason: ResyncReason) -> None:
        """Events may have been lost before now: the actor resyncs after what it has."""
        self.changes += 1
        self.activity.changes += 1
        if self._missed is not None:
            return
        if self._put(Missed(reason)) < 0:
            self._missed = reason

    def _abort(self, raise_cancel: object) -> trio.lowlevel.Abort:
        # The parked receiver was cancelled: nothing was handed to it.
        self._waiter = None
        return trio.lowlevel.Abort.SUCCEEDED

    async def receive(self) -> Message | Missed:
        """The next message, or a :class:`Missed` marker once the overflowed box is empty.

        Always a checkpoint; cancelled, it takes nothing out of the box.
        """
        await trio.lowlevel.checkpoint_if_cancelled()
        queue = self._queue
        if queue:
            item = queue.popleft()
            if type(item) is Message:
                self.buffered_bytes -= len(item.data)
        elif self._missed is not None:
            # Cleared before the resync reads the stored state: whatever is
            # published from here on is queued and applied after the snapshot.
            item, self._missed = Missed(self._missed), None
        else:
            if self._waiter is not None:
                raise trio.BusyResourceError("another task is receiving from this mailbox")
            self._waiter = trio.lowlevel.current_task()
            await trio.lowlevel.wait_task_rescheduled(self._abort)
            handed, self._handed = self._handed, None
            assert handed is not None  # set by _put before it rescheduled us
            self.changes += 1
            self.activity.changes += 1
            return handed  # handed over directly: never counted in buffered_bytes
        self.changes += 1
        self.activity.changes += 1
        await trio.lowlevel.cancel_shielded_checkpoint()
        return item
