"""Snapshot reads of many actors, sent together: one pipeline per batch.

Synopsis::

    reader = SnapshotReader(thoonk)
    nursery.start_soon(reader.serve)
    snapshot = await reader.read(feed.snapshot_call())   # in each actor

At start-up (and after a reconnect) every actor of the process wants its
snapshot at once: thousands of script calls. Sent one by one they cost a
task switch, a write and a reply each, and the first ones all meet NOSCRIPT
and load the script again. The reader takes whatever is pending, sends it as
one pipeline (at most :data:`BATCH` calls; a missing script loaded once) and
hands each actor its own result. Each script is still atomic on its own.
"""

from __future__ import annotations

from typing import Any, TypeVar

import trio

from ..contract import Call
from ..objects import Thoonk

T = TypeVar("T")

#: Most snapshot calls in one pipeline.
BATCH = 500


class _Slot:
    __slots__ = ("call", "done", "failed", "result")

    def __init__(self, call: Call[Any]) -> None:
        self.call = call
        self.done = trio.Event()
        self.result: Any = None
        self.failed = True  # until the batch delivered a result


class SnapshotReader:
    """Batches snapshot calls of many actors (see the module doc)."""

    def __init__(self, thoonk: Thoonk) -> None:
        self._thoonk = thoonk
        self._pending: list[_Slot] = []
        self._wakeup = trio.Event()

    async def read(self, call: Call[T]) -> T:
        """``call``'s decoded result, read in the next batch.

        If the batch fails (a refusal of any call in it, a lost connection),
        the call runs on its own, so its error is its own.
        """
        slot = _Slot(call)
        self._pending.append(slot)
        self._wakeup.set()
        await slot.done.wait()
        if slot.failed:
            return await self._thoonk.run(call)
        result: T = slot.result
        return result

    async def serve(self) -> None:
        """Send what is pending, in batches, until cancelled."""
        while True:
            await self._wakeup.wait()
            self._wakeup = trio.Event()
            # Let the other actors that are starting now queue theirs first.
            await trio.lowlevel.cancel_shielded_checkpoint()
            while self._pending:
                batch, self._pending = self._pending[:BATCH], self._pending[BATCH:]
                try:
                    results = await self._thoonk.run_many([slot.call for slot in batch])
                    for slot, result in zip(batch, results, strict=True):
                        slot.result, slot.failed = result, False
                except Exception:
                    pass  # each actor runs its own call (and meets its own error)
                finally:
                    for slot in batch:
                        slot.done.set()
