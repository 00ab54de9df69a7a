"""One pub/sub listener per process, routing each event to its actor's mailbox.

Synopsis::

    router = EventRouter(thoonk, {channel: mailbox, ...})
    await nursery.start(router.serve)     # returns once Redis acknowledged every channel

It holds one subscription, on the Thoonk client's shared pub/sub connection,
for the channels of every subscribed object, and does as little as it can
per message (a dict lookup and a non-blocking put, run by the connection's
reader task as the message is read: no task of its own in between), so one
slow actor never slows the listener or the other actors. A :class:`~thoonk_actors.objects.Gap`
(reconnected, or the listener's own buffer overflowed) tells every actor to
resync.

With ``patterns`` (the app passes ``event.feed.*`` when it watches many
feeds) those replace the exact channels they cover: one PSUBSCRIBE instead
of thousands of SUBSCRIBEs (start-up time, and memory per channel in the
client); events of objects nobody here watches are then received and dropped.
"""

from __future__ import annotations

import logging

import trio

from ..objects import Gap, Message, Thoonk
from ._mailbox import Mailbox

log = logging.getLogger(__name__)

#: What the subscription may buffer before the router takes over its delivery.
LISTENER_BUFFER = 1 << 16


class EventRouter:
    """Route messages of ``routes`` (channel -> mailbox) from one subscription."""

    def __init__(
        self, thoonk: Thoonk, routes: dict[str, Mailbox], patterns: tuple[str, ...] = ()
    ) -> None:
        self._thoonk = thoonk
        self._patterns = patterns
        # Channel head (b"event.feed.publish") -> object name -> mailbox: each
        # name is one bytes object shared by its object's five channels (a
        # dict keyed by whole channels held five, ~0.3 KB more per actor).
        self._heads: dict[bytes, dict[bytes, Mailbox]] = {}
        names: dict[bytes, bytes] = {}
        for channel, box in routes.items():
            head, _, name = channel.encode().partition(b":")
            name = names.setdefault(name, name)
            self._heads.setdefault(head, {})[name] = box
        self._boxes = list(dict.fromkeys(routes.values(), None))
        self.gaps = 0

    def _channels(self) -> list[str]:
        """The channels routed here that no pattern covers."""
        covered = [p.removesuffix("*").encode() for p in self._patterns]
        return [
            (head + b":" + name).decode()
            for head, boxes in self._heads.items()
            if not any((head + b":").startswith(prefix) for prefix in covered)
            for name in boxes
        ]

    async def serve(self, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Subscribe (acknowledged before ``task_status.started()``), then route for ever.

        The subscription lives on the client's pub/sub connection, which
        reconnects by itself and reports the gap; this loop does not fail.
        """
        channels = self._channels()
        async with self._thoonk.subscribe(channels, self._patterns, buffer=LISTENER_BUFFER) as sub:
            # Routed in the connection's reader task as each message is read:
            # one task switch per event (to the actor) instead of two.
            sub.deliver_to(self.route)
            task_status.started()
            await trio.sleep_forever()

    def route(self, message: Message | Gap) -> None:
        """Hand one message to its mailbox (never blocks); a gap to every mailbox."""
        if type(message) is Message:
            head, _, name = message.channel.partition(b":")
            boxes = self._heads.get(head)
            if boxes is not None:
                box = boxes.get(name)
                if box is not None:
                    box.offer(message)
            return
        assert isinstance(message, Gap)
        self.gaps += 1
        log.info("event listener: %s; every actor resyncs", message.reason)
        for each in self._boxes:
            each.gap(message.reason)
