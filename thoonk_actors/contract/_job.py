"""Job queue operations (scripts): wire-compatible with the original thoonk-jobs.

Synopsis::

    keys = JobKeys.of("emails")
    call = job_publish(keys, "job-1", codec.encode(item), priority=False)
    published = call.decode(await transport.run(call))     # JobPublished
    claim = job_claim(keys, worker_id="host:pid", max_jobs=10)
    job_finish(keys, job.id, token=job.token, result=codec.encode(value))

Every builder validates its arguments first (InvalidIdError, UsageError) and
returns a :class:`Call`; ``call.decode(reply)`` returns the typed result or
raises the refusal (NotClaimedError, ClaimLostError, ...). Leases and upkeep
(touch, heartbeat, release, reap, stats) are in ``_job_leases``; reads that
need no script in ``_job_reads``; result types in ``_job_results``.
"""

from __future__ import annotations

import random
import reprlib
from collections.abc import Sequence

from .._errors import UsageError
from ._build import (
    arg,
    channel_arg,
    check_count,
    encoded_call,
    layout,
    make_call,
    name_arg,
    ok_values,
)
from ._call import Call, Reply, as_int, as_text, status, unexpected
from ._config import MAX_COUNT, MAX_MS
from ._job_results import (
    CANCEL_OUTCOMES,
    FINISH_STATUSES,
    HOLD_REASONS,
    Claim,
    ClaimRecord,
    FinishOutcome,
    FinishRequest,
    HeldBack,
    JobCancelled,
    JobFinished,
    JobPublished,
    NewJob,
)
from ._job_ticks import ScheduleTick, _tick_args
from ._keys import JobKeys
from ._names import existing_id_arg, id_arg, id_text, validate_id
from ._refusals import refusal

#: Longer error texts are cut to this many bytes before they are stored.
MAX_ERROR_BYTES = 16_384
#: Most jobs one claim / publish_many / finish_many call may carry.
MAX_BATCH = 10_000


# Helpers shared with _job_leases.


def item_label(keys: JobKeys, id: str) -> str:
    """``"job 'x' in job queue 'emails'"``: how messages name one job."""
    return f"job {id!r} in {keys.label}"


def token_arg(token: str | None) -> str:
    """The token ARGV: '' for none (original behaviour), else a validated token."""
    return "" if token is None else validate_id(token, what="claim token")


def _token_bytes(token: str | None) -> bytes:
    """:func:`token_arg` as the bytes sent."""
    return b"" if token is None else id_arg(token, what="claim token")


def text_arg(text: str | None) -> bytes:
    """An error text ARGV: UTF-8, cut to MAX_ERROR_BYTES; b'' keeps the previous text."""
    if not text:
        return b""
    raw = text.encode("utf-8", "replace")
    if len(raw) > MAX_ERROR_BYTES:
        raw = raw[: MAX_ERROR_BYTES - 3] + "…".encode()
    return raw


def _result_args(result: bytes | None) -> tuple[bool, bytes]:
    if result is None:
        return False, b""
    if not isinstance(result, bytes):
        raise UsageError(
            f"a job result must be encoded to bytes first (codec.encode), not "
            f"{type(result).__name__}"
        )
    return True, result


def _payload(value: object, what: str) -> bytes:
    if not isinstance(value, bytes):
        raise UsageError(
            f"{what} must be encoded to bytes first (codec.encode), not {type(value).__name__}"
        )
    return value


# --------------------------------------------------------------------- publish

_PUBLISH_KEYS = layout(
    "job/publish_many",
    (
        "ids",
        "items",
        "published",
        "claimed",
        "stalled",
        "cancelled",
        "owners",
        "errors",
        "orphans",
        "publishes",
        "scheduled",
    ),
)
layout("job/publish", (*_PUBLISH_KEYS, "ticks"))


