"""The contract scripts against a real Redis: exact stored state, replies and events.

Policy: every test gets the empty test database (``redis_url``), drives the
scripts through a plain redis-py client speaking RESP2 with no reply
post-processing (what hiredis gives our transport), and checks the stored state
with plain commands. "Nothing changed" is checked by comparing DUMPs of every key.
Runs on whatever server the session uses (embedded Redis 6.2, or
THOONK_TEST_REDIS_URL, e.g. Redis 7).
"""

from __future__ import annotations

from typing import Any

import pytest
import redis

from thoonk_actors._errors import (
    BadStoredConfigError,
    ClaimLostError,
    DuplicateIdError,
    NoSuchObjectError,
    NotClaimedError,
    NotFoundError,
    NotStalledError,
    ObjectExistsError,
    WrongTypeError,
)
from thoonk_actors.contract import (
    Call,
    FeedKeys,
    FinishRequest,
    JobKeys,
    NewJob,
    QueueKeys,
    SortedFeedKeys,
    feed_items,
    feed_publish,
    feed_retract,
    job_available_ids,
    job_cancel,
    job_claim,
    job_error,
    job_failure_count,
    job_finish,
    job_finish_many,
    job_heartbeat,
    job_publish,
    job_publish_many,
    job_reap,
    job_release,
    job_result,
    job_retract,
    job_retry,
    job_stall,
    job_stats,
    job_touch,
    job_wait_for_work,
    object_config,
    object_configure,
    object_create,
    object_delete,
    queue_get,
    queue_put,
    sorted_feed_append,
    sorted_feed_edit,
    sorted_feed_ids,
    sorted_feed_move,
    sorted_feed_prepend,
    sorted_feed_publish_after,
    sorted_feed_publish_before,
    sorted_feed_retract,
)

from ._redis import Events, read, run, snapshot, x

JOB = JobKeys.of("emails")


def lrange(client: redis.Redis, key: str) -> list[bytes]:
    return list(x(client, "LRANGE", key, 0, -1))


def zmembers(client: redis.Redis, key: str) -> list[bytes]:
    return list(x(client, "ZRANGE", key, 0, -1))


def hgetall(client: redis.Redis, key: str) -> dict[bytes, bytes]:
    flat = x(client, "HGETALL", key)
    return dict(zip(flat[::2], flat[1::2], strict=True))


def publish(client: redis.Redis, *ids: str, priority: bool = False) -> None:
    for id in ids:
        run(client, job_publish(JOB, id, f'"{id}"'.encode(), priority=priority))


# --------------------------------------------------------------------- job: publish


def test_publish_stores_what_the_original_stores(r: redis.Redis, events: Events) -> None:
    published = run(r, job_publish(JOB, "A", b'{"n":1}'))
    run(r, job_publish(JOB, "B", b'"b"'))
    run(r, job_publish(JOB, "C", b'"c"', priority=True))
    run(r, job_publish(JOB, "D", b'"d"', priority=True))
    # Normal jobs LPUSH, priority jobs RPUSH: the original's [B, A, C, D].
    assert lrange(r, JOB.ids) == [b"B", b"A", b"C", b"D"]
    assert read(r, job_available_ids(JOB)) == ("D", "C", "A", "B")
    assert hgetall(r, JOB.items) == {b"A": b'{"n":1}', b"B": b'"b"', b"C": b'"c"', b"D": b'"d"'}
    assert x(r, "GET", JOB.publishes) == b"4"
    assert x(r, "ZSCORE", JOB.published, "A") == str(published.at_ms).encode()
    assert x(r, "SMEMBERS", "jobs") == [b"emails"]
    assert events.take() == [("event.job.publish:emails", id) for id in (b"A", b"B", b"C", b"D")]


def test_duplicate_publish_is_refused_and_changes_nothing(r: redis.Redis, events: Events) -> None:
    publish(r, "A")
    claim = run(r, job_claim(JOB, "w"))
    publish(r, "B")
    run(r, job_stall(JOB, run(r, job_claim(JOB, "w")).jobs[0].id))
    publish(r, "C")
    events.take()
    before = snapshot(r)
    for id in ("A", "B", "C"):  # claimed, stalled, queued
        with pytest.raises(DuplicateIdError):
            run(r, job_publish(JOB, id, b"1"))
    with pytest.raises(DuplicateIdError, match="'C'"):
        run(r, job_publish_many(JOB, [NewJob("new", b"1"), NewJob("C", b"2")]))
    with pytest.raises(DuplicateIdError, match="'x'"):
        run(r, job_publish_many(JOB, [NewJob("x", b"1"), NewJob("x", b"2")]))
    assert snapshot(r) == before
    assert events.take() == []
    assert claim.jobs[0].id == "A"


