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

Results of jobs this client published are kept: :meth:`ResultRouter.expect`
(called by ``publish`` after the router is subscribed and before the publish
is sent) marks an id, and a finish event for a marked id is kept until a
waiter takes it, the result_ttl passes, or the client closes.

A *fresh* id (one this client generated at random for the publish) needs no
read at all: the subscription was acknowledged before the publish was sent,
so its finish or retract event cannot be missed unless a gap happens, and no
earlier job can have had that id, so the first outcome seen is this job's.
Its waiters (``publish_and_wait``, ``wait_result``) take that outcome from
the router without a barrier or a script read (:meth:`ResultRouter.fresh`,
:meth:`ResultRouter.fresh_outcome`). A gap ends that trust for every id
still waiting (they look at the stored state again). That is what
catches a finish by the original JavaScript client (which stores no result
key) of a job published long before anyone waits on it. Memory is bounded:
at most :data:`MAX_EXPECTED` marked ids and :data:`MAX_KEPT` kept results per
queue (the oldest go first).
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

#: Most ids marked by ``expect`` per queue (marks of jobs never finished go first).
MAX_EXPECTED = 250_000
#: Most finish events kept for marked ids per queue (the oldest go first).
MAX_KEPT = 100_000


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

    def __len__(self) -> int:
        return len(self._queue)

    def drop(self, n: int) -> None:
        """Forget the ``n`` oldest outcomes (they are known to be about an older run)."""
        for _ in range(min(n, len(self._queue))):
            self._queue.popleft()

    def take_finish(self) -> Outcome | None:
        """The latest queued finish or retract, without waiting (the queue is emptied)."""
        latest = None
        while self._queue:
            outcome = self._queue.popleft()
            if outcome.event != "gap":
                latest = outcome
        return latest

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
        # id -> the gap count when it was published (-1: not a fresh id), for the
        # ids this client published (insertion order = age).
        self._expected: dict[str, int] = {}
        # Gaps so far: a fresh id published before the latest gap may have missed events.
        self._gaps = 0
        # id -> (outcome, trio time it expires, fresh): finishes (and, of fresh ids,
        # retracts) of expected ids; ``fresh``: the first outcome of a fresh id.
        self._kept: dict[str, tuple[Outcome, float, bool]] = {}
        #: How long a kept result lives (s); updated from the queue's result_ttl.
        self.result_ttl = 600.0
        self._subscription: Subscription | None = None

    def expect(self, job_id: str, *, fresh: bool = False) -> None:
        """Keep the finish of ``job_id`` (published by this client) until asked for.

        ``fresh``: the id was generated at random for this publish (never used
        before), so the first finish or retract seen for it is this job's.
        """
        self._kept.pop(job_id, None)  # a new publication: an older run's result is stale
        self._expected.pop(job_id, None)
        self._expected[job_id] = self._gaps if fresh else -1
        while len(self._expected) > MAX_EXPECTED:
            del self._expected[next(iter(self._expected))]

    def kept(self, job_id: str) -> Outcome | None:
        """The kept finish of ``job_id``, if any (it stays until :meth:`forget`)."""
        entry = self._kept.get(job_id)
        if entry is None:
            return None
        if entry[1] <= trio.current_time():
            del self._kept[job_id]
            return None
        return entry[0]

    def fresh(self, job_id: str) -> bool:
        """Will events alone tell the outcome of ``job_id``? (fresh, none seen yet, no gap)."""
        return self._expected.get(job_id, -1) == self._gaps

    def fresh_outcome(self, job_id: str) -> Outcome | None:
        """The first outcome (finish or retract) of a fresh id, once it arrived."""
        entry = self._kept.get(job_id)
        if entry is None or not entry[2]:
            return None
        return self.kept(job_id)

    def forget(self, job_id: str) -> None:
        """A waiter got its answer (or the kept one is stale): drop what is kept."""
        self._kept.pop(job_id, None)
        self._expected.pop(job_id, None)

    def drop_kept(self, job_id: str) -> None:
        """A kept result turned out to be an older run's (the id is published again)."""
        self._kept.pop(job_id, None)

    def _keep(self, job_id: str, outcome: Outcome, *, fresh: bool = False) -> None:
        now = trio.current_time()
        self._kept.pop(job_id, None)
        self._kept[job_id] = (outcome, now + self.result_ttl, fresh)
        while self._kept:
            oldest, (_, expires, _) = next(iter(self._kept.items()))
            if len(self._kept) <= MAX_KEPT and expires > now:
                break
            del self._kept[oldest]

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
        job_id = id_text(raw_id)
        mark = self._expected.get(job_id)
        if channel == self.finish_channel:
            outcome = Outcome("finish", rest if sep else None)
        else:
            outcome = Outcome("retract")
            self._kept.pop(job_id, None)
        if mark is not None and mark == self._gaps:
            # The first outcome of a fresh id: this job's (later ones are not kept).
            del self._expected[job_id]
            self._keep(job_id, outcome, fresh=True)
        elif mark is not None and outcome.event == "finish":
            self._keep(job_id, outcome)
        waiters = self._waiters.get(job_id)
        if not waiters:
            return
        for waiter in waiters:
            waiter.push(outcome)

    def gap(self) -> None:
        self._gaps += 1  # events may be lost: fresh ids are fresh no more
        for waiters in self._waiters.values():
            for waiter in waiters:
                waiter.push(Outcome("gap"))

    def drain(self) -> None:
        """Dispatch every event received so far, now (after a pub/sub barrier)."""
        sub = self._subscription
        if sub is None:
            return
        while True:
            try:
                message = sub.receive_nowait()
            except (trio.WouldBlock, trio.EndOfChannel):
                return
            if isinstance(message, Gap):
                self.gap()
            else:
                self.dispatch(message.channel, message.data)

    async def serve(self, subscription: Subscription) -> None:
        """Dispatch until cancelled."""
        self._subscription = subscription
        async for message in subscription:
            if isinstance(message, Gap):
                self.gap()
            else:
                self.dispatch(message.channel, message.data)
