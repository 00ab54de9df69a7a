"""The job scripts' cheap checks against a real Redis: every key, every batch size.

The scripts check a key by the cheapest call that covers it (a read they need
anyway, the first write, one EXISTS for keys that are usually missing) instead
of a TYPE per key up front, and send each batch step as one variadic call cut
to what Lua's unpack() takes. These tests pin what that must not change:

* every key of every job script, holding the wrong type, is refused with
  ``wrongtype`` naming that very key, on the path that would otherwise have
  succeeded, and nothing changed (no key, no event);
* batches larger than one unpack() chunk keep their order and counts;
* the claim of a batch takes an id once; the reaper drops ghost claims and
  finds lost jobs beside them.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from importlib import resources
from typing import Any

import pytest
import redis

from thoonk_actors._errors import WrongTypeError
from thoonk_actors.contract import (
    Call,
    FinishRequest,
    JobKeys,
    NewJob,
    ReleaseRequest,
    ScheduleTick,
    job_cancel,
    job_claim,
    job_finish,
    job_finish_many,
    job_heartbeat,
    job_held,
    job_progress,
    job_promote,
    job_publish,
    job_publish_many,
    job_publish_new,
    job_reap,
    job_release,
    job_release_many,
    job_retract,
    job_retry,
    job_stall,
    job_stats,
    job_touch,
    job_wait_state,
    object_create,
)
from thoonk_actors.contract._build import KEY_LAYOUT

from ._redis import Events, run, snapshot, x

JOB = JobKeys.of("checks")
SCRIPTS = resources.files("thoonk_actors.contract").joinpath("scripts", "job")


def declared_types(script: str) -> dict[int, str]:
    """KEYS index -> Redis type, from the script's header (``-- KEYS[3] claimed zset``)."""
    header = SCRIPTS.joinpath(f"{script}.lua").read_text(encoding="utf-8")
    return {
        int(i): kind
        for i, kind in re.findall(r"^-- KEYS\[(\d+)\]\s+\w+\s+(\w+)", header, flags=re.M)
    }


def publish(r: redis.Redis, *ids: str) -> None:
    for id in ids:
        run(r, job_publish(JOB, id, b"1"))


def claimed(r: redis.Redis, *ids: str) -> dict[str, str]:
    """Publish and claim ``ids``; their tokens."""
    publish(r, *ids)
    jobs = run(r, job_claim(JOB, "w", max_jobs=len(ids))).jobs
    return {job.id: job.token for job in jobs}


def finish_many_setup(r: redis.Redis) -> Call[Any]:
    tokens = claimed(r, "A", "B")
    return job_finish_many(JOB, [FinishRequest(id, token) for id, token in tokens.items()])


def retry_setup(r: redis.Redis) -> Call[Any]:
    run(r, job_stall(JOB, "A", token=claimed(r, "A")["A"]))
    return job_retry(JOB, "A")


def reap_setup(r: redis.Redis) -> Call[Any]:
    claimed(r, "A")
    x(r, "ZADD", JOB.claimed, 1, "A")  # claimed long ago: the timeout rule takes it
    return job_reap(JOB, stale_ms=0, orphan_grace_ms=0)


def promote_setup(r: redis.Redis) -> Call[Any]:
    run(r, job_cancel(JOB, "A", token=claimed(r, "A")["A"]))
    x(r, "ZADD", JOB.scheduled, 1, "A")  # due long ago: the promote moves it
    return job_promote(JOB)