def _when_arg(*, delay_ms: int | None, at_ms: int | None, priority: object) -> bytes:
    """The ``when`` ARGV of the publish scripts: ``b""``, ``b"d<ms>"`` or ``b"a<ms>"``.

    ``delay_ms`` counts from the server's clock when the script runs (so a
    client whose clock is off still delays by the right amount); ``at_ms`` is
    an absolute time (ms since the epoch), compared with the server's clock.

    Raises:
        UsageError: both given, a value that is not an int in range, or a
            delay combined with ``priority`` (a delayed job joins the back of
            the queue when it is due, as a retry does).
    """
    if delay_ms is None and at_ms is None:
        return b""
    if delay_ms is not None and at_ms is not None:
        raise UsageError("give a delay or an absolute time for a job, not both")
    if priority is True:
        raise UsageError(
            "a delayed job cannot be a priority job: when due it joins the back of the "
            "queue (publish it with priority=True when it is due instead)"
        )
    if delay_ms is not None:
        return b"d%d" % check_count(delay_ms, what="delay_ms", low=0, high=MAX_MS)
    return b"a%d" % check_count(at_ms, what="at_ms", low=0, high=2**53)


def job_publish(
    keys: JobKeys,
    id: str,
    item: bytes,
    *,
    priority: bool = False,
    delay_ms: int | None = None,
    at_ms: int | None = None,
    tick: ScheduleTick | None = None,
) -> Call[JobPublished]:
    """``job_publish(keys, "job-1", b'{"n":1}')``: queue one job.

    Normal jobs go to the back (LPUSH), priority jobs to the head (RPUSH), as
    the original. A result stored for an earlier job with this id is dropped.
    With ``delay_ms`` (from the server's now) or ``at_ms`` (server clock, ms
    since the epoch) the job waits in ``job.scheduled`` and the promote step
    queues it when due (a time not in the future queues it at once). With
    ``tick`` (a recurring job's tick), a tick not newer than the schedule's
    last published one is refused as a duplicate, even once its job is gone.

    Raises:
        InvalidIdError, UsageError: (now) bad id, an item that is not bytes, or
            a bad delay (see :func:`_when_arg`).
        DuplicateIdError: (decode) the id is queued, scheduled, claimed or
            stalled, or the tick was published already.
    """
    raw_id = id_arg(id)
    if type(item) is not bytes:
        item = _payload(item, "a job item")
    when = _when_arg(delay_ms=delay_ms, at_ms=at_ms, priority=priority)

    def decode(reply: Reply) -> JobPublished:
        # One pass: ['ok', id, ms] or, delayed, ['ok', id, ms, due_ms].
        if type(reply) is list and reply[0:1] == [b"ok"]:
            if len(reply) == 3:
                at = reply[2]
                if type(at) is int:
                    return JobPublished(id=id, at_ms=at)
            elif len(reply) == 4:
                at, due = reply[2], reply[3]
                if type(at) is int and type(due) is int:
                    return JobPublished(id=id, at_ms=at, due_ms=due)
        # Not that: the refusal's error (a status other than 'ok'), else malformed.
        ok_values(reply, script="job/publish", obj=keys.label, item=item_label(keys, id))
        raise unexpected("job/publish", reply)

    return encoded_call(
        "job/publish",
        keys,
        (
            raw_id,
            item,
            arg(priority),
            channel_arg(keys, "publish"),
            name_arg(keys),
            when,
            channel_arg(keys, "schedule"),
            *_tick_args(tick),
        ),
        decode,
        extra_keys=(keys.result_key(id),),
        registry=True,
        cluster_after=("SADD", keys.registry, keys.name),
    )


layout("job/publish_new", ("items", "ids", "published", "publishes"))


