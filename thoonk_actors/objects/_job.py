"""A Thoonk job queue: publish tasks, claim them, finish / cancel / stall them.

Synopsis::

    emails = thoonk.job("emails")
    job_id = await emails.publish({"to": "a@example.org"})
    job = await emails.get(timeout=5)          # ClaimedJob, or None after 5 s
    await emails.finish(job, {"sent": True})   # fenced by the job's claim token
    result = await emails.wait_result(job_id)  # {"sent": True}

Wire-compatible with the original JavaScript Thoonk Jobs: a job published
here can be claimed by a JS worker and the other way round (see
``docs/contract.md``). Our own claims are atomic (no pop/claim gap), carry a
claim token (a worker whose claim was reaped gets :class:`ClaimLostError`
instead of finishing someone else's claim) and refresh the worker's heartbeat.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import reprlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar

import trio

from .. import contract
from .._errors import (
    InvalidConfigError,
    NotClaimedError,
    NotFoundError,
    NotReplicatedError,
    PayloadError,
    ResultTimeoutError,
    ThoonkError,
    UnexpectedReplyError,
    UsageError,
)
from ..contract import (
    FinishOutcome,
    FinishRequest,
    HeldState,
    JobCancelled,
    JobKeys,
    JobProgress,
    JobStats,
    ReapReport,
    ReleaseOutcome,
    ReleaseRequest,
)
from ..transport import Gap
from ._base import Events, ThoonkObject
from ._durability import DURABLE_TIMEOUT_S, check_durable
from ._results import ResultRouter, Waiter

if TYPE_CHECKING:
    from ..contract import Codec
    from ._thoonk import Thoonk

#: How long a worker's heartbeat stays fresh; the reaper takes back the claims
#: of a worker silent for longer (the runtime beats every third of it).
HEARTBEAT_STALE_MS = 15_000
#: How long an id may sit outside every state list before the reaper treats it
#: as lost in an original (JS) worker's pop/claim gap.
ORPHAN_GRACE_MS = 30_000
#: Longest a shielded give-back (release or stall after a claim) may take.
GIVE_BACK_TIMEOUT = 10.0

log = logging.getLogger(__name__)

PoisonCallback = Callable[[str, str], None]
#: The events of a claim ending (a ``max_concurrent`` slot frees), and of a config change.
_SLOT_EVENTS = ("finish", "cancel", "stall", "release", "retract", "config", "delete")
"""``on_poison(job_id, error)``: a claimed job whose item could not be decoded was stalled."""

ProgressCallback = Callable[[JobProgress], object]
"""``on_progress(progress)``: a job being waited for reported how far it got."""


@dataclass(frozen=True, slots=True)
class ClaimedJob:
    """A job you hold: finish, cancel or stall it (pass it back, the token goes along).

    Attributes:
        id: the job id.
        item: the decoded payload.
        token: the claim token (fencing: it proves the claim is still yours).
        failures: how many times it was cancelled before (its failure count).
        queue: the job queue's name.
        claimed_ms: when it was claimed (server ms; 0 when unknown). Releases
            use it to keep jobs pushed to the head since then in front.
    """

    id: str
    item: Any
    token: str
    failures: int
    queue: str
    claimed_ms: int = 0


# UUID v4 bits: version 4 in the time_hi field, RFC 4122 variant in clock_seq.
_UUID_KEEP = ~(0xF000 << 64) & ~(0xC000 << 48)
_UUID_SET = (0x4000 << 64) | (0x8000 << 48)


def _uuid4(raw: bytes) -> str:
    """``str(uuid.UUID(bytes=raw, version=4))``, by hand because it pays.

    Measured (timeit, 16 random bytes, Python 3.11): 1.3-3.5 us here against
    4.0-9.8 us for the stdlib line, a ratio of 2.1-3.7 on a busy machine; in
    ``publish_many`` of 500 jobs the client spends 9.1 us of CPU per job with
    this and 11.5 us with the stdlib (+26%). tests/objects/test_job.py checks
    both give the same string.
    """
    h = "%032x" % (int.from_bytes(raw) & _UUID_KEEP | _UUID_SET)
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _new_job_ids(n: int) -> list[str]:
    """``_new_job_ids(3)``: that many fresh UUID v4 strings (one urandom call for all)."""
    raw = os.urandom(16 * n)
    return [_uuid4(raw[i : i + 16]) for i in range(0, 16 * n, 16)]


#: Most jobs in one publish_many script.
_MAX_BATCH = contract.MAX_BATCH


def _check_timeout(timeout: object) -> None:
    """A wait's ``timeout``: None or seconds >= 0 (trio refuses NaN and negatives)."""
    if timeout is not None and (
        isinstance(timeout, bool)
        or not isinstance(timeout, int | float)
        or math.isnan(timeout)
        or timeout < 0
    ):
        raise UsageError(f"timeout must be None or seconds >= 0, not {reprlib.repr(timeout)}")


JobRef = str | ClaimedJob
"""A job given by id (acts like the original client: no fencing) or as claimed."""


def _ref(job: JobRef, token: str | None) -> tuple[str, str | None]:
    if isinstance(job, ClaimedJob):
        if token is not None and token != job.token:
            raise UsageError("pass either a ClaimedJob or a token, not a different token")
        return job.id, job.token
    if not isinstance(job, str):
        raise UsageError(
            f"a job is given as its id (str) or a ClaimedJob, not {type(job).__name__}"
        )
    return job, token


def _held(job: object, op: str) -> ClaimedJob:
    """``job`` if it is a ClaimedJob (what ``op`` needs: its token), else UsageError."""
    if not isinstance(job, ClaimedJob):
        raise UsageError(
            f"{op} needs the ClaimedJob that get() / claim_many() gave you (its claim "
            f"token proves the claim), not {type(job).__name__}"
        )
    return job


