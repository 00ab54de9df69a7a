"""The one "drained" rule: nothing left to do, as something to await.

Synopsis::

    await wait_drained(workers, actors, activity)   # running.wait_drained() uses it

"Drained" means: every job queue of ``workers`` has no queued, no claimed
and no scheduled job (a retry waiting out its backoff is work still to do;
by any worker, in any process: ``Job.statistics()``), nothing claimed here
is unsettled, and every feed actor has handled what reached its mailbox.
Stalled jobs do not count. Burst mode (``app.run(burst=True)``) and the sync
facade's ``worker.wait()`` both wait on it.

No polling: the waiter looks again only when something happened -- an event
of one of the queues (published, finished, retried... by anyone), a claim of
this process settled (:class:`Claims` emptied), an actor's mailbox found empty
(the app's :class:`~thoonk_actors._overflow.Activity`). Redis is asked for the
queues' counts only when this process is idle, at most once per
:data:`SETTLE` seconds (a burst of events makes one look, not hundreds).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, TypeVar, overload

import trio

from .._nursery import open_service_nursery
from .._overflow import Activity
from ..objects import ClaimedJob

if TYPE_CHECKING:
    from ._actor import FeedActor
    from ._worker import JobWorker

#: Shortest time between two looks at the queues' counts in Redis.
SETTLE = 0.05

T = TypeVar("T")


class Claims(dict[str, ClaimedJob]):
    """token -> job for every claim of a worker not yet settled; emptied, it tells ``activity``.

    Every settlement (outcome written, released, dropped, stalled) pops its
    claim here, so this is the one place that knows the worker went idle.
    """

    __slots__ = ("activity",)

    def __init__(self, activity: Activity) -> None:
        super().__init__()
        self.activity = activity

    @overload
    def pop(self, key: str, /) -> ClaimedJob: ...
    @overload
    def pop(self, key: str, default: ClaimedJob, /) -> ClaimedJob: ...
    @overload
    def pop(self, key: str, default: T, /) -> ClaimedJob | T: ...

    def pop(self, key: str, *default: object) -> object:
        value = super().pop(key, *default)
        if not self:
            self.activity.settled()
        return value


def _idle(workers: Sequence[JobWorker], actors: Sequence[FeedActor]) -> bool:
    return all(w.idle for w in workers) and all(a.idle for a in actors)


async def _queues_empty(workers: Sequence[JobWorker]) -> bool:
    for worker in workers:
        stats = await worker.job.statistics()
        if stats.available or stats.claimed or stats.scheduled:
            return False
    return True


async def _follow(
    worker: JobWorker, activity: Activity, task_status: trio.TaskStatus[None]
) -> None:
    """Every event of the worker's queue (a gap too) makes the waiter look again."""
    async with worker.job.events() as events:
        task_status.started()
        async for _ in events:
            activity.settled()


async def wait_drained(
    workers: Sequence[JobWorker], actors: Sequence[FeedActor], activity: Activity
) -> None:
    """Return once everything is drained (see the module doc)."""
    async with open_service_nursery() as nursery:
        for worker in workers:
            # Subscribed before the first look: no change after it is missed.
            await nursery.start(_follow, worker, activity)
        looked = -SETTLE
        while True:
            seen = activity.settles
            if _idle(workers, actors):
                await trio.sleep_until(looked + SETTLE)
                looked = trio.current_time()
                # Idle here again after Redis answered: a claim may have landed meanwhile.
                if await _queues_empty(workers) and _idle(workers, actors):
                    nursery.cancel_scope.cancel()
                    return
            await activity.wait_settled(seen)
