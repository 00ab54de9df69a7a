"""The garbage collector paused while an app's actors start (measured: issue 12).

Synopsis::

    pause = StartPause(expected=len(actors))   # collector off, if it was on
    ...                                        # each actor: pause.started() after its start resync
    nursery.start_soon(pause.serve)            # on again once all started, or after LIMIT_S
    pause.release()                            # (idempotent) in a finally

Starting 10,000 actors allocates a few hundred thousand long-lived objects
(actors, mailboxes, tasks, snapshots); the collector traverses them again and
again while they pile up (about 800 young and 6 full collections, 0.3-0.7 s of
a 1.3 s start-up on the benchmark machine). None of them is garbage, so the
pause frees nothing later. The collector is only touched if it was enabled,
and a process-wide count keeps two apps starting at once from turning it on
under each other. It never stays off for more than :data:`LIMIT_S` seconds.
"""

from __future__ import annotations

import gc

import trio

#: Longest pause, in seconds, however long the start-up takes (slow handlers, Redis).
LIMIT_S = 10.0

# How many StartPause hold the collector off, and whether it was on before the first.
_holders = 0
_was_enabled = False


class StartPause:
    """Holds the collector off until ``expected`` actors said :meth:`started` (see module)."""

    __slots__ = ("_all_started", "_held", "_remaining")

    def __init__(self, expected: int) -> None:
        global _holders, _was_enabled
        self._remaining = expected
        self._all_started = trio.Event()
        self._held = expected > 0
        if not self._held:
            self._all_started.set()
            return
        if _holders == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _holders += 1

    def started(self) -> None:
        """One actor had its start resync."""
        self._remaining -= 1
        if self._remaining <= 0:
            self._all_started.set()
            self.release()

    def release(self) -> None:
        """Give the collector back (once); on again if it was on and nobody else holds it."""
        global _holders
        if not self._held:
            return
        self._held = False
        _holders -= 1
        if _holders == 0 and _was_enabled:
            gc.enable()

    async def serve(self) -> None:
        """Release after :data:`LIMIT_S` seconds at the latest."""
        with trio.move_on_after(LIMIT_S):
            await self._all_started.wait()
        self.release()
