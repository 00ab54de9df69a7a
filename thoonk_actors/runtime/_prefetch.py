"""How many jobs one worker claims ahead of its free handlers (fixed, or adaptive).

Synopsis::

    policy = Prefetch(concurrency=16, prefetch=None)   # None: adaptive; an int: fixed
    policy.observe(trio.current_time(), handled)  # before each claim decision
    policy.claimed(asked, got)                    # after each claim
    policy.idle()                                 # the claimer waits for work (no backlog)
    policy.capacity, policy.refill, policy.prefetch

The claimer keeps at most ``capacity = concurrency + prefetch`` jobs claimed
and not yet handled, and tops up once ``refill`` slots are free. Bigger
claims cost the worker and Redis less per job (one claim script carries
``refill`` or more jobs), but every job waiting in a process's buffer is a
job another process cannot run.

Adaptive (``prefetch=None``, the default): the prefetch starts at
:func:`floor` (a quarter of the concurrency) and doubles after every claim
that came back full (the queue has a backlog), up to :data:`CEILING`; it is
also bounded by time: never more than :data:`HORIZON` seconds of work at the
handlers' measured completion rate, so fast handlers get claims of up to
:data:`~thoonk_actors.runtime._registry.MAX_CLAIM_BATCH` jobs while slow ones
keep a small buffer (and the backlog stays in Redis for other processes).
The rate is an exponentially weighted average (time constant
:data:`SMOOTHING`) over the periods when the claimer had work: waiting for
an empty queue does not count as slow handlers. Pure bookkeeping, no I/O:
the worker feeds it (see ``runtime/_worker.py``).
"""

from __future__ import annotations

import math

from ._registry import MAX_CLAIM_BATCH

#: Most seconds of work (at the measured rate) that may wait unstarted in one process.
HORIZON = 0.025
#: Largest adaptive prefetch: enough for claims of MAX_CLAIM_BATCH jobs.
CEILING = 4 * MAX_CLAIM_BATCH
#: Time constant of the completion-rate average, seconds.
SMOOTHING = 0.25
#: Shortest interval that gives the first rate sample, seconds.
FIRST_SAMPLE = 0.001
#: Growth factor after a full claim.
GROWTH = 2


def floor(concurrency: int) -> int:
    """The smallest adaptive prefetch: enough that a claim carries several jobs."""
    return max(1, concurrency // 4)


class Prefetch:
    """The claimer's prefetch: fixed (an int given) or adaptive (None); see the module doc."""

    __slots__ = (
        "_since",
        "_since_handled",
        "adaptive",
        "capacity",
        "ceiling",
        "concurrency",
        "floor",
        "horizon",
        "prefetch",
        "rate",
        "refill",
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
        #: handler completions per second while there was work (None: not measured yet).
        self.rate: float | None = None
        self._since: float | None = None
        self._since_handled = 0
        self.prefetch = self.capacity = self.refill = 0
        self._set(self.floor if prefetch is None else prefetch)

    def __repr__(self) -> str:
        mode = "adaptive" if self.adaptive else "fixed"
        return f"<Prefetch {mode} {self.prefetch} (capacity {self.capacity}, refill {self.refill})>"

    def _set(self, prefetch: int) -> None:
        self.prefetch = prefetch
        self.capacity = self.concurrency + prefetch
        refill = max(1, min(MAX_CLAIM_BATCH, self.capacity // 4))
        if self.adaptive:
            # Top up before the buffer runs dry, or handlers would idle until refill
            # of them are free (with a small prefetch and a large concurrency).
            refill = max(1, min(refill, prefetch))
        self.refill = refill

    def bound(self) -> int:
        """The time bound: at most ``horizon`` seconds of work at the measured rate."""
        if self.rate is None:
            return self.ceiling
        return max(self.floor, min(self.ceiling, math.floor(self.rate * self.horizon)))

    def observe(self, now: float, handled: int) -> None:
        """Sample the handlers' completion count (``handled`` only grows) at ``now``.

        Shrinks the prefetch at once when it holds more than ``horizon`` of work.
        """
        if not self.adaptive:
            return
        since = self._since
        if since is None:
            self._since, self._since_handled = now, handled
            return
        elapsed = now - since
        if elapsed <= 0 or (self.rate is None and elapsed < FIRST_SAMPLE):
            return  # keep accumulating
        sample = (handled - self._since_handled) / elapsed
        if self.rate is None:
            self.rate = sample
        else:
            self.rate += (1 - math.exp(-elapsed / SMOOTHING)) * (sample - self.rate)
        self._since, self._since_handled = now, handled
        bound = self.bound()
        if self.prefetch > bound:
            self._set(bound)

    def claimed(self, asked: int, got: int) -> None:
        """After a claim of ``asked`` jobs that returned ``got``: grow while there is a backlog."""
        if not self.adaptive or asked <= 0 or got < asked or self.rate is None:
            return
        grown = min(self.prefetch * GROWTH, self.bound())
        if grown > self.prefetch:
            self._set(grown)

    def idle(self) -> None:
        """The claimer waits for work: the time until it has some is not the handlers' rate."""
        self._since = None
