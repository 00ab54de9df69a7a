"""Writing job outcomes back, batched under load.

Synopsis::

    writer = OutcomeWriter(job, outcomes_receive, outstanding, counters, max_cancels=3)
    nursery.start_soon(writer.serve)      # returns when the channel is closed and drained
    await writer.write(leftovers)         # at shutdown: what was never written

Each writer task waits for one outcome, then takes whatever else is already
queued (up to :data:`MAX_FINISH_BATCH`) and writes it: the finishes in one
``finish_many`` script, failures one ``cancel`` each. So a busy worker writes
big batches and an idle one writes at once (or the handler task writes its
outcome itself, :meth:`OutcomeWriter.write_now`). Several writer tasks share the
channel, so a batch is collected while the previous one is on the wire.

Connection errors are retried at once (a write that broke may or may not
have run; running it again is safe: the claim tokens make a repeated finish or
cancel a harmless refusal): the retry waits for the server in the client's
reconnect loop, and only writes that keep breaking at once are spaced out
(``link_backoff``, at most 0.5 s). A longer pause would fill the outcome
channel and stop every handler while the server answers. An outcome leaves
``outstanding`` once written.
"""

from __future__ import annotations

import logging
from typing import Any

import trio

from .._errors import NotClaimedError, PayloadError, ThoonkError
from ..objects import ClaimedJob, Job
from ._stats import QueueCounters
from ._supervise import CONNECTION_ERRORS, link_backoff

log = logging.getLogger(__name__)

#: Most finishes written in one script.
MAX_FINISH_BATCH = 500

Outcome = tuple[ClaimedJob, Any, str | None]
"""``(job, result, error)``: finish with ``result`` when ``error`` is None, else cancel."""


