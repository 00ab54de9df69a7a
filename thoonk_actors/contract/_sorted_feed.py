"""Sorted feed operations: items in an order set by hand.

Synopsis::

    keys = SortedFeedKeys.of("playlist")
    new_id = sorted_feed_append(keys, item_bytes).decode(reply)          # generated id
    sorted_feed_publish_before(keys, "7", item_bytes, id="intro")
    sorted_feed_move(keys, "intro", "after", "3")
    sorted_feed_edit / sorted_feed_retract / sorted_feed_items -> Call
    sorted_feed_ids / sorted_feed_get / sorted_feed_length / sorted_feed_has -> Command

    snapshot = sorted_feed_snapshot(keys).decode(reply)   # SortedFeedSnapshot(seq, items)

Ids are generated inside the script (``INCR sorted_feed.idincr:<name>``) when
``id`` is None. Every write adds 1 to ``sorted_feed.seq:<name>`` and its events
carry that number right after the id (``id NUL seq ...``); a snapshot returns the
number it was read at, so a reader skips the events it already holds (see
:func:`~thoonk_actors.contract.parse_sequenced`). Position events say
``begin``, ``end``, ``before NUL X`` or ``after NUL X`` after the sequence.
"""

from __future__ import annotations

import reprlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from .._errors import InvalidIdError, UsageError
from ._build import layout, make_call, ok_values
from ._call import Call, Command, Reply, as_bytes, as_int, as_list, as_text, status, unexpected
from ._feed import check_item
from ._keys import SortedFeedKeys
from ._names import id_bytes, validate_id
from ._refusals import refusal

Where = Literal["begin", "end", "before", "after"]

WHERES: tuple[Where, ...] = ("begin", "end", "before", "after")

_INSERT_KEYS = ("ids", "items", "idincr", "publishes", "seq")
for _op in ("append", "prepend", "publish_before", "publish_after"):
    layout(f"sorted_feed/{_op}", _INSERT_KEYS)
layout("sorted_feed/edit", ("items", "publishes", "seq"))
layout("sorted_feed/move", ("ids", "seq"))
layout("sorted_feed/retract", ("ids", "items", "seq"))
layout("sorted_feed/items", ("ids", "items", "seq"))


@dataclass(frozen=True, slots=True)
class SortedFeedSnapshot:
    """The items of a sorted feed, in order, and the change sequence they were read at.

    An event whose ``seq`` is not above ``seq`` is already in ``items``.
    """

    seq: int
    items: tuple[tuple[str, bytes], ...]


def _label(keys: SortedFeedKeys, id: str | None) -> str:
    return f"item {id!r} in {keys.label}" if id else f"new item in {keys.label}"


def _decoder(
    script: str, keys: SortedFeedKeys, id: str | None, anchor: str | None, op: str
) -> Callable[[Reply], str]:
    def decode(reply: Reply) -> str:
        code, values = status(reply, script)
        if code != "ok":
            # not_found names the anchor (or, for move/edit, the id itself).
            missing = values[0] if code == "not_found" and values else None
            subject = id
            if anchor is not None and missing == id_bytes(anchor):
                subject = anchor
            raise refusal(code, values, obj=keys.label, item=_label(keys, subject), op=op)
        if not values:
            raise unexpected(script, reply)
        return as_text(values[0], script)

    return decode


def _insert(
    op: str, keys: SortedFeedKeys, item: bytes, id: str | None, anchor: str | None = None
) -> Call[str]:
    if id is not None:
        validate_id(id)
    check_item(item)
    script = f"sorted_feed/{op}"
    args: list[str | bytes | int | bool] = []
    # The anchored scripts take the anchor as their first argument: an anchor
    # of None there would shift every other argument by one (found by the
    # hostile sweep: publish_before(None, ...) reached the script).
    if op in ("publish_before", "publish_after"):
        anchor = validate_id(anchor, what="anchor id")
        if anchor == id:
            raise InvalidIdError(f"item {id!r} cannot be placed before or after itself")
        args.append(anchor)
    args += [id or "", item, keys.channel("publish"), keys.channel("position"), keys.name]
    return make_call(
        script,
        keys,
        args,
        _decoder(script, keys, id, anchor, "publish"),
        registry=True,
        cluster_after=("SADD", keys.registry, keys.name),
    )


def sorted_feed_append(keys: SortedFeedKeys, item: bytes, *, id: str | None = None) -> Call[str]:
    """``sorted_feed_append(keys, b'"x"')``: add at the end; decodes to the id.

    Raises:
        InvalidIdError, UsageError: (now).
        DuplicateIdError: (decode) ``id`` is already in the feed.
    """
    return _insert("append", keys, item, id)


def sorted_feed_prepend(keys: SortedFeedKeys, item: bytes, *, id: str | None = None) -> Call[str]:
    """``sorted_feed_prepend(keys, b'"x"')``: add at the beginning; decodes to the id."""
    return _insert("prepend", keys, item, id)


def sorted_feed_publish_before(
    keys: SortedFeedKeys, anchor: str, item: bytes, *, id: str | None = None
) -> Call[str]:
    """``sorted_feed_publish_before(keys, "7", b'"x"')``: add just before ``anchor``.

    Raises:
        NotFoundError: (decode) ``anchor`` is not in the feed; nothing was written.
    """
    return _insert("publish_before", keys, item, id, anchor)


def sorted_feed_publish_after(
    keys: SortedFeedKeys, anchor: str, item: bytes, *, id: str | None = None
) -> Call[str]:
    """``sorted_feed_publish_after(keys, "7", b'"x"')``: add just after ``anchor``."""
    return _insert("publish_after", keys, item, id, anchor)


