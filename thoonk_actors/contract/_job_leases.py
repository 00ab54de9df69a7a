"""Job leases and upkeep: touch, heartbeat, release, reap, stats (scripts).

Synopsis::

    job_heartbeat(keys, "host:1234")                    # every few seconds per process
    job_touch(keys, job.id, job.token)                  # while a handler runs
    job_release(keys, job.id, token=job.token)          # graceful shutdown
    report = job_reap(keys, stale_ms=15_000, orphan_grace_ms=10_000).decode(reply)
"""

from __future__ import annotations

from ._build import check_count, layout, make_call, ok_values
from ._call import Call, Reply, as_int, as_text, unexpected
from ._job import MAX_BATCH, item_label, jitter_arg, token_arg
from ._job_results import (
    HOLD_REASONS,
    REAP_OUTCOMES,
    REAP_REASONS,
    JobStats,
    Promoted,
    Reaped,
    ReapReport,
)
from ._keys import JobKeys
from ._names import existing_id_arg, validate_id

layout("job/touch", ("claimed", "owners"))


def job_touch(keys: JobKeys, id: str, token: str) -> Call[int]:
    """``job_touch(keys, "job-1", token)``: renew the claim; decodes to the new claim ms.

    Raises:
        InvalidIdError: (now) a bad id or token (a token is required).
        ClaimLostError: (decode) the job is not claimed by that token any more.
    """
    raw_id = existing_id_arg(id)
    validate_id(token, what="claim token")

    def decode(reply: Reply) -> int:
        values = ok_values(reply, script="job/touch", obj=keys.label, item=item_label(keys, id))
        return as_int(values[1], "job/touch")

    return make_call("job/touch", keys, [raw_id, token], decode)


layout("job/heartbeat", ("workers",))


def job_heartbeat(keys: JobKeys, worker_id: str, *, leave: bool = False) -> Call[int]:
    """``job_heartbeat(keys, "host:1234")``: the worker is alive; decodes to the server ms.

    ``leave=True`` removes the worker (clean shutdown, after releasing its jobs).
    """
    validate_id(worker_id, what="worker id")

    def decode(reply: Reply) -> int:
        values = ok_values(reply, script="job/heartbeat", obj=keys.label, op="heartbeat")
        return as_int(values[0], "job/heartbeat")

    beat = [worker_id, "leave" if leave else "beat"]
    return make_call("job/heartbeat", keys, beat, decode, idempotent=True)


layout("job/release", ("ids", "claimed", "owners"))


def job_release(keys: JobKeys, id: str, *, token: str | None = None) -> Call[None]:
    """``job_release(keys, "job-1", token=t)``: give a claim back without counting a failure.

    The job returns to the head of the queue (it keeps its turn). For graceful
    shutdown: jobs claimed but not started, or interrupted.

    Raises:
        InvalidIdError: (now).
        NotClaimedError: (decode, no token) the job is not claimed.
        ClaimLostError: (decode, token given) the job is not claimed by that token any more.
    """
    raw_id = existing_id_arg(id)

    def decode(reply: Reply) -> None:
        ok_values(reply, script="job/release", obj=keys.label, item=item_label(keys, id))

    return make_call(
        "job/release", keys, [raw_id, token_arg(token), keys.channel("release")], decode
    )


layout(
    "job/reap",
    (
        "config",
        "ids",
        "items",
        "published",
        "claimed",
        "cancelled",
        "stalled",
        "owners",
        "workers",
        "errors",
        "orphans",
        "leases",
        "scheduled",
        "seen",
        "progress",
    ),
)


