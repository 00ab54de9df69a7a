"""Queue operations: each item goes to exactly one consumer.

Synopsis::

    keys = QueueKeys.of("tasks")
    queue_put(keys, id, item_bytes, priority=False)       -> Call[str]
    queue_get(keys, max_items=1)                          -> Call[tuple[(id, item), ...]]
    queue_wait_for_item(keys, timeout_s=5)   # blocking, dedicated connection; then queue_get
    queue_length(keys)                                    -> Command[int]

A blocking get is ``queue_wait_for_item`` (takes nothing) followed by
``queue_get``; when another consumer was faster the get is empty and the
caller waits again.
"""

from __future__ import annotations

import reprlib

from .._errors import UsageError
from ._build import check_count, layout, make_call, ok_values
from ._call import Call, Command, Reply, as_int, as_text
from ._feed import check_item, item_pairs
from ._keys import QueueKeys
from ._names import validate_id

layout("queue/put", ("ids", "items", "publishes"))
layout("queue/get", ("ids", "items"))


def queue_put(keys: QueueKeys, id: str, item: bytes, *, priority: bool = False) -> Call[str]:
    """``queue_put(keys, "t1", b'"x"')``: add at the back (priority: the head); decodes to the id.

    Raises:
        InvalidIdError, UsageError: (now).
        DuplicateIdError: (decode) the id is already queued.
    """
    validate_id(id)
    check_item(item)

    def decode(reply: Reply) -> str:
        values = ok_values(
            reply, script="queue/put", obj=keys.label, item=f"item {id!r} in {keys.label}"
        )
        return as_text(values[0], "queue/put")

    return make_call(
        "queue/put",
        keys,
        [id, item, priority, keys.name],
        decode,
        registry=True,
        cluster_after=("SADD", keys.registry, keys.name),
    )


def queue_get(keys: QueueKeys, *, max_items: int = 1) -> Call[tuple[tuple[str, bytes], ...]]:
    """``queue_get(keys)``: take up to ``max_items`` from the head; ``()`` when empty.

    Each id leaves together with its item, in one atomic step.
    """
    check_count(max_items, what="max_items", high=10_000)

    def decode(reply: Reply) -> tuple[tuple[str, bytes], ...]:
        return item_pairs(reply, script="queue/get", obj=keys.label)

    return make_call("queue/get", keys, [max_items], decode)


def queue_length(keys: QueueKeys) -> Command[int]:
    """``queue_length(keys)``: the number of queued ids (LLEN)."""
    return Command(
        args=("LLEN", keys.ids), keys=(keys.ids,), decode=lambda r: as_int(r, "LLEN ids")
    )


def queue_wait_for_item(keys: QueueKeys, *, timeout_s: float) -> Command[bool]:
    """``queue_wait_for_item(keys, timeout_s=5)``: block until something is queued; takes nothing.

    ``BLMOVE ids ids RIGHT RIGHT`` puts the popped id straight back in place.
    0 waits for ever. Run it on a dedicated (blocking) connection.
    """
    if isinstance(timeout_s, bool) or not isinstance(timeout_s, int | float) or timeout_s < 0:
        raise UsageError(
            f"timeout_s must be a number of seconds >= 0, not {reprlib.repr(timeout_s)}"
        )
    return Command(
        args=("BLMOVE", keys.ids, keys.ids, "RIGHT", "RIGHT", f"{timeout_s:g}"),
        keys=(keys.ids,),
        decode=lambda r: r is not None,
        block_s=float(timeout_s),
    )