def test_finished_or_retracted_ids_may_be_published_again(r: redis.Redis) -> None:
    publish(r, "A")
    job = run(r, job_claim(JOB, "w")).jobs[0]
    run(r, job_finish(JOB, "A", token=job.token, result=b"1"))
    assert read(r, job_result(JOB, "A")) is not None
    publish(r, "A")
    assert read(r, job_result(JOB, "A")) is None  # the old result is gone
    run(r, job_retract(JOB, "A"))
    publish(r, "A")
    assert lrange(r, JOB.ids) == [b"A"]


def test_publish_many(r: redis.Redis, events: Events) -> None:
    out = run(r, job_publish_many(JOB, [NewJob("a", b"1"), NewJob("b", b"2", priority=True)]))
    assert [p.id for p in out] == ["a", "b"]
    assert lrange(r, JOB.ids) == [b"a", b"b"]
    assert x(r, "GET", JOB.publishes) == b"2"
    assert events.take() == [("event.job.publish:emails", b"a"), ("event.job.publish:emails", b"b")]
    assert run(r, job_publish_many(JOB, [])) == ()


# ----------------------------------------------------------------------- job: claim


def test_claim_takes_from_the_right_and_records_owner(r: redis.Redis, events: Events) -> None:
    publish(r, "A", "B")
    publish(r, "C", "D", priority=True)
    events.take()
    claim = run(r, job_claim(JOB, "host:1", max_jobs=3))
    assert [j.id for j in claim.jobs] == ["D", "C", "A"]
    assert [j.item for j in claim.jobs] == [b'"D"', b'"C"', b'"A"']
    assert [j.token for j in claim.jobs] == ["1", "2", "3"]
    assert lrange(r, JOB.ids) == [b"B"]
    assert zmembers(r, JOB.claimed) == [b"A", b"C", b"D"]
    assert x(r, "ZSCORE", JOB.claimed, "D") == str(claim.claimed_ms).encode()
    assert hgetall(r, JOB.owners) == {b"D": b"host:1:1", b"C": b"host:1:2", b"A": b"host:1:3"}
    assert x(r, "ZSCORE", JOB.workers, "host:1") == str(claim.claimed_ms).encode()
    assert events.take() == [("event.job.claim:emails", id) for id in (b"D", b"C", b"A")]
    empty = run(r, job_claim(JOB, "host:1", max_jobs=5))
    assert [j.id for j in empty.jobs] == ["B"]
    assert run(r, job_claim(JOB, "host:1")).jobs == ()


def test_claim_tells_when_the_queue_ran_out_and_when_the_next_job_is_due(
    r: redis.Redis,
) -> None:
    publish(r, "A", "B", "C")
    full = run(r, job_claim(JOB, "w", max_jobs=2))
    assert (len(full.jobs), full.drained, full.next_due_ms) == (2, False, None)
    short = run(r, job_claim(JOB, "w", max_jobs=2))
    assert ([j.id for j in short.jobs], short.drained, short.next_due_ms) == (["C"], True, None)
    x(r, "HSET", JOB.items, "later", '"L"')
    x(r, "ZADD", JOB.scheduled, "99999999999999", "later")
    for max_jobs in (1, 5):  # the one-job path and the batch path
        empty = run(r, job_claim(JOB, "w", max_jobs=max_jobs))
        assert (empty.jobs, empty.drained, empty.next_due_ms) == ((), True, 99999999999999)
        assert empty.held_back is None
    assert zmembers(r, JOB.scheduled) == [b"later"]  # told, not moved


def test_claim_drops_ghosts_and_duplicates(r: redis.Redis) -> None:
    publish(r, "A")
    x(r, "RPUSH", JOB.ids, "ghost")  # no item: next in line
    run(r, job_claim(JOB, "w"))  # takes the ghost? no: drops it and takes A
    assert zmembers(r, JOB.claimed) == [b"A"]
    publish(r, "B")
    x(r, "RPUSH", JOB.ids, "A")  # a duplicate entry of a claimed id
    claim = run(r, job_claim(JOB, "w", max_jobs=5))
    assert [j.id for j in claim.jobs] == ["B"]
    assert claim.dropped == 1
    assert lrange(r, JOB.ids) == []
    assert x(r, "HGET", JOB.owners, "A") == b"w:1"  # A's claim untouched


def test_claim_reports_the_failure_count(r: redis.Redis) -> None:
    publish(r, "A")
    job = run(r, job_claim(JOB, "w")).jobs[0]
    run(r, job_cancel(JOB, "A", token=job.token, retry_delay_ms=0))
    assert run(r, job_claim(JOB, "w")).jobs[0].failures == 1


# ---------------------------------------------------------------------- job: finish


