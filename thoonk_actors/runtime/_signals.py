"""Stop a running app on SIGINT / SIGTERM.

Synopsis::

    async with app.open() as running, trio.open_nursery() as nursery:
        await nursery.start(stop_on_signals, running)   # or app.run(handle_signals=True)
        await running.wait_stopped()

First signal: a graceful stop (claim no more, in-flight handlers get the
grace period). Second: stop now (handlers cancelled, their jobs released).
Third: cancel everything (the release still runs, shielded and bounded).
Only in the main thread (trio's rule for signal handlers).
"""

from __future__ import annotations

import logging
import signal
from collections.abc import Iterable

import trio

from ._running import RunningApp

log = logging.getLogger(__name__)

STOP_SIGNALS: tuple[signal.Signals, ...] = (signal.SIGINT, signal.SIGTERM)


async def stop_on_signals(
    running: RunningApp,
    grace: float | None = None,
    *,
    signals: Iterable[signal.Signals] = STOP_SIGNALS,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    """``await nursery.start(stop_on_signals, running)``: signals stop ``running`` (module doc)."""
    with trio.open_signal_receiver(*signals) as received:
        task_status.started()
        count = 0
        async for signum in received:
            count += 1
            name = signal.Signals(signum).name
            if count == 1:
                seconds = running.grace if grace is None else grace
                log.info(
                    "%s: stopping; running handlers get %g s to finish (send it again to "
                    "stop at once)", name, seconds,
                )  # fmt: skip
                running.stop_nowait(grace)
            elif count == 2:
                log.warning("%s again: cancelling running handlers, releasing their jobs", name)
                running.stop_nowait(0)
            else:
                log.warning("%s a third time: cancelling everything", name)
                running.cancel()
