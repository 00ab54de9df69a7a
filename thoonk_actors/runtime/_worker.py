"""A job worker: one claimer, N handler tasks, outcome writers, upkeep.

Synopsis::

    worker = JobWorker(registration, thoonk, upkeep=UpkeepSettings())
    nursery.start_soon(worker.serve)
    ...
    worker.begin_stop(deadline=trio.current_time() + 10)   # graceful
    await worker.stopped.wait()

Flow of a job: the claimer claims a batch (``claim_many``) whenever enough
slots are free (how many jobs it keeps claimed ahead of the handlers is the
``prefetch`` policy: fixed, or adaptive, see ``_prefetch``). A claim that
found the queue drained tells when its next scheduled job is due: the
claimer then waits first (no claim that would find nothing, no promote
step) unless a job was scheduled since (``_wake_claimer``), with its next
claim sent right behind the wait on the blocking connection
(``wait_and_claim``: one round trip from a publish to the claim). A stop or
``_wake_claimer`` cuts that wait, never its claim: the claim runs and its
jobs come back (handed out, or released when stopping); jobs go through
a memory channel to the handler tasks (``_handlers``, with the deadline
watchdog); each outcome goes through a second channel to the writers (``finish_many`` batches,
``cancel`` for failures). ``outstanding`` maps claim token -> job for every
claim not yet settled: the lease loop renews them, and whatever is left
there at shutdown is released (no failure counted, in claim order, behind
priority jobs published meanwhile: one ``release_many`` script).

Containment: a claimed job whose item cannot be decoded (a poison job) is
stalled with the error by ``claim_many`` and counted (``poisoned``); the
rest of its batch runs. Anything else failing between the claim and the
hand-off releases what was not handed off. A job whose claim goes away
while this worker holds it (retracted, cancelled or stalled by someone
else, reaped: seen from the queue's events, a refused touch, or a pub/sub
gap, then confirmed with ``held``) is dropped before it starts, or its
running handler is cancelled (``revoked``, logged with the real cause).

Stopping: the claimer stops (an in-flight claim is completed, not cut, so
no claim is lost), jobs claimed but not started are released at once, the
handlers finish within the grace period (then they are cancelled and their
jobs released), the writers flush, the heartbeat leaves. If the worker is
cancelled from outside instead, the same cleanup runs shielded, bounded by
:data:`CLEANUP_TIMEOUT`.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import trio

from .._overflow import Activity
from ..contract import HeldBack
from ..objects import HEARTBEAT_STALE_MS, ClaimedJob, Job, Thoonk
from ._current import CURRENT_QUEUE
from ._drain import Claims
from ._handlers import Handlers
from ._identity import ClaimIdentities
from ._prefetch import Prefetch
from ._registry import MAX_CLAIM_BATCH, JobRegistration
from ._stats import QueueCounters, QueueStatistics
from ._supervise import CONNECTION_ERRORS, RECOVERABLE, supervise
from ._upkeep import claims_watch_loop, heartbeat_loop, lease_loop, reaper_loop
from ._writer import Outcome, OutcomeWriter

log = logging.getLogger(__name__)

#: How long the shutdown cleanup may take when the worker was cancelled.
CLEANUP_TIMEOUT = 5.0
#: Writer tasks per job registration (batches in flight at once).
WRITERS = 2
#: Longest single wait_for_work (a stuck blocking connection cannot hide for longer).
WAIT_FOR_WORK = 30.0


@dataclass(frozen=True, slots=True)
class UpkeepSettings:
    """How often to beat, reap, and when a silent worker counts as dead."""

    heartbeat_interval: float = HEARTBEAT_STALE_MS / 3000
    stale_ms: int = HEARTBEAT_STALE_MS
    reap_interval: float = 2.0


class JobWorker:
    """Runs one job registration (see the module doc)."""

    def __init__(
        self,
        registration: JobRegistration,
        thoonk: Thoonk,
        *,
        upkeep: UpkeepSettings,
        activity: Activity | None = None,
    ) -> None:
        self.registration = registration
        self.job: Job = thoonk.job(registration.name)
        self.counters = QueueCounters()
        # Emptied, it tells the app's activity: a drain waiter looks again (_drain).
        self.outstanding: dict[str, ClaimedJob] = Claims(activity or Activity())
        self.identities = ClaimIdentities(thoonk.worker_id)
        self.stopped = trio.Event()
        self._upkeep = upkeep
        self._stopping = trio.Event()
        #: How many jobs the claimer keeps claimed ahead of the handlers (adaptive by default).
        self.prefetch = Prefetch(registration.concurrency, registration.prefetch)
        most = self.prefetch.largest
        # Never more than the prefetch's largest capacity: the claimer hands
        # over only what fits (capacity - active), so a full channel is a bug,
        # and send_nowait says so rather than the buffer growing unseen.
        self._jobs_send, self._jobs_receive = trio.open_memory_channel[ClaimedJob](most)
        # Bounded: if writing falls behind, handlers wait (back-pressure).
        self._out_send, out_receive = trio.open_memory_channel[Outcome](
            max(MAX_CLAIM_BATCH, 4 * most)
        )
        self._writer = OutcomeWriter(
            self.job,
            out_receive,
            self.outstanding,
            self.counters,
            max_cancels=registration.max_cancels,
        )
        self._handled_count = 0  # jobs the handlers are done with (or dropped), ever
        self._slots_freed = trio.Event()
        self._idle_scope: trio.CancelScope | None = None
        self._awaiting_work = False  # the claimer is blocked in wait_for_work
        # The last claim found the queue drained: the trio time its next scheduled
        # job is due (inf: none), and the _wake_claimer count it saw (see _claim_loop).
        self._drained: tuple[float, int] | None = None
        self._wakes = 0
        self._handler_scope = trio.CancelScope()
        self._nursery: trio.Nursery | None = None
        self._lease: float | None = None
        self._lease_ms = 0  # recorded with each claim: 0 = no time limit (heartbeat only)
        self._configured = trio.Event()
        self._handlers = Handlers(
            registration,
            self._jobs_receive,
            self._out_send,
            self.counters,
            done=self._handled,
            dropped=self._dropped,
            write_now=self._writer.write_now,
        )

    # ----------------------------------------------------------------- state

    @property
    def active(self) -> int:
        """Jobs claimed and not yet handled: handed to the handlers and waiting, or running.

        Counted in one place, from the two things that change: the jobs
        waiting (``Handlers.waiting``: filled as the claimer hands a job over,
        emptied as a handler takes it or a stop releases it) and the handlers
        running one.
        """
        return len(self._handlers.waiting) + self.counters.running

    @property
    def idle(self) -> bool:
        """Nothing claimed here and not yet settled."""
        return not self.outstanding and self.active == 0

    def statistics(self) -> QueueStatistics:
        c = self.counters
        return QueueStatistics(
            name=self.registration.name,
            concurrency=self.registration.concurrency,
            claimed=c.claimed,
            in_flight=len(self.outstanding),
            running=c.running,
            finished=c.finished,
            failed=c.failed,
            timed_out=c.timed_out,
            stalled=c.stalled,
            released=c.released,
            lost=c.lost,
            rate=c.meter.rate(),
            poisoned=c.poisoned,
            revoked=c.revoked,
            durations=c.durations.snapshot(),
        )

    # --------------------------------------------------------------- running

    async def serve(self) -> None:
        """Claim and handle jobs until :meth:`begin_stop` (or cancellation)."""
        try:
            async with trio.open_nursery() as outer:
                self._nursery = outer
                writers_done = trio.Event()
                outer.start_soon(self._run_writers, writers_done)
                upkeep = trio.CancelScope()
                outer.start_soon(self._run_upkeep, upkeep)
                with self._handler_scope:
                    async with trio.open_nursery() as work:
                        work.start_soon(self._run_claimer)
                        work.start_soon(self._run_handlers)
                self._out_send.close()
                await writers_done.wait()
                # Releases started by begin_stop finish; the upkeep ends here.
                upkeep.cancel()
        finally:
            with trio.CancelScope(shield=True) as cleanup:
                cleanup.deadline = trio.current_time() + CLEANUP_TIMEOUT
                await self._cleanup()
            self.stopped.set()

    def begin_stop(self, deadline: float) -> None:
        """Stop claiming, release jobs not started, cancel handlers at ``deadline``.

        May be called again with an earlier deadline.
        """
        if not self._stopping.is_set():
            self._stopping.set()
            if self._idle_scope is not None:
                self._idle_scope.cancel()
            waiting: list[ClaimedJob] = []
            while True:
                try:
                    waiting.append(self._jobs_receive.receive_nowait())
                except (trio.WouldBlock, trio.EndOfChannel):
                    break
            for claimed in waiting:
                self._handlers.waiting.pop(claimed.token, None)
            if waiting and self._nursery is not None:
                self._nursery.start_soon(self._release, waiting)
        self._handler_scope.deadline = min(self._handler_scope.deadline, deadline)

    # --------------------------------------------------------------- claimer

    async def _run_claimer(self) -> None:
        async with self._jobs_send:  # closing it lets the handlers finish and exit
            await supervise(
                self._claim_loop,
                what=f"claimer of {self.registration.name!r}",
                logger=log,
                stopping=self._stopping,
            )

    async def _claim_loop(self) -> None:
        if not self._configured.is_set():
            await self._configure()
        job = self.job
        send = self._jobs_send
        outstanding = self.outstanding
        counters = self.counters
        stopping = self._stopping
        prefetch = self.prefetch
        if self._lease is not None:
            # Jobs waiting in the buffer are renewed, but keep them well inside one lease.
            prefetch.horizon = min(prefetch.horizon, self._lease / 4)
        clock = trio.current_time
        while not stopping.is_set():
            # Taken from the buffer: done (or dropped) + running.
            prefetch.observe(clock(), self._handled_count + counters.running)
            free = prefetch.capacity - self.active
            if free < prefetch.refill:
                await self._wait_for_slots()
                continue
            # The last claim emptied the queue: wait first (it returns at once if a
            # job came meanwhile), rather than a claim that finds nothing. Its due
            # time holds unless a job was scheduled since (_wake_claimer).
            drained, self._drained = self._drained, None
            wait = drained is not None and drained[1] == self._wakes
            held: list[HeldBack] = []  # a queue limit (max_per_second, max_concurrent)
            asked = min(free, MAX_CLAIM_BATCH)
            drained_at: list[float] = []  # the claim found the queue drained: next due time
            wakes = self._wakes
            try:
                if wait:
                    assert drained is not None
                    # The claim goes right behind the wait (one round trip); a stop or
                    # _wake_claimer cuts the wait, never the claim: its jobs come back.
                    jobs: list[ClaimedJob] = []
                    with self._idle_wait(awaiting_work=True) as cut:
                        jobs = await job.wait_and_claim(
                            asked,
                            until=min(drained[0], clock() + WAIT_FOR_WORK),
                            worker_id=self.identities.current,
                            lease_ms=self._lease_ms,
                            on_poison=self._poisoned,
                            on_held=held.append,
                            on_drained=drained_at.append,
                        )
                    if cut.cancelled_caught:
                        continue  # cut before it was sent: nothing claimed; claim now
                else:
                    jobs = await job.claim_many(
                        asked,
                        worker_id=self.identities.current,
                        lease_ms=self._lease_ms,
                        on_poison=self._poisoned,
                        on_held=held.append,
                        on_drained=drained_at.append,
                    )
            except CONNECTION_ERRORS:
                # The claim may have run, its jobs unknown to us: see _identity.
                self.identities.retire(self.outstanding)
                raise
            prefetch.claimed(asked, len(jobs))
            if drained_at:
                self._drained = (drained_at[0], wakes)
            if not jobs and held:
                with self._idle_wait():  # as long as the limit asks, no longer
                    await job.wait_held(held[0], trio.current_time() + WAIT_FOR_WORK)
                continue
            if not jobs:
                if self._drained is None:  # (only poison taken: the queue may hold more)
                    await self._wait_for_work(None)
                continue  # drained: the next round waits, without a promote step
            counters.claimed += len(jobs)
            handed = 0
            try:
                for claimed in jobs:
                    outstanding[claimed.token] = claimed
                if stopping.is_set():
                    await self._release(jobs)
                    return
                waiting = self._handlers.waiting
                for claimed in jobs:
                    waiting[claimed.token] = claimed
                    send.send_nowait(claimed)
                    handed += 1
            except BaseException:
                # Whatever broke between the claim and the hand-off: nobody will
                # run the rest, so give them back now rather than at the timeout.
                rest = jobs[handed:]
                for claimed in rest:
                    self._handlers.waiting.pop(claimed.token, None)
                with trio.CancelScope(shield=True) as scope:
                    scope.deadline = trio.current_time() + CLEANUP_TIMEOUT
                    await self._release(rest)
                for claimed in rest:
                    # Not renewed any more: if the release failed, the timeout brings
                    # them back (they must not stay held, renewed, by nobody).
                    outstanding.pop(claimed.token, None)
                raise
            finally:
                prefetch.handed(clock(), handed)
            if self._drained is not None:
                # The queue is empty, so the wait is in no hurry: the handlers woken
                # just now run first (the next round of the run loop; a first
                # checkpoint may share that round with them), so an outcome written
                # at once goes on the wire before the wait's command.
                await trio.lowlevel.cancel_shielded_checkpoint()
                await trio.lowlevel.cancel_shielded_checkpoint()

    async def _wait_for_work(self, due_at: float | None) -> None:
        """Block until a job may be claimable (cut by a stop or :meth:`_wake_claimer`).

        ``due_at``: the next due time told by the claim that just found the
        queue drained (skips the promote step); None: promote first.
        """
        with self._idle_wait(awaiting_work=True):
            await self.job.wait_for_work(trio.current_time() + WAIT_FOR_WORK, due_at=due_at)

    async def _wait_for_slots(self) -> None:
        prefetch = self.prefetch
        with self._idle_wait():
            while prefetch.capacity - self.active < prefetch.refill:
                self._slots_freed = trio.Event()
                await self._slots_freed.wait()

    @contextmanager
    def _idle_wait(self, *, awaiting_work: bool = False) -> Iterator[trio.CancelScope]:
        # Only the waits are cut by a stop, never a claim in flight (its jobs
        # would be claimed with nobody knowing): wait_and_claim returns them.
        # ``awaiting_work``: a wait for jobs, which _wake_claimer may cut too.
        with trio.CancelScope() as scope:
            self._idle_scope = scope
            self._awaiting_work = awaiting_work
            if self._stopping.is_set():
                scope.cancel()
            try:
                yield scope
            finally:
                self._idle_scope = None
                self._awaiting_work = False

    async def _configure(self) -> None:
        """Create the queue if needed and decide this worker's lease; never rewrite its config.

        The queue's stored config is shared by every process (and by original
        JS clients): starting a worker must not change it, or a second
        deployment with another ``timeout=`` would silently shorten the claims
        of the workers already running. So each worker records its own lease
        with every claim it makes (``job.leases``): its registration's
        ``timeout``, else the queue's ``timeout`` as read now; the reapers use
        the claim's own lease. ``job.configure()`` / ``thoonk config`` still
        change the config (the lease of claims that carry none).
        """
        registration = self.registration
        await self.job.create(exist_ok=True)
        config = await self.job.config()
        if registration.timeout is not None:
            self._lease = registration.timeout
        else:
            self._lease = config.timeout / 1000 if config.timeout else None
        self._lease_ms = 0 if self._lease is None else math.ceil(self._lease * 1000)
        self._configured.set()

    # -------------------------------------------------------------- handlers

    async def _run_handlers(self) -> None:
        # The handler tasks inherit it: progress() finds this queue through it.
        CURRENT_QUEUE.set(self.job)
        await self._handlers.serve(self._stopping)

    def _poisoned(self, job_id: str, error: str) -> None:
        # claim_many stalled a job whose item cannot be decoded.
        self.counters.poisoned += 1
        self.counters.stalled += 1
        log.warning(
            "job %s of %r stalled without running: its item cannot be decoded (%s); "
            "inspect it, then retry or retract it", job_id, self.registration.name, error,
        )  # fmt: skip

    def _dropped(self, claimed: ClaimedJob, cause: str) -> None:
        # Its claim went away (see check_claims; counted there): no outcome of ours
        # is written. A thread's job gets here only once the thread returned.
        self.outstanding.pop(claimed.token, None)

    def _handled(self) -> None:
        # A handler is done with a job: its slot is free for the claimer.
        self._handled_count += 1
        prefetch = self.prefetch
        # The handler takes the next buffered job, if any: its number, counting from 1.
        nth = self._handled_count + self.counters.running + 1
        if nth >= prefetch.head_end:
            prefetch.taken(trio.current_time(), nth)
        if prefetch.capacity - self.active >= prefetch.refill:
            self._slots_freed.set()

    # ------------------------------------------------------- writers, upkeep

    async def _run_writers(self, done: trio.Event) -> None:
        try:
            async with trio.open_nursery() as nursery:
                for _ in range(WRITERS):
                    nursery.start_soon(self._writer.serve)
        finally:
            done.set()

    async def _run_upkeep(self, scope: trio.CancelScope) -> None:
        settings = self._upkeep
        with scope:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(
                    heartbeat_loop,
                    self.job,
                    self.identities,
                    self.outstanding,
                    settings.heartbeat_interval,
                )
                nursery.start_soon(reaper_loop, self.job, settings.reap_interval, settings.stale_ms)
                nursery.start_soon(
                    lease_loop,
                    self.job,
                    self.outstanding,
                    self._configured,
                    lambda: self._lease,
                    self.check_claims,
                )
                nursery.start_soon(claims_watch_loop, self.job, self.check_claims)

    # ---------------------------------------------------------- release, exit

    async def _release(self, jobs: list[ClaimedJob]) -> None:
        """Give jobs back to the head of the queue, no failure counted, in claim order.

        One script for all of them, so they keep their order and stay behind
        priority jobs published since they were claimed.
        """
        if not jobs:
            return
        ordered = sorted(jobs, key=_claim_order)
        try:
            outcomes = await self.job.release_many(ordered)
        except RECOVERABLE as exc:
            log.warning(
                "could not release %d jobs of %r (%s); a reaper will take them back",
                len(ordered), self.registration.name, exc,
            )  # fmt: skip
            return
        for claimed, outcome in zip(ordered, outcomes, strict=True):
            if outcome.status == "ok":
                self.counters.released += 1
            # else: reaped meanwhile, or released by an earlier attempt
            self.outstanding.pop(claimed.token, None)

    # ------------------------------------------------------------ revocation

    def _wake_claimer(self) -> None:
        """A job was scheduled somewhere (a retry after its backoff, a delayed publish).

        A claimer blocked in ``wait_for_work`` learnt the next due time before
        that job was scheduled: cut the wait so it looks again (the claim
        promotes what is due, the next wait stops at the new due time), rather
        than leaving the retry to the next reaper sweep. A gap in the events
        (the pub/sub connection was lost) may have swallowed such an event, so
        a gap wakes it too: its wait, even re-sent on a new connection, would
        otherwise stop at a due time that is stale.
        """
        self._wakes += 1  # a drained claim's due time may be stale now
        if self._awaiting_work and self._idle_scope is not None:
            self._idle_scope.cancel()

    async def check_claims(self, events: dict[str, str] | None) -> None:
        """Drop or cancel the jobs whose claim went away (see the module doc).

        ``events``: id -> the event that named it (``retract``, ``cancel``,
        ``stall``, ``touch``, ``schedule``); None checks every job held (after
        a gap). A ``cancel`` or ``schedule``, or a gap, also wakes the claimer.
        """
        if events is None or not {"cancel", "schedule"}.isdisjoint(events.values()):
            self._wake_claimer()
        handlers = self._handlers
        suspects = [
            claimed
            for claimed in list(self.outstanding.values())
            if (events is None or claimed.id in events) and handlers.unsettled(claimed.token)
        ]
        if not suspects:
            return
        states = await self.job.held(suspects)
        for claimed, state in zip(suspects, states, strict=True):
            if state.status == "mine":
                continue
            event = None if events is None else events.get(claimed.id)
            cause = _cause(state.status, state.error, event)
            running = claimed.token not in handlers.waiting
            if handlers.revoke(claimed.token, cause):
                self.counters.revoked += 1
                if running:
                    log.warning(
                        "job %s of %r was %s while its handler ran: handler %s",
                        claimed.id, self.registration.name, cause,
                        "cancelled" if self.registration.is_async
                        else "left to finish in its thread, its result dropped",
                    )  # fmt: skip
                else:
                    log.warning(
                        "job %s of %r was %s before its handler started: not run",
                        claimed.id, self.registration.name, cause,
                    )  # fmt: skip

    async def _cleanup(self) -> None:
        pending = self._writer.unwritten()
        if pending:
            await self._writer.write(pending)
        leftovers = list(self.outstanding.values())
        if leftovers:
            log.info(
                "job queue %r: releasing %d claimed jobs that did not finish",
                self.registration.name, len(leftovers),
            )  # fmt: skip
            await self._release(leftovers)
        for identity in self.identities.beating():
            try:
                await self.job.heartbeat(worker_id=identity, leave=True)
            except RECOVERABLE as exc:
                log.info("job queue %r: could not say goodbye (%s)", self.registration.name, exc)


def _claim_order(claimed: ClaimedJob) -> tuple[int, int]:
    # Claim tokens come from one counter per queue: their order is the claim order.
    token = claimed.token
    return claimed.claimed_ms, int(token) if token.isdigit() else 0


def _cause(status: str, error: str | None, event: str | None) -> str:
    """How a log line names why a claim went away (the real cause, not "lost").

    The stored state says what happened (``held`` tells finished from
    retracted), the event that made us look fills in when it cannot (the
    job may have been claimed again meanwhile), and the last error says
    whether a reaper did it (it records ``reaped: ...``).
    """
    reaped = error is not None and error.startswith("reaped")
    again = " and claimed again" if status == "claimed" else ""
    if status == "retracted" or (status == "gone" and event == "retract"):
        return "retracted"
    if status in ("finished", "gone"):
        return "finished by someone else" if status == "finished" else "finished or retracted"
    if event == "stall" or status == "stalled":
        return f"stalled by a reaper ({error})" if reaped else "stalled by someone else"
    if reaped:
        return f"reaped ({error}){again}"
    return f"cancelled by someone else{again}"