def test_finish_with_result(r: redis.Redis, events: Events) -> None:
    publish(r, "A")
    job = run(r, job_claim(JOB, "w")).jobs[0]
    run(r, job_cancel(JOB, "A", token=job.token, error="boom", retry_delay_ms=0))
    job = run(r, job_claim(JOB, "w")).jobs[0]
    events.take()
    finished = run(r, job_finish(JOB, "A", token=job.token, result=b'"a\x00b"'))
    assert events.take() == [("event.job.finish:emails", b'A\x00"a\x00b"')]
    assert snapshot_keys(r) == {
        "job.publishes:emails",
        "job.finishes:emails",
        "job.tokens:emails",
        "job.workers:emails",
        "jobs",
        "job.result:{emails}:A",
    }
    assert x(r, "GET", JOB.finishes) == b"1"
    result = read(r, job_result(JOB, "A"))
    assert result is not None
    assert (result.state, result.at_ms, result.result) == ("finished", finished.at_ms, b'"a\x00b"')
    ttl = x(r, "PTTL", JOB.result("A"))
    assert 590_000 < ttl <= 600_000


def snapshot_keys(client: redis.Redis) -> set[str]:
    return {key.decode() for key in x(client, "KEYS", "*")}


def test_finish_without_result_and_empty_result(r: redis.Redis, events: Events) -> None:
    run(r, object_create(JOB, {"result_ttl": 5000}))
    publish(r, "A", "B")
    jobs = run(r, job_claim(JOB, "w", max_jobs=2)).jobs
    events.take()
    run(r, job_finish(JOB, "A", token=jobs[0].token))
    run(r, job_finish(JOB, "B", token=jobs[1].token, result=b""))
    assert events.take() == [("event.job.finish:emails", b"A"), ("event.job.finish:emails", b"B\0")]
    result_a, result_b = read(r, job_result(JOB, "A")), read(r, job_result(JOB, "B"))
    assert result_a is not None and result_a.result is None
    assert result_b is not None and result_b.result == b""
    assert 0 < x(r, "PTTL", JOB.result("A")) <= 5000


def test_finish_refusals_change_nothing(r: redis.Redis, events: Events) -> None:
    publish(r, "A", "B")
    job = run(r, job_claim(JOB, "w")).jobs[0]
    events.take()
    before = snapshot(r)
    with pytest.raises(ClaimLostError, match="now held by 'w:1'"):
        run(r, job_finish(JOB, job.id, token="999", result=b"1"))
    with pytest.raises(NotClaimedError):
        run(r, job_finish(JOB, "B"))  # queued, not claimed
    with pytest.raises(NotClaimedError):
        run(r, job_finish(JOB, "nope"))
    assert snapshot(r) == before
    assert events.take() == []


def test_finish_of_an_original_workers_claim(r: redis.Redis, events: Events) -> None:
    """An original JS worker: BRPOP, then ZADD claimed; no owner, no token."""
    publish(r, "A")
    popped = x(r, "BRPOP", JOB.ids, 1)
    assert popped == [JOB.ids.encode(), b"A"]
    x(r, "ZADD", JOB.claimed, 1, "A")
    events.take()
    with pytest.raises(ClaimLostError):
        run(r, job_finish(JOB, "A", token="1"))
    run(r, job_finish(JOB, "A", result=b"done"))
    assert events.take() == [("event.job.finish:emails", b"A\0done")]
    assert x(r, "HGET", JOB.items, "A") is None


def test_finish_many(r: redis.Redis) -> None:
    publish(r, "A", "B", "C")
    jobs = run(r, job_claim(JOB, "w", max_jobs=3)).jobs
    before_c = x(r, "ZSCORE", JOB.claimed, "C")
    out = run(
        r,
        job_finish_many(
            JOB,
            [
                FinishRequest("A", jobs[0].token, b"1"),
                FinishRequest("B", "999", b"2"),
                FinishRequest("nope"),
                FinishRequest("C", jobs[2].token),
                FinishRequest("C", jobs[2].token),
            ],
        ),
    )
    # A token that no longer holds a claim means the claim was lost (here: finished twice).
    assert [o.status for o in out] == ["ok", "claim_lost", "not_claimed", "ok", "claim_lost"]
    assert zmembers(r, JOB.claimed) == [b"B"]
    assert x(r, "GET", JOB.finishes) == b"2"
    assert before_c is not None


# -------------------------------------------------------- job: cancel, stall, retry


