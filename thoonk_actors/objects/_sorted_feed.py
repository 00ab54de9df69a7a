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
anchor or ``after`` it. Every event carries ``seq``, the feed's change
sequence; ``snapshot()`` returns the items with the sequence they were read
at, so a reader that subscribed first skips events with ``seq <= snapshot.seq``
(that is what feed actors do).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from .. import contract
from .._errors import NotFoundError, UnexpectedReplyError
from ..contract import Call, Reply, SortedFeedKeys, Where
from ._base import ObjectEvent, ThoonkObject
from ._feed import Snapshot, decode_items, known_event

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
        seq: the feed's change sequence after this change (None for ``config`` and
            ``delete``); a ``publish`` and its ``position`` share one.
    """

    event: SortedFeedEventName
    id: str
    item: Any = None
    where: Where | None = None
    anchor: str | None = None
    seq: int | None = None


def parse_position(data: bytes | None) -> tuple[Where, str | None]:
    """``parse_position(b"before\\x007")`` -> ``("before", "7")``; ``b"end"`` -> ``("end", None)``.

    ``data`` is what follows the sequence: ``begin``, ``end``, ``before NUL X``
    or ``after NUL X``. Ids hold no NUL, so every id (``end``, ``:x``, ...)
    reads back as itself.

    Raises:
        UnexpectedReplyError: none of the four shapes.
    """
    raw, sep, anchor = (data or b"").partition(b"\0")
    where = contract.id_text(raw)
    if where in ("begin", "end") and not sep:
        return ("begin" if where == "begin" else "end"), None
    if where in ("before", "after") and anchor:
        return ("before" if where == "before" else "after"), contract.id_text(anchor)
    raise UnexpectedReplyError(
        f"position {data!r} is none of 'begin', 'end', 'before NUL <id>', 'after NUL <id>'; "
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

    async def snapshot(self) -> Snapshot:
        """``snap = await deck.snapshot()``: the items and the change sequence, in one read.

        Subscribe first, then read the snapshot, then apply only events with
        ``event.seq > snap.seq`` (the others are already in ``snap.items``).
        """
        return await self.thoonk.run(self.snapshot_call())

    def snapshot_call(self, *, skip_undecodable: bool = False) -> Call[Snapshot]:
        """The contract call :meth:`snapshot` runs (actors read many in one pipeline).

        ``skip_undecodable``: as :meth:`Feed.snapshot_call`.
        """
        call = contract.sorted_feed_snapshot(self.keys)
        decode_read, decode, label = call.decode, self.codec.decode, repr(self.name)

        def decode_snapshot(reply: Reply) -> Snapshot:
            read = decode_read(reply)
            return Snapshot(decode_items(read.items, decode, skip_undecodable, label), read.seq)

        return Call(call.script, call.keys, call.args, decode_snapshot, call.after)

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
        if name in ("config", "delete"):
            return SortedFeedEvent(name, "")
        seq, rest = contract.parse_sequenced(
            event.data, what=f"the {name} event of item {event.id!r} in {self.keys.label}"
        )
        if name == "retract":
            return SortedFeedEvent("retract", event.id, seq=seq)
        if name == "position":
            where, anchor = parse_position(rest)
            return SortedFeedEvent("position", event.id, where=where, anchor=anchor, seq=seq)
        if rest is None:
            raise UnexpectedReplyError(
                f"the {name} event of item {event.id!r} in {self.keys.label} carries no "
                "item; another program published it: read the item with get(id)"
            )
        return SortedFeedEvent(name, event.id, self.codec.decode(rest), seq=seq)
