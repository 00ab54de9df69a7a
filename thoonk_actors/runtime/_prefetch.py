"""How many jobs one worker claims ahead of its free handlers (fixed, or adaptive).

Synopsis::

    policy = Prefetch(concurrency=16, prefetch=None)   # None: adaptive; an int: fixed
    policy.observe(now, started)      # before each claim decision (started: jobs the
                                      # handlers took from the buffer, ever)
    policy.claimed(asked, got)        # after each claim
    policy.handed(now, count)         # after handing the claimed jobs to the handlers
    if nth >= policy.head_end:        # a handler takes the nth job handed, ever
        policy.taken(now, nth)
    policy.capacity, policy.refill, policy.prefetch, policy.largest

The claimer keeps at most ``capacity = concurrency + prefetch`` jobs claimed
and not yet handled, and tops up once ``refill`` slots are free. Bigger
claims cost the worker and Redis less per job (one claim script carries
``refill`` or more jobs), but every job waiting in a process's buffer is a
job that another process cannot run, and that waits.

Adaptive (``prefetch=None``, the default) bounds that wait by time, measured:
the policy knows when each batch went into the buffer and when the handlers
took its last job, so it knows how long the jobs waited (the longest wait
since the last claim, and the age of the oldest job still waiting). The
prefetch starts at :func:`floor` (a quarter of the concurrency); after a
claim that came back full (the queue has a backlog) it doubles, up to
:data:`CEILING`, provided the handlers took a whole batch since the previous
claim and took it quickly (no job waited more than half of :data:`HORIZON`);
as soon as a job has waited longer than ``HORIZON``, it shrinks in proportion
(never below the floor). Fast handlers therefore get claims of up to
``MAX_CLAIM_BATCH`` jobs, while slow ones keep a buffer of about ``HORIZON``
of their work (or the floor), the backlog staying in Redis for the other
processes. Pure bookkeeping, no I/O: the worker feeds it.
"""

from __future__ import annotations

import sys
from collections import deque

from ._registry import MAX_CLAIM_BATCH

#: Longest a job should wait unstarted in one process's buffer, seconds.
HORIZON = 0.025
#: Largest adaptive prefetch: enough for claims of MAX_CLAIM_BATCH jobs.
CEILING = 4 * MAX_CLAIM_BATCH
#: Growth factor after a full claim whose jobs were taken quickly.
GROWTH = 2


def floor(concurrency: int) -> int:
    """The smallest adaptive prefetch: enough that a claim carries several jobs."""
    return max(1, concurrency // 4)


class Prefetch:
    """The claimer's prefetch: fixed (an int given) or adaptive (None); see the module doc."""

    __slots__ = (
        "_batches",
        "_handed",
        "adaptive",
        "capacity",
        "ceiling",
        "concurrency",
        "floor",
        "head_end",
        "horizon",
        "prefetch",
        "refill",
        "took",
        "waited",
    )

    def __init__(
        self,
        concurrency: int,
        prefetch: int | None,
        *,
        horizon: float = HORIZON,
        ceiling: int = CEILING,
    ) -> None:
        self.concurrency = concurrency
        self.adaptive = prefetch is None
        self.horizon = horizon
        self.floor = floor(concurrency)
        self.ceiling = max(self.floor, ceiling)
        #: The longest a job waited in the buffer since the last claim (or waits, still there).
        self.waited = 0.0
        #: Whether the handlers took a whole batch since the last claim (evidence to grow).
        self.took = False
        self._handed = 0  # jobs handed to the handlers, ever
        # (time handed, self._handed after it) of each batch not wholly taken yet
        self._batches: deque[tuple[float, int]] = deque()
        #: The number (counting from 1) of the last job of the oldest batch not wholly taken.
        self.head_end = sys.maxsize
        self.prefetch = self.capacity = self.refill = 0
        self._set(self.floor if prefetch is None else prefetch)

    def __repr__(self) -> str:
        mode = "adaptive" if self.adaptive else "fixed"
        return f"<Prefetch {mode} {self.prefetch} (capacity {self.capacity}, refill {self.refill})>"

    @property
    def largest(self) -> int:
        """The most ``capacity`` will ever be: what bounds the worker's job buffer."""
        return self.concurrency + (self.ceiling if self.adaptive else self.prefetch)

    def _set(self, prefetch: int) -> None:
        self.prefetch = prefetch
        self.capacity = self.concurrency + prefetch
        refill = max(1, min(MAX_CLAIM_BATCH, self.capacity // 4))
        if self.adaptive:
            # Top up before the buffer runs dry, or handlers would idle until refill
            # of them are free (with a small prefetch and a large concurrency).
            refill = min(refill, prefetch)
        self.refill = refill

    def handed(self, now: float, count: int) -> None:
        """``count`` claimed jobs went into the buffer at ``now``."""
        if self.adaptive and count > 0:
            self._handed += count
            self._batches.append((now, self._handed))
            if len(self._batches) == 1:
                self.head_end = self._handed

    def taken(self, now: float, nth: int) -> None:
        """A handler takes the ``nth`` job handed (ever) at ``now``: note how long it waited."""
        batches = self._batches
        while batches and batches[0][1] <= nth:
            waited = now - batches.popleft()[0]
            self.took = True
            if waited > self.waited:
                self.waited = waited
        self.head_end = batches[0][1] if batches else sys.maxsize

    def observe(self, now: float, started: int) -> None:
        """The handlers have taken ``started`` jobs from the buffer so far (ever).

        Shrinks the prefetch at once when a job waited longer than ``horizon``.
        """
        if not self.adaptive:
            return
        batches = self._batches
        while batches and batches[0][1] <= started:
            # Taken unseen by taken(): by a handler that was idle, so at once.
            batches.popleft()
            self.took = True
        self.head_end = batches[0][1] if batches else sys.maxsize
        if batches and now - batches[0][0] > self.waited:
            self.waited = now - batches[0][0]
        if self.waited > self.horizon and self.prefetch > self.floor:
            self._set(max(self.floor, int(self.prefetch * self.horizon / self.waited)))

    def claimed(self, asked: int, got: int) -> None:
        """After a claim of ``asked`` jobs that returned ``got``: grow while there is a backlog."""
        waited, took = self.waited, self.took
        self.waited, self.took = 0.0, False  # a new window
        if not self.adaptive or asked <= 0 or got < asked or not took:
            return
        if waited > self.horizon / 2:
            return
        grown = min(self.prefetch * GROWTH, self.ceiling)
        if grown > self.prefetch:
            self._set(grown)