def test_cancel_goes_to_the_back_and_counts(r: redis.Redis, events: Events) -> None:
    publish(r, "A", "B")
    job = run(r, job_claim(JOB, "w")).jobs[0]
    events.take()
    run(r, object_configure(JOB, {"retry_delay": 0}))  # the original's way: no backoff
    events.take()
    out = run(r, job_cancel(JOB, "A", token=job.token, error="ValueError: x"))
    assert (out.outcome, out.count, out.retry_at_ms) == ("cancelled", 1, None)
    assert lrange(r, JOB.ids) == [b"A", b"B"]  # LPUSH: behind B
    assert read(r, job_failure_count(JOB, "A")) == 1
    assert read(r, job_error(JOB, "A")) == "ValueError: x"
    assert x(r, "HGET", JOB.owners, "A") is None
    assert zmembers(r, JOB.claimed) == []
    assert events.take() == [("event.job.cancel:emails", b"A\x001")]


def test_cancel_past_max_cancels_stalls(r: redis.Redis, events: Events) -> None:
    run(r, object_create(JOB, {"max_cancels": 2, "retry_delay": 0}))
    publish(r, "A")
    for expected in ("cancelled", "stalled"):
        job = run(r, job_claim(JOB, "w")).jobs[0]
        assert run(r, job_cancel(JOB, "A", token=job.token)).outcome == expected
    assert x(r, "SMEMBERS", JOB.stalled) == [b"A"]
    assert x(r, "ZSCORE", JOB.published, "A") is None
    assert read(r, job_failure_count(JOB, "A")) == 0  # stall clears it, as the original
    assert [e for e in events.take() if "config" not in e[0]][-1] == (
        "event.job.stall:emails",
        b"A",
    )
    # The argument overrides the config.
    run(r, job_retry(JOB, "A"))
    job = run(r, job_claim(JOB, "w")).jobs[0]
    assert run(r, job_cancel(JOB, "A", token=job.token, max_cancels=0)).outcome == "cancelled"


def test_stall_and_retry(r: redis.Redis, events: Events) -> None:
    publish(r, "A", "B")
    job = run(r, job_claim(JOB, "w")).jobs[0]
    with pytest.raises(NotStalledError):
        run(r, job_retry(JOB, "A"))
    events.take()
    run(r, job_stall(JOB, "A", token=job.token, reason="needs a person"))
    assert x(r, "SMEMBERS", JOB.stalled) == [b"A"]
    assert zmembers(r, JOB.published) == [b"B"]  # the original's misspelt ZREM, fixed
    assert read(r, job_error(JOB, "A")) == "needs a person"
    at = run(r, job_retry(JOB, "A"))
    assert lrange(r, JOB.ids) == [b"A", b"B"]
    assert x(r, "ZSCORE", JOB.published, "A") == str(at).encode()
    assert events.take() == [("event.job.stall:emails", b"A"), ("event.job.retry:emails", b"A")]
    with pytest.raises(NotClaimedError):
        run(r, job_stall(JOB, "A"))


# ------------------------------------------------------------------ job: retract


def test_retract_in_every_state(r: redis.Redis, events: Events) -> None:
    publish(r, "queued", "claimed", "stalled")
    jobs = run(r, job_claim(JOB, "w", max_jobs=2)).jobs
    assert [j.id for j in jobs] == ["queued", "claimed"]
    run(r, job_release(JOB, "queued", token=jobs[0].token))
    run(r, job_stall(JOB, "claimed", token=jobs[1].token))  # now 'claimed' is stalled
    job = run(r, job_claim(JOB, "w", max_jobs=1)).jobs[0]
    assert job.id == "queued"
    x(r, "LPUSH", JOB.ids, "stalled")  # a duplicate list entry too
    x(r, "ZADD", JOB.claimed, 1, "ghost")  # a ghost claim (no item)
    events.take()
    for id in ("stalled", "claimed", "queued", "ghost"):
        run(r, job_retract(JOB, id))
    assert events.take() == [
        ("event.job.retract:emails", id) for id in (b"stalled", b"claimed", b"queued", b"ghost")
    ]
    assert lrange(r, JOB.ids) == []
    for key in (JOB.items, JOB.claimed, JOB.stalled, JOB.published, JOB.owners):
        assert x(r, "EXISTS", key) == 0
    result = read(r, job_result(JOB, "queued"))
    assert result is not None and result.state == "retracted"
    before = snapshot(r)
    with pytest.raises(NotFoundError):
        run(r, job_retract(JOB, "queued"))
    assert snapshot(r) == before


# --------------------------------------------------------------- job: leases


