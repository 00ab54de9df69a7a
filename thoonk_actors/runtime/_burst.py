"""Burst mode: stop the app once there is nothing left to do.

Synopsis::

    await app.run(burst=True)      # returns when every queue is drained

"Nothing left" means: every registered job queue has no queued, no claimed
and no scheduled job (a retry waiting out its backoff is work still to do;
by any worker, in any process: ``Job.statistics()``), and
nothing is in flight here; and every feed actor has handled what reached its
mailbox. Local state is checked every :data:`POLL` seconds (no Redis call);
the queues' counts only when the local state is idle. Stalled jobs do not
keep a burst going.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import trio

from ._actor import FeedActor
from ._running import RunningApp
from ._supervise import supervise
from ._worker import JobWorker

log = logging.getLogger(__name__)

POLL = 0.05


async def stop_when_drained(
    running: RunningApp, workers: Sequence[JobWorker], actors: Sequence[FeedActor]
) -> None:
    """Call ``running.stop_nowait()`` once every queue is drained (see the module doc)."""

    async def watch() -> None:
        while True:
            await trio.sleep(POLL)
            if not all(w.idle for w in workers) or not all(a.idle for a in actors):
                continue
            drained = True
            for worker in workers:
                stats = await worker.job.statistics()
                if stats.available or stats.claimed or stats.scheduled:
                    drained = False
                    break
            if drained and all(w.idle for w in workers):
                log.info("burst: every queue is drained; stopping")
                running.stop_nowait()
                return

    await supervise(watch, what="burst watcher", logger=log)