# Per case: put the queue in a state where the call succeeds; return the call.
SETUPS: dict[str, Callable[[redis.Redis], Call[Any]]] = {
    # Delayed, so that every key is used (an undelayed publish leaves job.scheduled alone).
    # (and a tick of a recurring job, so that job.ticks is used too).
    "publish": lambda r: job_publish(
        JOB, "N", b"1", delay_ms=60_000, tick=ScheduleTick("s", 1000, "every 1s")
    ),
    # A fresh id: every key is written (the registry too), each write its key's check.
    "publish_new": lambda r: job_publish_new(JOB, "N", b"1"),
    "publish_many": lambda r: job_publish_many(
        JOB, [NewJob("N", b"1"), NewJob("M", b"2")], delay_ms=60_000
    ),
    "claim": lambda r: publish(r, "A", "B") or job_claim(JOB, "w", max_jobs=2),
    "finish": lambda r: job_finish(JOB, "A", token=claimed(r, "A")["A"], result=b"r"),
    "finish_many": finish_many_setup,
    "cancel": lambda r: job_cancel(JOB, "A", token=claimed(r, "A")["A"], error="e"),
    "cancel_override": lambda r: job_cancel(JOB, "A", token=claimed(r, "A")["A"], max_cancels=1),
    "stall": lambda r: job_stall(JOB, "A", token=claimed(r, "A")["A"], reason="why"),
    "retry": retry_setup,
    "retract": lambda r: publish(r, "A") or job_retract(JOB, "A"),
    "release": lambda r: job_release(JOB, "A", token=claimed(r, "A")["A"]),
    "touch": lambda r: job_touch(JOB, "A", claimed(r, "A")["A"]),
    "heartbeat": lambda r: job_heartbeat(JOB, "w"),
    "reap": reap_setup,
    "stats": lambda r: job_stats(JOB, stale_ms=1000),
    "promote": promote_setup,
    "release_many": lambda r: job_release_many(
        JOB, [ReleaseRequest(i, t) for i, t in claimed(r, "A", "B").items()]
    ),
    "held": lambda r: job_held(JOB, list(claimed(r, "A", "B").items())),
    "wait_state": lambda r: publish(r, "A") or job_wait_state(JOB, "A"),
    "progress": lambda r: job_progress(JOB, "A", claimed(r, "A")["A"], 0.5, {"step": 1}),
}

# How many KEYS each case's call has (the test checks the built call agrees).
KEY_COUNTS = {
    "publish": 14, "publish_new": 5, "publish_many": 14, "claim": 11, "finish": 13,
    "finish_many": 13, "cancel": 12, "cancel_override": 12, "stall": 9, "retry": 3,
    "retract": 15, "release": 3,
    "touch": 2, "heartbeat": 1, "reap": 15, "stats": 10, "promote": 3, "release_many": 4,
    "held": 7, "wait_state": 4, "progress": 3,
}  # fmt: skip
CASES = [(setup, i) for setup, count in KEY_COUNTS.items() for i in range(1, count + 1)]


def test_every_job_script_has_a_case() -> None:
    scripts = {path.name.removesuffix(".lua") for path in SCRIPTS.iterdir()}
    assert {setup.removesuffix("_override") for setup in SETUPS} == scripts


@pytest.mark.parametrize(("setup", "index"), CASES)
def test_a_key_of_the_wrong_type_is_named_and_nothing_changes(
    r: redis.Redis, events: Events, setup: str, index: int
) -> None:
    run(r, object_create(JOB, {"timeout": 60_000}))
    call = SETUPS[setup](r)
    assert len(call.keys) == KEY_COUNTS[setup]
    key = call.keys[index - 1]
    expected = declared_types(call.script.name.split("/")[1]).get(index)
    if expected is None:  # per-job result keys and the registry
        expected = "set" if key == "jobs" else "hash"
    x(r, "DEL", key)
    if expected == "string":
        x(r, "HSET", key, "f", "v")
    else:
        x(r, "SET", key, "not a " + expected)
    events.take()
    before = snapshot(r)
    shown = key if isinstance(key, str) else key.decode()
    if setup == "finish_many" and index > len(KEY_LAYOUT["job/finish_many"]):
        # A result key belongs to one job: that job alone is refused, naming the key;
        # the other job of the batch is finished.
        outcomes = run(r, call)
        refused = outcomes[index - len(KEY_LAYOUT["job/finish_many"]) - 1]
        assert refused.status == "wrongtype"
        assert isinstance(refused.error, WrongTypeError)
        assert repr(shown) in str(refused.error)
        assert [o.status for o in outcomes].count("ok") == 1
        assert x(r, "GET", JOB.finishes) == b"1"
        return
    with pytest.raises(WrongTypeError, match=re.escape(repr(shown))):
        run(r, call)
    assert snapshot(r) == before
    assert events.take() == []


# ------------------------------------------------------------------- big batches


