"""A property-based sweep of the Job operations with hostile ids, items and stored keys.

Every call either returns a correct result or raises a typed ``ThoonkError``
subclass; a refused call changes **nothing** (a ``DUMP`` snapshot of the
whole keyspace before and after is equal), and a call that succeeds changes
only its own queue (a bystander queue's keys are untouched). Hostile values:
empty, huge, NUL, invalid UTF-8 (as surrogate escapes and raw bytes), braces,
deep nesting, NaN and infinities, wrong Python types, and keys of the queue
planted with the wrong Redis type by "another client".

The other object types have their sweeps beside this one
(test_hostile_sweep_feeds.py, _queues.py, _registry.py for the lifecycle
calls of every type); the hostile values and the containment check are shared
in _hostile.py.

Bounded for CI (a few hundred examples, well under a minute);
``THOONK_SOAK=1`` runs many more.

Testing policy: the blocking facade (``thoonk_actors.sync``) on the session's
real Redis; redis-py takes the snapshots.
"""

from __future__ import annotations

import inspect
import math
from typing import Any

import pytest
import redis
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from thoonk_actors import ThoonkError
from thoonk_actors.contract import JobKeys
from thoonk_actors.objects import ClaimedJob, Job
from thoonk_actors.sync import SyncThoonk

from ..contract._redis import snapshot
from ._hostile import DEEP_LIST, SOAK, items, names
from ._hostile import ids as hostile_ids

EXAMPLES = 2000 if SOAK else 300
QUEUE, OTHER = "sweep", "bystander"
KEYS = JobKeys.of(QUEUE)

pytestmark = pytest.mark.slow

#: The jobs of the setup, and none, mixed with the hostile ids.
ids = st.one_of(st.sampled_from(["A", "B", "C", "missing"]), hostile_ids)
#: Keys of the queue another client may have overwritten with the wrong type.
PLANTABLE = ("ids", "items", "published", "claimed", "cancelled", "stalled", "owners",
             "errors", "workers", "tokens", "publishes", "finishes", "config")  # fmt: skip
EXTRA_PLANTS = ("config garbage", "result of A")


def _job_refs(draw: st.DrawFn, held: dict[str, ClaimedJob]) -> Any:
    choice = draw(st.sampled_from(["id", "held", "forged"]))
    if choice == "held" and held:
        return held[draw(st.sampled_from(sorted(held)))]
    if choice == "forged":
        return ClaimedJob(draw(ids), None, draw(ids), 0, QUEUE)
    return draw(ids)


OPERATIONS = (
    "publish", "publish_many", "get", "claim_many", "finish", "finish_many", "cancel",
    "stall", "retry", "retract", "release", "release_many", "touch", "held", "item",
    "failure_count", "last_error", "statistics", "available_ids", "wait_result", "workers",
    "claimed", "stalled_ids", "scheduled", "heartbeat", "reap", "wait_for_work",
    "wait_and_claim",
)  # fmt: skip
#: Public Job methods not in this sweep, and why: the lifecycle calls are swept for
#: every type in test_hostile_sweep_registry.py; publish_and_wait is publish +
#: wait_result (both swept; its timeout after a publish is no refusal); events,
#: channel and decode_event read and write no key; progress, progress_of and
#: progress_all have their bad inputs (fractions, infos, forged claims) tested in
#: tests/objects/test_progress.py; wait_held only waits (it writes nothing).
NOT_SWEPT = {"create", "configure", "config", "delete", "exists", "publish_and_wait",
             "events", "channel", "decode_event", "progress", "progress_of",
             "progress_all", "wait_held"}  # fmt: skip
#: Millisecond arguments (stale_ms, orphan_grace_ms): sane, edge and hostile.
milliseconds = st.one_of(
    st.integers(0, 100_000), st.just(-1), st.just(2**63), st.floats(allow_nan=True),
    st.none(), st.booleans(), st.text(max_size=3), st.just(DEEP_LIST),
)  # fmt: skip
#: trio deadlines for wait_for_work that never block the sweep (now or past) or are bad.
deadlines = st.one_of(
    st.just(0), st.just(-1.5), st.just(-math.inf), st.just(math.nan), st.none(),
    st.booleans(), st.text(max_size=3), st.just(DEEP_LIST),
)  # fmt: skip


def _call(job: Any, op: str, draw: st.DrawFn, held: dict[str, ClaimedJob]) -> Any:
    ref = lambda: _job_refs(draw, held)  # noqa: E731
    if op == "publish":
        return job.publish(draw(items), id=draw(st.one_of(st.none(), ids)))
    if op == "publish_many":
        return job.publish_many(
            draw(st.one_of(st.lists(items, max_size=3), st.none(), st.integers()))
        )
    if op == "get":
        return job.get(timeout=draw(st.sampled_from([0, -1, math.nan, "0", DEEP_LIST])))
    if op == "claim_many":
        return job.claim_many(draw(st.one_of(st.integers(-2, 12), st.just(10**6), ids)))
    if op == "finish":
        return job.finish(ref(), draw(items))
    if op == "finish_many":
        return job.finish_many([(ref(), draw(items)) for _ in range(draw(st.integers(0, 3)))])
    if op == "cancel":
        return job.cancel(ref(), error=draw(st.one_of(st.none(), st.text(max_size=5))))
    if op == "stall":
        return job.stall(ref(), reason=draw(st.one_of(st.none(), st.text(max_size=5))))
    if op == "release_many":
        return job.release_many([ref() for _ in range(draw(st.integers(0, 3)))])
    if op == "touch":
        return job.touch(ref())
    if op == "held":
        return job.held([ref() for _ in range(draw(st.integers(0, 2)))])
    if op == "heartbeat":
        worker = draw(st.one_of(st.none(), ids))
        return job.heartbeat(worker_id=worker, leave=draw(st.booleans()))
    if op == "reap":
        return job.reap(stale_ms=draw(milliseconds), orphan_grace_ms=draw(milliseconds))
    if op == "statistics":
        return job.statistics(stale_ms=draw(milliseconds))
    if op == "wait_for_work":
        return job.wait_for_work(draw(deadlines))
    if op == "wait_and_claim":  # (a time passed: it claims at once; a bad one is refused)
        count = draw(st.one_of(st.integers(-2, 12), st.just(10**6), ids))
        return job.wait_and_claim(count, until=draw(deadlines))
    if op in ("available_ids", "workers", "claimed", "stalled_ids", "scheduled"):
        return getattr(job, op)()
    if op == "wait_result":
        return job.wait_result(draw(ids), timeout=0)
    return getattr(job, op)(ref() if op == "release" else draw(ids))