def job_publish_new(
    keys: JobKeys, id: str, item: bytes, *, priority: bool = False
) -> Call[JobPublished]:
    """``job_publish_new(keys, new_id, b'{"n":1}')``: queue one job under a new random id.

    For an id the caller has just generated (a UUID v4 from ``os.urandom``):
    such an id cannot be taken, nor have entries left by an earlier job, so
    the script skips :func:`job_publish`'s duplicate checks and clean-up and
    does only the writes (the original's four, the registry) and the publish
    event; what is stored is the same. An id chosen by a person, a delay or a
    tick needs :func:`job_publish`.

    Raises:
        InvalidIdError, UsageError: (now) bad id, an item that is not bytes.
        DuplicateIdError: (decode) the id has an item after all (it was not new).
    """
    raw_id = id_arg(id)
    if type(item) is not bytes:
        item = _payload(item, "a job item")

    def decode(reply: Reply) -> JobPublished:
        # One pass: ['ok', id, ms].
        if type(reply) is list and len(reply) == 3 and reply[0] == b"ok":
            at = reply[2]
            if type(at) is int:
                return JobPublished(id=id, at_ms=at)
        # Not that: the refusal's error (a status other than 'ok'), else malformed.
        ok_values(
            reply, script="job/publish_new", obj=keys.label, item=item_label(keys, id), op="publish"
        )
        raise unexpected("job/publish_new", reply)

    return encoded_call(
        "job/publish_new",
        keys,
        (
            raw_id,
            item,
            b"1" if priority is True else b"0" if priority is False else arg(priority),
            channel_arg(keys, "publish"),
            name_arg(keys),
        ),
        decode,
        registry=True,
        cluster_after=("SADD", keys.registry, keys.name),
    )


def job_publish_many(
    keys: JobKeys,
    jobs: Sequence[NewJob],
    *,
    delay_ms: int | None = None,
    at_ms: int | None = None,
) -> Call[tuple[JobPublished, ...]]:
    """``job_publish_many(keys, [NewJob("a", b"1"), NewJob("b", b"2", priority=True)])``.

    All or nothing: one duplicate (stored, or twice in ``jobs``) refuses the batch.
    ``delay_ms`` / ``at_ms`` delay every job of the batch to one due time (as
    in :func:`job_publish`).

    Raises:
        InvalidIdError, UsageError: (now) a bad id or item, more than 10000
            jobs, or a bad delay (a delayed batch may hold no priority job).
        DuplicateIdError: (decode) naming the first duplicate id.
    """
    check_count(len(jobs), what="the number of jobs", low=0, high=MAX_BATCH)
    when = _when_arg(
        delay_ms=delay_ms, at_ms=at_ms, priority=any(job.priority is True for job in jobs)
    )
    args = [channel_arg(keys, "publish"), name_arg(keys), str(len(jobs)).encode()]
    results = []
    result_key = keys.result_key
    for job in jobs:
        item = job.item
        if type(item) is not bytes:
            item = _payload(item, "a job item")
        priority = job.priority
        args += (
            id_arg(job.id),
            item,
            b"1" if priority is True else b"0" if priority is False else arg(priority),
        )
        results.append(result_key(job.id))
    args += (when, channel_arg(keys, "schedule"))
    queued_len = 2 + len(jobs)

    def decode(reply: Reply) -> tuple[JobPublished, ...]:
        # The common reply (queued now) in one pass; the general path below reads a
        # delayed batch's and refusals. Kept: 1.5x faster for 10 jobs (5.1 against
        # 7.8 us, benchmarks/reply_decoders.py, docs/benchmarks.md).
        if type(reply) is list and len(reply) == queued_len and reply[0] == b"ok":
            at = reply[1]
            if type(at) is int:
                return tuple([JobPublished(job.id, at) for job in jobs])
        code, values = status(reply, "job/publish_many")
        if code != "ok":
            dup = as_text(values[0], "job/publish_many") if values else "?"
            raise refusal(code, values, obj=keys.label, item=item_label(keys, dup), op="publish")
        at = as_int(values[0], "job/publish_many")
        due = as_int(values[-1], "job/publish_many") if len(values) > 1 + len(jobs) else None
        return tuple(JobPublished(id=job.id, at_ms=at, due_ms=due) for job in jobs)

    return encoded_call(
        "job/publish_many",
        keys,
        tuple(args),
        decode,
        extra_keys=results,
        registry=True,
        cluster_after=("SADD", keys.registry, keys.name),
    )


