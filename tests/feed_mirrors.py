"""What a feed actor's handler typically keeps: the feed's items in its order.

Both mirrors are built the way a user would write a handler: a ``Resync``
replaces the state, each event is applied on top. ``view()`` is comparable
with ``await feed.items()`` (order included).
"""

from __future__ import annotations

from typing import Any

from thoonk_actors.objects import FeedEvent, SortedFeedEvent
from thoonk_actors.runtime import Resync


class SortedMirror:
    """A sorted feed as a list of ids plus their items."""

    def __init__(self) -> None:
        self.order: list[str] = []
        self.items: dict[str, Any] = {}
        self.resyncs: list[str] = []
        self.handled = 0

    def apply(self, event: SortedFeedEvent | Resync) -> None:
        if isinstance(event, Resync):
            self.resyncs.append(event.reason)
            self.order = [id for id, _ in event.items]
            self.items = dict(event.items)
            return
        self.handled += 1
        if event.event in ("publish", "edit"):
            self.items[event.id] = event.item  # a publish's position event follows
        elif event.event == "retract":
            self.items.pop(event.id, None)
            if event.id in self.order:
                self.order.remove(event.id)
        elif event.event == "position":
            if event.id in self.order:
                self.order.remove(event.id)
            if event.where == "begin":
                self.order.insert(0, event.id)
            elif event.where == "end" or event.anchor not in self.order:
                self.order.append(event.id)  # (an unknown anchor: a bug shows as a mismatch)
            else:
                at = self.order.index(event.anchor) + (event.where == "after")
                self.order.insert(at, event.id)
        elif event.event == "delete":
            self.order, self.items = [], {}

    def view(self) -> list[tuple[str, Any]]:
        return [(id, self.items.get(id)) for id in self.order]


class FeedMirror:
    """A plain feed as an insertion-ordered dict: publish/edit make the id newest."""

    def __init__(self) -> None:
        self.items: dict[str, Any] = {}
        self.resyncs: list[str] = []
        self.handled = 0

    def apply(self, event: FeedEvent | Resync) -> None:
        if isinstance(event, Resync):
            self.resyncs.append(event.reason)
            self.items = dict(event.items)
            return
        self.handled += 1
        if event.event in ("publish", "edit"):
            self.items.pop(event.id, None)
            self.items[event.id] = event.item
        elif event.event == "retract":
            self.items.pop(event.id, None)
        elif event.event == "delete":
            self.items = {}

    def view(self) -> list[tuple[str, Any]]:
        return list(self.items.items())
