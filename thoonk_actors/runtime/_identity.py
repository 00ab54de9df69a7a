"""Which worker id a job worker claims under, and the ids it gave up.

Synopsis::

    ids = ClaimIdentities("host:123:ab12cd")
    await job.claim_many(n, worker_id=ids.current)
    ids.retire(outstanding)         # a claim broke in flight: claim under a new id
    ids.beating()                   # every id that still needs heartbeats
    ids.settled(outstanding)        # retired ids none of our known jobs use any more

Why: when the connection breaks while a claim script is in flight, the
script may have claimed jobs whose reply never arrived. Nobody knows them,
and as long as their owner (this worker's id) keeps beating, no reaper takes
them back until the queue's timeout. So the worker claims under a fresh id
from then on, keeps the old one beating while jobs it *does* know were
claimed under it, and once they are settled says goodbye for the old id
(``heartbeat(leave=True)``): the next reap sweep returns the unknown claims.
"""

from __future__ import annotations

from collections.abc import Mapping


class ClaimIdentities:
    """The current claim id and the retired ones (see the module doc)."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.current = base
        self._generation = 0
        # retired id -> tokens of the jobs claimed under it (or earlier) still held then
        self._retired: dict[str, set[str]] = {}

    def retire(self, outstanding: Mapping[str, object]) -> None:
        """Claim under a new id from now on; the old one lives while its jobs are held."""
        self._retired[self.current] = set(outstanding)
        self._generation += 1
        self.current = f"{self.base}.{self._generation}"

    def beating(self) -> list[str]:
        """Every id that needs heartbeats: the current one and the retired ones in use."""
        return [self.current, *self._retired]

    def settled(self, outstanding: Mapping[str, object]) -> list[str]:
        """Retired ids whose known jobs are all settled (forgotten here: leave them)."""
        done = [
            identity
            for identity, tokens in self._retired.items()
            if not any(token in outstanding for token in tokens)
        ]
        for identity in done:
            del self._retired[identity]
        return done
