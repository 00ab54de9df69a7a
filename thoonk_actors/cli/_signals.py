"""Ctrl-C as the normal end of a command that runs until stopped (``feed tail``, ``top``).

Synopsis::

    async with trio.open_nursery() as nursery:
        await nursery.start(cancel_on_sigint, nursery.cancel_scope)
        await follow()          # cancelled by Ctrl-C: the command ends with exit 0
"""

from __future__ import annotations

import signal

import trio


async def cancel_on_sigint(
    scope: trio.CancelScope, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
) -> None:
    """Cancel ``scope`` on the first SIGINT, instead of raising KeyboardInterrupt."""
    with trio.open_signal_receiver(signal.SIGINT) as signals:
        task_status.started()
        async for _ in signals:
            scope.cancel()
            return
