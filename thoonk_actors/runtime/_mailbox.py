"""An actor's bounded inbox that never blocks the sender and remembers what it dropped.

Synopsis::

    box = Mailbox(256)
    box.offer(message)            # from the router: never blocks
    box.gap("reconnected")        # events may have been lost upstream
    item = await box.receive()    # in the actor: a Message, or a Missed marker

The package's one drop-and-mark buffer (``thoonk_actors._overflow``, shared
with the transport's subscriptions) with :class:`Missed` as its marker: a
full mailbox drops the message and every later one until the actor has
emptied it; the actor then gets one :class:`Missed` marker and resyncs from
the stored state, so a slow actor costs only itself.
"""

from __future__ import annotations

from dataclasses import dataclass

from .._overflow import Activity, OverflowBuffer
from ..objects import DEFAULT_BUFFER_BYTES, Message
from ._resync import ResyncReason


@dataclass(frozen=True, slots=True)
class Missed:
    """Messages were dropped or lost before this point: resync."""

    reason: ResyncReason


class Mailbox(OverflowBuffer[Message, Missed]):
    """A bounded single-consumer queue with overflow bookkeeping (see the module doc).

    ``activity``: the app's :class:`~thoonk_actors._overflow.Activity`, shared by
    every mailbox, bumped by each offer, gap and receive.
    """

    MARKER = Missed
    __slots__ = ()

    def __init__(
        self,
        capacity: int,
        max_bytes: int = DEFAULT_BUFFER_BYTES,
        activity: Activity | None = None,
    ) -> None:
        super().__init__(capacity, max_bytes, activity)