def test_batches_larger_than_one_unpack_chunk(r: redis.Redis) -> None:
    n = 10_000  # the most one call takes; several chunks of every variadic call
    jobs = [NewJob(f"j{i}", b"%d" % i, priority=i % 3 == 0) for i in range(n)]
    run(r, job_publish_many(JOB, jobs))
    normal = [f"j{i}".encode() for i in range(n) if i % 3]
    urgent = [f"j{i}".encode() for i in range(n) if i % 3 == 0]
    # One LPUSH per job would leave the newest normal job leftmost, the newest
    # priority job rightmost: exactly what the batch left.
    assert x(r, "LRANGE", JOB.ids, 0, -1) == normal[::-1] + urgent
    assert x(r, "HLEN", JOB.items) == n
    assert x(r, "ZCARD", JOB.published) == n
    assert x(r, "GET", JOB.publishes) == b"10000"
    x(r, "HSET", JOB.cancelled, "j0", 2)
    claim = run(r, job_claim(JOB, "w", max_jobs=n))
    assert [j.id.encode() for j in claim.jobs] == urgent[::-1] + normal
    assert [j.token for j in claim.jobs] == [str(t) for t in range(1, n + 1)]
    assert {j.id: j.failures for j in claim.jobs if j.failures} == {"j0": 2}
    assert [j.item for j in claim.jobs[:2]] == [
        b"%d" % (n - 1 - (n - 1) % 3),
        b"%d" % (n - 1 - (n - 1) % 3 - 3),
    ]
    assert x(r, "EXISTS", JOB.ids) == 0
    assert x(r, "ZCARD", JOB.claimed) == n
    assert x(r, "HLEN", JOB.owners) == n
    outcomes = run(
        r, job_finish_many(JOB, [FinishRequest(j.id, j.token, b"r") for j in claim.jobs])
    )
    assert {o.status for o in outcomes} == {"ok"}
    assert x(r, "EXISTS", JOB.claimed, JOB.owners, JOB.items, JOB.published, JOB.cancelled) == 0
    assert x(r, "GET", JOB.finishes) == b"10000"
    assert x(r, "HGET", JOB.result("j9999"), "result") == b"r"


# ------------------------------------------------------------------------- claim


def test_a_claim_takes_an_id_once_even_when_listed_twice(r: redis.Redis) -> None:
    publish(r, "A", "B")
    x(r, "LPUSH", JOB.ids, "A")  # an original client published A a second time
    claim = run(r, job_claim(JOB, "w", max_jobs=5))
    assert [j.id for j in claim.jobs] == ["A", "B"]
    assert claim.dropped == 1
    assert x(r, "HGETALL", JOB.owners) == [b"A", b"w:1", b"B", b"w:2"]
    assert x(r, "GET", JOB.tokens) == b"2"


def test_a_claim_that_takes_nothing_still_drops_what_it_popped(r: redis.Redis) -> None:
    x(r, "RPUSH", JOB.ids, "ghost-1", "ghost-2")
    claim = run(r, job_claim(JOB, "w", max_jobs=5))
    assert (claim.jobs, claim.dropped) == ((), 2)
    assert x(r, "EXISTS", JOB.ids, JOB.tokens, JOB.workers) == 0


# -------------------------------------------------------------------------- reap


def test_reap_drops_a_ghost_claim_with_no_rule_against_it(r: redis.Redis) -> None:
    """No timeout, a live owner: only its missing item makes the claim a ghost."""
    token = claimed(r, "A")["A"]
    run(r, job_heartbeat(JOB, "w"))
    x(r, "HDEL", JOB.items, "A")  # an original client's retract, half done
    x(r, "ZADD", JOB.claimed, 1, "B")  # an original worker's claim of a retracted id
    report = run(r, job_reap(JOB, stale_ms=60_000, orphan_grace_ms=0))
    assert sorted((i.id, i.outcome, i.reason) for i in report.reaped) == [
        ("A", "dropped", "ghost"),
        ("B", "dropped", "ghost"),
    ]
    assert x(r, "EXISTS", JOB.claimed, JOB.owners, JOB.published) == 0
    assert run(r, job_reap(JOB, stale_ms=60_000, orphan_grace_ms=0)).reaped == ()
    assert token == "1"


@pytest.mark.parametrize("beside", ["ghost claim", "ghost stall", "claimed and stalled"])
def test_reap_finds_a_lost_job_beside_entries_that_would_balance_the_count(
    r: redis.Redis, beside: str
) -> None:
    publish(r, "L")
    x(r, "RPOP", JOB.ids)  # an original worker popped L and died: L is lost
    if beside == "ghost claim":
        x(r, "ZADD", JOB.claimed, 1, "X")
    elif beside == "ghost stall":
        x(r, "SADD", JOB.stalled, "X")
    else:
        publish(r, "Y")
        run(r, job_heartbeat(JOB, "w"))
        run(r, job_claim(JOB, "w"))
        x(r, "SADD", JOB.stalled, "Y")  # an original client's stall, then a claim
    # HLEN items = LLEN ids + ZCARD claimed + SCARD stalled - 1, plus the lost job.
    reaped = [
        (i.id, i.outcome, i.reason)
        for _ in range(2)
        for i in run(r, job_reap(JOB, stale_ms=60_000, orphan_grace_ms=0)).reaped
    ]
    assert ("L", "cancelled", "orphan") in reaped
    assert x(r, "LRANGE", JOB.ids, 0, -1) == [b"L"]
