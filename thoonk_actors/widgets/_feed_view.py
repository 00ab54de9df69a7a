"""FeedView: a live feed in a notebook — newest first, paged, publish box, retract buttons.

Synopsis::

    t = thoonk_actors.sync.connect()
    view = FeedView(t.feed("news"))     # or just t.feed("news") as a cell's last line
    view                                 # updates as items are published elsewhere

Built from stock ipywidgets in a VBox (no custom JavaScript). What it costs
does not grow with the feed:

* **paged** — ``page_size`` rows (newest first) in a list of fixed-height
  rows that scrolls vertically, "Newer" / "Older" buttons, and the total in
  the header. A feed of 10,000 items shows the same rows as one of 30.
* **rows reused** — the rows are made once; a change of the feed rewrites
  their labels. The live widget count is bounded by ``page_size``, and
  :meth:`close` closes every widget the view made.
* **throttled** — the feed's events update plain Python state in the
  connection's background loop; the widgets are redrawn from it at most
  every :data:`RENDER_EVERY` seconds, a burst of any size in one redraw, so
  the browser keeps up with any publish rate.

A gap (reconnect, or the view fell behind) makes it re-read the whole feed.
"""

from __future__ import annotations

import html
import itertools
from typing import Any

import ipywidgets as widgets
import trio

from ..objects import FeedEvent, Gap
from ..sync import SyncFeed, SyncSortedFeed, register_view
from ._common import LiveWidget, describe_error, parse_item, short_json

#: Seconds between two redraws, at most (a busy feed changes all the time).
RENDER_EVERY = 0.2
#: The height of one row; rows never shrink, the list scrolls instead.
ROW_HEIGHT = "2.1em"
#: Rows visible before the list scrolls.
VISIBLE_ROWS = 12


