"""Per-claim leases and the retry backoff, script by script against a real Redis.

Leases: the reaper's deadline is claim time + the lease the claimer recorded
(``job.leases``), the config ``timeout`` only for claims without one. Backoff:
a cancel puts the job in ``job.scheduled`` with a due time by the server
clock; claim, reap and promote move due jobs back to ``job.ids`` exactly once.
"""

from __future__ import annotations

import threading

import pytest
import redis

from thoonk_actors._errors import BadStoredConfigError
from thoonk_actors.contract import (
    JobKeys,
    job_cancel,
    job_claim,
    job_finish,
    job_promote,
    job_publish,
    job_reap,
    job_release,
    job_retract,
    job_stall,
    job_stats,
    object_create,
)

from ._redis import raw_client, run, snapshot, x

JOB = JobKeys.of("leases")


def now_ms(r: redis.Redis) -> int:
    seconds, micros = x(r, "TIME")
    return int(seconds) * 1000 + int(micros) // 1000


def claim(r: redis.Redis, id: str, lease_ms: int | None) -> str:
    run(r, job_publish(JOB, id, b"1"))
    return run(r, job_claim(JOB, "w", lease_ms=lease_ms)).jobs[0].token


def age(r: redis.Redis, id: str, ms: int) -> None:
    """Make the claim of ``id`` look ``ms`` old (as if not touched for that long)."""
    x(r, "ZADD", JOB.claimed, "XX", now_ms(r) - ms, id)


def reaped_ids(r: redis.Redis) -> list[str]:
    return [item.id for item in run(r, job_reap(JOB, stale_ms=0, orphan_grace_ms=0)).reaped]


def test_the_claims_own_lease_beats_the_config_timeout(r: redis.Redis) -> None:
    run(r, object_create(JOB, {"timeout": 1_000}))
    claim(r, "long", 300_000)  # a worker started with a 300 s lease
    claim(r, "short", 2_000)
    claim(r, "plain", None)  # no lease: the config timeout applies (JS workers, get())
    claim(r, "never", 0)  # 0: no time limit, only a silent owner is reaped
    assert x(r, "HGETALL", JOB.leases) == [b"long", b"300000", b"short", b"2000", b"never", b"0"]
    for id in ("long", "short", "plain", "never"):
        age(r, id, 5_000)
    assert sorted(reaped_ids(r)) == ["plain", "short"]
    assert x(r, "ZRANGE", JOB.claimed, 0, -1) == [b"long", b"never"]
    assert sorted(x(r, "HKEYS", JOB.leases)) == [b"long", b"never"]  # reaped: entries gone
    assert "its lease of 2000 ms" in x(r, "HGET", JOB.errors, "short").decode()
    assert "the queue timeout of 1000 ms" in x(r, "HGET", JOB.errors, "plain").decode()


def test_a_lease_counts_only_while_its_claim_has_an_owner(r: redis.Redis) -> None:
    run(r, object_create(JOB, {"timeout": 1_000}))
    claim(r, "j", 300_000)
    x(r, "HDEL", JOB.owners, "j")  # as if an original worker held the claim
    age(r, "j", 5_000)
    # Ownerless: its score is another client's clock, so the config timeout runs
    # from the sweep that first saw it (server clock), not from the score.
    assert reaped_ids(r) == []
    at, score = x(r, "HGET", JOB.seen, "j").split()
    assert score == x(r, "ZSCORE", JOB.claimed, "j")
    x(r, "HSET", JOB.seen, "j", b"%d %s" % (int(at) - 1_000, score))
    assert reaped_ids(r) == ["j"]
    assert x(r, "EXISTS", JOB.seen) == 0


def test_every_settling_script_removes_the_lease(r: redis.Redis) -> None:
    tokens = {id: claim(r, id, 60_000) for id in ("f", "c", "s", "t", "l")}
    run(r, job_finish(JOB, "f", token=tokens["f"]))
    run(r, job_cancel(JOB, "c", token=tokens["c"]))
    run(r, job_stall(JOB, "s", token=tokens["s"]))
    run(r, job_retract(JOB, "t"))
    run(r, job_release(JOB, "l", token=tokens["l"]))  # leaves it; the next sweep removes it
    assert x(r, "HKEYS", JOB.leases) == [b"l"]
    reaped_ids(r)
    assert x(r, "EXISTS", JOB.leases) == 0


def test_a_new_claim_without_a_lease_drops_an_old_entry(r: redis.Redis) -> None:
    token = claim(r, "j", 60_000)
    run(r, job_release(JOB, "j", token=token))
    run(r, job_claim(JOB, "w"))  # no lease this time
    assert x(r, "HGET", JOB.leases, "j") is None


def test_cancel_schedules_the_retry_by_the_backoff(r: redis.Redis) -> None:
    run(r, object_create(JOB, {"retry_delay": 1_000, "retry_factor": 3, "retry_delay_max": 5_000}))
    run(r, job_publish(JOB, "j", b"1"))
    for count in range(1, 5):
        if count > 1:  # due now: what a promote would do
            x(r, "ZREM", JOB.scheduled, "j")
            x(r, "LPUSH", JOB.ids, "j")
        token = run(r, job_claim(JOB, "w")).jobs[0].token
        before = now_ms(r)
        out = run(r, job_cancel(JOB, "j", token=token, jitter=0.999))
        after = now_ms(r)
        assert out.count == count and out.retry_at_ms is not None
        assert int(x(r, "ZSCORE", JOB.scheduled, "j")) == out.retry_at_ms
        nominal = min(1_000 * 3 ** (count - 1), 5_000)
        # Jitter only adds, up to 25 %.
        assert before + nominal <= out.retry_at_ms <= after + nominal * 1.25
        assert out.retry_at_ms >= before + nominal * 1.24
    assert x(r, "LLEN", JOB.ids) == 0
    assert run(r, job_stats(JOB, stale_ms=1000)).scheduled == 1