def _not_replicated(job: Job, job_ids: list[str], acked: int, wanted: int) -> NotReplicatedError:
    what = f"job {job_ids[0]!r}" if len(job_ids) == 1 else f"{len(job_ids)} jobs"
    return NotReplicatedError(
        f"{what} of queue {job.name!r} published on the primary, but only {acked} of the "
        f"{wanted} replica(s) asked for acknowledged it in time, so the write is not known "
        "to be replicated: a failover now could lose it. It stays published; check the "
        "replicas (INFO replication), or raise durable_timeout",
        job_ids,
        acked,
        wanted,
    )


def delay_args(delay: float | None, at: datetime | None) -> tuple[int | None, int | None]:
    """``delay_args(5, None)`` -> ``(5000, None)``: a publish's delay in ms for the contract.

    Checked before anything is sent, so a bad value changes nothing.

    Raises:
        UsageError: a delay that is not a finite number >= 0, an ``at`` that is
            not an aware datetime (a naive one has no time zone to compare
            with the server's clock), or both given.
    """
    if delay is not None and at is not None:
        raise UsageError("give publish a delay (seconds) or an at (datetime), not both")
    if delay is not None:
        if (
            isinstance(delay, bool)
            or not isinstance(delay, int | float)
            or not math.isfinite(delay)
            or delay < 0
        ):
            raise UsageError(f"delay must be seconds >= 0 (int or float), not {delay!r}")
        if delay * 1000 >= contract.MAX_MS:
            raise UsageError(f"delay must be under {contract.MAX_MS // 1000} seconds, not {delay}")
        return math.ceil(delay * 1000), None
    if at is not None:
        if not isinstance(at, datetime):
            raise UsageError(f"at must be a datetime with a time zone, not {at!r}")
        if at.tzinfo is None or at.utcoffset() is None:
            raise UsageError(
                f"at={at!r} is a naive datetime: give it a time zone (e.g. "
                "datetime.now(timezone.utc) + timedelta(minutes=5)), as it is compared "
                "with the server's clock"
            )
        return None, max(math.ceil(at.timestamp() * 1000), 0)
    return None, None


def _error_text(exc: BaseException) -> str:
    """``"PayloadError: the stored item ..."``: how an error reads as a job's last error."""
    return f"{type(exc).__name__}: {exc}"


class _ProgressTeller:
    """Calls ``on_progress`` once per report, in order (a stored one and its event are one)."""

    def __init__(self, job_id: str, on_progress: ProgressCallback) -> None:
        self.job_id = job_id
        self.on_progress = on_progress
        self.last: JobProgress | None = None

    def __call__(self, value: JobProgress | None) -> None:
        last = self.last
        if value is None or value == last or (last is not None and value.at_ms < last.at_ms):
            return
        self.last = value
        try:
            self.on_progress(value)
        except Exception:
            log.exception("on_progress of job %r raised; ignored", self.job_id)

    def event(self, data: bytes | None) -> None:
        with contextlib.suppress(UnexpectedReplyError):  # another program's payload
            self(contract.parse_progress(self.job_id, data))