def _setup(t: SyncThoonk, client: redis.Redis) -> dict[str, ClaimedJob]:
    """A queue with A queued, B claimed, C stalled; a bystander queue with one job."""
    client.flushdb()
    job = t.job(QUEUE)
    for name in ("C", "B", "A"):
        job.publish({"n": name}, id=name)
    held: dict[str, ClaimedJob] = {}
    for claimed in job.claim_many(2):
        held[claimed.id] = claimed
    job.stall(held.pop("C"), reason="set aside")
    t.job(OTHER).publish({"n": 1}, id="bystander-job")
    return held


def _bystander(client: redis.Redis) -> dict[bytes, Any]:
    return {k: v for k, v in snapshot(client).items() if OTHER.encode() in k}


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,  # no .hypothesis folder left behind
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_job_operations_raise_typed_errors_and_change_nothing_when_refused(
    t: SyncThoonk, sync_redis: redis.Redis, data: st.DataObject
) -> None:
    held = _setup(t, sync_redis)
    plant = data.draw(st.one_of(st.none(), st.sampled_from(PLANTABLE + EXTRA_PLANTS)), "plant")
    if plant == "config garbage":  # settings another client wrote badly
        sync_redis.hset(KEYS.config, mapping={"timeout": "soon", "max_cancels": "-1"})
    elif plant == "result of A":
        sync_redis.sadd(KEYS.result("A"), "planted")
    elif plant is not None:
        key = getattr(KEYS, plant)
        sync_redis.delete(key)
        # A type no script expects there: a set where a list/hash/zset/string lives.
        if plant == "stalled":
            sync_redis.set(key, "not a set")
        else:
            sync_redis.sadd(key, "planted")
    op = data.draw(st.sampled_from(OPERATIONS), label="op")
    job = t.job(QUEUE)
    before = snapshot(sync_redis)
    bystander = _bystander(sync_redis)
    try:
        _call(job, op, data.draw, held)
        event(f"{op}: ok")
    except ThoonkError as exc:
        event(f"{op}: {type(exc).__name__}")
        assert snapshot(sync_redis) == before, f"{op} was refused but changed the keyspace"
    except Exception as exc:  # anything else escaping is the bug this sweep looks for
        pytest.fail(f"{op} raised {type(exc).__name__}: {exc!r} (not a ThoonkError)")
    assert _bystander(sync_redis) == bystander, f"{op} changed another queue"


@settings(
    max_examples=EXAMPLES // 3,
    deadline=None,
    database=None,  # no .hypothesis folder left behind
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(name=names, op=st.sampled_from(("publish", "get", "statistics", "retract", "create")))
def test_hostile_queue_names_are_refused_before_anything_is_sent(
    t: SyncThoonk, sync_redis: redis.Redis, name: Any, op: str
) -> None:
    _setup(t, sync_redis)
    before = snapshot(sync_redis)
    try:
        job = t.job(name)
        if op == "publish":
            job.publish(1)
        elif op == "get":
            job.get(timeout=0)
        elif op == "retract":
            job.retract("A")
        elif op == "create":
            job.create({"timeout": 1000}, exist_ok=True)
        else:
            job.statistics()
    except ThoonkError:
        assert snapshot(sync_redis) == before, f"{op} on {name!r} was refused but changed things"
    except Exception as exc:
        pytest.fail(f"{op} on {name!r} raised {type(exc).__name__}: {exc!r} (not a ThoonkError)")


def test_held_of_a_job_whose_id_is_not_utf8_reads_its_state(
    t: SyncThoonk, sync_redis: redis.Redis
) -> None:
    """Found by the sweep: held() built the result key as text and raised UnicodeEncodeError.

    An id that is not UTF-8 (another client wrote it; we read it with surrogate
    escapes) must work in every call, held() included.
    """
    _setup(t, sync_redis)
    before = snapshot(sync_redis)
    forged = ClaimedJob("\udcff\udcfe", None, "{sweep}", 0, QUEUE)
    (state,) = t.job(QUEUE).held([forged])
    assert state.id == "\udcff\udcfe" and state.status == "gone"
    assert snapshot(sync_redis) == before


def test_every_public_job_method_is_swept_or_excluded_on_purpose() -> None:
    """A new public Job method must join the sweep (or NOT_SWEPT, with its reason)."""
    public = {n for n in dir(Job) if not n.startswith("_") and inspect.isfunction(getattr(Job, n))}
    assert public - NOT_SWEPT == set(OPERATIONS)