class OutcomeWriter:
    """Writes the outcomes of one job queue (see the module doc)."""

    def __init__(
        self,
        job: Job,
        receive: trio.MemoryReceiveChannel[Outcome],
        outstanding: dict[str, ClaimedJob],
        counters: QueueCounters,
        *,
        max_cancels: int | None,
    ) -> None:
        self._job = job
        self._receive = receive
        self._outstanding = outstanding
        self._counters = counters
        self._max_cancels = max_cancels
        # Batches taken from the channel and not yet written (for shutdown).
        self._writing: dict[int, list[Outcome]] = {}

    async def serve(self) -> None:
        """Write batches until the channel is closed and empty."""
        receive = self._receive
        while True:
            try:
                first = await receive.receive()
            except trio.EndOfChannel:
                return
            batch = [first]
            while len(batch) < MAX_FINISH_BATCH:
                try:
                    batch.append(receive.receive_nowait())
                except (trio.WouldBlock, trio.EndOfChannel):
                    break
            self._writing[id(batch)] = batch
            await self.write(batch)
            self._writing.pop(id(batch), None)

    async def write_now(self, outcome: Outcome) -> bool:
        """Write one outcome in the caller's task if the writers are idle; False if not.

        The idle path between two jobs: the handler task that has the outcome
        writes it at once, rather than waking a writer task to do it (one task
        switch less before the finish is on the wire). When outcomes are queued
        or a batch is being written, it returns False at once and the caller
        queues the outcome, so a busy worker keeps its batches. Shutdown sees
        the outcome like a writer's batch (:meth:`unwritten`) until it is written.
        """
        if self._writing or self._receive.statistics().current_buffer_used:
            return False
        batch = [outcome]
        self._writing[id(batch)] = batch
        await self.write(batch)
        self._writing.pop(id(batch), None)
        return True

    def unwritten(self) -> list[Outcome]:
        """Outcomes taken but not written, and those still queued (for shutdown)."""
        pending = [outcome for batch in self._writing.values() for outcome in batch]
        self._writing.clear()
        while True:
            try:
                pending.append(self._receive.receive_nowait())
            except (trio.WouldBlock, trio.EndOfChannel, trio.ClosedResourceError):
                return pending

    async def write(self, batch: list[Outcome]) -> None:
        """Write ``batch``, retrying connection errors until it went through."""
        backoff = link_backoff()
        retry = False
        while True:
            backoff.run_started()
            try:
                await self._write(batch, retry=retry)
                return
            except CONNECTION_ERRORS as exc:
                delay = backoff.run_failed()
                log.warning(
                    "could not write the outcomes of %d jobs of %r (%s); retrying in %.2f s",
                    len(batch), self._job.name, exc, delay,
                )  # fmt: skip
            except Exception as exc:
                if len(batch) > 1:
                    # One member can refuse a whole script (a result key of the wrong
                    # type planted by another client, an id no script accepts...):
                    # settle the members one by one, so the others are never re-run.
                    log.warning(
                        "could not write the outcomes of %d jobs of %r together (%s: %s); "
                        "writing them one by one", len(batch), self._job.name,
                        type(exc).__name__, exc,
                    )  # fmt: skip
                    for outcome in batch:
                        if outcome[0].token in self._outstanding:
                            await self.write([outcome])
                    return
                await self._give_up(batch[0], exc)
                return
            await trio.sleep(delay)
            retry = True

    async def _give_up(self, outcome: Outcome, exc: Exception) -> None:
        """The outcome of one job cannot be written: stall it with the reason, never re-run it.

        A stalled job waits for a person (``retry`` / ``retract``); if even the
        stall is refused, the claim is left to the reapers.
        """
        job, _, error = outcome
        reason = f"could not write the outcome ({type(exc).__name__}: {exc})"
        if error is not None:
            reason += f"; the handler failed: {error}"
        try:
            await self._job.stall(job, reason=reason)
        except NotClaimedError:
            pass  # reaped meanwhile: whoever holds it now settles it
        except Exception as stall_exc:
            self._counters.lost += 1
            log.error(
                "could not write the outcome of job %r of %r (%s) nor stall it (%s); its "
                "claim is left to the reapers", job.id, self._job.name, exc, stall_exc,
            )  # fmt: skip
        else:
            self._counters.stalled += 1
            log.error("job %r of %r stalled: %s", job.id, self._job.name, reason)
        self._outstanding.pop(job.token, None)

    async def _write(self, batch: list[Outcome], *, retry: bool) -> None:
        outstanding = self._outstanding
        if retry:
            # Skip what an earlier attempt settled for sure.
            batch = [outcome for outcome in batch if outcome[0].token in outstanding]
        finishes = [(job, result) for job, result, error in batch if error is None]
        if finishes:
            await self._finish(finishes, retry=retry)
        for job, _, error in batch:
            if error is not None:
                await self._cancel(job, error, retry=retry)

    async def _finish(self, finishes: list[tuple[ClaimedJob, Any]], *, retry: bool) -> None:
        try:
            outcomes = await self._job.finish_many(finishes)
        except PayloadError:
            # One result cannot be encoded: find it, fail it, finish the others.
            await self._finish_encodable(finishes, retry=retry)
            return
        counters = self._counters
        outstanding = self._outstanding
        done = 0
        refused: list[tuple[ClaimedJob, Exception]] = []
        for (job, _), outcome in zip(finishes, outcomes, strict=True):
            if outcome.status == "ok":
                outstanding.pop(job.token, None)
                done += 1
            elif outcome.status == "wrongtype" and outcome.error is not None:
                # Its own result key was planted by another program: this job alone
                # cannot be finished; it is stalled below with the reason.
                refused.append((job, outcome.error))
            elif not retry:
                outstanding.pop(job.token, None)
                counters.lost += 1
                log.warning(
                    "job %s of %r finished after its claim was taken back (%s): the reaper "
                    "gave it to another worker; its result was not stored",
                    job.id, self._job.name, outcome.status,
                )  # fmt: skip
            else:
                outstanding.pop(job.token, None)
        counters.finished += done
        counters.meter.add(done)
        for job, error in refused:
            await self._give_up((job, None, None), error)

    async def _finish_encodable(
        self, finishes: list[tuple[ClaimedJob, Any]], *, retry: bool
    ) -> None:
        good: list[tuple[ClaimedJob, Any]] = []
        encode = self._job.result_codec.encode
        for job, result in finishes:
            try:
                if result is not None:
                    encode(result)
            except PayloadError as exc:
                await self._cancel(job, f"{type(exc).__name__}: {exc}", retry=retry)
            else:
                good.append((job, result))
        if good:
            await self._finish(good, retry=retry)

    async def _cancel(self, job: ClaimedJob, error: str, *, retry: bool) -> None:
        counters = self._counters
        try:
            cancelled = await self._job.cancel(job, error=error, max_cancels=self._max_cancels)
        except NotClaimedError:
            if not retry:
                counters.lost += 1
                log.warning(
                    "job %s of %r failed after its claim was taken back; the reaper gave it "
                    "to another worker", job.id, self._job.name,
                )  # fmt: skip
        except ThoonkError as exc:
            counters.lost += 1
            log.error("could not cancel job %s of %r: %s", job.id, self._job.name, exc)
        else:
            counters.failed += 1
            if cancelled.outcome == "stalled":
                counters.stalled += 1
                log.warning(
                    "job %s of %r stalled after %d failures (last: %s)",
                    job.id, self._job.name, cancelled.count, error,
                )  # fmt: skip
        self._outstanding.pop(job.token, None)
