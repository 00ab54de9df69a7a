"""A Thoonk sorted feed: items in an order set by hand, with live events.

Synopsis::

    deck = thoonk.sorted_feed("playlist")
    first = await deck.append("intro")                  # generated ids: "1", "2", ...
    await deck.prepend("cold open", id="open")          # or give your own
    await deck.publish_after(first, "verse")            # next to an existing id
    await deck.move_to_end("open"); await deck.move_before("open", first)
    await deck.edit(first, "intro (edited)")            # in place; the order stays
    await deck.items()                                  # [(id, item), ...] in order
    async with deck.events() as events:
        async for event in events:                      # Gap: re-read items()
            print(deck.decode_event(event))             # SortedFeedEvent(...)

Position events say where an item went: ``begin``, ``end``, ``before`` an
anchor or ``after`` it (on the wire ``begin:``, ``:end``, ``:X``, ``X:``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from .. import contract
from .._errors import NotFoundError, UnexpectedReplyError
from ..contract import SortedFeedKeys, Where
from ._base import ObjectEvent, ThoonkObject
from ._feed import decode_event_item, known_event

SortedFeedEventName = Literal["publish", "edit", "retract", "position", "config", "delete"]
_EVENTS: dict[str, SortedFeedEventName] = {
    name: name for name in ("publish", "edit", "retract", "position", "config", "delete")
}


@dataclass(frozen=True, slots=True)
class SortedFeedEvent:
    """One sorted feed event, decoded.

    Attributes:
        event: ``publish`` (a new item; a ``position`` event follows), ``edit``,
            ``retract``, ``position`` (an item was placed or moved), ``config``
            or ``delete``.
        id: the item id ("" for ``config`` and ``delete``).
        item: the decoded item for ``publish`` and ``edit``; None otherwise.
        where: for ``position``: ``begin``, ``end``, ``before`` or ``after``.
        anchor: for ``position`` ``before`` / ``after``: the id it was placed next to.
    """

    event: SortedFeedEventName
    id: str
    item: Any = None
    where: Where | None = None
    anchor: str | None = None


def parse_position(data: bytes) -> tuple[Where, str | None]:
    """``parse_position(b":7")`` -> ``("before", "7")``; ``b"begin:"`` -> ``("begin", None)``.

    The wire format (the original's) cannot tell "after an item whose id is
    ``begin``" from "at the beginning", nor "before ``end``" from "at the end";
    the literal ``begin:`` / ``:end`` win. An anchor both starting and ending
    with ``:`` reads as ``before``.

    Raises:
        UnexpectedReplyError: none of the four shapes.
    """
    text = contract.id_text(data)
    if text == "begin:":
        return "begin", None
    if text == ":end":
        return "end", None
    if len(text) > 1 and text.startswith(":"):
        return "before", text[1:]
    if len(text) > 1 and text.endswith(":"):
        return "after", text[:-1]
    raise UnexpectedReplyError(
        f"position {text!r} is none of 'begin:', ':end', ':<id>', '<id>:'; "
        "another program published it"
    )


class SortedFeed(ThoonkObject[SortedFeedKeys]):
    """A sorted (hand-ordered) feed. Get one with ``thoonk.sorted_feed(name)``."""

    KIND = "sorted_feed"
    KEYS = contract.SortedFeedKeys
    EVENTS: ClassVar[tuple[str, ...]] = ("publish", "edit", "retract", "position")

    # --------------------------------------------------------------- placing

    async def append(self, item: Any, *, id: str | None = None) -> str:
        """``item_id = await deck.append(item)``: add at the end; returns the id.

        Without ``id`` the next free number is used (``"1"``, ``"2"``, ...).

        Raises:
            DuplicateIdError: ``id`` is already in the feed (nothing written).
            InvalidIdError, PayloadError, PayloadTooLargeError: bad input (nothing sent).
            WrongTypeError: another program wrote our keys.
        """
        encoded = self.codec.encode(item)
        return await self.thoonk.run(contract.sorted_feed_append(self.keys, encoded, id=id))

    async def publish(self, item: Any, *, id: str | None = None) -> str:
        """``await deck.publish(item)``: the same as :meth:`append` (the feed-like name)."""
        return await self.append(item, id=id)

    async def prepend(self, item: Any, *, id: str | None = None) -> str:
        """``item_id = await deck.prepend(item)``: add at the beginning; returns the id."""
        encoded = self.codec.encode(item)
        return await self.thoonk.run(contract.sorted_feed_prepend(self.keys, encoded, id=id))

    async def publish_before(self, anchor: str, item: Any, *, id: str | None = None) -> str:
        """``await deck.publish_before("7", item)``: add just before ``anchor``; returns the id.

        Raises:
            NotFoundError: ``anchor`` is not in the feed (nothing written).
            DuplicateIdError: ``id`` is already in the feed.
        """
        encoded = self.codec.encode(item)
        return await self.thoonk.run(
            contract.sorted_feed_publish_before(self.keys, anchor, encoded, id=id)
        )

    async def publish_after(self, anchor: str, item: Any, *, id: str | None = None) -> str:
        """``await deck.publish_after("7", item)``: add just after ``anchor``; returns the id.

        Raises:
            NotFoundError: ``anchor`` is not in the feed (nothing written).
            DuplicateIdError: ``id`` is already in the feed.
        """
        encoded = self.codec.encode(item)
        return await self.thoonk.run(
            contract.sorted_feed_publish_after(self.keys, anchor, encoded, id=id)
        )

    async def edit(self, id: str, item: Any) -> None:
        """``await deck.edit("7", item)``: replace an item in place (an ``edit`` event).

        Raises:
            NotFoundError: no such id (nothing written).
        """
        encoded = self.codec.encode(item)
        await self.thoonk.run(contract.sorted_feed_edit(self.keys, id, encoded))

    # ---------------------------------------------------------------- moving

    async def move(self, id: str, where: Where, anchor: str | None = None) -> None:
        """``await deck.move("7", "after", "3")`` / ``deck.move("7", "begin")``: reorder.

        The named shortcuts below read better; this form suits code that
        replays :class:`SortedFeedEvent` positions.

        Raises:
            UsageError: a bad ``where``; ``anchor`` missing for before/after, or given
                for begin/end. InvalidIdError: an item placed next to itself.
            NotFoundError: ``id`` or ``anchor`` is not in the feed (nothing changed).
        """
        await self.thoonk.run(contract.sorted_feed_move(self.keys, id, where, anchor))

    async def move_to_begin(self, id: str) -> None:
        """``await deck.move_to_begin("7")``: make it the first item."""
        await self.move(id, "begin")

    async def move_to_end(self, id: str) -> None:
        """``await deck.move_to_end("7")``: make it the last item."""
        await self.move(id, "end")

    async def move_before(self, id: str, anchor: str) -> None:
        """``await deck.move_before("7", "3")``: put ``7`` just before ``3``."""
        await self.move(id, "before", anchor)

    async def move_after(self, id: str, anchor: str) -> None:
        """``await deck.move_after("7", "3")``: put ``7`` just after ``3``."""
        await self.move(id, "after", anchor)

    async def retract(self, id: str) -> bool:
        """``removed = await deck.retract("7")``: True if it was there (then an event)."""
        return await self.thoonk.run(contract.sorted_feed_retract(self.keys, id))

    # ----------------------------------------------------------------- reads

    async def get(self, id: str) -> Any:
        """``item = await deck.get("7")``: one decoded item.

        Raises:
            NotFoundError: no item with that id.
        """
        raw = await self.thoonk.read(contract.sorted_feed_get(self.keys, id))
        if raw is None:
            raise NotFoundError(
                f"{self.keys.label} has no item {id!r} (retracted or never published); "
                "check with has(id), or list them with ids()"
            )
        return self.codec.decode(raw)

    async def has(self, id: str) -> bool:
        """``await deck.has("7")``: whether the id has an item."""
        return await self.thoonk.read(contract.sorted_feed_has(self.keys, id))

    async def ids(self) -> list[str]:
        """``await deck.ids()``: every id, in the feed's order."""
        ids = await self.thoonk.read(contract.sorted_feed_ids(self.keys))
        return list(ids)

    async def items(self) -> list[tuple[str, Any]]:
        """``await deck.items()``: ``[(id, item), ...]`` in order, in one consistent read."""
        pairs = await self.thoonk.run(contract.sorted_feed_items(self.keys))
        decode = self.codec.decode
        return [(item_id, decode(raw)) for item_id, raw in pairs]

    async def length(self) -> int:
        """``await deck.length()``: the number of items."""
        return await self.thoonk.read(contract.sorted_feed_length(self.keys))

    # ---------------------------------------------------------------- events

    def decode_event(self, event: ObjectEvent) -> SortedFeedEvent:
        """``deck.decode_event(event)``: an event of this feed as a :class:`SortedFeedEvent`.

        Raises:
            UsageError: the event belongs to another object, or is not a sorted feed event.
            UnexpectedReplyError: a payload that breaks the contract (a foreign publisher).
            PayloadError: the item cannot be decoded with this feed's codec.
        """
        name = known_event(self, event, _EVENTS)
        if name in ("publish", "edit"):
            return SortedFeedEvent(name, event.id, decode_event_item(self, event))
        if name == "retract":
            return SortedFeedEvent("retract", event.id)
        if name == "position":
            if event.data is None:
                raise UnexpectedReplyError(
                    f"the position event of item {event.id!r} in {self.keys.label} carries "
                    "no position; another program published it"
                )
            where, anchor = parse_position(event.data)
            return SortedFeedEvent("position", event.id, where=where, anchor=anchor)
        return SortedFeedEvent(name, "")
