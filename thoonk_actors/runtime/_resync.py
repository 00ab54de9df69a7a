"""The notice a feed actor's handler gets when it must rebuild its state.

Synopsis::

    @app.feed("news")
    async def on_news(event: FeedEvent | Resync) -> None:
        if isinstance(event, Resync):
            state.clear()
            state.update(event.items)      # the whole feed, oldest first
        elif event.event in ("publish", "edit"):
            state[event.id] = event.item
        elif event.event == "retract":
            state.pop(event.id, None)

A handler is told to resync when it starts (``reason="start"``, unless the
registration says ``snapshot=False``), when it fell behind and events for it
were dropped (``"overflow"``), when the pub/sub connection was restored
(``"reconnected"``) and after it crashed and was restarted (``"restart"``).
The items were read *after* the point where events may have been lost, and
every event that follows is delivered. For a sorted feed the actor drops the
events the snapshot already holds (each carries the feed's change sequence;
``Resync.seq`` is the one the items were read at), so applying what follows
converges to the stored order. A plain feed's events carry no sequence (their
payloads are the original's): one may repeat what the snapshot already shows,
which is harmless when they are applied as the feed does — publish/edit put the
id at the newest place with its item, retract removes it (see
docs/contract.md, "Snapshots and events").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

ResyncReason = Literal["start", "overflow", "reconnected", "restart"]


@dataclass(frozen=True, slots=True)
class Resync:
    """Replace your state of feed ``name`` with ``items``: ``[(id, item), ...]``, oldest first.

    Attributes:
        name: the feed.
        items: its current items in feed order (for a sorted feed: its order).
        reason: why (``start``, ``overflow``, ``reconnected`` or ``restart``).
        seq: for a sorted feed, the change sequence the items were read at (the
            actor only passes on events above it); None for a plain feed.
    """

    name: str
    items: tuple[tuple[str, Any], ...]
    reason: ResyncReason
    seq: int | None = None