def test_touch_and_release(r: redis.Redis, events: Events) -> None:
    publish(r, "A", "B")
    job = run(r, job_claim(JOB, "w")).jobs[0]
    x(r, "ZADD", JOB.claimed, 5, "A")
    at = run(r, job_touch(JOB, "A", job.token))
    assert x(r, "ZSCORE", JOB.claimed, "A") == str(at).encode()
    with pytest.raises(ClaimLostError):
        run(r, job_touch(JOB, "A", "999"))
    with pytest.raises(NotClaimedError):
        run(r, job_touch(JOB, "B", "1"))
    events.take()
    run(r, job_release(JOB, "A", token=job.token))
    assert lrange(r, JOB.ids) == [b"B", b"A"]  # back at the head
    assert read(r, job_failure_count(JOB, "A")) == 0
    assert events.take() == [("event.job.release:emails", b"A")]


def test_heartbeat(r: redis.Redis) -> None:
    at = run(r, job_heartbeat(JOB, "w1"))
    assert x(r, "ZSCORE", JOB.workers, "w1") == str(at).encode()
    run(r, job_heartbeat(JOB, "w1", leave=True))
    assert x(r, "EXISTS", JOB.workers) == 0


# --------------------------------------------------------------------- job: reap


def test_reap_timeout(r: redis.Redis, events: Events) -> None:
    run(r, object_create(JOB, {"timeout": 60_000, "max_cancels": 2, "retry_delay": 0}))
    publish(r, "A", "B", "C")
    jobs = run(r, job_claim(JOB, "w", max_jobs=3)).jobs
    x(r, "ZADD", JOB.claimed, 1, "A", 2, "B")  # claimed long ago
    x(r, "HSET", JOB.cancelled, "B", 1)
    events.take()
    report = run(r, job_reap(JOB, stale_ms=0, orphan_grace_ms=0))
    assert sorted((x.id, x.outcome, x.reason) for x in report.reaped) == [
        ("A", "cancelled", "timeout"),
        ("B", "stalled", "timeout"),
    ]
    assert zmembers(r, JOB.claimed) == [b"C"]
    assert lrange(r, JOB.ids) == [b"A"]
    assert x(r, "SMEMBERS", JOB.stalled) == [b"B"]
    assert "timeout" in (read(r, job_error(JOB, "A")) or "")
    assert sorted(events.take()) == [
        ("event.job.cancel:emails", b"A\x001"),
        ("event.job.stall:emails", b"B"),
    ]
    # Idempotent: more sweeps (any number of reapers) find nothing more to do.
    for _ in range(3):
        assert run(r, job_reap(JOB, stale_ms=0, orphan_grace_ms=0)).reaped == ()
    with pytest.raises(ClaimLostError):
        run(r, job_finish(JOB, "A", token=jobs[0].token))


def test_reap_owner_gone(r: redis.Redis) -> None:
    publish(r, "A", "B", "C")
    run(r, job_claim(JOB, "dead", max_jobs=2))
    run(r, job_claim(JOB, "alive"))
    x(r, "ZADD", JOB.workers, 1, "dead")  # its heartbeat stopped long ago
    report = run(r, job_reap(JOB, stale_ms=30_000, orphan_grace_ms=0))
    assert sorted((x.id, x.reason) for x in report.reaped) == [
        ("A", "owner_gone"),
        ("B", "owner_gone"),
    ]
    assert zmembers(r, JOB.claimed) == [b"C"]
    assert zmembers(r, JOB.workers) == [b"alive"]  # the stale heartbeat is removed
    # An owner absent from the workers zset counts as gone as well.
    x(r, "ZREM", JOB.workers, "alive")
    assert [x.id for x in run(r, job_reap(JOB, stale_ms=30_000, orphan_grace_ms=0)).reaped] == ["C"]


def test_reap_drops_ghost_claims(r: redis.Redis) -> None:
    run(r, object_create(JOB, {"timeout": 1000}))
    x(r, "ZADD", JOB.claimed, 1, "ghost")
    report = run(r, job_reap(JOB, stale_ms=0, orphan_grace_ms=0))
    assert [(x.id, x.outcome) for x in report.reaped] == [("ghost", "dropped")]
    assert x(r, "EXISTS", JOB.claimed, JOB.ids) == 0


def test_reap_returns_jobs_lost_in_the_original_claim_gap(r: redis.Redis) -> None:
    publish(r, "A", "B")
    x(r, "RPOP", JOB.ids)  # an original worker popped A and died
    first = run(r, job_reap(JOB, stale_ms=0, orphan_grace_ms=0))
    assert first.reaped == ()
    assert list(hgetall(r, JOB.orphans)) == [b"A"]
    second = run(r, job_reap(JOB, stale_ms=0, orphan_grace_ms=0))
    assert [(x.id, x.outcome, x.reason) for x in second.reaped] == [("A", "cancelled", "orphan")]
    assert lrange(r, JOB.ids) == [b"A", b"B"]
    assert x(r, "EXISTS", JOB.orphans) == 0


