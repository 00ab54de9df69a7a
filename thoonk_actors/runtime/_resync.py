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
every event that follows is delivered, so applying them on top of the
snapshot converges to the stored state (an event may repeat what the
snapshot already shows: apply events idempotently, as above).
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
    """

    name: str
    items: tuple[tuple[str, Any], ...]
    reason: ResyncReason
