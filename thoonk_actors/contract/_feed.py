"""Feed operations: persisted items in publish order, with live events.

Synopsis::

    keys = FeedKeys.of("news")
    published = feed_publish(keys, id, item_bytes).decode(reply)   # FeedPublished
    feed_retract(keys, id)            -> Call[bool]   (True if it existed)
    feed_items(keys)                  -> Call[tuple[(id, item), ...]]  oldest first
    feed_ids(keys), feed_get(keys, id), feed_length(keys), feed_has(keys, id) -> Command

Ids always come from the caller (the objects layer generates them).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from .._errors import UsageError
from ._build import channel_arg, encoded_call, layout, make_call, name_arg, ok_values
from ._call import Call, Command, Reply, as_bytes, as_int, as_list, as_text, unexpected
from ._keys import FeedKeys
from ._names import id_arg, id_bytes, validate_id

PublishKind = Literal["publish", "edit"]
_KINDS: dict[str, PublishKind] = {"publish": "publish", "edit": "edit"}
_REPLY_KINDS: dict[bytes, PublishKind] = {b"publish": "publish", b"edit": "edit"}


@dataclass(frozen=True, slots=True)
class FeedPublished:
    """A feed publish: ``kind`` is ``"edit"`` when the id existed; ``evicted`` the ids
    removed to respect ``max_length`` (oldest first); ``score_ms`` the item's new score."""

    id: str
    kind: PublishKind
    score_ms: int
    evicted: tuple[str, ...]


def _item_label(keys: FeedKeys, id: str) -> str:
    return f"item {id!r} in {keys.label}"


def check_item(item: object) -> bytes:
    """The item as bytes, or UsageError (items are encoded by a codec first)."""
    if not isinstance(item, bytes):
        raise UsageError(
            f"an item must be encoded to bytes first (codec.encode), not {type(item).__name__}"
        )
    return item


def item_pairs(reply: Reply, *, script: str, obj: str) -> tuple[tuple[str, bytes], ...]:
    """``((id, item), ...)`` from an ``{'ok', id1, item1, ...}`` reply."""
    values = ok_values(reply, script=script, obj=obj, op="items")
    if len(values) % 2:
        raise unexpected(script, reply)
    return tuple(
        (as_text(values[i], script), as_bytes(values[i + 1], script))
        for i in range(0, len(values), 2)
    )


layout("feed/publish", ("config", "ids", "items", "publishes"))


def feed_publish(keys: FeedKeys, id: str, item: bytes) -> Call[FeedPublished]:
    """``feed_publish(keys, "a1", b'{"title":"x"}')``: publish, or edit when ``id`` exists.

    A new id first evicts the oldest items beyond ``max_length`` (their retract
    events come before the publish event); an edit evicts nothing.

    Raises:
        InvalidIdError, UsageError: (now).
        BadStoredConfigError, WrongTypeError: (decode).
    """
    # The hot path of every feed publish: the id checked and encoded once, the
    # channel and name arguments cached per keys object (issue 12).
    raw_id = id_arg(id)
    if type(item) is not bytes:
        check_item(item)

    def decode(reply: Reply) -> FeedPublished:
        # The common reply, ['ok', kind, ms] (nothing evicted), in one pass; the
        # general path below reads evictions and refusals. Kept: 2.8x faster (1.0
        # against 2.8 us, benchmarks/reply_decoders.py, docs/benchmarks.md).
        if type(reply) is list and len(reply) == 3 and reply[0] == b"ok":
            kind, score = _REPLY_KINDS.get(reply[1]), reply[2]  # type: ignore[arg-type]
            if kind is not None and type(score) is int:
                return FeedPublished(id=id, kind=kind, score_ms=score, evicted=())
        values = ok_values(reply, script="feed/publish", obj=keys.label, item=_item_label(keys, id))
        kind = _KINDS.get(as_text(values[0], "feed/publish")) if values else None
        if kind is None or len(values) < 2:
            raise unexpected("feed/publish", reply)
        return FeedPublished(
            id=id,
            kind=kind,
            score_ms=as_int(values[1], "feed/publish"),
            evicted=tuple(as_text(v, "feed/publish") for v in values[2:]),
        )

    return encoded_call(
        "feed/publish",
        keys,
        (
            raw_id,
            item,
            channel_arg(keys, "publish"),
            channel_arg(keys, "edit"),
            channel_arg(keys, "retract"),
            name_arg(keys),
        ),
        decode,
        registry=True,
        cluster_after=("SADD", keys.registry, keys.name),
    )


layout("feed/retract", ("ids", "items"))


def feed_retract(keys: FeedKeys, id: str) -> Call[bool]:
    """``feed_retract(keys, "a1")``: remove an item; decodes to True if it existed."""
    validate_id(id)

    def decode(reply: Reply) -> bool:
        values = ok_values(reply, script="feed/retract", obj=keys.label, item=_item_label(keys, id))
        return bool(values) and as_int(values[0], "feed/retract") == 1

    return make_call("feed/retract", keys, [id, keys.channel("retract")], decode)


layout("feed/items", ("ids", "items"))


def feed_items(
    keys: FeedKeys, start: int = 0, stop: int = -1
) -> Call[tuple[tuple[str, bytes], ...]]:
    """``feed_items(keys)``: ``((id, item), ...)`` oldest first; ``start``/``stop`` as ZRANGE."""

    def decode(reply: Reply) -> tuple[tuple[str, bytes], ...]:
        return item_pairs(reply, script="feed/items", obj=keys.label)

    return make_call("feed/items", keys, [start, stop], decode, idempotent=True)


def feed_ids(keys: FeedKeys, start: int = 0, stop: int = -1) -> Command[tuple[str, ...]]:
    """``feed_ids(keys)``: ids oldest first (ZRANGE)."""

    def decode(reply: Reply) -> tuple[str, ...]:
        return tuple(as_text(v, "ZRANGE ids") for v in as_list(reply, "ZRANGE ids"))

    return Command(
        args=("ZRANGE", keys.ids, str(start), str(stop)), keys=(keys.ids,), decode=decode
    )


def feed_get(keys: FeedKeys, id: str) -> Command[bytes | None]:
    """``feed_get(keys, "a1")``: the encoded item, or None."""
    validate_id(id)

    def decode(reply: Reply) -> bytes | None:
        return None if reply is None else as_bytes(reply, "HGET items")

    return Command(args=("HGET", keys.items, id_bytes(id)), keys=(keys.items,), decode=decode)


def feed_length(keys: FeedKeys) -> Command[int]:
    """``feed_length(keys)``: the number of items (ZCARD)."""
    return Command(
        args=("ZCARD", keys.ids), keys=(keys.ids,), decode=lambda r: as_int(r, "ZCARD ids")
    )


def feed_has(keys: FeedKeys, id: str) -> Command[bool]:
    """``feed_has(keys, "a1")``: whether the id is in the feed (ZSCORE)."""
    validate_id(id)
    return Command(
        args=("ZSCORE", keys.ids, id_bytes(id)), keys=(keys.ids,), decode=lambda r: r is not None
    )
