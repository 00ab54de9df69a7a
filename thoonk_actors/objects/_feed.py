"""A Thoonk feed: persisted items in publish order, with live publish/edit/retract events.

Synopsis::

    news = thoonk.feed("news")
    await news.create({"max_length": 100}, exist_ok=True)   # optional: bound the feed
    item_id = await news.publish({"title": "hello"})        # a UUID v4 unless you give one
    await news.publish({"title": "hello!"}, id=item_id)     # same id: an edit
    await news.get(item_id), await news.ids(), await news.items(), await news.length()
    async with news.events() as events:                     # subscribed on entry
        async for event in events:
            if isinstance(event, Gap): ...                  # missed events: re-read items()
            else: print(news.decode_event(event))           # FeedEvent('edit', id, item)

Wire-compatible with the Lua-era thoonk.js feeds (same keys, same events).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Literal, TypeVar

from .. import contract
from .._errors import NotFoundError, PayloadError, UnexpectedReplyError, UsageError
from ..contract import Call, FeedKeys, FeedPublished, Reply
from ._base import ObjectEvent, ThoonkObject
from ._job import _uuid4

E = TypeVar("E", bound=str)

FeedEventName = Literal["publish", "edit", "retract", "config", "delete"]
log = logging.getLogger(__name__)


def decode_items(
    pairs: Iterable[tuple[str, bytes]],
    decode: Callable[[bytes], Any],
    skip_undecodable: bool,
    label: str,
) -> list[tuple[str, Any]]:
    """``[(id, decode(raw))]``; with ``skip_undecodable``, unreadable items are left out."""
    if not skip_undecodable:
        return [(item_id, decode(raw)) for item_id, raw in pairs]
    items: list[tuple[str, Any]] = []
    for item_id, raw in pairs:
        try:
            items.append((item_id, decode(raw)))
        except PayloadError as exc:
            log.warning(
                "feed %s: skipped stored item %r, it cannot be decoded (%s)", label, item_id, exc
            )
    return items


_FEED_EVENTS: dict[str, FeedEventName] = {
    name: name for name in ("publish", "edit", "retract", "config", "delete")
}


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Decoded items in feed order, and the change sequence they were read at.

    ``seq`` is None for a plain feed: its events carry no sequence (their
    payloads are the original's), and applying them again onto a snapshot that
    already holds them is harmless (see docs/contract.md, "Snapshots and events").
    """

    items: list[tuple[str, Any]]
    seq: int | None


@dataclass(frozen=True, slots=True)
class FeedEvent:
    """One feed event, decoded: ``FeedEvent("publish", "a1", {"title": "x"})``.

    Attributes:
        event: ``publish`` (a new id), ``edit`` (an existing id published again),
            ``retract`` (removed, or evicted by ``max_length``), ``config``
            (settings changed: read ``config()``) or ``delete`` (the feed is gone).
        id: the item id ("" for ``config`` and ``delete``).
        item: the decoded item for ``publish`` and ``edit``; None otherwise.
    """

    event: FeedEventName
    id: str
    item: Any = None


