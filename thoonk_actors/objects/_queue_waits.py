"""One blocking wait per queue, shared by every ``Queue.get`` waiting on it in a process.

Synopsis::

    waits = shared_waits(thoonk, keys)     # one per (client, queue name)
    entry = await waits.get(deadline)      # (id, raw item), or None at the trio deadline

Why: a get that waited on its own held a Redis connection of its own (100
waiting gets, 100 connections), and every item woke every waiter: each ran a
take script, one won, the others found nothing and blocked again (1.5 to 1.7
take scripts per item). Here the waiters of a queue line up (FIFO) behind one
*pump* task, which blocks in ``BLMOVE`` on one dedicated connection, takes at
most one item per waiter in one script, and hands each item to the waiter at
the head of the line: an item wakes exactly one waiter.

No item is lost to a waiter that stops waiting:

* an item handed to a waiter that timed out meanwhile is returned by it (it
  arrived in time);
* an item handed to a waiter that was cancelled meanwhile goes to the next
  waiter in line, or, with none left, back to the head of the queue (a
  priority put of the same id and item, so it counts once more in the
  queue's ``publishes`` statistic);
* items taken for waiters that left while the take was in flight are handed
  on, or put back, the same way (last taken first, so the order is kept),
  and a waiter cancelled then returns only once that is done: when a
  cancelled get has returned, nothing taken for it is in flight.

The pump runs in the client's service nursery while anyone waits, and stops
(letting its wait run out, or cancelling it after ``_LINGER_S``) when the
line is empty. An error of the take or of the wait (the server is gone past
``reconnect_timeout``, a key of the wrong type) is raised in every waiter in
line at that moment, as each would have met it on its own.
"""

from __future__ import annotations

import contextlib
import logging
import math
import weakref
from collections import deque
from typing import TYPE_CHECKING

import trio

from .. import contract
from .._errors import DuplicateIdError, ThoonkError, WrongTypeError
from ..contract import QueueKeys
from ..transport import ThoonkConnectionError

if TYPE_CHECKING:
    from ._thoonk import Thoonk

log = logging.getLogger(__name__)

Entry = tuple[str, bytes]

# Server-side timeouts are sent as "%g" text (6 significant digits): waiting at
# most this long per BLMOVE keeps them exact to the millisecond.
_MAX_WAIT_S = 600.0
# How long the pump's wait may go on with nobody in line before it is cut
# (cutting a blocking call in flight closes its connection; a get that comes
# back within this time finds the wait, and its connection, still there).
_LINGER_S = 1.0

_by_client: weakref.WeakKeyDictionary[Thoonk, dict[str, SharedWaits]] = weakref.WeakKeyDictionary()


def waiting(thoonk: Thoonk, keys: QueueKeys) -> int:
    """How many gets of this process wait on queue ``keys`` through ``thoonk`` now."""
    waits = _by_client.get(thoonk, {}).get(keys.name)
    return 0 if waits is None else waits.waiting


def shared_waits(thoonk: Thoonk, keys: QueueKeys) -> SharedWaits:
    """The shared waits of queue ``keys`` on client ``thoonk`` (made on first use)."""
    per_client = _by_client.setdefault(thoonk, {})
    waits = per_client.get(keys.name)
    if waits is None:
        waits = per_client[keys.name] = SharedWaits(thoonk, keys, per_client)
    return waits


class _Waiter:
    """One get in line: woken with an entry or an error."""

    __slots__ = ("entry", "error", "woken")

    def __init__(self) -> None:
        self.woken = trio.Event()
        self.entry: Entry | None = None
        self.error: BaseException | None = None