class Job(ThoonkObject[JobKeys]):
    """A job queue. Get one with ``thoonk.job(name)``."""

    KIND = "job"
    KEYS = contract.JobKeys
    EVENTS: ClassVar[tuple[str, ...]] = (
        "publish", "claim", "finish", "cancel", "stall", "retry", "retract", "release",
        "schedule", "progress",
    )  # fmt: skip

    def __init__(
        self,
        thoonk: Thoonk,
        name: str,
        *,
        codec: Codec | None = None,
        result_codec: Codec | None = None,
    ) -> None:
        super().__init__(thoonk, name, codec=codec)
        #: How results are encoded (finish, the runtime) and decoded (wait_result):
        #: JSON by default; ``RawCodec(text=True)`` for JavaScript-facing queues.
        self.result_codec: Codec = result_codec or thoonk.result_codecs.get(name) or self.codec
        #: Claim token -> trio time of its last written progress report (the throttle).
        self._progress_sent: dict[str, float] = {}

    # ---------------------------------------------------------------- publish

    async def publish(
        self,
        item: Any,
        *,
        id: str | None = None,
        priority: bool = False,
        delay: float | None = None,
        at: datetime | None = None,
        durable: int | None = None,
        durable_timeout: float | None = None,
    ) -> str:
        """Queue a job; returns its id (a UUID v4 unless you give one).

        A priority job jumps ahead of every queued job (several priority jobs
        come out newest first, as in the original).

        ``delay`` (seconds, counted by the server's clock) or ``at`` (an aware
        datetime, compared with the server's clock) makes it a delayed job: it
        waits in ``scheduled()`` and is queued (at the back) when due by the
        same promote step as a retry backoff, never earlier. Waiting workers
        are woken by its ``schedule`` event. A time not in the future queues
        it at once.

        Raises:
            DuplicateIdError: a job with that id is queued, scheduled, claimed or stalled.
            PayloadError / PayloadTooLargeError: the item cannot be encoded.
            UsageError: a negative / non-finite delay, a naive datetime, both
                ``delay`` and ``at``, or a delay with ``priority``; a ``durable``
                that is not an int >= 0, a ``durable_timeout`` not > 0.
            NotReplicatedError: ``durable=N`` and fewer than N replicas
                acknowledged the publish within ``durable_timeout`` seconds
                (the job stays published; see the error).
            BadStoredConfigError: the queue's ``durable`` or ``durable_timeout``
                setting holds a bad value (written by another program) and the
                call did not give the argument (nothing is published).

        ``durable=N`` (N >= 1) returns only once N replicas of the primary that
        holds the queue acknowledged the publish (Redis ``WAIT``), so a
        failover that promotes one of them keeps the job; it costs a
        replication round trip (docs/operations.md, docs/benchmarks.md).
        ``durable_timeout``: seconds to wait for them. Either left out (None)
        is the queue's setting of that name (``configure(durable=1,
        durable_timeout=500)``, ms; defaults 0, do not wait, and 1000 ms),
        which this client re-reads at most once a second
        (:mod:`thoonk_actors.objects._durability`); an argument given wins.
        """
        check_durable(durable, durable_timeout)
        durability = self.thoonk.durability
        settings = durability.of_nowait(self.keys, durable=durable, wait_s=durable_timeout)
        if settings is None:
            settings = await durability.of(self.keys, durable=durable, wait_s=durable_timeout)
        replicas, wait_s = settings
        if id is None:
            job_id, fresh = _uuid4(os.urandom(16)), True
        else:
            job_id, fresh = id, False
        return await self._publish(
            item, job_id, fresh, priority, delay, at, durable=replicas, wait_s=wait_s
        )

    async def _publish(
        self,
        item: Any,
        job_id: str,
        fresh: bool,
        priority: bool,
        delay: float | None = None,
        at: datetime | None = None,
        *,
        durable: int = 0,
        wait_s: float = DURABLE_TIMEOUT_S,
    ) -> str:
        """:meth:`publish` under ``job_id``; ``fresh``: generated here for this publish."""
        if fresh and delay is None and at is None:
            # The lean script: a new random id needs no duplicate check, nothing cleaned.
            call = contract.job_publish_new(
                self.keys, job_id, self.codec.encode(item), priority=priority
            )
        else:
            delay_ms, at_ms = delay_args(delay, at)
            call = contract.job_publish(
                self.keys,
                job_id,
                self.codec.encode(item),
                priority=priority,
                delay_ms=delay_ms,
                at_ms=at_ms,
            )
        await self._expect((job_id,), fresh=fresh)  # its finish is caught from now on
        if durable:
            _, acked = await self.thoonk.run_durable([call], replicas=durable, wait_s=wait_s)
            if acked < durable:
                raise _not_replicated(self, [job_id], acked, durable)
        else:
            await self.thoonk.run(call)
        return job_id

    async def publish_many(
        self,
        items: Iterable[Any],
        *,
        priority: bool = False,
        batch: int = 1000,
        delay: float | None = None,
        at: datetime | None = None,
        durable: int | None = None,
        durable_timeout: float | None = None,
    ) -> list[str]:
        """Queue many jobs, ``batch`` per script (all-or-nothing per batch); their ids.

        ``delay`` / ``at`` delay every job as in :meth:`publish` (each batch's
        due time is worked out by the server when its script runs).
        ``durable`` / ``durable_timeout`` as in :meth:`publish` (left out: the
        queue's settings): one ``WAIT`` after all the batches
        (NotReplicatedError names every job).
        """
        check_durable(durable, durable_timeout)
        if isinstance(batch, bool) or not isinstance(batch, int) or not 1 <= batch <= _MAX_BATCH:
            raise InvalidConfigError(
                f"batch must be an int from 1 to {_MAX_BATCH} (jobs per script), "
                f"not {reprlib.repr(batch)}"
            )
        delay_ms, at_ms = delay_args(delay, at)
        encode = self.codec.encode
        encoded = [encode(item) for item in self._items_of(items, "publish_many")]
        jobs = list(
            map(contract.NewJob, _new_job_ids(len(encoded)), encoded, [priority] * len(encoded))
        )
        calls = [
            contract.job_publish_many(
                self.keys, jobs[i : i + batch], delay_ms=delay_ms, at_ms=at_ms
            )
            for i in range(0, len(jobs), batch)
        ]
        if calls:
            replicas, wait_s = await self.thoonk.durability.of(
                self.keys, durable=durable, wait_s=durable_timeout
            )
            # Their finishes are caught from now on (fresh: the ids were made here).
            await self._expect([job.id for job in jobs], fresh=True)
            if replicas:
                _, acked = await self.thoonk.run_durable(calls, replicas=replicas, wait_s=wait_s)
                if acked < replicas:
                    raise _not_replicated(self, [job.id for job in jobs], acked, replicas)
            else:
                await self.thoonk.run_many(calls)
        return [job.id for job in jobs]

    # ------------------------------------------------------------------ claim

    async def get(self, timeout: float | None = None) -> ClaimedJob | None:  # noqa: ASYNC109
        """Claim the next job, waiting up to ``timeout`` seconds (None: for ever).

        Returns None when the time ran out with nothing to claim. (The name and
        ``timeout`` mirror the original Thoonk API.) Cancel it like any trio call.

        Raises:
            PayloadError: the next job's stored item cannot be decoded (another
                client wrote something that is not JSON, say). That job was
                stalled with the error as its last error (see ``last_error``),
                so it is not left claimed and the next ``get()`` moves on.
        """
        _check_timeout(timeout)
        deadline = math.inf if timeout is None else trio.current_time() + timeout
        poisoned: list[tuple[str, str]] = []
        held: list[contract.HeldBack] = []
        drained: list[float] = []  # the claim's due time: the wait skips its promote
        while True:
            drained.clear()
            jobs = await self.claim_many(
                1,
                on_poison=lambda job_id, error: poisoned.append((job_id, error)),
                on_held=held.append,
                on_drained=drained.append,
            )
            if jobs:
                return jobs[0]
            if poisoned:
                job_id, error = poisoned[0]
                raise PayloadError(
                    f"job {job_id!r} of queue {self.name!r} was claimed but its item cannot "
                    f"be decoded ({error}); it was stalled with that error, so the next get() "
                    "moves on: inspect it with item() and a RawCodec, then retry() or retract()"
                )
            if held:
                if trio.current_time() >= deadline:
                    return None
                await self.wait_held(held.pop(), deadline)
                continue
            if not await self.wait_for_work(deadline, due_at=drained[0] if drained else None):
                return None

    async def claim_many(
        self,
        max_jobs: int,
        *,
        worker_id: str | None = None,
        lease_ms: int | None = None,
        on_poison: PoisonCallback | None = None,
        on_held: Callable[[contract.HeldBack], None] | None = None,
        on_drained: Callable[[float], None] | None = None,
    ) -> list[ClaimedJob]:
        """Claim up to ``max_jobs`` queued jobs at once, without waiting (maybe none).

        ``lease_ms``: how long each claim lasts without a ``touch`` (recorded
        with the claim; None: the queue's ``timeout`` config applies).

        The queue's limits (config ``max_per_second``, ``max_concurrent``) may
        take fewer jobs than asked; ``on_held(held)`` is then told why and when
        to try again: pass ``held`` to :meth:`wait_held` before claiming again.
        If the queue ran out instead (fewer than asked, maybe none),
        ``on_drained(due_at)`` is told when the next scheduled job is due (a
        trio time; ``math.inf``: none): pass it to :meth:`wait_for_work` as
        ``due_at`` and the wait blocks at once, without its promote step.

        Everything done after the claim script committed is covered: a job
        whose item cannot be decoded (a poison job) is stalled with the error
        (``on_poison(job_id, error)`` is told; without it a warning is logged)
        and left out, the others are returned; if anything else goes wrong
        (a cancel, a bug), every job not yet handed out is released before the
        error propagates, so no claim is left held by nobody.
        """
        call = contract.job_claim(
            self.keys, worker_id or self.thoonk.worker_id, max_jobs=max_jobs, lease_ms=lease_ms
        )
        # Shielded once sent: a cancel landing after the script was sent would
        # drop the reply and leave its jobs claimed by nobody who knows it.
        # Connecting and retry pauses stay cancellable (nothing sent yet).
        claim = await self.thoonk.run(call, shield=True)
        return await self._claimed(claim, on_poison, on_held, on_drained, cancellable=True)

    async def wait_and_claim(
        self,
        max_jobs: int,
        *,
        until: float = math.inf,
        worker_id: str | None = None,
        lease_ms: int | None = None,
        on_poison: PoisonCallback | None = None,
        on_held: Callable[[contract.HeldBack], None] | None = None,
        on_drained: Callable[[float], None] | None = None,
    ) -> list[ClaimedJob]:
        """Wait until a job is queued (or the trio time ``until``), then :meth:`claim_many`.

        Synopsis::

            jobs = await emails.wait_and_claim(10, until=due_at, on_drained=seen.append)

        For a claimer whose last claim found the queue drained (pass that
        claim's ``on_drained`` time as ``until``: the promote step of
        :meth:`wait_for_work` is skipped). The claim is sent right behind the
        wait on its blocking connection, so the server runs it as soon as the
        wait ends: waking up and claiming cost one round trip. It runs
        however the wait ends: a job came, ``until`` came (a job scheduled
        for then is promoted and claimed), one block of the client's
        ``max_block`` passed (nothing claimed, maybe: call again), or a
        **cancel cut it**: the claim still runs and what it took is
        **returned**, not dropped (the caller sees the cancel at its next
        checkpoint, and must release the jobs it will not run; a cancel
        before anything was sent raises, as usual). Jobs are
        handed out as by :meth:`claim_many` (poison stalled, ``on_held``,
        ``on_drained``).

        Raises:
            ThoonkConnectionError, ThoonkTimeoutError: the connection broke or
                went silent, or a cut wait could not be ended (``CLIENT
                UNBLOCK`` refused: then its connection is closed): the claim
                may have run, its jobs unknown. Claim under another worker id
                from then on and let the old one leave (the runtime's
                ``_identity``), so reapers bring them back.
        """
        if isinstance(until, bool) or not isinstance(until, int | float) or math.isnan(until):
            raise UsageError(f"until must be a trio time or math.inf, not {reprlib.repr(until)}")
        if trio.current_time() >= until:
            return await self.claim_many(
                max_jobs, worker_id=worker_id, lease_ms=lease_ms, on_poison=on_poison,
                on_held=on_held, on_drained=on_drained,
            )  # fmt: skip
        call = contract.job_claim(
            self.keys, worker_id or self.thoonk.worker_id, max_jobs=max_jobs, lease_ms=lease_ms
        )
        seconds = self.thoonk.block_timeout(until - trio.current_time())
        wait = contract.job_wait_for_work(self.keys, timeout_s=seconds)
        claim = await self.thoonk.run_behind_block(wait, call)
        return await self._claimed(claim, on_poison, on_held, on_drained, cancellable=False)

    async def _claimed(
        self,
        claim: contract.Claim,
        on_poison: PoisonCallback | None,
        on_held: Callable[[contract.HeldBack], None] | None,
        on_drained: Callable[[float], None] | None,
        *,
        cancellable: bool,
    ) -> list[ClaimedJob]:
        """The jobs of a claim that ran, handed out (see :meth:`claim_many`).

        ``cancellable``: a cancel pending now releases them and raises;
        otherwise they are returned (the caller releases what it will not run).
        """
        if claim.held_back is not None and on_held is not None:
            on_held(claim.held_back)
        elif claim.drained and on_drained is not None:
            on_drained(_due_at(claim.claimed_ms, claim.next_due_ms))
        if not claim.jobs:
            if cancellable:
                await trio.lowlevel.checkpoint_if_cancelled()
            return []
        name = self.name
        at = claim.claimed_ms
        jobs: list[ClaimedJob] = []
        poison: list[tuple[contract.ClaimRecord, str]] = []
        try:
            decode = self.codec.decode
            for raw in claim.jobs:
                try:
                    item = decode(raw.item)
                except Exception as exc:  # a custom codec may raise anything
                    poison.append((raw, _error_text(exc)))
                else:
                    jobs.append(ClaimedJob(raw.id, item, raw.token, raw.failures, name, at))
            if poison:
                with trio.CancelScope(shield=True) as scope:
                    scope.deadline = trio.current_time() + GIVE_BACK_TIMEOUT
                    await self._stall_poison(poison, on_poison)
            if cancellable:
                await trio.lowlevel.checkpoint_if_cancelled()
        except BaseException:
            done = {raw.id for raw, _ in poison}
            back = [ReleaseRequest(raw.id, raw.token) for raw in claim.jobs if raw.id not in done]
            with trio.CancelScope(shield=True) as scope:
                scope.deadline = trio.current_time() + GIVE_BACK_TIMEOUT
                with contextlib.suppress(ThoonkError):
                    await self.thoonk.run(contract.job_release_many(self.keys, back, claimed_ms=at))
            raise
        return jobs

    async def _stall_poison(
        self, poison: list[tuple[contract.ClaimRecord, str]], on_poison: PoisonCallback | None
    ) -> None:
        for raw, error in poison:
            try:
                await self.stall(raw.id, token=raw.token, reason=error)
            except NotClaimedError:
                pass  # reaped or retracted meanwhile: not ours to stall any more
            except ThoonkError as exc:
                # Left claimed: the queue's timeout brings it back, its count grows,
                # and max_cancels stalls it in the end.
                log.warning(
                    "job %s of %r has an item that cannot be decoded (%s) and could not be "
                    "stalled (%s); the reaper will take it back", raw.id, self.name, error, exc,
                )  # fmt: skip
                continue
            if on_poison is not None:
                on_poison(raw.id, error)
            else:
                log.warning(
                    "job %s of %r stalled: its item cannot be decoded (%s)",
                    raw.id, self.name, error,
                )  # fmt: skip

    async def wait_held(self, held: contract.HeldBack, deadline: float = math.inf) -> None:
        """Wait as long as a limit asks, at most until the trio ``deadline``; then claim again.

        ``held.reason == "rate"``: sleeps the ``wait_ms`` the claim script
        computed on the server clock, no longer. ``"concurrency"``: returns as
        soon as a claim of the queue ends (its finish, cancel, stall, release,
        retract event) or a slot is free already; ``wait_ms`` bounds the wait
        for claims ended silently (original workers announce only finish).
        Another claimer may be quicker: then the next claim is held again.
        """
        until = min(deadline, trio.current_time() + held.wait_ms / 1000)
        if held.reason == "rate":
            await trio.sleep_until(until)
            return
        with trio.move_on_at(until):
            async with self.events(_SLOT_EVENTS) as events:
                # Subscribed first, then looked: a slot freed before is seen here,
                # one freed after comes as an event.
                config = await self.config()
                running = await self.thoonk.execute("ZCARD", self.keys.claimed, idempotent=True)
                if not config.max_concurrent or int(running) < config.max_concurrent:
                    return
                await events.receive()

    async def wait_for_work(
        self, deadline: float = math.inf, *, due_at: float | None = None
    ) -> bool:
        """Block until a job may be claimable (True) or the trio ``deadline`` passes (False).

        Takes nothing off the queue: claim afterwards (another worker may be
        quicker; then wait again). First moves scheduled jobs that are due
        (retry backoff) to the queue, and never sleeps past the next one's due
        time (server clock): then it returns True, so a claim picks it up.
        The wait is cut into server-side blocks of at most the client's
        ``max_block`` so a silently dead connection is noticed within its
        ``health_timeout``; a broken one is replaced and the wait goes on (it
        is a pure read). It returns at most one block margin after
        ``deadline``, even when the wait had to be sent again.

        ``due_at``: the next due time as a claim that found the queue drained
        told it (``claim_many``'s ``on_drained``), so the promote step is
        skipped: one round trip less between jobs. Only for a claim made just
        before; a job scheduled since is not known to it (a worker cuts the
        wait on the queue's ``schedule`` events).
        """
        if (
            isinstance(deadline, bool)
            or not isinstance(deadline, int | float)
            or (math.isnan(deadline))
        ):
            raise UsageError(
                f"deadline must be a trio time or math.inf, not {reprlib.repr(deadline)}"
            )
        if deadline - trio.current_time() <= 0:
            await trio.lowlevel.checkpoint()
            return False
        if due_at is None:
            promoted = await self.thoonk.run(contract.job_promote(self.keys))
            if promoted.moved:
                return True
            due_at = _due_at(promoted.at_ms, promoted.next_due_ms)
        until = min(deadline, due_at)
        margin = self.thoonk.block_margin or 2.0
        while True:
            remaining = until - trio.current_time()
            if remaining <= 0:
                await trio.lowlevel.checkpoint()
                # At the next due time there may be work (True), else the deadline.
                return due_at <= deadline
            seconds = self.thoonk.block_timeout(remaining)  # 0 (no health checks): for ever
            command = contract.job_wait_for_work(self.keys, timeout_s=seconds)
            with trio.move_on_at(until + margin):
                if await self.thoonk.read(command):
                    return True
                continue
            return due_at <= deadline

    # ---------------------------------------------------------------- settle

    async def finish(self, job: JobRef, result: Any = None, *, token: str | None = None) -> None:
        """Finish a claimed job with an optional result (JSON by default).

        ``result=None`` finishes without a result (the finish event is then the
        bare id, as the original sends it).

        Raises:
            NotClaimedError: the job is not claimed.
            ClaimLostError: it is claimed, but not with your token any more.
        """
        job_id, token = _ref(job, token)
        encoded = None if result is None else self.result_codec.encode(result)
        await self.thoonk.run(contract.job_finish(self.keys, job_id, token=token, result=encoded))

    async def finish_many(
        self, outcomes: Sequence[tuple[JobRef, Any]]
    ) -> tuple[FinishOutcome, ...]:
        """Finish several jobs in one script: ``[(job, result), ...]``; one outcome each."""
        encode = self.result_codec.encode
        requests = []
        token: str | None
        for job, result in outcomes:
            if type(job) is ClaimedJob:
                job_id, token = job.id, job.token
            else:
                job_id, token = _ref(job, None)
            requests.append(
                FinishRequest(job_id, token, None if result is None else encode(result))
            )
        if not requests:
            await trio.lowlevel.checkpoint()
            return ()
        return await self.thoonk.run(contract.job_finish_many(self.keys, requests))

    async def cancel(
        self,
        job: JobRef,
        *,
        token: str | None = None,
        error: str | None = None,
        max_cancels: int | None = None,
        retry_delay_ms: int | None = None,
    ) -> JobCancelled:
        """Give a failed job back (failure count + 1); stalled once it reaches ``max_cancels``.

        The job waits out the queue's retry backoff (config ``retry_delay``,
        ``retry_factor``, ``retry_delay_max``; see ``scheduled()``) before it can
        be claimed again; ``retry_delay_ms`` overrides it (0: at once).
        ``max_cancels`` overrides the queue's (default 10). ``error`` (text) is
        kept beside the job for whoever looks at it later.
        """
        job_id, token = _ref(job, token)
        return await self.thoonk.run(
            contract.job_cancel(
                self.keys,
                job_id,
                token=token,
                error=error,
                max_cancels=max_cancels,
                retry_delay_ms=retry_delay_ms,
            )
        )

    async def stall(
        self, job: JobRef, *, token: str | None = None, reason: str | None = None
    ) -> None:
        """Put a claimed job aside until a person retries it."""
        job_id, token = _ref(job, token)
        await self.thoonk.run(contract.job_stall(self.keys, job_id, token=token, reason=reason))

    async def retry(self, job_id: str) -> None:
        """Queue a stalled job again.

        Raises:
            NotStalledError: the job is not stalled.
        """
        await self.thoonk.run(contract.job_retry(self.keys, job_id))

    async def retract(self, job_id: str) -> None:
        """Remove a job, whatever its state (a waiter on its result is told).

        Raises:
            NotFoundError: no such job.
        """
        await self.thoonk.run(contract.job_retract(self.keys, job_id))

    async def release(self, job: JobRef, *, token: str | None = None) -> None:
        """Give a claimed job back to the head of the queue without counting a failure.

        It goes back behind any job pushed to the head since it was claimed (a
        priority publish), so a release never jumps ahead of those.

        Raises:
            NotClaimedError: the job is not claimed.
            ClaimLostError: it is claimed, but not with your token any more.
        """
        job_id, token = _ref(job, token)
        claimed_ms = job.claimed_ms if isinstance(job, ClaimedJob) and job.claimed_ms else None
        (outcome,) = await self.thoonk.run(
            contract.job_release_many(
                self.keys, [ReleaseRequest(job_id, token)], claimed_ms=claimed_ms
            )
        )
        if outcome.error is not None:
            raise outcome.error

    async def release_many(self, jobs: Sequence[JobRef]) -> tuple[ReleaseOutcome, ...]:
        """Give several claimed jobs back in one script; one outcome each, in order.

        They go to the head of the queue in the order given (the first given
        is claimed first again), behind the jobs pushed to the head since the
        latest of their claims (priority publishes). No failure is counted.
        """
        requests = []
        latest = 0
        for job in jobs:
            job_id, token = _ref(job, None)
            requests.append(ReleaseRequest(job_id, token))
            if isinstance(job, ClaimedJob):
                latest = max(latest, job.claimed_ms)
        if not requests:
            await trio.lowlevel.checkpoint()
            return ()
        return await self.thoonk.run(
            contract.job_release_many(self.keys, requests, claimed_ms=latest or None)
        )

    async def held(self, jobs: Sequence[ClaimedJob]) -> tuple[HeldState, ...]:
        """Where each job you hold stands now: still ``mine``, or why not (reads only).

        For a worker to notice a claim taken away under it (retracted, cancelled
        or stalled by someone else, reaped, finished by a person).
        """
        if not jobs:
            await trio.lowlevel.checkpoint()
            return ()
        return await self.thoonk.run(
            contract.job_held(self.keys, [(_held(job, "held").id, job.token) for job in jobs])
        )

    async def touch(self, job: ClaimedJob) -> None:
        """Renew your claim (its claim time becomes now), so no reaper takes it back."""
        _held(job, "touch")
        await self.thoonk.run(contract.job_touch(self.keys, job.id, job.token))

    #: Shortest time between two progress reports of one claim that are written
    #: (see :meth:`progress`).
    progress_interval: float = 0.2

    async def progress(self, job: ClaimedJob, fraction: float, info: Any = None) -> bool:
        """``await jobs.progress(job, 0.5, {"step": "upload"})``: report how far a job got.

        Stores the last value (:meth:`progress_of`) and publishes a ``progress``
        event (what ``wait_result(..., on_progress=...)``, the JobBoard and
        ``thoonk top`` show). Only the holder of the claim may report: the
        claim token goes along. Inside a runtime handler use
        :func:`thoonk_actors.progress`, which finds the job by itself.

        Throttled, so a handler may call it in a tight loop: a report is
        written when it is the claim's first, or ``fraction`` is 0 or 1, or at
        least :attr:`progress_interval` seconds (0.2) passed since the last
        written one; other reports are skipped (returns False) — the next one
        written carries the newer value.

        Raises:
            UsageError: ``fraction`` is not a number in [0, 1], or ``job`` is
                not a ClaimedJob. PayloadError: ``info`` is not JSON-serialisable
                or is over 4096 bytes as JSON. Nothing is sent then.
            ClaimLostError: the job is not claimed by this claim any more
                (finished, cancelled, stalled, reaped or retracted).
        """
        _held(job, "progress")
        call = contract.job_progress(self.keys, job.id, job.token, fraction, info)
        now = trio.current_time()
        sent = self._progress_sent
        last = sent.get(job.token)
        if last is not None and now - last < self.progress_interval and 0 < fraction < 1:
            await trio.lowlevel.checkpoint()
            return False
        if len(sent) >= 1024:  # entries older than the interval throttle nothing
            for token in [t for t, at in sent.items() if now - at >= self.progress_interval]:
                del sent[token]
        sent[job.token] = now
        await self.thoonk.run(call)
        return True

    async def progress_of(self, job_id: str) -> JobProgress | None:
        """The last progress reported for a claimed job, or None (none reported, or not claimed)."""
        return await self.thoonk.read(contract.job_progress_of(self.keys, job_id))

    async def progress_all(self) -> tuple[JobProgress, ...]:
        """The last progress of every claimed job that reported one."""
        return await self.thoonk.read(contract.job_progress_all(self.keys))

    # ------------------------------------------------------------ maintenance

    async def heartbeat(self, *, worker_id: str | None = None, leave: bool = False) -> None:
        """Tell reapers this worker is alive (``leave=True``: it is going away)."""
        await self.thoonk.run(
            contract.job_heartbeat(self.keys, worker_id or self.thoonk.worker_id, leave=leave)
        )

    async def reap(
        self, *, stale_ms: int = HEARTBEAT_STALE_MS, orphan_grace_ms: int = ORPHAN_GRACE_MS
    ) -> ReapReport:
        """One sweep: take back claims that timed out or whose worker went silent.

        Idempotent; any number of processes may run it at once.
        """
        return await self.thoonk.run(
            contract.job_reap(self.keys, stale_ms=stale_ms, orphan_grace_ms=orphan_grace_ms)
        )

    # ------------------------------------------------------------------ reads

    async def statistics(self, *, stale_ms: int = HEARTBEAT_STALE_MS) -> JobStats:
        """A consistent snapshot: available, claimed, stalled, scheduled, publishes, finishes,
        workers."""
        return await self.thoonk.run(contract.job_stats(self.keys, stale_ms=stale_ms))

    async def item(self, job_id: str) -> Any:
        """The payload of a job that is queued, claimed or stalled.

        Raises:
            NotFoundError: no such job (finished, retracted or never published).
        """
        raw = await self.thoonk.read(contract.job_item(self.keys, job_id))
        if raw is None:
            raise NotFoundError(
                f"job queue {self.name!r} has no job {job_id!r} (finished, retracted or "
                "never published); list them with available_ids() / claimed() / stalled_ids()"
            )
        return self.codec.decode(raw)

    async def failure_count(self, job_id: str) -> int:
        """How many times the job was cancelled since it was published or retried."""
        return await self.thoonk.read(contract.job_failure_count(self.keys, job_id))

    async def last_error(self, job_id: str) -> str | None:
        """The error text of the job's last cancel, stall or reap, if any."""
        return await self.thoonk.read(contract.job_error(self.keys, job_id))

    async def available_ids(self) -> tuple[str, ...]:
        """Queued ids, next to be claimed first."""
        return await self.thoonk.read(contract.job_available_ids(self.keys))

    async def claimed(self) -> tuple[tuple[str, int], ...]:
        """Claimed ids with their claim time (ms), oldest claim first."""
        return await self.thoonk.read(contract.job_claimed(self.keys))

    async def stalled_ids(self) -> tuple[str, ...]:
        """Stalled ids (sorted)."""
        return await self.thoonk.read(contract.job_stalled_ids(self.keys))

    async def scheduled(self) -> tuple[tuple[str, int], ...]:
        """Failed jobs waiting out their retry backoff: ``(id, due_ms)``, soonest first.

        ``due_ms`` is server time. Original (JS) workers do not see these jobs
        until a claim, a wait or a reap sweep of ours moves them to the queue.
        """
        return await self.thoonk.read(contract.job_scheduled(self.keys))

    async def workers(self) -> tuple[tuple[str, int], ...]:
        """Worker ids with their last heartbeat (ms)."""
        return await self.thoonk.read(contract.job_workers(self.keys))

    # ---------------------------------------------------------------- results

    async def wait_result(
        self,
        job_id: str,
        timeout: float | None = None,  # noqa: ASYNC109
        *,
        on_progress: ProgressCallback | None = None,
    ) -> Any:
        """The result of a job, once it is finished (None if it finished without one).

        ``on_progress(p)`` (a plain function, called in this task's loop; keep
        it short) is told every progress the job reports while you wait (a
        :class:`~thoonk_actors.contract.JobProgress`: ``fraction``, ``info``,
        ``at_ms``), starting with the last stored one; what it raises is logged.

        Race-free: the waiter is subscribed before it looks at the stored
        result, and a finished job's result stays readable for the queue's
        ``result_ttl`` (default 10 minutes), so a late waiter still gets it.
        The finish of a job THIS client published is caught from the moment
        of publishing (even one by the original JavaScript client, which
        stores no result) and kept for ``result_ttl`` until asked for. A
        result stored by an older run of a reused id is never returned while
        the id is published again.

        Raises:
            NotFoundError: the job was retracted, or there is nothing to wait
                for: the id is neither queued, claimed, scheduled nor stalled
                and has no result (never published, retracted by a client that
                sends no event, or its result expired). Checked when the wait
                starts and every :attr:`result_recheck_s` seconds while waiting.
            ResultTimeoutError: ``timeout`` seconds passed first.
        """
        _check_timeout(timeout)
        contract.existing_id_arg(job_id)  # before it becomes a key of the router's table
        router = await self._router()
        if on_progress is None:
            with router.waiting(job_id) as waiter:
                return await self._wait(job_id, waiter, timeout)
        # Subscribed before the stored value is read, so no report falls in between.
        # The wait's own error is raised after the nursery, never inside an ExceptionGroup.
        error: Exception | None = None
        tell = _ProgressTeller(job_id, on_progress)
        async with self.events(["progress"]) as events:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._follow_progress, job_id, events, tell)
                try:
                    with router.waiting(job_id) as waiter:
                        value = await self._wait(job_id, waiter, timeout)
                except Exception as exc:
                    error = exc
                nursery.cancel_scope.cancel()
            # Reports sent before the finish arrived before it (one pub/sub
            # connection, in order): the ones the follower had no turn for.
            while (event := events.receive_nowait()) is not None:
                if not isinstance(event, Gap) and event.id == job_id:
                    tell.event(event.data)
        if error is not None:
            raise error
        return value

    async def _follow_progress(self, job_id: str, events: Events, tell: _ProgressTeller) -> None:
        """Tell the stored progress, then every newer reported one."""
        try:
            tell(await self.progress_of(job_id))
            async for event in events:
                if isinstance(event, Gap):  # reports may have been missed: read the last one
                    tell(await self.progress_of(job_id))
                elif event.id == job_id:
                    tell.event(event.data)
        except ThoonkError as exc:  # progress is a courtesy: the wait for the result goes on
            log.warning("following the progress of job %r stopped: %s", job_id, exc)

    #: While waiting for a result, how often the job's state is looked at again
    #: (a job retracted by the original client, or one whose finish left no
    #: event, is noticed within this time).
    result_recheck_s: float = 2.0
    #: Before a wait raises NotFoundError, how long it still listens for a
    #: finish event that may be on its way (it travels on another connection).
    result_settle_s: float = 1.0

    async def _wait(self, job_id: str, waiter: Waiter, timeout: float | None) -> Any:  # noqa: ASYNC109
        router = await self._router()
        deadline = trio.current_time() + (math.inf if timeout is None else timeout)
        # A job published here under a fresh id: its outcome comes as an event (the
        # router was subscribed before the publish), so no barrier and no read. Only
        # when none comes within result_recheck_s (a retract by a client that sends
        # no event) or a gap happens, the stored state is looked at below.
        outcome = router.fresh_outcome(job_id)
        if outcome is not None:
            await trio.lowlevel.checkpoint()  # answered from memory: still a checkpoint
        elif router.fresh(job_id):
            with trio.move_on_at(min(deadline, trio.current_time() + self.result_recheck_s)):
                outcome = await waiter.next()
                if outcome.event == "gap":
                    outcome = None
        if outcome is not None:
            router.forget(job_id)
            if outcome.event == "retract":
                raise self._retracted(job_id)
            return self._decode_result(outcome.data)
        settled = False
        with trio.move_on_at(deadline):
            while True:
                # Every event published before now reaches the router first, so the
                # outcomes counted here are all older than the read below.
                await self.thoonk.result_barrier(router)
                before = len(waiter)
                kept_before = router.kept(job_id)
                state = await self.thoonk.run(contract.job_wait_state(self.keys, job_id))
                router.result_ttl = state.result_ttl_ms / 1000
                if state.pending:
                    # A publication is pending: whatever finished before it is an older run.
                    waiter.drop(before)
                    if kept_before is not None and router.kept(job_id) is kept_before:
                        router.drop_kept(job_id)
                else:
                    outcome = waiter.take_finish() or router.kept(job_id)
                    if outcome is None and state.result is None and not settled:
                        # Its finish event may still be on its way (another connection):
                        # listen a little longer, then look again before giving up.
                        settled = True
                        with trio.move_on_after(self.result_settle_s):
                            outcome = await waiter.next()
                        if outcome is None or outcome.event == "gap":
                            continue  # look again (a gap: the stored result may be there)
                    if outcome is not None:
                        router.forget(job_id)
                        if outcome.event == "retract":
                            raise self._retracted(job_id)
                        return self._decode_result(outcome.data)
                    stored = state.result
                    if stored is not None:
                        router.forget(job_id)
                        if stored.state == "retracted":
                            raise self._retracted(job_id)
                        return self._decode_result(stored.result)
                    raise NotFoundError(
                        f"no job {job_id!r} in job queue {self.name!r}: never published, "
                        f"retracted, or its result expired after {state.result_ttl_ms / 1000:g} s"
                    )
                with trio.move_on_after(self.result_recheck_s):
                    outcome = await waiter.next()
                    if outcome.event == "finish":
                        router.forget(job_id)
                        return self._decode_result(outcome.data)
                    if outcome.event == "retract":
                        router.forget(job_id)
                        raise self._retracted(job_id)
                # a gap or the recheck interval: look at the job again
        raise ResultTimeoutError(
            f"job {job_id!r} of queue {self.name!r} did not finish within {timeout:g} s; "
            "it is still queued, claimed, scheduled or stalled (see statistics())"
        )

    async def publish_and_wait(
        self,
        item: Any,
        timeout: float | None = None,  # noqa: ASYNC109
        *,
        id: str | None = None,
        priority: bool = False,
    ) -> Any:
        """Publish a job and wait for its result (subscribed before publishing).

        Durable as the queue's ``durable`` settings say (see :meth:`publish`).
        """
        _check_timeout(timeout)
        replicas, wait_s = await self.thoonk.durability.of(self.keys, durable=None, wait_s=None)
        fresh = id is None
        job_id = _uuid4(os.urandom(16)) if id is None else id
        router = await self._router()
        # Waiting starts before the publish: a finish event that beats the
        # publish reply (it can, under load) is kept for us.
        with router.waiting(job_id) as waiter:
            await self._publish(item, job_id, fresh, priority, durable=replicas, wait_s=wait_s)
            return await self._wait(job_id, waiter, timeout)

    def _decode_result(self, data: bytes | None) -> Any:
        return None if data is None else self.result_codec.decode_result(data)

    def _retracted(self, job_id: str) -> NotFoundError:
        return NotFoundError(
            f"job {job_id!r} of queue {self.name!r} was retracted before it finished"
        )

    async def _router(self) -> ResultRouter:
        return await self.thoonk.result_router(self)

    async def _expect(self, job_ids: Iterable[str], *, fresh: bool = False) -> None:
        """Catch (and keep) the finishes of jobs about to be published by this client.

        ``fresh``: the ids were generated here at random (see ``ResultRouter.expect``).
        """
        router = self.thoonk.result_router_nowait(self)
        if router is None:
            router = await self._router()
        for job_id in job_ids:
            router.expect(job_id, fresh=fresh)


def _due_at(at_ms: int, next_due_ms: int | None) -> float:
    """The trio time a job due at ``next_due_ms`` is (server clock read at ``at_ms``, just now)."""
    if next_due_ms is None:
        return math.inf
    # + 1 ms: BLMOVE's timeout and the server clock are both ms-grained.
    return trio.current_time() + max(next_due_ms - at_ms + 1, 1) / 1000
