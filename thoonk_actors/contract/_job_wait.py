"""What a result waiter reads: is a publication of the id pending, and what is stored.

Synopsis: ``state = job_wait_state(keys, "job-1").decode(reply)``; ``state.pending``,
``state.result`` (a :class:`JobResult` or None), ``state.result_ttl_ms``.
"""

from __future__ import annotations

from dataclasses import dataclass

from ._build import encoded_call, layout, ok_values
from ._call import Call, Reply, as_int, unexpected
from ._job_reads import JobResult, ResultState
from ._keys import JobKeys
from ._names import existing_id_arg

_STATES: dict[bytes, ResultState] = {b"finished": "finished", b"retracted": "retracted"}


@dataclass(frozen=True, slots=True)
class WaitState:
    """One consistent look at a job for its waiters.

    ``pending``: the id has an item or an unfinished publication (queued,
    claimed, stalled, scheduled). ``result``: the stored outcome, or None; a
    stored outcome while ``pending`` belongs to an OLDER run of a reused id and
    must not be handed to a waiter. ``result_ttl_ms``: how long outcomes stay.
    """

    id: str
    pending: bool
    result_ttl_ms: int
    result: JobResult | None


layout("job/wait_state", ("config", "items", "published"))


def job_wait_state(keys: JobKeys, id: str) -> Call[WaitState]:
    """``job_wait_state(keys, "job-1")``: pending?, stored outcome, result_ttl (read-only).

    Raises:
        InvalidIdError: (now) ``id`` cannot name a job.
        WrongTypeError / BadConfigError: (decode) a key of the queue is damaged.
    """
    raw = existing_id_arg(id)

    def decode(reply: Reply) -> WaitState:
        values = ok_values(reply, script="job/wait_state", obj=keys.label, op="wait_result")
        if len(values) != 5:
            raise unexpected("job/wait_state", reply)
        pending = as_int(values[0], "job/wait_state") == 1
        ttl = as_int(values[1], "job/wait_state")
        state, at, result = values[2], values[3], values[4]
        stored = None
        if isinstance(state, bytes) and isinstance(at, bytes):
            kind = _STATES.get(state)
            if kind is None or not at.isdigit():
                raise unexpected("job/wait_state", reply)
            data = result if isinstance(result, bytes) else None
            stored = JobResult(id=id, state=kind, at_ms=int(at), result=data)
        return WaitState(id=id, pending=pending, result_ttl_ms=ttl, result=stored)

    return encoded_call(
        "job/wait_state", keys, (raw,), decode, extra_keys=[keys.result_key(id)], idempotent=True
    )
