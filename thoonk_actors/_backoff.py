"""The one retry-pause rule: exponential backoff, capped, optionally jittered, reset by health.

Synopsis::

    RECONNECT = BackoffPolicy(first=0.02, maximum=1.0)
    backoff = RECONNECT.start()
    while True:
        try:
            return await connect()
        except ThoonkConnectionError:
            await trio.sleep(backoff.next_delay())   # 0.02, 0.04, 0.08 ... 1.0, 1.0

Every loop that tries again after a failure (the client's reconnects, pub/sub,
cluster redirections, restarted background loops, worker processes, the
notebook's followers) takes its pauses from here, so the rule is written once:

* the first pause is ``first``; each next one ``factor`` times longer, at most
  ``maximum``;
* ``jitter`` (a fraction, 0 by default) makes each pause up to that much
  *shorter*, at random, so processes that failed together do not retry in
  lockstep; ``maximum`` stays a true maximum (loops check it against their
  deadlines);
* a **success** starts over (:meth:`Backoff.reset`): the self-healing rule, a
  loop that worked again reacts fast to its next failure. For loops that know
  no success other than "it ran a while", :meth:`Backoff.run_started` /
  :meth:`Backoff.run_failed` reset when the run lasted ``healthy_after`` seconds;
* ``immediate``: the first failure after a reset is retried at once (pause 0),
  only failures that come right back are spaced out (a connection error whose
  wait belongs to the client's reconnect loop, see ``runtime._supervise``).

Time is a seam: the clock that measures a run is trio's (``trio.current_time``,
so tests run on ``autojump_clock``) unless ``start(clock=time.monotonic)`` is
given for a loop in a plain thread. The module never sleeps itself: the loop
sleeps the way it must (``trio.sleep``, a stop event, ``time.sleep``).
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass

import trio

from ._errors import UsageError

Clock = Callable[[], float]
"""Seconds on a monotonic clock: ``trio.current_time`` or ``time.monotonic``."""


@dataclass(frozen=True, slots=True)
class BackoffPolicy:
    """``BackoffPolicy(first=0.5, maximum=10.0, healthy_after=60.0)``: how long to pause.

    A frozen value, one per loop kind; :meth:`start` gives a loop its own
    :class:`Backoff` state. Bad settings raise :class:`UsageError` at once
    (they are module constants, so at import).
    """

    #: The first pause, seconds (> 0).
    first: float
    #: The longest pause, seconds (>= ``first``).
    maximum: float
    #: Each pause is this many times the previous one (>= 1).
    factor: float = 2.0
    #: Fraction in [0, 1]: each pause is up to this much shorter, at random.
    jitter: float = 0.0
    #: A run that lasted this long before failing starts the backoff over.
    healthy_after: float = math.inf
    #: The first failure after a reset is retried at once (pause 0).
    immediate: bool = False

    def __post_init__(self) -> None:
        if not (math.isfinite(self.first) and self.first > 0):
            raise UsageError(f"a backoff's first pause must be seconds > 0, not {self.first!r}")
        if not (math.isfinite(self.maximum) and self.maximum >= self.first):
            raise UsageError(
                f"a backoff's maximum ({self.maximum!r}) must be at least its first pause "
                f"({self.first!r})"
            )
        if not (math.isfinite(self.factor) and self.factor >= 1):
            raise UsageError(f"a backoff's factor must be >= 1, not {self.factor!r}")
        if not 0 <= self.jitter <= 1:
            raise UsageError(
                f"a backoff's jitter must be a fraction in [0, 1], not {self.jitter!r}"
            )
        if not self.healthy_after > 0:
            raise UsageError(f"healthy_after must be seconds > 0, not {self.healthy_after!r}")

    def start(
        self, *, clock: Clock | None = None, rng: Callable[[], float] = random.random
    ) -> Backoff:
        """A fresh :class:`Backoff` following this policy (``clock``: trio's if None)."""
        return Backoff(self, clock=clock, rng=rng)


class Backoff:
    """``backoff = policy.start()``: one loop's place in its :class:`BackoffPolicy`.

    Synopsis::

        backoff.run_started()                 # before each attempt
        ... the attempt fails ...
        await trio.sleep(backoff.run_failed())  # the pause; started over if it ran long

    Not shared between tasks: each loop (and each attempt sequence) starts its own.
    """

    __slots__ = ("_clock", "_next", "_rng", "_started", "policy")

    def __init__(
        self,
        policy: BackoffPolicy,
        *,
        clock: Clock | None = None,
        rng: Callable[[], float] = random.random,
    ) -> None:
        self.policy = policy
        self._clock: Clock = trio.current_time if clock is None else clock
        self._rng = rng
        self._next = 0.0
        self._started: float | None = None
        self.reset()

    def next_delay(self) -> float:
        """The pause to take now, in seconds; the one after it grows by ``factor``."""
        policy = self.policy
        delay = self._next
        self._next = min(max(delay * policy.factor, policy.first), policy.maximum)
        if policy.jitter and delay:
            delay *= 1 - policy.jitter * self._rng()
        return delay

    def reset(self) -> None:
        """A success: the next pause is the first one again (0 with ``immediate``)."""
        self._next = 0.0 if self.policy.immediate else self.policy.first

    def run_started(self) -> None:
        """An attempt (a run of the loop) starts now, by the clock."""
        self._started = self._clock()

    def run_failed(self) -> float:
        """The pause after the current run failed: started over if it lasted ``healthy_after``."""
        if self.ran_for() >= self.policy.healthy_after:
            self.reset()
        return self.next_delay()

    def ran_for(self) -> float:
        """Seconds since :meth:`run_started` (0 before the first run)."""
        return 0.0 if self._started is None else self._clock() - self._started