# ----------------------------------------------------------------------- claim

layout(
    "job/claim",
    (
        "ids",
        "items",
        "claimed",
        "owners",
        "tokens",
        "workers",
        "cancelled",
        "leases",
        "scheduled",
        "config",
        "limits",
    ),
)


def _held_back(tail: list[Reply] | tuple[Reply, ...]) -> HeldBack | None:
    """The ``[held, wait_ms]`` tail of a claim reply as a :class:`HeldBack`; None if malformed."""
    reason, wait_ms = tail
    if type(reason) is not bytes or type(wait_ms) is not int or wait_ms < 0:
        return None
    known = HOLD_REASONS.get(reason)
    return None if known is None else HeldBack(known, wait_ms)


def job_claim(
    keys: JobKeys, worker_id: str, *, max_jobs: int = 1, lease_ms: int | None = None
) -> Call[Claim]:
    """``job_claim(keys, "host:1234", max_jobs=10, lease_ms=30_000)``: claim up to N jobs.

    First moves scheduled jobs that are due (retry backoff) to ``job.ids``; then
    takes ids from the right of ``job.ids`` (the original's order), records the
    claim time, the owner ``worker_id:token``, the claim's lease and refreshes
    the worker's heartbeat. Returns at once; an empty :class:`Claim` when
    nothing is queued (wait with ``job_wait_for_work`` first).

    The queue's ``max_per_second`` / ``max_concurrent`` config may take fewer
    jobs than asked (maybe none); the claim's ``held_back`` then says why and
    when to claim again (server clock, so it holds across processes).

    ``lease_ms`` is how long the claim lasts without a ``touch`` before a reaper
    takes it back, decided by the claimer (0 = no time limit, only a silent
    owner is reaped); None records none, so the queue's config ``timeout``
    applies, as for original workers' claims.

    Raises:
        InvalidIdError, UsageError: (now) a bad worker id, ``max_jobs`` not in
            1..10000, or ``lease_ms`` out of range.
    """
    worker = id_arg(worker_id, what="worker id")
    check_count(max_jobs, what="max_jobs", high=MAX_BATCH)
    lease = b""
    if lease_ms is not None:
        lease = str(check_count(lease_ms, what="lease_ms", low=0, high=MAX_MS)).encode()

    def decode(reply: Reply) -> Claim:
        # One pass: ['ok', ms, count, dropped, count x (id, item, token, failures)]
        # and, when the queue's limits held jobs back, [reason, wait_ms]; when
        # the queue ran out instead, ['drained', next_due_ms or -1].
        if type(reply) is list and len(reply) >= 4 and reply[0] == b"ok":
            claimed_ms, count, dropped = reply[1], reply[2], reply[3]
            if (
                type(claimed_ms) is int
                and type(count) is int
                and type(dropped) is int
                and len(reply) in (4 + 4 * count, 6 + 4 * count)
            ):
                end = 4 + 4 * count
                held = None
                drained = False
                next_due: int | None = None
                if len(reply) > end:
                    tag, due = reply[end], reply[end + 1]
                    if tag == b"drained" and type(due) is int:
                        drained = True
                        next_due = None if due < 0 else due
                    else:
                        held = _held_back(reply[end:])
                        if held is None:
                            raise unexpected("job/claim", reply)
                jobs = []
                fields = iter(reply[4:end])  # four at a time; the length is checked above
                for raw_id, item, token, failures in zip(
                    fields, fields, fields, fields, strict=False
                ):
                    if (
                        type(raw_id) is not bytes
                        or type(item) is not bytes
                        or type(token) is not bytes
                        or type(failures) is not int
                    ):
                        break
                    jobs.append(ClaimRecord(id_text(raw_id), item, id_text(token), failures))
                else:
                    return Claim(claimed_ms, tuple(jobs), dropped, held, drained, next_due)
        # Not that: the refusal's error (a status other than 'ok'), else malformed.
        ok_values(reply, script="job/claim", obj=keys.label, op="claim")
        raise unexpected("job/claim", reply)

    return encoded_call(
        "job/claim",
        keys,
        (worker, str(max_jobs).encode(), channel_arg(keys, "claim"), lease),
        decode,
    )