def job_reap(
    keys: JobKeys, *, stale_ms: int, orphan_grace_ms: int, jitter: float | None = None
) -> Call[ReapReport]:
    """``job_reap(keys, stale_ms=15_000, orphan_grace_ms=10_000)``: one maintenance sweep.

    Takes back claims not renewed within their lease (the lease the claimer
    recorded; the queue's ``timeout`` config for claims without one, counted
    for a claim without an owner -- an original client's, stamped with that
    client's clock -- from when a sweep first saw it, by the server clock), claims
    whose owner's heartbeat is older than ``stale_ms`` (0 = skip this rule) or
    absent, and jobs lost by original workers between pop and claim (seen lost
    by two sweeps at least ``orphan_grace_ms`` apart). Reaped jobs wait out the
    retry backoff (``jitter`` as in ``job_cancel``); scheduled jobs that are
    due are moved to the queue. Idempotent; run it from any number of processes.

    Raises:
        UsageError: (now) a negative window.
        BadStoredConfigError: (decode) timeout / max_cancels in config are garbage.
    """
    check_count(stale_ms, what="stale_ms", low=0, high=2**40)
    check_count(orphan_grace_ms, what="orphan_grace_ms", low=0, high=2**40)

    def decode(reply: Reply) -> ReapReport:
        values = ok_values(reply, script="job/reap", obj=keys.label, op="reap")
        at = as_int(values[0], "job/reap")
        count = as_int(values[1], "job/reap")
        rest = values[2:]
        if len(rest) != 3 * count:
            raise unexpected("job/reap", reply)
        reaped = []
        for i in range(0, len(rest), 3):
            outcome = REAP_OUTCOMES.get(as_text(rest[i + 1], "job/reap"))
            reason = REAP_REASONS.get(as_text(rest[i + 2], "job/reap"))
            if outcome is None or reason is None:
                raise unexpected("job/reap", reply)
            reaped.append(Reaped(as_text(rest[i], "job/reap"), outcome, reason))
        return ReapReport(at_ms=at, reaped=tuple(reaped))

    return make_call(
        "job/reap",
        keys,
        [
            stale_ms,
            orphan_grace_ms,
            keys.channel("cancel"),
            keys.channel("stall"),
            jitter_arg(jitter),
        ],
        decode,
    )


layout(
    "job/stats",
    (
        "ids",
        "items",
        "claimed",
        "stalled",
        "publishes",
        "finishes",
        "workers",
        "scheduled",
        "config",
        "limits",
    ),
)


def job_stats(keys: JobKeys, *, stale_ms: int) -> Call[JobStats]:
    """``job_stats(keys, stale_ms=15_000)``: counts in one consistent read.

    ``workers_alive`` counts heartbeats newer than ``stale_ms``; ``held_back``
    says whether a limit (``max_per_second`` / ``max_concurrent``) keeps
    queued jobs waiting.
    """
    check_count(stale_ms, what="stale_ms", low=0, high=2**40)

    def decode(reply: Reply) -> JobStats:
        values = ok_values(reply, script="job/stats", obj=keys.label, op="stats")
        if len(values) != 10:
            raise unexpected("job/stats", reply)
        at, available, claimed, stalled, items, publishes, finishes, alive, scheduled = (
            as_int(v, "job/stats") for v in values[:9]
        )
        held = values[9]
        reason = HOLD_REASONS.get(held) if type(held) is bytes else None
        if reason is None and held != b"":
            raise unexpected("job/stats", reply)
        return JobStats(
            at, available, claimed, stalled, items, publishes, finishes, alive, scheduled, reason
        )

    return make_call("job/stats", keys, [stale_ms], decode, idempotent=True)


layout("job/promote", ("ids", "items", "scheduled"))


def job_promote(keys: JobKeys, *, limit: int = 1000) -> Call[Promoted]:
    """``job_promote(keys)``: move due scheduled jobs to the queue; when is the next one due?

    The step a waiting worker runs before it blocks (claim and reap run it
    inside their own scripts), so no separate process is needed and a worker
    never sleeps past the next due job. Idempotent; any number at once.

    Raises:
        UsageError: (now) ``limit`` not in 1..10000.
    """
    check_count(limit, what="limit", high=MAX_BATCH)

    def decode(reply: Reply) -> Promoted:
        values = ok_values(reply, script="job/promote", obj=keys.label, op="promote")
        if len(values) != 3:
            raise unexpected("job/promote", reply)
        at, moved, due = (as_int(v, "job/promote") for v in values)
        return Promoted(at_ms=at, moved=moved, next_due_ms=None if due < 0 else due)

    return make_call("job/promote", keys, [limit], decode, idempotent=True)
