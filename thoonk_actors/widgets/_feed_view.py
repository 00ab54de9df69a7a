"""FeedView: a live feed in a notebook — newest first, publish box, retract buttons.

Synopsis::

    t = thoonk_actors.sync.connect()
    view = FeedView(t.feed("news"))     # or just t.feed("news") as a cell's last line
    view                                 # updates as items are published elsewhere

Built from stock ipywidgets in a VBox (no custom JavaScript). The feed's
events arrive in the connection's background loop, which updates the widgets
there (the documented way to drive widgets from another thread), several
changes at a time inside ``hold_sync()``. A gap (reconnect, or the view fell
behind) makes it re-read the whole feed.
"""

from __future__ import annotations

import html
from typing import Any

import ipywidgets as widgets

from ..objects import FeedEvent
from ..sync import SyncFeed, SyncSortedFeed
from ..transport import Gap
from ._common import LiveWidget, describe_error, parse_item, short_json


class FeedView(LiveWidget):
    """A live view of one feed (or sorted feed), with publish and retract actions."""

    def __init__(self, feed: SyncFeed | SyncSortedFeed, *, limit: int = 50) -> None:
        self.feed = feed
        self.limit = limit
        self._items: dict[str, Any] = {}  # id -> item, oldest first (feed order)
        self._rows: dict[str, widgets.HBox] = {}
        self.header = widgets.HTML()
        self.entry = widgets.Textarea(
            placeholder='an item: JSON ({"title": "hello"}) or plain text',
            layout=widgets.Layout(width="100%", height="4em"),
        )
        self.id_box = widgets.Text(placeholder="id (optional; an existing id edits it)")
        self.publish_button = widgets.Button(
            description="Publish", button_style="primary"
        )
        self.publish_button.on_click(lambda _: self.publish_from_entry())
        self.status = widgets.HTML()
        self.list = widgets.VBox(layout=widgets.Layout(max_height="24em", overflow="auto"))
        super().__init__(
            [
                self.header,
                widgets.HBox([self.id_box, self.publish_button]),
                self.entry,
                self.status,
                self.list,
            ],
            portal=feed._portal,
        )
        self._start(self._follow)

    # --------------------------------------------------------------- actions

    def publish_from_entry(self) -> str | None:
        """Publish what is in the entry box (JSON if it parses, else the text)."""
        text = self.entry.value
        if not text.strip():
            self._say("Type an item first.", error=True)
            return None
        try:
            item = parse_item(text)
            item_id = self.id_box.value.strip() or None
            if isinstance(self.feed, SyncSortedFeed):
                new_id = self.feed.append(item, id=item_id)
            else:
                new_id = self.feed.publish(item, id=item_id)
        except Exception as exc:
            self._say(describe_error(exc), error=True)
            return None
        self.entry.value = ""
        self.id_box.value = ""
        self._say(f"Published {html.escape(str(new_id))}.")
        return str(new_id)

    def retract(self, item_id: str) -> None:
        """Retract one item (what its button does)."""
        try:
            self.feed.retract(item_id)
        except Exception as exc:
            self._say(describe_error(exc), error=True)
            return
        self._say(f"Retracted {html.escape(item_id)}.")

    def ids(self) -> list[str]:
        """The ids shown, newest first."""
        return list(reversed(self._items))[: self.limit]

    # ----------------------------------------------------------- live state

    async def _follow(self) -> None:
        feed = self.feed.aio
        async with feed.events() as events:  # subscribed before the first read
            await self._reload()
            async for event in events:
                if isinstance(event, Gap):
                    await self._reload()
                    continue
                decoded: FeedEvent = feed.decode_event(event)  # type: ignore[attr-defined]
                if decoded.event in ("publish", "edit"):
                    self._items.pop(decoded.id, None)
                    if isinstance(self.feed, SyncSortedFeed):
                        # a sorted feed has its own order: re-read it
                        await self._reload()
                        continue
                    self._items[decoded.id] = decoded.item
                elif decoded.event == "retract":
                    self._items.pop(decoded.id, None)
                elif decoded.event == "delete":
                    self._items.clear()
                self._render()

    async def _reload(self) -> None:
        self._items = dict(await self.feed.aio.items())  # type: ignore[attr-defined]
        self._render()

    def _render(self) -> None:
        shown = self.ids()
        for gone in set(self._rows) - set(shown):
            self._rows.pop(gone).close()
        rows = [self._row(item_id) for item_id in shown]
        with self.hold_sync():
            self.header.value = (
                f"<b>{html.escape(self.feed.name)}</b> — {len(self._items)} item"
                f"{'' if len(self._items) == 1 else 's'}"
                + (f" (newest {self.limit} shown)" if len(self._items) > self.limit else "")
            )
            self.list.children = rows

    def _row(self, item_id: str) -> widgets.HBox:
        shown = html.escape(short_json(self._items[item_id]))
        text = f"<code>{html.escape(item_id)}</code> {shown}"
        row = self._rows.get(item_id)
        if row is None:
            button = widgets.Button(
                description="Retract", layout=widgets.Layout(width="7em")
            )
            button.on_click(lambda _: self.retract(item_id))
            label = widgets.HTML(text, layout=widgets.Layout(flex="1"))
            row = self._rows[item_id] = widgets.HBox([label, button])
        else:
            label = row.children[0]
            assert isinstance(label, widgets.HTML)
            if label.value != text:
                label.value = text
        return row

    def state(self) -> dict[str, Any]:
        """What the view shows, as plain data (for tests and debugging)."""
        return {
            "header": self.header.value,
            "ids": self.ids(),
            "items": {i: self._items[i] for i in self.ids()},
            "status": self.status.value,
        }