# ---------------------------------------------------------------------- finish

_FINISH_KEYS = layout(
    "job/finish",
    (
        "config",
        "claimed",
        "owners",
        "cancelled",
        "published",
        "items",
        "errors",
        "orphans",
        "finishes",
        "leases",
        "progress",
    ),
)
layout("job/finish_many", _FINISH_KEYS)
# job/finish also removes the reaper's sighting of a claim without an owner;
# job/finish_many (our workers' batches: claims with an owner) leaves stale
# sightings to the next reap sweep.
layout("job/finish", (*_FINISH_KEYS, "seen"))


def job_finish(
    keys: JobKeys, id: str, *, token: str | None = None, result: bytes | None = None
) -> Call[JobFinished]:
    """``job_finish(keys, "job-1", token=job.token, result=b'"done"')``: finish a claimed job.

    With a token the claim must still be that token's (fencing); without one it
    works like the original (JS-claimed jobs, a person). The result (encoded
    bytes; None = no result, b"" is an empty result) goes in the finish event
    ``id\\0result`` and in ``job.result:{<name>}:<id>`` for ``result_ttl`` ms.

    Raises:
        InvalidIdError, UsageError: (now) a bad id or token, a result that is not bytes.
        NotClaimedError: (decode, no token) the job is not claimed.
        ClaimLostError: (decode, token given) the job is not claimed by that token any more.
    """
    raw_id = existing_id_arg(id)
    has, value = _result_args(result)

    def decode(reply: Reply) -> JobFinished:
        # One pass: ['ok', id, ms].
        if type(reply) is list and len(reply) == 3 and reply[0] == b"ok":
            at = reply[2]
            if type(at) is int:
                return JobFinished(id=id, at_ms=at)
        # Not that: the refusal's error (a status other than 'ok'), else malformed.
        ok_values(reply, script="job/finish", obj=keys.label, item=item_label(keys, id))
        raise unexpected("job/finish", reply)

    return encoded_call(
        "job/finish",
        keys,
        (raw_id, _token_bytes(token), b"1" if has else b"0", value, channel_arg(keys, "finish")),
        decode,
        extra_keys=(keys.result_key(id),),
    )


