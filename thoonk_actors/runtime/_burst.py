"""Burst mode: stop the app once there is nothing left to do.

Synopsis::

    await app.run(burst=True)      # returns when every queue is drained

"Nothing left" is the runtime's one drained rule (``_drain``, what
:meth:`RunningApp.wait_drained` waits for): every registered job queue has
no queued, no claimed and no scheduled job, nothing is in flight here, and
every feed actor has handled what reached its mailbox. Stalled jobs do not
keep a burst going.
"""

from __future__ import annotations

import logging

from ._running import RunningApp
from ._supervise import supervise

log = logging.getLogger(__name__)


async def stop_when_drained(running: RunningApp) -> None:
    """Call ``running.stop_nowait()`` once every queue is drained (see the module doc)."""

    async def watch() -> None:
        if await running.wait_drained():
            log.info("burst: every queue is drained; stopping")
            running.stop_nowait()

    await supervise(watch, what="burst watcher", logger=log)
