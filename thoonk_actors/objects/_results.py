"""One finish/retract listener per job queue that hands each event to its waiters.

Synopsis::

    router = await thoonk.result_router(job)          # subscribed on return
    with router.waiting("job-1") as waiter:
        outcome = await waiter.next()                  # finish / retract / gap

Every ``wait_result`` of a queue shares one acknowledged subscription, so
thousands of waiters cost one dictionary look-up per event rather than every
waiter parsing every event. A :class:`~thoonk_actors.transport.Gap` is passed to
every waiter: events may have been missed, so each looks at the stored result
again.
"""

from __future__ import annotations

import collections
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Literal

import trio

from ..contract import id_text
from ..transport import Gap, Subscription


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a waiter learned: ``finish`` (with the result bytes, or None), ``retract``, ``gap``."""

    event: Literal["finish", "retract", "gap"]
    data: bytes | None = None


class Waiter:
    """The outcomes for one job id, in arrival order."""

    def __init__(self) -> None:
        self._queue: collections.deque[Outcome] = collections.deque()
        self._wakeup = trio.Event()

    def push(self, outcome: Outcome) -> None:
        self._queue.append(outcome)
        self._wakeup.set()

    async def next(self) -> Outcome:
        """Wait for the next outcome."""
        while not self._queue:
            self._wakeup = trio.Event()
            await self._wakeup.wait()
        return self._queue.popleft()


class ResultRouter:
    """Routes one job queue's finish and retract events to the waiters of each id."""

    def __init__(self, finish_channel: str, retract_channel: str) -> None:
        self.finish_channel = finish_channel.encode()
        self.retract_channel = retract_channel.encode()
        self._waiters: dict[str, set[Waiter]] = {}

    @contextmanager
    def waiting(self, job_id: str, waiter: Waiter | None = None) -> Iterator[Waiter]:
        """Receive the outcomes of ``job_id`` while the block runs."""
        waiter = waiter or Waiter()
        self._waiters.setdefault(job_id, set()).add(waiter)
        try:
            yield waiter
        finally:
            waiters = self._waiters.get(job_id)
            if waiters is not None:
                waiters.discard(waiter)
                if not waiters:
                    del self._waiters[job_id]

    def dispatch(self, channel: bytes, payload: bytes) -> None:
        raw_id, sep, rest = payload.partition(b"\0")
        if b"\0" in rest:
            # ``id NUL result`` is ambiguous when ids may hold NUL (another client
            # wrote them): a waiter for a longer id re-reads the stored result.
            at = payload.find(b"\0", len(raw_id) + 1)
            while at != -1:
                for waiter in self._waiters.get(id_text(payload[:at]), ()):
                    waiter.push(Outcome("gap"))
                at = payload.find(b"\0", at + 1)
        waiters = self._waiters.get(id_text(raw_id))
        if not waiters:
            return
        if channel == self.finish_channel:
            outcome = Outcome("finish", rest if sep else None)
        else:
            outcome = Outcome("retract")
        for waiter in waiters:
            waiter.push(outcome)

    def gap(self) -> None:
        for waiters in self._waiters.values():
            for waiter in waiters:
                waiter.push(Outcome("gap"))

    async def serve(self, subscription: Subscription) -> None:
        """Dispatch until cancelled."""
        async for message in subscription:
            if isinstance(message, Gap):
                self.gap()
            else:
                self.dispatch(message.channel, message.data)
