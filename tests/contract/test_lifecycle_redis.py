"""The scripts do what the lifecycle table says, from every state (real Redis).

For each state a job "j" can be in and each operation of ours, the test puts
the job in that state, applies the operation and checks: allowed by the table →
the job lands in one of the table's targets; not allowed → the script refuses
with the table's code and nothing changed.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
import redis

from thoonk_actors._errors import ClaimLostError, RefusedError
from thoonk_actors.contract import (
    REPLY_CODES,
    JobKeys,
    JobState,
    job_cancel,
    job_claim,
    job_finish,
    job_progress,
    job_promote,
    job_publish,
    job_reap,
    job_release,
    job_retract,
    job_retry,
    job_stall,
    job_touch,
    object_create,
    refusal_code,
    targets,
)

from ._redis import raw_client, run, snapshot, x

JOB = JobKeys.of("life")
A, C, S = JobState.AVAILABLE, JobState.CLAIMED, JobState.STALLED
F, R, L = JobState.FINISHED, JobState.RETRACTED, JobState.LOST
W = JobState.SCHEDULED
STATES: list[JobState | None] = [None, A, C, S, F, R, L, W]


def state_of(client: redis.Redis, id: str) -> JobState | None:
    """Where the id is, read from the stored state alone."""
    places = [
        x(client, "LPOS", JOB.ids, id) is not None,
        x(client, "ZSCORE", JOB.claimed, id) is not None,
        x(client, "SISMEMBER", JOB.stalled, id) == 1,
        x(client, "ZSCORE", JOB.scheduled, id) is not None,
    ]
    assert sum(places) <= 1, f"{id} is in more than one state: {places}"
    if places[0]:
        return A
    if places[1]:
        return C
    if places[2]:
        return S
    if places[3]:
        return W
    if x(client, "HEXISTS", JOB.items, id):
        return L
    result = x(client, "HGET", JOB.result(id), "state")
    return {b"finished": F, b"retracted": R}.get(result)


def put_in(client: redis.Redis, state: JobState | None) -> str:
    """Put job "j" in ``state``; returns its claim token ("" when it has none)."""
    token = ""
    if state is None:
        return token
    run(client, job_publish(JOB, "j", b"1"))
    if state in (C, S, F, W):
        token = run(client, job_claim(JOB, "w")).jobs[0].token
    if state is S:
        run(client, job_stall(JOB, "j", token=token))
    if state is F:
        run(client, job_finish(JOB, "j", token=token))
    if state is R:
        run(client, job_retract(JOB, "j"))
    if state is W:
        run(client, job_cancel(JOB, "j", token=token))  # default backoff: due in ~1 s
    if state is L:
        x(client, "RPOP", JOB.ids)  # an original worker popped it and died
    assert state_of(client, "j") is state
    return token if state is C else ""


OPS: dict[str, Callable[[str], Any]] = {
    "publish": lambda token: job_publish(JOB, "j", b"2"),
    "finish": lambda token: job_finish(JOB, "j", token=token or None),
    "cancel": lambda token: job_cancel(JOB, "j", token=token or None),
    "stall": lambda token: job_stall(JOB, "j", token=token or None),
    "retry": lambda token: job_retry(JOB, "j"),
    "release": lambda token: job_release(JOB, "j", token=token or None),
    "touch": lambda token: job_touch(JOB, "j", token or "1"),
    "progress": lambda token: job_progress(JOB, "j", token or "1", 0.5),
    "retract": lambda token: job_retract(JOB, "j"),
}


@pytest.mark.parametrize("op", list(OPS))
@pytest.mark.parametrize("state", STATES, ids=lambda s: "none" if s is None else s.value)
def test_operation_from_state(r: redis.Redis, op: str, state: JobState | None) -> None:
    token = put_in(r, state)
    # Finished and retracted jobs are gone: their id is free, like one never used.
    source = None if state in (F, R) else state
    allowed = targets(source, op)
    before = snapshot(r)
    if allowed:
        run(r, OPS[op](token))
        assert state_of(r, "j") in allowed
        return
    code = refusal_code(op)
    expected = REPLY_CODES[code]
    assert expected is not None
    with pytest.raises(RefusedError) as info:
        run(r, OPS[op](token))
    # touch and progress always carry a token: not claimed by it reads as a lost claim.
    assert isinstance(info.value, expected) or (
        op in ("touch", "progress") and isinstance(info.value, ClaimLostError)
    )
    assert snapshot(r) == before


@pytest.mark.parametrize("state", STATES, ids=lambda s: "none" if s is None else s.value)
def test_claim_from_state(r: redis.Redis, state: JobState | None) -> None:
    put_in(r, state)
    got = run(r, job_claim(JOB, "w2"))
    if targets(state, "claim"):
        assert [j.id for j in got.jobs] == ["j"]
        assert state_of(r, "j") in targets(state, "claim")
    else:
        assert got.jobs == ()


@pytest.mark.parametrize("state", STATES, ids=lambda s: "none" if s is None else s.value)
def test_reap_from_state(r: redis.Redis, state: JobState | None) -> None:
    run(r, object_create(JOB, {"timeout": 1000}))
    put_in(r, state)
    if state is C:
        x(r, "ZADD", JOB.claimed, 1, "j")  # claimed long ago
    for _ in range(2):  # a lost job needs two sweeps
        run(r, job_reap(JOB, stale_ms=0, orphan_grace_ms=0))
    expected = targets(state, "reap") or {state}
    assert state_of(r, "j") in expected


def test_cancel_past_max_cancels_follows_the_guard(r: redis.Redis) -> None:
    run(r, object_create(JOB, {"max_cancels": 1}))
    token = put_in(r, C)
    run(r, job_cancel(JOB, "j", token=token))
    assert state_of(r, "j") is S


def test_concurrent_reapers_reap_each_job_once(redis_url: str) -> None:
    setup = raw_client(redis_url)
    run(setup, object_create(JOB, {"timeout": 1000, "retry_delay": 0}))
    ids = [f"j{n}" for n in range(200)]
    for id in ids:
        run(setup, job_publish(JOB, id, b"1"))
    run(setup, job_claim(JOB, "w", max_jobs=200))
    x(setup, "ZADD", JOB.claimed, *[v for id in ids for v in (1, id)])
    reaped: list[str] = []
    lock = threading.Lock()

    def reaper() -> None:
        client = raw_client(redis_url)
        try:
            for _ in range(20):
                report = run(client, job_reap(JOB, stale_ms=0, orphan_grace_ms=0))
                with lock:
                    reaped.extend(item.id for item in report.reaped)
        finally:
            client.close()

    threads = [threading.Thread(target=reaper) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(reaped) == sorted(ids)
    assert x(setup, "LLEN", JOB.ids) == 200
    assert x(setup, "ZCARD", JOB.claimed) == 0
    setup.close()


def test_promote_moves_a_due_job_once_and_keeps_one_not_due(r: redis.Redis) -> None:
    token = put_in(r, C)
    run(r, job_cancel(JOB, "j", token=token, retry_delay_ms=3_600_000))
    run(r, job_publish(JOB, "k", b"1"))
    token = run(r, job_claim(JOB, "w")).jobs[0].token
    run(r, job_cancel(JOB, "k", token=token))
    x(r, "ZADD", JOB.scheduled, 1, "k")  # due long ago
    promoted = run(r, job_promote(JOB))
    assert (promoted.moved, state_of(r, "k"), state_of(r, "j")) == (1, A, W)
    assert promoted.next_due_ms == int(x(r, "ZSCORE", JOB.scheduled, "j"))
    assert promoted.next_due_ms > promoted.at_ms + 3_500_000
    again = run(r, job_promote(JOB))
    assert again.moved == 0
    assert x(r, "LRANGE", JOB.ids, 0, -1) == [b"k"]
