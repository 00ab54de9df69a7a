"""Read-only job queue commands (plain Redis commands; no script needed).

Synopsis::

    cmd = job_failure_count(keys, "job-1")
    count = cmd.decode(await transport.execute(*cmd.args))     # int
    job_wait_for_work(keys, timeout_s=5)   # blocking: run on a dedicated connection

Each builder returns a :class:`Command`: ``args`` (name first), ``keys`` (for
cluster routing) and ``decode``.
"""

from __future__ import annotations

import reprlib
from dataclasses import dataclass
from typing import Literal

from .._errors import UsageError
from ._call import Command, Reply, as_bytes, as_list, as_text, unexpected
from ._keys import JobKeys
from ._names import existing_id_arg

ResultState = Literal["finished", "retracted"]
_STATES: dict[bytes, ResultState] = {b"finished": "finished", b"retracted": "retracted"}


@dataclass(frozen=True, slots=True)
class JobResult:
    """What became of a finished or retracted job (kept ``result_ttl`` ms).

    ``result`` is the encoded result, or None when the job finished without one
    (or was retracted); decode it with the codec's ``decode_result``.
    """

    id: str
    state: ResultState
    at_ms: int
    result: bytes | None


def _score(raw: Reply, what: str) -> int:
    # Original clients may have written float scores; ours are integer ms.
    try:
        return int(float(as_bytes(raw, what)))
    except ValueError:
        raise unexpected(what, raw) from None


def _pairs(reply: Reply, what: str) -> tuple[tuple[str, int], ...]:
    flat = as_list(reply, what)
    return tuple(
        (as_text(flat[i], what), _score(flat[i + 1], what)) for i in range(0, len(flat) - 1, 2)
    )


def _texts(reply: Reply, what: str) -> tuple[str, ...]:
    return tuple(as_text(v, what) for v in as_list(reply, what))


def job_available_ids(keys: JobKeys) -> Command[tuple[str, ...]]:
    """``job_available_ids(keys)``: queued ids, the next one to be claimed first."""

    def decode(reply: Reply) -> tuple[str, ...]:
        # job.ids is consumed from the right end, so reverse LRANGE's left-to-right order.
        return _texts(reply, "LRANGE ids")[::-1]

    return Command(args=("LRANGE", keys.ids, "0", "-1"), keys=(keys.ids,), decode=decode)


def job_claimed(keys: JobKeys) -> Command[tuple[tuple[str, int], ...]]:
    """``job_claimed(keys)``: ``((id, claim_ms), ...)``, oldest claim first."""
    return Command(
        args=("ZRANGE", keys.claimed, "0", "-1", "WITHSCORES"),
        keys=(keys.claimed,),
        decode=lambda reply: _pairs(reply, "ZRANGE claimed"),
    )


def job_stalled_ids(keys: JobKeys) -> Command[tuple[str, ...]]:
    """``job_stalled_ids(keys)``: stalled ids, sorted (a set has no order)."""
    return Command(
        args=("SMEMBERS", keys.stalled),
        keys=(keys.stalled,),
        decode=lambda reply: tuple(sorted(_texts(reply, "SMEMBERS stalled"))),
    )


def job_scheduled(keys: JobKeys) -> Command[tuple[tuple[str, int], ...]]:
    """``job_scheduled(keys)``: ``((id, due_ms), ...)`` of jobs waiting out a retry backoff.

    Soonest first; ``due_ms`` is server time. These jobs are in no other list
    until a claim, a wait or a reap sweep moves them to the queue when due.
    """
    return Command(
        args=("ZRANGE", keys.scheduled, "0", "-1", "WITHSCORES"),
        keys=(keys.scheduled,),
        decode=lambda reply: _pairs(reply, "ZRANGE scheduled"),
    )


def job_workers(keys: JobKeys) -> Command[tuple[tuple[str, int], ...]]:
    """``job_workers(keys)``: ``((worker_id, heartbeat_ms), ...)``, oldest heartbeat first."""
    return Command(
        args=("ZRANGE", keys.workers, "0", "-1", "WITHSCORES"),
        keys=(keys.workers,),
        decode=lambda reply: _pairs(reply, "ZRANGE workers"),
    )