class SharedWaits:
    """The line of gets waiting on one queue, and the pump that serves it."""

    def __init__(self, thoonk: Thoonk, keys: QueueKeys, home: dict[str, SharedWaits]) -> None:
        self._thoonk = thoonk
        self._keys = keys
        self._home = home
        self._line: deque[_Waiter] = deque()
        self._deadlines: dict[_Waiter, float] = {}
        self._pumping = False
        self._wait_scope: trio.CancelScope | None = None
        self._taking: trio.Event | None = None  # set once a take's entries are handed on
        #: Counters for tests and benchmarks: take scripts run, waits (BLMOVE)
        #: sent, and waits that ended with nothing queued (timed out or cut).
        self.takes = 0
        self.waits = 0
        self.empty_waits = 0

    @property
    def waiting(self) -> int:
        """How many gets are in line."""
        return len(self._line)

    async def get(self, deadline: float) -> Entry | None:
        """Wait in line for the next item until the trio ``deadline`` (None: it passed)."""
        waiter = _Waiter()
        self._line.append(waiter)
        self._deadlines[waiter] = deadline
        self._serve()
        try:
            with trio.move_on_at(deadline):
                await waiter.woken.wait()
        except BaseException:
            # Cancelled (or the client is closing): never leave with an item.
            self._leave(waiter)
            if waiter.entry is not None:
                await self._hand_on([waiter.entry])
            elif self._taking is not None:
                # A take counted us: by the time we are gone, what it took for
                # us is with the next waiter or back in the queue.
                with trio.CancelScope(shield=True):
                    await self._taking.wait()
            raise
        self._leave(waiter)
        if waiter.error is not None:
            raise waiter.error
        return waiter.entry  # None: the deadline passed first

    # ------------------------------------------------------------ the line

    def _leave(self, waiter: _Waiter) -> None:
        self._deadlines.pop(waiter, None)
        with contextlib.suppress(ValueError):  # not there: already served
            self._line.remove(waiter)
        if not self._line and self._wait_scope is not None:
            # Nobody waits: let the current wait run out, but not for long.
            self._wait_scope.deadline = min(
                self._wait_scope.deadline, trio.current_time() + _LINGER_S
            )

    def _serve(self) -> None:
        if self._wait_scope is not None:
            self._wait_scope.deadline = math.inf  # someone waits again: keep the wait
        if not self._pumping:
            self._pumping = True
            self._thoonk._nursery.start_soon(self._pump)

    def _give(self, entries: list[Entry]) -> list[Entry]:
        """Hand entries to the waiters at the head of the line; the ones left over."""
        left = deque(entries)
        while left and self._line:
            waiter = self._line.popleft()
            self._deadlines.pop(waiter, None)
            waiter.entry = left.popleft()
            waiter.woken.set()
        return list(left)

    def _fail(self, error: BaseException) -> None:
        while self._line:
            waiter = self._line.popleft()
            self._deadlines.pop(waiter, None)
            waiter.error = error
            waiter.woken.set()

    async def _hand_on(self, entries: list[Entry]) -> None:
        """Give taken entries to the next waiters, or put them back at the head of the queue."""
        left = self._give(entries)
        # The last one taken goes back first, so the first taken ends up at the head.
        for item_id, raw in reversed(left):
            call = contract.queue_put(self._keys, item_id, raw, priority=True)
            try:
                with trio.CancelScope(shield=True):
                    await self._thoonk.run(call, shield=True)
            except DuplicateIdError:
                log.error(
                    "item %r taken off %s for a get that was cancelled could not be put back: "
                    "the id was queued again meanwhile",
                    item_id,
                    self._keys.label,
                )
            except ThoonkError as exc:
                log.error(
                    "item %r taken off %s for a get that was cancelled could not be put back: %s",
                    item_id,
                    self._keys.label,
                    exc,
                )

    # ------------------------------------------------------------ the pump

    async def _pump(self) -> None:
        try:
            take = True
            while self._line:
                try:
                    if take:
                        wanted = len(self._line)
                        self._taking = taking = trio.Event()
                        try:
                            entries = await self._take(wanted)
                            await self._hand_on(entries)
                        finally:
                            self._taking = None
                            taking.set()
                        if len(entries) == wanted:
                            continue  # there may be more
                    # The queue was empty: take again only once something is
                    # queued (one take per wake, none for a wait that timed out).
                    if self._line:
                        take = await self._wait()
                except ThoonkError as exc:
                    take = True
                    self._fail(exc)
        except BaseException as exc:
            # The client is closing (or a bug): nobody is left waiting for ever.
            error = ThoonkConnectionError(
                f"the client stopped while gets waited on {self._keys.label}"
            )
            error.__cause__ = exc
            self._fail(error)
            raise
        finally:
            self._pumping = False
            if not self._line and self._home.get(self._keys.name) is self:
                del self._home[self._keys.name]

    async def _take(self, count: int) -> list[Entry]:
        self.takes += 1
        call = contract.queue_get(self._keys, max_items=count)
        # Shielded once sent: a reply dropped would drop the items with it.
        taken = await self._thoonk.run(call, shield=True)
        return list(taken)

    async def _wait(self) -> bool:
        """One server-side block; True once something is queued (False: timed out, or cut)."""
        last = max(self._deadlines.values(), default=trio.current_time())
        remaining = last - trio.current_time()
        if math.isinf(remaining):
            # The link's longest block; 0 (no health checks): for ever.
            seconds = min(self._thoonk.block_timeout(remaining), _MAX_WAIT_S)
        else:
            seconds = self._thoonk.block_timeout(min(remaining, _MAX_WAIT_S))
        command = contract.queue_wait_for_item(self._keys, timeout_s=seconds)
        queued = False
        with trio.CancelScope() as scope:
            self._wait_scope = scope
            try:
                self.waits += 1
                queued = await self._thoonk.read(command)
            except WrongTypeError:
                queued = True  # the take checks every key and raises the contract's error
            finally:
                self._wait_scope = None
        if not queued:
            self.empty_waits += 1
        return queued
