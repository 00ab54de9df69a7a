"""Values of the job operations: inputs (NewJob, FinishRequest) and typed results.

Synopsis: ``claim = job_claim(keys, "w").decode(reply)``; ``for job in claim.jobs:
job.id, job.item, job.token, job.failures``. All frozen, slotted dataclasses.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from .._errors import ThoonkError


@dataclass(frozen=True, slots=True)
class JobPublished:
    """A job was queued: its id and the server time of the publish (ms).

    ``due_ms`` is the server time (ms) a delayed job becomes claimable (it
    waits in ``job.scheduled`` until then), None when it was queued at once.
    """

    id: str
    at_ms: int
    due_ms: int | None = None


@dataclass(frozen=True, slots=True)
class NewJob:
    """One job for :func:`job_publish_many`: id, encoded item, priority flag."""

    id: str
    item: bytes
    priority: bool = False


@dataclass(frozen=True, slots=True)
class ClaimRecord:
    """One job of a decoded claim reply (:attr:`Claim.jobs`): its item still encoded.

    The sans-IO record of a job this worker now holds; the objects layer
    decodes ``item`` and turns it into :class:`thoonk_actors.ClaimedJob`. Pass
    ``token`` back to finish / cancel / stall / touch. ``failures`` is its
    cancel count so far (0 on the first attempt).
    """

    id: str
    item: bytes
    token: str
    failures: int


#: Why a claim took fewer jobs than asked: the queue's ``max_per_second`` or
#: ``max_concurrent`` config (ext).
HoldReason = Literal["rate", "concurrency"]
#: The reply text of each hold reason.
HOLD_REASONS: dict[bytes, HoldReason] = {b"rate": "rate", b"concurrency": "concurrency"}


@dataclass(frozen=True, slots=True)
class HeldBack:
    """A limit of the queue took fewer jobs than asked (maybe none).

    ``reason`` ``"rate"``: claim again in ``wait_ms`` (server clock), when the
    next claim fits ``max_per_second``. ``"concurrency"``: ``max_concurrent``
    jobs are claimed; claim again when one of them ends (finish, cancel,
    stall, release, retract events); ``wait_ms`` is a fallback for claims
    ended by clients that announce nothing (original workers).
    """

    reason: HoldReason
    wait_ms: int


@dataclass(frozen=True, slots=True)
class Claim:
    """The outcome of one claim call: the jobs (maybe none) and the claim time.

    ``dropped`` counts ids popped and thrown away because their item was gone or
    they were already claimed (left by original clients). ``held_back``: set
    when a limit of the queue took fewer jobs than asked. ``drained``: the
    queue ran out instead (fewer than asked, maybe none); ``next_due_ms`` is
    then when the next scheduled job is due (server clock; None: none), what
    ``job_promote`` would tell, so an idle worker can block without it.
    """

    claimed_ms: int
    jobs: tuple[ClaimRecord, ...]
    dropped: int
    held_back: HeldBack | None = None
    drained: bool = False
    next_due_ms: int | None = None


@dataclass(frozen=True, slots=True)
class JobFinished:
    """A job was finished at ``at_ms`` (server time)."""

    id: str
    at_ms: int


@dataclass(frozen=True, slots=True)
class FinishRequest:
    """One entry of :func:`job_finish_many`: id, claim token, encoded result (None = none)."""

    id: str
    token: str | None = None
    result: bytes | None = None


FinishStatus = Literal["ok", "not_claimed", "claim_lost", "wrongtype"]
CancelOutcome = Literal["cancelled", "stalled"]
ReapOutcome = Literal["cancelled", "stalled", "dropped"]
ReapReason = Literal["timeout", "owner_gone", "ghost", "orphan", "max_cancels"]

# Reply text -> the Literal value: a typed way to check a reply field.
FINISH_STATUSES: dict[str, FinishStatus] = {
    "ok": "ok",
    "not_claimed": "not_claimed",
    "claim_lost": "claim_lost",
    "wrongtype": "wrongtype",
}
CANCEL_OUTCOMES: dict[str, CancelOutcome] = {"cancelled": "cancelled", "stalled": "stalled"}
REAP_OUTCOMES: dict[str, ReapOutcome] = {
    "cancelled": "cancelled",
    "stalled": "stalled",
    "dropped": "dropped",
}
REAP_REASONS: dict[str, ReapReason] = {
    "timeout": "timeout",
    "owner_gone": "owner_gone",
    "ghost": "ghost",
    "orphan": "orphan",
    "max_cancels": "max_cancels",
}


@dataclass(frozen=True, slots=True)
class FinishOutcome:
    """The outcome for one id of :func:`job_finish_many`; ``error`` is None when it finished."""

    id: str
    status: FinishStatus
    error: ThoonkError | None


@dataclass(frozen=True, slots=True)
class JobCancelled:
    """A cancel went through: retried later (``cancelled``) or put aside (``stalled``)."""

    id: str
    outcome: CancelOutcome
    count: int
    #: When a cancelled job is due back in the queue (ms, server clock), or None
    #: when it went straight back (no backoff) or was stalled.
    retry_at_ms: int | None = None


@dataclass(frozen=True, slots=True)
class Reaped:
    """One job taken back by a reap sweep, and why."""

    id: str
    outcome: ReapOutcome
    reason: ReapReason


@dataclass(frozen=True, slots=True)
class ReapReport:
    """What one reap sweep did (``reaped`` is empty most of the time)."""

    at_ms: int
    reaped: tuple[Reaped, ...]


@dataclass(frozen=True, slots=True)
class JobStats:
    """A consistent snapshot of a job queue's counts."""

    at_ms: int
    available: int
    claimed: int
    stalled: int
    items: int
    publishes: int
    finishes: int
    workers_alive: int
    #: Failed jobs waiting out their retry backoff (ext; not in ``available``).
    scheduled: int = 0
    #: Why queued jobs wait although workers could take them (ext): ``"concurrency"``
    #: (``max_concurrent`` jobs are claimed), ``"rate"`` (``max_per_second`` held a
    #: claim back in the last 2 s), or None.
    held_back: HoldReason | None = None


@dataclass(frozen=True, slots=True)
class Promoted:
    """What one promote step did: ids moved to the queue, and the next due time.

    ``next_due_ms`` is the server time (ms) at which the earliest scheduled job
    is due, or None when nothing is scheduled; ``at_ms`` is the server time now.
    """

    at_ms: int
    moved: int
    next_due_ms: int | None
