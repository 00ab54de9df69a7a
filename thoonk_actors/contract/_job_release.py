"""Giving claims back in one step, and asking whether claims are still held (scripts).

Synopsis::

    call = job_release_many(keys, [ReleaseRequest(job.id, job.token), ...], claimed_ms=ms)
    outcomes = call.decode(reply)        # one ReleaseOutcome per request, in order
    states = job_held(keys, [(job.id, job.token), ...]).decode(reply)   # HeldState each

Why: a worker that stops gives back every job it holds but did not run.
Released one by one (pipelined) they came back in random order and ahead of
priority jobs published meanwhile; :func:`job_release_many` puts them back in
one script, in their order, behind those priority jobs. :func:`job_held` lets
a worker see that a claim went away under it (a retract, a cancel by a person,
a reaper) so it drops the job before running it, or cancels its handler.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from .._errors import ThoonkError
from ._build import channel_arg, check_count, encoded_call, layout, ok_values
from ._call import Call, Reply, as_int, as_text, unexpected
from ._job import MAX_BATCH, item_label
from ._job_results import FINISH_STATUSES, FinishStatus
from ._keys import JobKeys
from ._names import id_arg
from ._refusals import refusal

HeldStatus = Literal["mine", "claimed", "stalled", "queued", "finished", "retracted", "gone"]
_HELD: dict[str, HeldStatus] = {
    "mine": "mine",
    "claimed": "claimed",
    "stalled": "stalled",
    "queued": "queued",
    "finished": "finished",
    "retracted": "retracted",
    "gone": "gone",
}


@dataclass(frozen=True, slots=True)
class ReleaseRequest:
    """One job to give back: its id and claim token (None: any claim, as the original)."""

    id: str
    token: str | None = None


@dataclass(frozen=True, slots=True)
class ReleaseOutcome:
    """The outcome for one id of :func:`job_release_many`; ``error`` is None when released."""

    id: str
    status: FinishStatus
    error: ThoonkError | None


@dataclass(frozen=True, slots=True)
class HeldState:
    """Where a job one holds stands now (see :func:`job_held`).

    ``status``: ``mine`` (still claimed with that token), ``claimed`` (by
    someone else: reaped and claimed again), ``stalled``, ``queued`` (back in
    the queue: cancelled by someone or reaped), ``finished``, ``retracted``,
    ``gone`` (no item and no stored outcome: its result expired, or an
    original client finished it). ``error``: the job's last error text (a
    reap records why).
    """

    id: str
    status: HeldStatus
    error: str | None


layout("job/release_many", ("ids", "claimed", "owners", "published"))


def job_release_many(
    keys: JobKeys, requests: Sequence[ReleaseRequest], *, claimed_ms: int | None = None
) -> Call[tuple[ReleaseOutcome, ...]]:
    """``job_release_many(keys, [ReleaseRequest(id, token), ...], claimed_ms=ms)``.

    Gives the claims back without counting a failure, in one script: the jobs
    go to the head of the queue in the order given (the first is claimed first
    again), behind the jobs pushed to the head after ``claimed_ms`` (the
    latest claim time of the batch; None: read from ``job.claimed``, which a
    touch moves forward). Each id is decided on its own, like finish_many.

    Raises:
        InvalidIdError, UsageError: (now) a bad id or token, more than 10000 jobs.
        WrongTypeError: (decode) a key of the queue holds another type (nothing changed).
    """
    check_count(len(requests), what="the number of releases", low=0, high=MAX_BATCH)
    if claimed_ms is not None:
        check_count(claimed_ms, what="claimed_ms", low=0, high=2**53)
    args = [
        channel_arg(keys, "release"),
        b"" if claimed_ms is None else str(claimed_ms).encode(),
        str(len(requests)).encode(),
    ]
    for req in requests:
        args += (
            id_arg(req.id),
            b"" if req.token is None else id_arg(req.token, what="claim token"),
        )

    def decode(reply: Reply) -> tuple[ReleaseOutcome, ...]:
        values = ok_values(reply, script="job/release_many", obj=keys.label, op="release")
        pairs = values[1:]
        if not values or len(pairs) != 2 * len(requests):
            raise unexpected("job/release_many", reply)
        as_int(values[0], "job/release_many")
        outcomes = []
        for req, i in zip(requests, range(0, len(pairs), 2), strict=True):
            code = FINISH_STATUSES.get(as_text(pairs[i + 1], "job/release_many"))
            if code is None:
                raise unexpected("job/release_many", reply)
            error = None
            if code != "ok":
                error = refusal(
                    code, [pairs[i]], obj=keys.label, item=item_label(keys, req.id), op="release"
                )
            outcomes.append(ReleaseOutcome(id=req.id, status=code, error=error))
        return tuple(outcomes)

    return encoded_call("job/release_many", keys, tuple(args), decode)


layout("job/held", ("claimed", "owners", "items", "stalled", "errors"))


def job_held(keys: JobKeys, jobs: Sequence[tuple[str, str]]) -> Call[tuple[HeldState, ...]]:
    """``job_held(keys, [(id, token), ...])``: where each job stands now (reads only).

    Raises:
        InvalidIdError, UsageError: (now) a bad id or token, more than 10000 jobs.
        WrongTypeError: (decode) a key of the queue holds another type.
    """
    check_count(len(jobs), what="the number of jobs", low=0, high=MAX_BATCH)
    args = [str(len(jobs)).encode()]
    for job_id, token in jobs:
        args += (id_arg(job_id), id_arg(token, what="claim token"))

    def decode(reply: Reply) -> tuple[HeldState, ...]:
        values = ok_values(reply, script="job/held", obj=keys.label, op="held")
        if len(values) != 2 * len(jobs):
            raise unexpected("job/held", reply)
        states = []
        for (job_id, _), i in zip(jobs, range(0, len(values), 2), strict=True):
            status = _HELD.get(as_text(values[i], "job/held"))
            if status is None:
                raise unexpected("job/held", reply)
            text = values[i + 1]
            error = text.decode("utf-8", "replace") if isinstance(text, bytes) else None
            states.append(HeldState(id=job_id, status=status, error=error))
        return tuple(states)

    return encoded_call(
        "job/held", keys, tuple(args), decode, extra_keys=[keys.result_key(i) for i, _ in jobs]
    )
