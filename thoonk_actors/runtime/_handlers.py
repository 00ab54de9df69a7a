"""The handler tasks of one job registration, and the watchdog that enforces deadlines.

Synopsis::

    handlers = Handlers(registration, jobs_receive, outcomes_send, counters,
                        done=on_done, dropped=on_dropped)
    handlers.waiting[job.token] = job          # as the claimer sends a job
    handlers.revoke(job.token, "retracted")    # its claim went away: skip or cancel it
    await handlers.serve(stopping)     # returns once the jobs channel is closed and drained

``concurrency`` tasks take claimed jobs from the channel and put one
``(job, result, error)`` outcome each into the outcome channel (or, when it
was the worker's only job and the writers are idle, write it themselves:
``write_now``, one task switch less on an idle worker's round trip). This is the
per-job hot path, so it is kept lean: a task takes a job without waiting
when one is buffered (checkpointing every :data:`STREAK` jobs, so it never
hogs the loop), and deadlines are enforced by one watchdog task rather than
a cancel scope per job. Each task runs its loop in a cancel scope of its own;
the watchdog cancels that scope when the task's current job passed its
deadline, the task reports the timeout and carries on in a new scope.

A job whose claim went away (retracted, cancelled or stalled by someone
else, reaped) is *revoked*: if it is still buffered it is dropped before it
starts; if its handler runs, the handler is cancelled through its task's
cancel scope. Either way no outcome is written (the claim is not ours) and
``dropped(job, cause)`` is told.

Plain ``def`` handlers run in threads, which cannot be interrupted. So a
thread's job keeps its claim and its slot until the thread returns: a
timed-out (or revoked) thread is waited for, and only then reported failed
(or dropped); the next job of that slot never shares a thread budget with
it. Its deadline starts when it got a thread, not while it waited for one.
Only a stop past the grace period abandons a running thread (the process
is ending; its job is released).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

import trio

from ..objects import ClaimedJob
from ._current import CURRENT_JOB
from ._registry import JobRegistration
from ._stats import HandlerOutcome, QueueCounters
from ._supervise import supervise
from ._writer import Outcome

log = logging.getLogger(__name__)

#: Jobs a task takes from a full channel before it checkpoints.
STREAK = 8


class _Slot:
    """One handler task: its job (None between jobs), since when, its scope, and why cut."""

    __slots__ = ("job", "revoked", "scope", "started", "timed_out")

    def __init__(self) -> None:
        self.job: ClaimedJob | None = None
        self.started = 0.0
        self.scope = trio.CancelScope()
        self.timed_out = False
        self.revoked: str | None = None


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
        dropped: Callable[[ClaimedJob, str], None],
        write_now: Callable[[Outcome], Awaitable[bool]] | None = None,
    ) -> None:
        self.registration = registration
        self._write_now = write_now
        self._receive = receive
        self._send = send
        self._counters = counters
        self._done = done
        self._dropped = dropped
        #: token -> job: sent to the handlers and not taken yet (the claimer fills it).
        self.waiting: dict[str, ClaimedJob] = {}
        #: token -> cause: buffered jobs to drop instead of running.
        self._revoked: dict[str, str] = {}
        self._slots = [_Slot() for _ in range(registration.concurrency)]
        self._threads = not registration.is_async
        # One thread per slot at most, so a slot never waits for a thread that an
        # earlier job of another slot still holds; trio's own limiter is not used
        # (its tokens are shared with every other to_thread call of the process).
        self._thread_slots = trio.CapacityLimiter(registration.concurrency)
        self._no_limit = trio.CapacityLimiter(math.inf)

    # ---------------------------------------------------------- revocation

    def unsettled(self, token: str) -> bool:
        """Whether the job of ``token`` is still buffered or running (no outcome yet)."""
        if token in self.waiting:
            return True
        return any(slot.job is not None and slot.job.token == token for slot in self._slots)

    def revoke(self, token: str, cause: str) -> bool:
        """The claim of ``token`` went away: drop it if buffered, cancel it if running.

        Returns False when the job already has its outcome, or was revoked
        already (nothing to do).
        """
        if token in self.waiting:
            if token in self._revoked:
                return False
            self._revoked[token] = cause
            return True
        for slot in self._slots:
            job = slot.job
            if job is not None and job.token == token and slot.revoked is None:
                slot.revoked = cause
                if not self._threads:
                    slot.scope.cancel()
                return True
        return False

    # ------------------------------------------------------------- serving

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
            if job is None:
                continue
            slot.job = None
            if slot.revoked is not None:  # its claim went away: no outcome is ours to write
                self._dropped(job, slot.revoked)
                continue
            # the watchdog cut it
            error = f"timed out after {self.registration.timeout:g}s"
            self._counters.timed_out += 1
            log.warning("job %s of %r %s", job.id, job.queue, error)
            await self._send.send((job, None, error))

    async def _loop(self, slot: _Slot) -> None:
        receive_nowait = self._receive.receive_nowait
        receive = self._receive.receive
        send_nowait = self._send.send_nowait
        send = self._send.send
        write_now = self._write_now
        buffered = self._receive.statistics
        handler = self.registration.handler
        threads = self._threads
        waiting = self.waiting
        revoked = self._revoked
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
            waiting.pop(job.token, None)
            if revoked:
                cause = revoked.pop(job.token, None)
                if cause is not None:  # its claim went away while it waited
                    done()
                    self._dropped(job, cause)
                    continue
            slot.job = job
            slot.timed_out = False
            slot.revoked = None
            slot.started = clock()
            counters.running += 1
            context = CURRENT_JOB.set(job)
            result: Any = None
            error: str | None = None
            returned = False
            try:
                if threads:
                    result = await self._in_thread(slot, handler, job.item)
                else:
                    result = await handler(job.item)
                returned = True
            except Exception as exc:
                error = f"{type(exc).__name__}: {exc}"
                if slot.revoked is None:
                    log.warning("job %s of %r failed: %s", job.id, job.queue, error, exc_info=exc)
            finally:
                CURRENT_JOB.reset(context)
                counters.running -= 1
                counters.durations.observe(clock() - slot.started, _outcome(slot, returned, error))
                done()
            slot.job = None
            if slot.revoked is not None:  # a thread that returned after its claim went away
                self._dropped(job, slot.revoked)
                continue
            if slot.timed_out:
                ran = clock() - slot.started
                error = (
                    f"timed out after {self.registration.timeout:g}s (its thread could not be "
                    f"interrupted and returned after {ran:.3g}s; its result was dropped)"
                )
                result = None
                counters.timed_out += 1
                log.warning("job %s of %r %s", job.id, job.queue, error)
            outcome = (job, result, error)
            # The worker's only job (nothing buffered, no other handler running)
            # and the writers idle: write it here. Under load it goes to the
            # writers, which batch it with the others.
            if (
                write_now is not None
                and not counters.running
                and not buffered().current_buffer_used
                and await write_now(outcome)
            ):
                continue
            try:
                send_nowait(outcome)
            except trio.WouldBlock:
                await send(outcome)

    async def _in_thread(self, slot: _Slot, handler: Callable[[Any], Any], item: Any) -> Any:
        # The deadline starts once the slot has its thread. Only a stop past the
        # grace period (the worker's scope, not the slot's) abandons the thread.
        async with self._thread_slots:
            slot.started = trio.current_time()
            return await trio.to_thread.run_sync(
                handler, item, limiter=self._no_limit, abandon_on_cancel=True
            )

    async def _watchdog(self, seconds: float) -> None:
        slots = self._slots
        threads = self._threads
        while True:
            now = trio.current_time()
            wake = now + seconds
            for slot in slots:
                if slot.job is not None and not slot.timed_out:
                    deadline = slot.started + seconds
                    if deadline <= now:
                        if threads:
                            # A thread cannot be interrupted: keep the claim and the
                            # slot until it returns, then report the timeout.
                            slot.timed_out = True
                            log.warning(
                                "job %s of %r passed its %gs deadline; its thread cannot be "
                                "interrupted, so the job stays claimed until it returns",
                                slot.job.id, slot.job.queue, seconds,
                            )  # fmt: skip
                        else:
                            slot.scope.cancel()
                    elif deadline < wake:
                        wake = deadline
            await trio.sleep_until(wake)


def _outcome(slot: _Slot, returned: bool, error: str | None) -> HandlerOutcome:
    """How a handler run ended, for the duration histogram (see ``HandlerOutcome``)."""
    if slot.revoked is not None:
        return "revoked"
    if slot.timed_out:  # a thread that ran past its deadline (its result is dropped)
        return "timeout"
    if returned:
        return "ok"
    if error is not None:
        return "error"
    # Cancelled: by the watchdog (only it and a revocation cut a slot's own scope),
    # else by a stop past the grace period.
    return "timeout" if slot.scope.cancel_called else "cancelled"
