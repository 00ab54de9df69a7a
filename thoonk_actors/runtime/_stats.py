"""What a running app reports: frozen snapshots, and the counters behind them.

Synopsis::

    stats = running.statistics()             # RuntimeStatistics, frozen
    stats.queue("emails").finished, stats.queue("emails").rate
    stats.actor("news").resyncs

Counters are plain ints bumped by the worker and actor tasks (no locks: one
trio thread); a snapshot copies them. Rates come from one-second buckets of
the last :data:`RATE_WINDOW` seconds, so reading them costs nothing per job.
"""

from __future__ import annotations

import bisect
import collections
from dataclasses import dataclass, field
from typing import Literal

import trio

from .._errors import UsageError

#: Seconds over which ``QueueStatistics.rate`` is averaged.
RATE_WINDOW = 5.0

AppState = Literal["starting", "running", "stopping", "stopped"]

#: Upper bounds (seconds) of the handler duration buckets: Prometheus's default
#: buckets, from 5 ms to 10 s (longer runs land in the last, unbounded bucket).
DURATION_BUCKETS: tuple[float, ...] = (
    0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
)  # fmt: skip
#: How a handler run ended, as :class:`HandlerDurations` counts it: returned a
#: result, raised, passed the registration's timeout, its claim went away
#: (revoked), or cut by a stop past the grace period.
HandlerOutcome = Literal["ok", "error", "timeout", "revoked", "cancelled"]
HANDLER_OUTCOMES: tuple[HandlerOutcome, ...] = ("ok", "error", "timeout", "revoked", "cancelled")


@dataclass(frozen=True, slots=True)
class DurationCounts:
    """How long handler runs took, by outcome: a histogram snapshot.

    Attributes:
        buckets: the upper bounds (seconds), :data:`DURATION_BUCKETS`.
        counts: outcome -> runs per bucket (not cumulative; one more entry
            than ``buckets``: the runs longer than the last bound).
        sums: outcome -> total seconds of those runs.
    """

    buckets: tuple[float, ...] = DURATION_BUCKETS
    counts: dict[HandlerOutcome, tuple[int, ...]] = field(default_factory=dict)
    sums: dict[HandlerOutcome, float] = field(default_factory=dict)

    def count(self, outcome: HandlerOutcome | None = None) -> int:
        """Runs that ended with ``outcome`` (all of them for None)."""
        outcomes = HANDLER_OUTCOMES if outcome is None else (outcome,)
        return sum(sum(self.counts.get(o, ())) for o in outcomes)


@dataclass(frozen=True, slots=True)
class QueueStatistics:
    """One job registration in this process (counts since the app started).

    Attributes:
        name: the job queue.
        concurrency: handler tasks.
        claimed: jobs this process claimed.
        in_flight: claimed and not yet settled (waiting for a handler, running,
            or waiting for their outcome to be written).
        running: handlers running right now.
        finished: finished with a result.
        failed: cancelled after an exception or a timeout (the stalled ones included).
        timed_out: of the failed, those that ran past the deadline.
        stalled: of the failed, those put aside because of ``max_cancels``.
        released: given back without counting a failure (shutdown).
        lost: claims taken back by a reaper before their outcome was written.
        rate: finished per second over the last few seconds.
        poisoned: of the stalled, jobs whose item could not be decoded (never run).
        revoked: jobs whose claim went away while held here (retracted,
            cancelled or stalled by someone else, reaped): dropped before they
            started, or their running handler cancelled; no outcome written.
    """

    name: str
    concurrency: int
    claimed: int
    in_flight: int
    running: int
    finished: int
    failed: int
    timed_out: int
    stalled: int
    released: int
    lost: int
    rate: float
    poisoned: int = 0
    revoked: int = 0
    #: How long the handler runs took, by outcome (the metrics' histogram).
    durations: DurationCounts = field(default_factory=DurationCounts)