def sorted_feed_edit(keys: SortedFeedKeys, id: str, item: bytes) -> Call[str]:
    """``sorted_feed_edit(keys, "7", b'"y"')``: replace an existing item in place.

    Raises:
        NotFoundError: (decode) no such id.
    """
    validate_id(id)
    check_item(item)
    return make_call(
        "sorted_feed/edit",
        keys,
        [id, item, keys.channel("edit")],
        _decoder("sorted_feed/edit", keys, id, None, "edit"),
    )


def sorted_feed_move(
    keys: SortedFeedKeys, id: str, where: Where, anchor: str | None = None
) -> Call[str]:
    """``sorted_feed_move(keys, "7", "before", "3")`` / ``(keys, "7", "begin")``: reorder.

    Raises:
        InvalidIdError, UsageError: (now) a bad ``where``, a missing or self anchor.
        NotFoundError: (decode) ``id`` or ``anchor`` is not in the feed.
    """
    validate_id(id)
    if where not in WHERES:
        raise UsageError(
            f"where must be 'begin', 'end', 'before' or 'after', not {reprlib.repr(where)}"
        )
    if where in ("before", "after"):
        if anchor is None:
            raise UsageError(f"moving {where} another item needs that item's id as anchor")
        anchor = validate_id(anchor, what="anchor id")
        if anchor == id:
            raise InvalidIdError(f"item {id!r} cannot be moved before or after itself")
    elif anchor is not None:
        raise UsageError(
            f"an anchor only makes sense with 'before' or 'after', not {reprlib.repr(where)}"
        )
    return make_call(
        "sorted_feed/move",
        keys,
        [id, where, anchor or "", keys.channel("position")],
        _decoder("sorted_feed/move", keys, id, anchor, "move"),
    )


def sorted_feed_retract(keys: SortedFeedKeys, id: str) -> Call[bool]:
    """``sorted_feed_retract(keys, "7")``: remove; decodes to True if it existed."""
    validate_id(id)

    def decode(reply: Reply) -> bool:
        values = ok_values(
            reply, script="sorted_feed/retract", obj=keys.label, item=_label(keys, id)
        )
        return bool(values) and as_int(values[0], "sorted_feed/retract") == 1

    return make_call("sorted_feed/retract", keys, [id, keys.channel("retract")], decode)


def _snapshot_decoder(keys: SortedFeedKeys) -> Callable[[Reply], SortedFeedSnapshot]:
    def decode(reply: Reply) -> SortedFeedSnapshot:
        values = ok_values(reply, script="sorted_feed/items", obj=keys.label, op="items")
        if not values or len(values) % 2 != 1:
            raise unexpected("sorted_feed/items", reply)
        pairs = tuple(
            (as_text(values[i], "sorted_feed/items"), as_bytes(values[i + 1], "sorted_feed/items"))
            for i in range(1, len(values), 2)
        )
        return SortedFeedSnapshot(as_int(values[0], "sorted_feed/items"), pairs)

    return decode


def sorted_feed_snapshot(
    keys: SortedFeedKeys, start: int = 0, stop: int = -1
) -> Call[SortedFeedSnapshot]:
    """``sorted_feed_snapshot(keys)``: the items in order and the change sequence, in one read."""
    return make_call("sorted_feed/items", keys, [start, stop], _snapshot_decoder(keys))


def sorted_feed_items(
    keys: SortedFeedKeys, start: int = 0, stop: int = -1
) -> Call[tuple[tuple[str, bytes], ...]]:
    """``sorted_feed_items(keys)``: ``((id, item), ...)`` in order; ``start``/``stop`` as LRANGE."""
    snapshot = _snapshot_decoder(keys)

    def decode(reply: Reply) -> tuple[tuple[str, bytes], ...]:
        return snapshot(reply).items

    return make_call("sorted_feed/items", keys, [start, stop], decode, idempotent=True)


def sorted_feed_ids(
    keys: SortedFeedKeys, start: int = 0, stop: int = -1
) -> Command[tuple[str, ...]]:
    """``sorted_feed_ids(keys)``: ids in order (LRANGE)."""

    def decode(reply: Reply) -> tuple[str, ...]:
        return tuple(as_text(v, "LRANGE ids") for v in as_list(reply, "LRANGE ids"))

    return Command(
        args=("LRANGE", keys.ids, str(start), str(stop)), keys=(keys.ids,), decode=decode
    )


def sorted_feed_get(keys: SortedFeedKeys, id: str) -> Command[bytes | None]:
    """``sorted_feed_get(keys, "7")``: the encoded item, or None."""
    validate_id(id)

    def decode(reply: Reply) -> bytes | None:
        return None if reply is None else as_bytes(reply, "HGET items")

    return Command(args=("HGET", keys.items, id_bytes(id)), keys=(keys.items,), decode=decode)


def sorted_feed_length(keys: SortedFeedKeys) -> Command[int]:
    """``sorted_feed_length(keys)``: the number of items (LLEN)."""
    return Command(
        args=("LLEN", keys.ids), keys=(keys.ids,), decode=lambda r: as_int(r, "LLEN ids")
    )


def sorted_feed_has(keys: SortedFeedKeys, id: str) -> Command[bool]:
    """``sorted_feed_has(keys, "7")``: whether the id has an item (HEXISTS)."""
    validate_id(id)
    return Command(
        args=("HEXISTS", keys.items, id_bytes(id)),
        keys=(keys.items,),
        decode=lambda r: as_int(r, "HEXISTS items") == 1,
    )
