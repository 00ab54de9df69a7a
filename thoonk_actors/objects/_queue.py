"""A Thoonk queue: each item goes to exactly one consumer.

Synopsis::

    tasks = thoonk.queue("tasks")
    await tasks.put({"n": 1})                  # to the back; returns its id (UUID v4)
    await tasks.put({"n": 0}, priority=True)   # to the head
    item = await tasks.get()                   # waits for ever (cancel it like any trio call)
    item = await tasks.get(timeout=5)          # None after 5 s with nothing
    item = await tasks.get_nowait()            # trio.WouldBlock when empty
    await tasks.length()

The order is the original Thoonk's: ``put`` pushes on the left of
``queue.ids:<name>``, a priority ``put`` on the right, ``get`` pops from the
right (so several priority items come out newest first). A get takes the id and
its item in one atomic script; blocking is only *waiting* (``BLMOVE`` of the
list onto itself, on a dedicated connection). The gets of one process waiting
on one queue share that wait and line up first come, first served: an item
wakes exactly one of them, and one that is cancelled never takes an item
with it (see ``_queue_waits``). No events: a queue is point-to-point.
"""

from __future__ import annotations

import math
import reprlib
import uuid
from collections.abc import Iterable
from typing import Any, ClassVar

import trio

from .. import contract
from .._errors import PayloadError, UsageError
from ..contract import QueueKeys
from ._base import ThoonkObject
from ._queue_waits import shared_waits, waiting


class Queue(ThoonkObject[QueueKeys]):
    """A queue. Get one with ``thoonk.queue(name)``."""

    KIND = "queue"
    KEYS = contract.QueueKeys
    EVENTS: ClassVar[tuple[str, ...]] = ()

    # ------------------------------------------------------------------ put

    async def put(self, item: Any, *, priority: bool = False, id: str | None = None) -> str:
        """``item_id = await queue.put(item)``: add to the back (``priority``: the head).

        Raises:
            DuplicateIdError: ``id`` is already queued (nothing written).
            InvalidIdError, PayloadError, PayloadTooLargeError: bad input (nothing sent).
            WrongTypeError: another program wrote our keys.
        """
        item_id = str(uuid.uuid4()) if id is None else id
        encoded = self.codec.encode(item)
        return await self.thoonk.run(
            contract.queue_put(self.keys, item_id, encoded, priority=priority)
        )

    async def put_many(self, items: Iterable[Any], *, priority: bool = False) -> list[str]:
        """``ids = await queue.put_many(items)``: put each item, in order, in one round trip.

        Every item is encoded before anything is sent (a bad one refuses the
        lot); then each put is atomic, the batch as a whole is not.
        """
        encoded = [self.codec.encode(item) for item in self._items_of(items, "put_many")]
        calls = [
            contract.queue_put(self.keys, str(uuid.uuid4()), data, priority=priority)
            for data in encoded
        ]
        if not calls:
            await trio.lowlevel.checkpoint()
            return []
        return await self.thoonk.run_many(calls)

    # ------------------------------------------------------------------ get

    async def get(self, timeout: float | None = None) -> Any:  # noqa: ASYNC109
        """``item = await queue.get(timeout=5)``: take the next item, waiting for one.

        ``timeout`` is in seconds (None: wait for ever; 0: do not wait); the
        name mirrors Thoonk's API. Returns None when it passes with nothing
        queued, so with a codec that can store None (JSON ``null``) use
        :meth:`get_nowait` or no timeout to tell the two apart. Cancel it like
        any trio call: an item is only ever taken by a get that returns it.

        Raises:
            UsageError: ``timeout`` is negative or not a number.
            PayloadError: the item taken cannot be decoded (it is off the queue).
            WrongTypeError: another program wrote our keys.
        """
        deadline = _deadline(timeout)
        await trio.lowlevel.checkpoint_if_cancelled()
        if timeout == 0 or not waiting(self.thoonk, self.keys):
            # Nobody of ours is in line before us: take straight away.
            entry = await self._take()
            if entry is not None:
                return self._decode(*entry)
            if trio.current_time() >= deadline:
                return None
        entry = await shared_waits(self.thoonk, self.keys).get(deadline)
        return None if entry is None else self._decode(*entry)

    async def get_nowait(self) -> Any:
        """``item = await queue.get_nowait()``: take the next item if there is one.

        Async because it asks Redis; it never waits for an item to arrive.

        Raises:
            trio.WouldBlock: the queue is empty.
        """
        await trio.lowlevel.checkpoint_if_cancelled()
        entry = await self._take()
        if entry is None:
            raise trio.WouldBlock
        return self._decode(*entry)

    async def length(self) -> int:
        """``await queue.length()``: the number of queued items."""
        return await self.thoonk.read(contract.queue_length(self.keys))

    # -------------------------------------------------------------- helpers

    async def _take(self) -> tuple[str, bytes] | None:
        call = contract.queue_get(self.keys)
        # The script takes the item off the queue; a cancel landing after it was
        # sent would drop the reply, and the item with it. So once sent it is
        # shielded (one non-blocking round trip, bounded by the client's response
        # timeout); connecting and retry pauses stay cancellable (nothing sent
        # yet), so a cancelled get never waits behind a reconnect loop.
        taken = await self.thoonk.run(call, shield=True)
        return taken[0] if taken else None

    def _decode(self, item_id: str, raw: bytes) -> Any:
        try:
            return self.codec.decode(raw)
        except PayloadError as exc:
            raise PayloadError(
                f"item {item_id!r} taken off {self.keys.label} cannot be decoded and is no "
                f"longer queued: {exc}"
            ) from exc


def _deadline(timeout: float | None) -> float:
    if timeout is None:
        return math.inf
    if (
        isinstance(timeout, bool)
        or not isinstance(timeout, int | float)
        or math.isnan(timeout)
        or timeout < 0
    ):
        raise UsageError(
            f"timeout must be None or a number of seconds >= 0, not {reprlib.repr(timeout)}"
        )
    return trio.current_time() + timeout