def test_reap_grace_and_forgetting_marks(r: redis.Redis) -> None:
    publish(r, "A")
    x(r, "RPOP", JOB.ids)
    run(r, job_reap(JOB, stale_ms=0, orphan_grace_ms=60_000))
    assert run(r, job_reap(JOB, stale_ms=0, orphan_grace_ms=60_000)).reaped == ()  # too soon
    # The original worker's second step arrives: the mark is forgotten.
    x(r, "ZADD", JOB.claimed, 1, "A")
    assert run(r, job_reap(JOB, stale_ms=0, orphan_grace_ms=60_000)).reaped == ()
    assert x(r, "EXISTS", JOB.orphans) == 0


def test_stats(r: redis.Redis) -> None:
    publish(r, "A", "B", "C")
    job = run(r, job_claim(JOB, "w")).jobs[0]
    run(r, job_finish(JOB, job.id, token=job.token))
    job = run(r, job_claim(JOB, "w")).jobs[0]
    run(r, job_stall(JOB, job.id))
    run(r, job_claim(JOB, "w"))
    stats = run(r, job_stats(JOB, stale_ms=30_000))
    assert (stats.available, stats.claimed, stats.stalled, stats.items) == (0, 1, 1, 2)
    assert (stats.publishes, stats.finishes, stats.workers_alive) == (3, 1, 1)


def test_wait_for_work_takes_nothing(r: redis.Redis) -> None:
    assert read(r, job_wait_for_work(JOB, timeout_s=0.05)) is False
    publish(r, "A", "B")
    assert read(r, job_wait_for_work(JOB, timeout_s=0.05)) is True
    assert lrange(r, JOB.ids) == [b"B", b"A"]


# ----------------------------------------------------------------- wrong types


def test_wrongtype_changes_nothing(r: redis.Redis, events: Events) -> None:
    publish(r, "A", "B")
    job = run(r, job_claim(JOB, "w")).jobs[0]
    x(r, "SET", JOB.published, "oops")  # someone wrote a string there
    events.take()
    before = snapshot(r)
    calls: list[Call[Any]] = [
        job_publish(JOB, "C", b"1"),
        job_publish_many(JOB, [NewJob("C", b"1")]),
        job_finish(JOB, "A", token=job.token, result=b"1"),
        job_finish_many(JOB, [FinishRequest("A", job.token)]),
        job_cancel(JOB, "A", token=job.token),
        job_stall(JOB, "A"),
        job_retract(JOB, "A"),
        job_reap(JOB, stale_ms=1, orphan_grace_ms=0),
    ]
    for call in calls:
        with pytest.raises(WrongTypeError, match=r"'job\.published:emails' of job queue 'emails'"):
            run(r, call)
    assert snapshot(r) == before
    assert events.take() == []


def test_bad_stored_config_changes_nothing(r: redis.Redis) -> None:
    publish(r, "A")
    job = run(r, job_claim(JOB, "w")).jobs[0]
    x(r, "HSET", JOB.config, "result_ttl", "soon")
    before = snapshot(r)
    with pytest.raises(BadStoredConfigError, match="result_ttl"):
        run(r, job_finish(JOB, "A", token=job.token))
    with pytest.raises(BadStoredConfigError, match="result_ttl"):
        read(r, object_config(JOB))
    assert snapshot(r) == before


def test_garbage_counter_changes_nothing(r: redis.Redis) -> None:
    publish(r, "A")
    job = run(r, job_claim(JOB, "w")).jobs[0]
    x(r, "SET", JOB.finishes, "many")
    before = snapshot(r)
    with pytest.raises(WrongTypeError, match="finishes"):
        run(r, job_finish(JOB, "A", token=job.token))
    with pytest.raises(WrongTypeError, match="finishes"):
        run(r, job_finish_many(JOB, [FinishRequest("A", job.token)]))
    assert snapshot(r) == before


# ---------------------------------------------------------------------------- feeds

FEED = FeedKeys.of("news")


def test_feed_publish_edit_and_eviction(r: redis.Redis, events: Events) -> None:
    run(r, object_create(FEED, {"max_length": 2}))
    events.take()
    for id in ("a", "b", "c"):
        run(r, feed_publish(FEED, id, id.encode()))
    assert zmembers(r, FEED.ids) == [b"b", b"c"]
    assert events.take() == [
        ("event.feed.publish:news", b"a\0a"),
        ("event.feed.publish:news", b"b\0b"),
        ("event.feed.retract:news", b"a"),  # before the publish that caused it
        ("event.feed.publish:news", b"c\0c"),
    ]
    # An edit evicts nothing, even of a full feed, and moves the item to the end.
    edited = run(r, feed_publish(FEED, "b", b"B"))
    assert (edited.kind, edited.evicted) == ("edit", ())
    assert run(r, feed_items(FEED)) == (("c", b"c"), ("b", b"B"))
    assert events.take() == [("event.feed.edit:news", b"b\0B")]
    assert x(r, "GET", FEED.publishes) == b"4"