def job_finish_many(
    keys: JobKeys, requests: Sequence[FinishRequest]
) -> Call[tuple[FinishOutcome, ...]]:
    """``job_finish_many(keys, [FinishRequest(id, token, result), ...])``: batch of finishes.

    Each id is decided on its own; the decoded tuple has one
    :class:`FinishOutcome` per request, in order (``error`` holds the
    NotClaimedError / ClaimLostError that ``job_finish`` would have raised, or
    WrongTypeError when that job's result key holds another type: one job's
    key never refuses the batch).

    Raises:
        InvalidIdError, UsageError: (now) a bad entry, or more than 10000.
        WrongTypeError, BadStoredConfigError: (decode) the whole batch was refused.
    """
    check_count(len(requests), what="the number of finishes", low=0, high=MAX_BATCH)
    args = [channel_arg(keys, "finish"), str(len(requests)).encode()]
    results = []
    result_key = keys.result_key
    for req in requests:
        result = req.result
        if result is None:
            args += (existing_id_arg(req.id), _token_bytes(req.token), b"0", b"")
        else:
            args += (
                existing_id_arg(req.id),
                _token_bytes(req.token),
                b"1",
                _result_args(result)[1],
            )
        results.append(result_key(req.id))

    def decode(reply: Reply) -> tuple[FinishOutcome, ...]:
        # The common reply, every id finished, in one pass; the general path below
        # reads per-id refusals. Kept: 2x faster for 10 ids (6.4 against 13.0 us,
        # benchmarks/reply_decoders.py, docs/benchmarks.md).
        if (
            type(reply) is list
            and len(reply) == 2 + 2 * len(requests)
            and reply[0] == b"ok"
            and all(code == b"ok" for code in reply[3::2])
        ):
            return tuple([FinishOutcome(req.id, "ok", None) for req in requests])
        values = ok_values(reply, script="job/finish_many", obj=keys.label, op="finish")
        pairs = values[1:]
        if len(pairs) != 2 * len(requests):
            raise unexpected("job/finish_many", reply)
        outcomes = []
        for req, i in zip(requests, range(0, len(pairs), 2), strict=True):
            text = as_text(pairs[i + 1], "job/finish_many")
            kind, _, actual = text.partition(":")
            code = FINISH_STATUSES.get(kind)
            if code is None:
                raise unexpected("job/finish_many", reply)
            error = None
            if code == "wrongtype":
                # This job's result key holds another type (another program wrote it).
                error = refusal(
                    code,
                    [keys.result_key(req.id), b"hash", actual.encode()],
                    obj=keys.label,
                    item=item_label(keys, req.id),
                    op="finish",
                )
            elif code != "ok":
                error = refusal(
                    code, [pairs[i]], obj=keys.label, item=item_label(keys, req.id), op="finish"
                )
            outcomes.append(FinishOutcome(id=req.id, status=code, error=error))
        return tuple(outcomes)

    return encoded_call("job/finish_many", keys, tuple(args), decode, extra_keys=results)


# ------------------------------------------------------- cancel / stall / retry

layout(
    "job/cancel",
    (
        "config",
        "ids",
        "claimed",
        "owners",
        "cancelled",
        "stalled",
        "published",
        "errors",
        "leases",
        "scheduled",
        "seen",
        "progress",
    ),
)


def jitter_arg(jitter: float | None) -> bytes:
    """The jitter ARGV (per mille, 0..999): ``jitter`` in [0, 1), or a random one."""
    if jitter is None:
        jitter = random.random()
    if isinstance(jitter, bool) or not isinstance(jitter, int | float) or not 0 <= jitter < 1:
        raise UsageError(
            f"jitter must be a number from 0 to 1 (excluded), not {reprlib.repr(jitter)}"
        )
    return str(int(jitter * 1000)).encode()