@dataclass(frozen=True, slots=True)
class ActorStatistics:
    """One feed actor in this process.

    Attributes:
        name: the feed.
        kind: ``feed`` or ``sorted_feed``.
        handled: events given to the handler.
        buffered: events waiting in its mailbox.
        dropped: events dropped because the mailbox was full (a resync follows).
        resyncs: :class:`Resync` notices given to the handler (the first one included).
        restarts: times the actor crashed and was restarted.
    """

    name: str
    kind: str
    handled: int
    buffered: int
    dropped: int
    resyncs: int
    restarts: int


@dataclass(frozen=True, slots=True)
class RuntimeStatistics:
    """A snapshot of a running app: its state, its job queues and its actors."""

    state: AppState
    worker_id: str
    uptime: float
    queues: tuple[QueueStatistics, ...]
    actors: tuple[ActorStatistics, ...]

    def queue(self, name: str) -> QueueStatistics:
        """``stats.queue("emails")``: the statistics of that job registration."""
        for queue in self.queues:
            if queue.name == name:
                return queue
        raise UsageError(
            f"no job registration {name!r}; registered: {[q.name for q in self.queues]}"
        )

    def actor(self, name: str) -> ActorStatistics:
        """``stats.actor("news")``: the statistics of that feed actor."""
        for actor in self.actors:
            if actor.name == name:
                return actor
        raise UsageError(
            f"no feed registration {name!r}; registered: {[a.name for a in self.actors]}"
        )


class RateMeter:
    """Events per second over the last ``window`` seconds, from one-second buckets."""

    __slots__ = ("_buckets", "_started", "_window")

    def __init__(self, window: float = RATE_WINDOW) -> None:
        self._window = window
        self._buckets: collections.deque[list[int]] = collections.deque()
        self._started = trio.current_time()

    def add(self, count: int) -> None:
        second = int(trio.current_time())
        buckets = self._buckets
        if buckets and buckets[-1][0] == second:
            buckets[-1][1] += count
            return
        buckets.append([second, count])
        while buckets and buckets[0][0] <= second - self._window - 1:
            buckets.popleft()

    def rate(self) -> float:
        now = trio.current_time()
        span = min(self._window, max(now - self._started, 1e-3))
        total = sum(count for second, count in self._buckets if second + 1 > now - span)
        return total / span


class HandlerDurations:
    """``durations.observe(0.12, "ok")``: count a handler run in its bucket (one bisect).

    The mutable side of :class:`DurationCounts`; plain ints, bumped on the
    trio thread like the other counters.
    """

    __slots__ = ("_counts", "_sums")

    def __init__(self) -> None:
        self._counts: dict[HandlerOutcome, list[int]] = {}
        self._sums: dict[HandlerOutcome, float] = {}

    def observe(self, seconds: float, outcome: HandlerOutcome) -> None:
        counts = self._counts.get(outcome)
        if counts is None:
            counts = self._counts[outcome] = [0] * (len(DURATION_BUCKETS) + 1)
            self._sums[outcome] = 0.0
        counts[bisect.bisect_left(DURATION_BUCKETS, seconds)] += 1
        self._sums[outcome] += seconds

    def snapshot(self) -> DurationCounts:
        return DurationCounts(
            counts={outcome: tuple(counts) for outcome, counts in self._counts.items()},
            sums=dict(self._sums),
        )


class QueueCounters:
    """The mutable counters of one job registration (see :class:`QueueStatistics`)."""

    __slots__ = (
        "claimed", "durations", "failed", "finished", "lost", "meter", "poisoned", "released",
        "revoked", "running", "stalled", "timed_out",
    )  # fmt: skip

    def __init__(self) -> None:
        self.claimed = 0
        self.running = 0
        self.finished = 0
        self.failed = 0
        self.timed_out = 0
        self.stalled = 0
        self.released = 0
        self.lost = 0
        self.poisoned = 0
        self.revoked = 0
        self.meter = RateMeter()
        self.durations = HandlerDurations()


class ActorCounters:
    """The mutable counters of one feed actor (see :class:`ActorStatistics`)."""

    __slots__ = ("handled", "restarts", "resyncs")

    def __init__(self) -> None:
        self.handled = 0
        self.resyncs = 0
        self.restarts = 0