class Feed(ThoonkObject[FeedKeys]):
    """A feed. Get one with ``thoonk.feed(name)``."""

    KIND = "feed"
    KEYS = contract.FeedKeys
    EVENTS: ClassVar[tuple[str, ...]] = ("publish", "edit", "retract")

    # ---------------------------------------------------------------- writes

    async def publish(self, item: Any, *, id: str | None = None) -> str:
        """``item_id = await feed.publish(item)``: publish (or edit, when ``id`` exists).

        A new id first evicts the oldest items beyond ``max_length`` (one
        ``retract`` event each, before the ``publish`` event); an edit evicts
        nothing and moves the item to the newest place.

        Raises:
            InvalidIdError: ``id`` is empty, not a str or holds a NUL.
            PayloadError, PayloadTooLargeError: the item cannot be encoded.
            WrongTypeError, BadStoredConfigError: another program wrote our keys.
        """
        return (await self.publish_detail(item, id=id)).id

    async def publish_detail(self, item: Any, *, id: str | None = None) -> FeedPublished:
        """``published = await feed.publish_detail(item)``: :meth:`publish`, told in full.

        Returns a :class:`~thoonk_actors.contract.FeedPublished`: the id, whether it
        was a ``publish`` or an ``edit``, its score (ms) and the ids evicted.
        """
        item_id = _uuid4(os.urandom(16)) if id is None else id
        return await self.thoonk.run(
            contract.feed_publish(self.keys, item_id, self.codec.encode(item))
        )

    async def retract(self, id: str) -> bool:
        """``removed = await feed.retract(item_id)``: True if it was there (then an event)."""
        return await self.thoonk.run(contract.feed_retract(self.keys, id))

    # ----------------------------------------------------------------- reads

    async def get(self, id: str) -> Any:
        """``item = await feed.get(item_id)``: one decoded item.

        Raises:
            NotFoundError: no item with that id (retracted, evicted or never published).
        """
        raw = await self.thoonk.read(contract.feed_get(self.keys, id))
        if raw is None:
            raise NotFoundError(
                f"{self.keys.label} has no item {id!r} (retracted, evicted by max_length, "
                "or never published); check with has(id), or list them with ids()"
            )
        return self.codec.decode(raw)

    async def has(self, id: str) -> bool:
        """``await feed.has(item_id)``: whether the id is in the feed."""
        return await self.thoonk.read(contract.feed_has(self.keys, id))

    async def ids(self) -> list[str]:
        """``await feed.ids()``: every id, oldest first."""
        ids = await self.thoonk.read(contract.feed_ids(self.keys))
        return list(ids)

    async def items(self) -> list[tuple[str, Any]]:
        """``await feed.items()``: ``[(id, item), ...]`` oldest first, in one consistent read."""
        pairs = await self.thoonk.run(contract.feed_items(self.keys))
        decode = self.codec.decode
        return [(item_id, decode(raw)) for item_id, raw in pairs]

    async def snapshot(self) -> Snapshot:
        """``await feed.snapshot()``: :meth:`items` as a :class:`Snapshot` (``seq`` None)."""
        return await self.thoonk.run(self.snapshot_call())

    def snapshot_call(self, *, skip_undecodable: bool = False) -> Call[Snapshot]:
        """The contract call :meth:`snapshot` runs (actors read many in one pipeline).

        ``skip_undecodable``: leave out (with a warning) stored items this
        feed's codec cannot decode, instead of raising PayloadError -- an actor
        must not crash-loop on one item another client stored.
        """
        call = contract.feed_items(self.keys)
        decode_pairs, decode, label = call.decode, self.codec.decode, repr(self.name)

        def decode_snapshot(reply: Reply) -> Snapshot:
            return Snapshot(
                decode_items(decode_pairs(reply), decode, skip_undecodable, label), None
            )

        return Call(call.script, call.keys, call.args, decode_snapshot, call.after)

    async def length(self) -> int:
        """``await feed.length()``: the number of items."""
        return await self.thoonk.read(contract.feed_length(self.keys))

    # ---------------------------------------------------------------- events

    def decode_event(self, event: ObjectEvent) -> FeedEvent:
        """``feed.decode_event(event)``: an event of this feed as a :class:`FeedEvent`.

        Raises:
            UsageError: the event belongs to another object, or is not a feed event.
            UnexpectedReplyError: a publish/edit event without an item (a foreign publisher).
            PayloadError: the item cannot be decoded with this feed's codec.
        """
        name = known_event(self, event, _FEED_EVENTS)
        if name in ("publish", "edit"):
            return FeedEvent(name, event.id, decode_event_item(self, event))
        if name == "retract":
            return FeedEvent("retract", event.id)
        return FeedEvent(name, "")


# ------------------------------------------------ shared with the sorted feed


def known_event(obj: ThoonkObject[Any], event: ObjectEvent, known: Mapping[str, E]) -> E:
    """``known[event.event]`` if ``event`` is one of ``obj``'s ``known`` events, else UsageError."""
    if event.kind != obj.KIND or event.name != obj.name:
        raise UsageError(
            f"this {event.kind} event of {event.name!r} does not belong to {obj.keys.label}; "
            "decode it with the object it came from"
        )
    name = known.get(event.event)
    if name is None:
        raise UsageError(
            f"{event.event!r} is not an event of {obj.keys.label}; "
            f"its events are: {', '.join(known)}"
        )
    return name


def decode_event_item(obj: ThoonkObject[Any], event: ObjectEvent) -> Any:
    """The decoded item of a publish/edit event (``id NUL item``)."""
    if event.data is None:
        raise UnexpectedReplyError(
            f"the {event.event} event of item {event.id!r} in {obj.keys.label} carries no "
            "item (no NUL after the id); another program published it: read the item "
            "with get(id)"
        )
    return obj.codec.decode(event.data)