def _hget(key: str, id: str) -> tuple[str | bytes, ...]:
    # Lenient: the id may be one another client wrote (NUL, not UTF-8, long).
    return ("HGET", key, existing_id_arg(id))


def job_failure_count(keys: JobKeys, id: str) -> Command[int]:
    """``job_failure_count(keys, "job-1")``: how often it was cancelled (0 if never).

    The original's ``getFailureCount``; cleared by finish, stall and retract.
    """

    def decode(reply: Reply) -> int:
        if reply is None:
            return 0
        try:
            return int(as_bytes(reply, "HGET cancelled"))
        except ValueError:
            raise unexpected("HGET cancelled", reply) from None

    return Command(args=_hget(keys.cancelled, id), keys=(keys.cancelled,), decode=decode)


def job_item(keys: JobKeys, id: str) -> Command[bytes | None]:
    """``job_item(keys, "job-1")``: the encoded item, or None when there is no such job."""

    def decode(reply: Reply) -> bytes | None:
        return None if reply is None else as_bytes(reply, "HGET items")

    return Command(args=_hget(keys.items, id), keys=(keys.items,), decode=decode)


def job_error(keys: JobKeys, id: str) -> Command[str | None]:
    """``job_error(keys, "job-1")``: the last error text or reap reason, or None."""

    def decode(reply: Reply) -> str | None:
        return None if reply is None else as_bytes(reply, "HGET errors").decode("utf-8", "replace")

    return Command(args=_hget(keys.errors, id), keys=(keys.errors,), decode=decode)


def job_owner(keys: JobKeys, id: str) -> Command[str | None]:
    """``job_owner(keys, "job-1")``: ``"worker_id:token"`` of a claim by our workers, or None."""

    def decode(reply: Reply) -> str | None:
        return None if reply is None else as_text(reply, "HGET owners")

    return Command(args=_hget(keys.owners, id), keys=(keys.owners,), decode=decode)


def job_result(keys: JobKeys, id: str) -> Command[JobResult | None]:
    """``job_result(keys, "job-1")``: the stored outcome, or None (not done, or expired).

    A waiter subscribes to the finish and retract channels FIRST, then reads
    this, so a finish between the two is not missed.
    """
    existing_id_arg(id)
    key = keys.result_key(id)

    def decode(reply: Reply) -> JobResult | None:
        flat = as_list(reply, "HGETALL result")
        if not flat:
            return None
        fields = {
            as_bytes(flat[i], "HGETALL result"): as_bytes(flat[i + 1], "HGETALL result")
            for i in range(0, len(flat) - 1, 2)
        }
        state = _STATES.get(fields.get(b"state", b""))
        at = fields.get(b"at", b"")
        if state is None or not at.isdigit():
            raise unexpected("HGETALL result", reply)
        return JobResult(id=id, state=state, at_ms=int(at), result=fields.get(b"result"))

    return Command(args=("HGETALL", key), keys=(key,), decode=decode)


def job_wait_for_work(keys: JobKeys, *, timeout_s: float) -> Command[bool]:
    """``job_wait_for_work(keys, timeout_s=5)``: block until a job is queued; True if one is.

    It takes nothing: ``BLMOVE ids ids RIGHT RIGHT`` pops the next id and puts it
    straight back in the same place, so no job is ever off the list unclaimed;
    then claim with ``job_claim``. 0 waits for ever. Every waiting worker wakes
    on a publish; the ones that find nothing left simply wait again.
    Run it on a dedicated (blocking) connection.
    """
    if isinstance(timeout_s, bool) or not isinstance(timeout_s, int | float) or timeout_s < 0:
        raise UsageError(
            f"timeout_s must be a number of seconds >= 0, not {reprlib.repr(timeout_s)}"
        )

    def decode(reply: Reply) -> bool:
        return reply is not None

    return Command(
        args=("BLMOVE", keys.ids, keys.ids, "RIGHT", "RIGHT", f"{timeout_s:g}"),
        keys=(keys.ids,),
        decode=decode,
        block_s=float(timeout_s),
    )