def test_feed_max_length_one_never_evicts_the_published_id(r: redis.Redis) -> None:
    run(r, object_create(FEED, {"max_length": 1}))
    for id in ("a", "b", "b", "c"):
        out = run(r, feed_publish(FEED, id, b"x"))
        assert id not in out.evicted
        assert zmembers(r, FEED.ids) == [id.encode()]


def test_feed_lowered_max_length_evicts_down_on_the_next_publish(r: redis.Redis) -> None:
    for id in "abcde":
        run(r, feed_publish(FEED, id, b"x"))
    run(r, object_create(FEED, {"max_length": 2}, exist_ok=True))  # existed: untouched
    run(r, object_configure(FEED, {"max_length": 2}))
    out = run(r, feed_publish(FEED, "f", b"x"))
    assert out.evicted == ("a", "b", "c", "d")
    assert zmembers(r, FEED.ids) == [b"e", b"f"]


def test_feed_order_within_one_millisecond(r: redis.Redis) -> None:
    ids = [f"{n:03d}" for n in range(300)][::-1]  # lexicographic order is the reverse
    for id in ids:
        run(r, feed_publish(FEED, id, b"x"))
    assert [i.decode() for i in zmembers(r, FEED.ids)] == ids


def test_feed_bad_max_length_is_refused(r: redis.Redis) -> None:
    x(r, "HSET", FEED.config, "max_length", "0")  # bricked every original publish
    with pytest.raises(BadStoredConfigError, match="max_length"):
        run(r, feed_publish(FEED, "a", b"x"))
    assert snapshot_keys(r) == {FEED.config}


def test_feed_retract(r: redis.Redis, events: Events) -> None:
    run(r, feed_publish(FEED, "a", b"x"))
    events.take()
    assert run(r, feed_retract(FEED, "a")) is True
    assert run(r, feed_retract(FEED, "a")) is False
    assert events.take() == [("event.feed.retract:news", b"a")]
    assert snapshot_keys(r) == {FEED.publishes, "feeds"}


# --------------------------------------------------------------------- sorted feeds

SORTED = SortedFeedKeys.of("playlist")


def test_sorted_feed_positions_and_events(r: redis.Redis, events: Events) -> None:
    first = run(r, sorted_feed_append(SORTED, b"A"))
    second = run(r, sorted_feed_prepend(SORTED, b"B"))
    assert (first, second) == ("1", "2")
    run(r, sorted_feed_publish_before(SORTED, "1", b"C", id="c"))
    run(r, sorted_feed_publish_after(SORTED, "1", b"D"))
    assert read(r, sorted_feed_ids(SORTED)) == ("2", "c", "1", "3")
    assert events.take() == [
        ("event.sorted_feed.publish:playlist", b"1\x001\0A"),
        ("event.sorted_feed.position:playlist", b"1\x001\0end"),
        ("event.sorted_feed.publish:playlist", b"2\x002\0B"),
        ("event.sorted_feed.position:playlist", b"2\x002\0begin"),
        ("event.sorted_feed.publish:playlist", b"c\x003\0C"),
        ("event.sorted_feed.position:playlist", b"c\x003\0before\x001"),
        ("event.sorted_feed.publish:playlist", b"3\x004\0D"),
        ("event.sorted_feed.position:playlist", b"3\x004\0after\x001"),
    ]
    run(r, sorted_feed_move(SORTED, "c", "end"))
    run(r, sorted_feed_move(SORTED, "3", "begin"))
    run(r, sorted_feed_move(SORTED, "2", "after", "c"))
    run(r, sorted_feed_move(SORTED, "1", "before", "3"))
    assert read(r, sorted_feed_ids(SORTED)) == ("1", "3", "c", "2")
    assert events.take() == [
        ("event.sorted_feed.position:playlist", b"c\x005\0end"),
        ("event.sorted_feed.position:playlist", b"3\x006\0begin"),
        ("event.sorted_feed.position:playlist", b"2\x007\0after\0c"),
        ("event.sorted_feed.position:playlist", b"1\x008\0before\x003"),
    ]
    run(r, sorted_feed_edit(SORTED, "c", b"CC"))
    assert run(r, sorted_feed_retract(SORTED, "3")) is True
    assert run(r, sorted_feed_retract(SORTED, "3")) is False
    assert events.take() == [
        ("event.sorted_feed.edit:playlist", b"c\x009\0CC"),
        ("event.sorted_feed.retract:playlist", b"3\x0010"),
    ]