def job_cancel(
    keys: JobKeys,
    id: str,
    *,
    token: str | None = None,
    error: str | None = None,
    max_cancels: int | None = None,
    retry_delay_ms: int | None = None,
    jitter: float | None = None,
) -> Call[JobCancelled]:
    """``job_cancel(keys, "job-1", token=t, error="ValueError: ...")``: give a failed job back.

    The cancel count grows; once it reaches ``max_cancels`` (this argument,
    else the queue's config, default 10; 0 = no limit) the job is stalled.
    Otherwise it waits out its retry backoff in ``job.scheduled`` (the config's
    ``retry_delay`` * ``retry_factor`` ** (count - 1), at most
    ``retry_delay_max``, plus 0-25 % ``jitter``: a fraction in [0, 1), random
    when None) and goes back to the queue when due; ``retry_delay_ms``
    overrides the backoff (0 = back in the queue at once). ``error`` is kept in
    ``job.errors``.

    Raises:
        InvalidIdError, UsageError: (now) a bad id, token, max_cancels, delay or jitter.
        NotClaimedError: (decode, no token) the job is not claimed.
        ClaimLostError: (decode, token given) the job is not claimed by that token any more.
    """
    raw_id = existing_id_arg(id)
    override = b""
    if max_cancels is not None:
        override = str(check_count(max_cancels, what="max_cancels", low=0, high=MAX_COUNT)).encode()
    delay = b""
    if retry_delay_ms is not None:
        delay = str(check_count(retry_delay_ms, what="retry_delay_ms", low=0, high=MAX_MS)).encode()

    def decode(reply: Reply) -> JobCancelled:
        values = ok_values(reply, script="job/cancel", obj=keys.label, item=item_label(keys, id))
        if len(values) != 4:
            raise unexpected("job/cancel", reply)
        outcome = CANCEL_OUTCOMES.get(as_text(values[1], "job/cancel"))
        if outcome is None:
            raise unexpected("job/cancel", reply)
        due = as_int(values[3], "job/cancel")
        return JobCancelled(
            id=id,
            outcome=outcome,
            count=as_int(values[2], "job/cancel"),
            retry_at_ms=due or None,
        )

    return make_call(
        "job/cancel",
        keys,
        [
            raw_id,
            token_arg(token),
            text_arg(error),
            override,
            keys.channel("cancel"),
            keys.channel("stall"),
            jitter_arg(jitter),
            delay,
        ],
        decode,
    )


layout(
    "job/stall",
    (
        "claimed",
        "owners",
        "cancelled",
        "stalled",
        "published",
        "errors",
        "leases",
        "seen",
        "progress",
    ),
)


def job_stall(
    keys: JobKeys, id: str, *, token: str | None = None, reason: str | None = None
) -> Call[None]:
    """``job_stall(keys, "job-1", token=t, reason="needs a person")``: put a claimed job aside.

    Raises:
        InvalidIdError: (now).
        NotClaimedError: (decode, no token) the job is not claimed.
        ClaimLostError: (decode, token given) the job is not claimed by that token any more.
    """
    raw_id = existing_id_arg(id)

    def decode(reply: Reply) -> None:
        ok_values(reply, script="job/stall", obj=keys.label, item=item_label(keys, id))

    return make_call(
        "job/stall",
        keys,
        [raw_id, token_arg(token), text_arg(reason), keys.channel("stall")],
        decode,
    )


layout("job/retry", ("ids", "stalled", "published"))


def job_retry(keys: JobKeys, id: str) -> Call[int]:
    """``job_retry(keys, "job-1")``: send a stalled job back to the queue; decodes to the ms.

    Raises:
        InvalidIdError: (now).
        NotStalledError: (decode) the job is not stalled.
    """
    raw_id = existing_id_arg(id)

    def decode(reply: Reply) -> int:
        values = ok_values(reply, script="job/retry", obj=keys.label, item=item_label(keys, id))
        return as_int(values[1], "job/retry")

    return make_call("job/retry", keys, [raw_id, keys.channel("retry")], decode)


layout(
    "job/retract",
    (
        "config",
        "ids",
        "items",
        "published",
        "claimed",
        "cancelled",
        "stalled",
        "owners",
        "errors",
        "orphans",
        "leases",
        "scheduled",
        "seen",
        "progress",
    ),
)


def job_retract(keys: JobKeys, id: str) -> Call[None]:
    """``job_retract(keys, "job-1")``: remove a job in any state (no finish event).

    Its result key is marked ``retracted`` so a waiter stops waiting.

    Raises:
        InvalidIdError: (now).
        NotFoundError: (decode) no such job.
    """
    raw_id = existing_id_arg(id)

    def decode(reply: Reply) -> None:
        ok_values(reply, script="job/retract", obj=keys.label, item=item_label(keys, id))

    return make_call(
        "job/retract",
        keys,
        [raw_id, keys.channel("retract")],
        decode,
        extra_keys=[keys.result_key(id)],
    )