def test_zero_jitter_and_the_override(r: redis.Redis) -> None:
    run(r, job_publish(JOB, "j", b"1"))
    token = run(r, job_claim(JOB, "w")).jobs[0].token
    before = now_ms(r)
    out = run(r, job_cancel(JOB, "j", token=token, jitter=0))
    assert before + 1_000 <= out.retry_at_ms <= now_ms(r) + 1_000  # type: ignore[operator]
    x(r, "ZREM", JOB.scheduled, "j")
    x(r, "LPUSH", JOB.ids, "j")
    token = run(r, job_claim(JOB, "w")).jobs[0].token
    out = run(r, job_cancel(JOB, "j", token=token, retry_delay_ms=0))
    assert out.retry_at_ms is None
    assert x(r, "LRANGE", JOB.ids, 0, -1) == [b"j"]


def test_a_claim_takes_a_due_job_and_leaves_one_not_due(r: redis.Redis) -> None:
    for id in ("due", "later"):
        run(r, job_publish(JOB, id, b"1"))
        token = run(r, job_claim(JOB, "w")).jobs[0].token
        run(r, job_cancel(JOB, id, token=token))
    x(r, "ZADD", JOB.scheduled, 1, "due")
    got = run(r, job_claim(JOB, "w", max_jobs=5))
    assert [j.id for j in got.jobs] == ["due"]
    assert x(r, "ZRANGE", JOB.scheduled, 0, -1) == [b"later"]
    # A scheduled job is retracted like a queued one.
    run(r, job_retract(JOB, "later"))
    assert x(r, "EXISTS", JOB.scheduled) == 0


def test_reap_promotes_and_counts_scheduled_jobs_as_a_state(r: redis.Redis) -> None:
    for id in ("a", "b"):
        run(r, job_publish(JOB, id, b"1"))
        token = run(r, job_claim(JOB, "w")).jobs[0].token
        run(r, job_cancel(JOB, id, token=token))
    x(r, "ZADD", JOB.scheduled, 1, "a")
    for _ in range(3):  # a scheduled job is never taken for a lost one (orphan)
        assert reaped_ids(r) == []
    assert x(r, "LRANGE", JOB.ids, 0, -1) == [b"a"]
    assert x(r, "ZRANGE", JOB.scheduled, 0, -1) == [b"b"]
    assert x(r, "EXISTS", JOB.orphans) == 0


def test_reaped_jobs_wait_out_the_backoff_but_lost_ones_do_not(r: redis.Redis) -> None:
    run(r, object_create(JOB, {"timeout": 1_000}))
    claim(r, "slow", None)
    age(r, "slow", 5_000)
    run(r, job_publish(JOB, "lost", b"1"))
    x(r, "RPOP", JOB.ids)  # an original worker popped it and died
    reaped_ids(r)
    reaped_ids(r)
    assert x(r, "ZRANGE", JOB.scheduled, 0, -1) == [b"slow"]
    assert x(r, "LRANGE", JOB.ids, 0, -1) == [b"lost"]


@pytest.mark.parametrize("field", ["retry_delay", "retry_factor", "max_cancels", "timeout"])
def test_garbage_stored_by_others_is_refused_and_nothing_changes(
    r: redis.Redis, field: str
) -> None:
    token = claim(r, "j", None)
    x(r, "HSET", JOB.config, field, str(2**63))
    before = snapshot(r)
    with pytest.raises(BadStoredConfigError):
        if field == "timeout":
            reaped_ids(r)
        else:
            run(r, job_cancel(JOB, "j", token=token))
    assert snapshot(r) == before


def test_promoters_at_once_move_each_due_job_once(redis_url: str) -> None:
    setup = raw_client(redis_url)
    ids = [f"j{n}" for n in range(300)]
    for id in ids:
        run(setup, job_publish(JOB, id, b"1"))
    tokens = run(setup, job_claim(JOB, "w", max_jobs=300)).jobs
    for job in tokens:
        run(setup, job_cancel(JOB, job.id, token=job.token))
    x(setup, "ZADD", JOB.scheduled, "XX", *[v for id in ids for v in (1, id)])
    moved: list[int] = []
    lock = threading.Lock()

    def promoter() -> None:
        client = raw_client(redis_url)
        try:
            for _ in range(10):
                got = run(client, job_promote(JOB, limit=7))
                with lock:
                    moved.append(got.moved)
        finally:
            client.close()

    threads = [threading.Thread(target=promoter) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    while run(setup, job_promote(JOB)).moved:
        pass
    queued = x(setup, "LRANGE", JOB.ids, 0, -1)
    assert sorted(queued) == sorted(id.encode() for id in ids)
    assert sum(moved) <= 300 and x(setup, "EXISTS", JOB.scheduled) == 0
    setup.close()