class FeedView(LiveWidget):
    """A live, paged view of one feed (or sorted feed), with publish and retract actions.

    Attributes:
        page: the page shown (0: the newest ``page_size`` items).
        renders: redraws so far (each one a bounded number of widget updates).
    """

    def __init__(self, feed: SyncFeed | SyncSortedFeed, *, page_size: int = 25) -> None:
        if page_size < 1:
            raise ValueError("page_size must be at least 1")
        self.feed = feed
        self.page_size = page_size
        self.page = 0
        self.renders = 0
        # (total, [(id, item) of the rows]) as last drawn
        self._drawn: tuple[int, list[tuple[str, Any]]] = (0, [])
        self._items: dict[str, Any] = {}  # id -> item, oldest first (feed order)
        self._stale = False  # a sorted feed changed: re-read it before the next redraw
        self._dirty: trio.Event | None = None
        self._row_ids: list[str | None] = [None] * page_size
        self.header = widgets.HTML()
        self.entry = widgets.Textarea(
            placeholder='an item: JSON ({"title": "hello"}) or plain text',
            layout=widgets.Layout(width="auto", height="4em"),
        )
        self.id_box = widgets.Text(placeholder="id (optional; an existing id edits it)")
        self.publish_button = widgets.Button(description="Publish", button_style="primary")
        self.publish_button.on_click(lambda _: self.publish_from_entry())
        self.status = widgets.HTML()
        self.newer_button = widgets.Button(
            description="◀ Newer", layout=widgets.Layout(width="8em"), disabled=True
        )
        self.older_button = widgets.Button(
            description="Older ▶", layout=widgets.Layout(width="8em"), disabled=True
        )
        self.newer_button.on_click(lambda _: self.show_page(self.page - 1))
        self.older_button.on_click(lambda _: self.show_page(self.page + 1))
        self.page_label = widgets.HTML()
        self._labels: list[widgets.HTML] = []
        self._buttons: list[widgets.Button] = []
        self._rows: list[widgets.HBox] = []
        for index in range(page_size):
            label = widgets.HTML(
                layout=widgets.Layout(flex="1 1 auto", min_width="0", overflow="hidden")
            )
            button = widgets.Button(
                description="Retract", layout=widgets.Layout(width="7em", flex="0 0 auto")
            )
            button.on_click(lambda _, i=index: self._retract_row(i))
            row = widgets.HBox(
                [label, button],
                layout=widgets.Layout(
                    height=ROW_HEIGHT, min_height=ROW_HEIGHT, flex="0 0 auto",
                    overflow="hidden", align_items="center",
                ),
            )  # fmt: skip
            self._labels.append(label)
            self._buttons.append(button)
            self._rows.append(row)
        self._own(*self._rows)
        self.list = widgets.VBox(
            layout=widgets.Layout(
                max_height=f"calc({VISIBLE_ROWS} * {ROW_HEIGHT})",
                overflow="hidden auto",  # x hidden, y scrolls
                flex_flow="column nowrap",
            )
        )
        super().__init__(
            [
                self.header,
                widgets.HBox([self.id_box, self.publish_button]),
                self.entry,
                self.status,
                widgets.HBox(
                    [self.newer_button, self.older_button, self.page_label],
                    layout=widgets.Layout(align_items="center"),
                ),
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

    def _retract_row(self, index: int) -> None:
        item_id = self._row_ids[index]
        if item_id is not None:
            self.retract(item_id)

    def show_page(self, page: int) -> None:
        """Show page ``page`` (0: the newest items); clipped to the pages there are."""
        self.page = max(0, min(page, self.pages - 1))
        self._portal.run_sync(self._render)  # in the loop, where the items change

    @property
    def total(self) -> int:
        """How many items the feed has (as last drawn)."""
        return self._drawn[0]

    @property
    def pages(self) -> int:
        """How many pages the feed fills (at least 1)."""
        return max(1, -(-len(self._items) // self.page_size))

    def ids(self) -> list[str]:
        """The ids on the page shown, newest first (as last drawn)."""
        return [item_id for item_id, _ in self._drawn[1]]

    def _page_ids(self) -> list[str]:
        start = self.page * self.page_size
        return list(itertools.islice(reversed(self._items), start, start + self.page_size))

    def row_of(self, item_id: str) -> widgets.HBox | None:
        """The row showing ``item_id`` (label, Retract button), if it is on the page shown."""
        for index, shown in enumerate(self._row_ids):
            if shown == item_id:
                return self._rows[index]
        return None

    # ----------------------------------------------------------- live state

    async def _follow(self) -> None:
        feed = self.feed._obj
        async with feed.events() as events, trio.open_nursery() as nursery:
            # subscribed before the first read: nothing falls between them
            self._dirty = trio.Event()
            await self._reload()
            nursery.start_soon(self._redraw)
            async for event in events:
                if isinstance(event, Gap):
                    self._stale = True
                elif isinstance(self.feed, SyncSortedFeed):
                    self._stale = True  # a sorted feed has its own order: re-read it
                else:
                    self._apply(feed.decode_event(event))  # type: ignore[attr-defined]
                self._changed()

    def _apply(self, event: FeedEvent) -> None:
        if event.event in ("publish", "edit"):
            self._items.pop(event.id, None)  # an edit moves the item to the newest place
            self._items[event.id] = event.item
        elif event.event == "retract":
            self._items.pop(event.id, None)
        elif event.event == "delete":
            self._items.clear()

    def _changed(self) -> None:
        if self._dirty is not None:
            self._dirty.set()

    async def _redraw(self) -> None:
        while True:
            assert self._dirty is not None
            await self._dirty.wait()
            self._dirty = trio.Event()  # changes from now on make the next redraw
            if self._stale:
                await self._reload()
            else:
                self._render()
            await trio.sleep(RENDER_EVERY)  # a burst of events settles into one redraw

    async def _reload(self) -> None:
        self._stale = False
        self._items = dict(await self.feed._obj.items())  # type: ignore[attr-defined]
        self._healthy()
        self._render()

    def _render(self) -> None:
        self.renders += 1
        total = len(self._items)
        self.page = min(self.page, self.pages - 1)
        shown = self._page_ids()
        start = self.page * self.page_size
        with self.hold_sync():
            header = (
                f"<b>{html.escape(self.feed.name)}</b> — {total:,} item{'' if total == 1 else 's'}"
            )
            if self.header.value != header:
                self.header.value = header
            for index in range(self.page_size):
                item_id = shown[index] if index < len(shown) else None
                self._row_ids[index] = item_id
                if item_id is None:
                    continue
                text = (
                    '<div style="white-space:nowrap;overflow:hidden;text-overflow:ellipsis">'
                    f"<code>{html.escape(item_id)}</code> "
                    f"{html.escape(short_json(self._items[item_id]))}</div>"
                )
                label = self._labels[index]
                if label.value != text:
                    label.value = text
            drawn = [(item_id, self._items[item_id]) for item_id in shown]
            if len(self.list.children) != len(shown):
                self.list.children = self._rows[: len(shown)]
            page_text = (
                f"&nbsp;{start + 1:,}&ndash;{start + len(shown):,} of {total:,}, newest first"
                if shown
                else "&nbsp;no items"
            )
            if self.page_label.value != page_text:
                self.page_label.value = page_text
            self.newer_button.disabled = self.page == 0
            self.older_button.disabled = self.page >= self.pages - 1
        self._drawn = (total, drawn)  # one assignment: readers see one consistent drawing

    def state(self) -> dict[str, Any]:
        """What the view shows, as plain data (for tests and debugging)."""
        total, drawn = self._drawn
        return {
            "header": self.header.value,
            "ids": [item_id for item_id, _ in drawn],
            "items": dict(drawn),
            "total": total,
            "page": self.page,
            "pages": self.pages,
            "status": self.status.value,
        }


register_view("feed", FeedView)
register_view("sorted_feed", FeedView)