def test_sorted_feed_refusals_change_nothing(r: redis.Redis, events: Events) -> None:
    run(r, sorted_feed_append(SORTED, b"A"))
    events.take()
    before = snapshot(r)
    with pytest.raises(NotFoundError, match="'nope'"):
        run(r, sorted_feed_publish_before(SORTED, "nope", b"X"))  # would generate an id
    with pytest.raises(NotFoundError, match="'nope'"):
        run(r, sorted_feed_publish_after(SORTED, "nope", b"X", id="x"))
    with pytest.raises(DuplicateIdError):
        run(r, sorted_feed_append(SORTED, b"X", id="1"))
    with pytest.raises(NotFoundError):
        run(r, sorted_feed_edit(SORTED, "nope", b"X"))
    with pytest.raises(NotFoundError, match="'nope'"):
        run(r, sorted_feed_move(SORTED, "1", "after", "nope"))
    with pytest.raises(NotFoundError, match="'nope'"):
        run(r, sorted_feed_move(SORTED, "nope", "end"))
    assert snapshot(r) == before
    assert events.take() == []


def test_sorted_feed_generated_ids_skip_used_ones(r: redis.Redis) -> None:
    run(r, sorted_feed_append(SORTED, b"A", id="1"))
    assert run(r, sorted_feed_append(SORTED, b"B")) == "2"


# --------------------------------------------------------------------------- queues

QUEUE = QueueKeys.of("tasks")


def test_queue(r: redis.Redis) -> None:
    run(r, queue_put(QUEUE, "1", b"one"))
    run(r, queue_put(QUEUE, "2", b"two"))
    run(r, queue_put(QUEUE, "3", b"three", priority=True))
    with pytest.raises(DuplicateIdError):
        run(r, queue_put(QUEUE, "1", b"again"))
    x(r, "RPUSH", QUEUE.ids, "ghost")
    assert run(r, queue_get(QUEUE, max_items=2)) == (("3", b"three"), ("1", b"one"))
    assert run(r, queue_get(QUEUE, max_items=5)) == (("2", b"two"),)
    assert run(r, queue_get(QUEUE)) == ()
    assert snapshot_keys(r) == {QUEUE.publishes, "queues"}


# ------------------------------------------------------------- registry / lifecycle


def test_create_config_delete(r: redis.Redis, events: Events) -> None:
    with pytest.raises(NoSuchObjectError):
        run(r, object_configure(JOB, {"timeout": 5}))
    assert run(r, object_create(JOB, {"timeout": 5})) is True
    with pytest.raises(ObjectExistsError):
        run(r, object_create(JOB))
    assert run(r, object_create(JOB, {"timeout": 9}, exist_ok=True)) is False
    assert read(r, object_config(JOB)).timeout == 5
    run(r, object_configure(JOB, {"timeout": None, "max_cancels": 4}))
    config = read(r, object_config(JOB))
    assert (config.timeout, config.max_cancels) == (0, 4)
    publish(r, "A")
    run(r, job_claim(JOB, "w"))
    events.take()
    assert run(r, object_delete(JOB)) is True
    assert snapshot_keys(r) == set()
    assert events.take() == [("event.job.delete:emails", b"emails")]
    assert run(r, object_delete(JOB)) is False


def test_config_events(r: redis.Redis, events: Events) -> None:
    run(r, object_create(FEED, {"max_length": 3}))
    run(r, object_configure(FEED, {"max_length": None}))
    assert events.take() == [
        ("event.feed.config:news", b'{"max_length":3}'),
        ("event.feed.config:news", b'{"max_length":null}'),
    ]


def test_objects_made_by_original_clients_count_as_existing(r: redis.Redis) -> None:
    x(r, "SADD", "jobs", "emails")  # the original create.lua, no config
    with pytest.raises(ObjectExistsError):
        run(r, object_create(JOB))
    run(r, object_configure(JOB, {"timeout": 5}))


def test_cluster_keys_work_on_a_standalone_server(r: redis.Redis) -> None:
    keys = JobKeys.of("emails", cluster=True)
    run(r, object_create(keys))
    run(r, job_publish(keys, "A", b"1"))
    job = run(r, job_claim(keys, "w")).jobs[0]
    run(r, job_finish(keys, "A", token=job.token))
    assert x(r, "SMEMBERS", "jobs") == [b"emails"]  # via Call.after
    assert snapshot_keys(r) == {
        "jobs",
        "job.config:{emails}",
        "job.publishes:{emails}",
        "job.finishes:{emails}",
        "job.tokens:{emails}",
        "job.workers:{emails}",
        "job.result:{emails}:A",
    }
    run(r, object_delete(keys))
    assert snapshot_keys(r) == {"job.result:{emails}:A"}  # results expire on their own
