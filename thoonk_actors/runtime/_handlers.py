"""The handler tasks of one job registration, and the watchdog that enforces deadlines.

Synopsis::

    handlers = Handlers(registration, jobs_receive, outcomes_send, counters, done=on_done)
    await handlers.serve(stopping)     # returns once the jobs channel is closed and drained

``concurrency`` tasks take claimed jobs from the channel and put one
``(job, result, error)`` outcome each into the outcome channel. This is the
per-job hot path, so it is kept lean: a task takes a job without waiting
when one is buffered (checkpointing every :data:`STREAK` jobs, so it never
hogs the loop), and deadlines are enforced by one watchdog task rather than
a cancel scope per job. Each task runs its loop in a cancel scope of its own;
the watchdog cancels that scope when the task's current job passed its
deadline, the task reports the timeout and carries on in a new scope.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import partial
from typing import Any

import trio

from ..objects import ClaimedJob
from ._current import CURRENT_JOB
from ._registry import JobRegistration
from ._stats import QueueCounters
from ._supervise import supervise
from ._writer import Outcome

log = logging.getLogger(__name__)

#: Jobs a task takes from a full channel before it checkpoints.
STREAK = 8


class _Slot:
    """One handler task: the job it runs (None between jobs), since when, its scope."""

    __slots__ = ("job", "scope", "started")

    def __init__(self) -> None:
        self.job: ClaimedJob | None = None
        self.started = 0.0
        self.scope = trio.CancelScope()


class Handlers:
    """Runs ``registration.concurrency`` handler tasks (see the module doc)."""

    def __init__(
        self,
        registration: JobRegistration,
        receive: trio.MemoryReceiveChannel[ClaimedJob],
        send: trio.MemorySendChannel[Outcome],
        counters: QueueCounters,
        *,
        done: Callable[[], None],
    ) -> None:
        self.registration = registration
        self._receive = receive
        self._send = send
        self._counters = counters
        self._done = done
        self._slots = [_Slot() for _ in range(registration.concurrency)]
        handler = registration.handler
        if registration.is_async:
            self._call: Callable[[Any], Any] = handler
        else:
            limiter = trio.CapacityLimiter(registration.concurrency)

            async def in_thread(item: Any) -> Any:
                # A plain def runs in a thread; on a timeout or shutdown it is
                # abandoned (it cannot be interrupted) and its result ignored.
                return await trio.to_thread.run_sync(
                    handler, item, limiter=limiter, abandon_on_cancel=True
                )

            self._call = in_thread

    async def serve(self, stopping: trio.Event) -> None:
        """Handle jobs until the channel is closed and empty."""
        async with trio.open_nursery() as nursery:
            if self.registration.timeout is not None:
                nursery.start_soon(self._watchdog, self.registration.timeout)
            async with trio.open_nursery() as tasks:
                for slot in self._slots:
                    tasks.start_soon(
                        partial(
                            supervise,
                            partial(self._serve_slot, slot),
                            what=self.registration.label,
                            logger=log,
                            stopping=stopping,
                        )
                    )
            nursery.cancel_scope.cancel()

    async def _serve_slot(self, slot: _Slot) -> None:
        while True:
            with trio.CancelScope() as slot.scope:
                await self._loop(slot)
                return
            job = slot.job
            if job is not None:  # the watchdog cut it
                slot.job = None
                error = f"timed out after {self.registration.timeout:g}s"
                self._counters.timed_out += 1
                log.warning("job %s of %r %s", job.id, job.queue, error)
                await self._send.send((job, None, error))

    async def _loop(self, slot: _Slot) -> None:
        receive_nowait = self._receive.receive_nowait
        receive = self._receive.receive
        send_nowait = self._send.send_nowait
        send = self._send.send
        call = self._call
        counters = self._counters
        done = self._done
        clock = trio.current_time
        scope = slot.scope
        streak = 0
        while True:
            if streak >= STREAK or scope.cancel_called:
                # (A deadline that struck as the last job returned must not
                # hit the next one: the checkpoint raises here, between jobs.)
                streak = 0
                await trio.lowlevel.checkpoint()
            try:
                job = receive_nowait()
                streak += 1
            except trio.WouldBlock:
                try:
                    job = await receive()
                except trio.EndOfChannel:
                    return
                streak = 0
            except trio.EndOfChannel:
                return
            slot.job = job
            slot.started = clock()
            counters.running += 1
            context = CURRENT_JOB.set(job)
            result: Any = None
            error: str | None = None
            try:
                result = await call(job.item)
            except Exception as exc:
                error = f"{type(exc).__name__}: {exc}"
                log.warning("job %s of %r failed: %s", job.id, job.queue, error, exc_info=exc)
            finally:
                CURRENT_JOB.reset(context)
                counters.running -= 1
                done()
            slot.job = None
            outcome = (job, result, error)
            try:
                send_nowait(outcome)
            except trio.WouldBlock:
                await send(outcome)

    async def _watchdog(self, seconds: float) -> None:
        slots = self._slots
        while True:
            now = trio.current_time()
            wake = now + seconds
            for slot in slots:
                if slot.job is not None:
                    deadline = slot.started + seconds
                    if deadline <= now:
                        slot.scope.cancel()
                    elif deadline < wake:
                        wake = deadline
            await trio.sleep_until(wake)
