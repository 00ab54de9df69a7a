"""A property-based sweep of the Job operations with hostile ids, items and stored keys.

Every call either returns a correct result or raises a typed ``ThoonkError``
subclass; a refused call changes **nothing** (a ``DUMP`` snapshot of the
whole keyspace before and after is equal), and a call that succeeds changes
only its own queue (a bystander queue's keys are untouched). Hostile values:
empty, huge, NUL, invalid UTF-8 (as surrogate escapes and raw bytes), braces,
deep nesting, NaN and infinities, wrong Python types, and keys of the queue
planted with the wrong Redis type by "another client".

Bounded for CI (a few hundred examples, well under a minute);
``THOONK_SOAK=1`` runs many more.

Testing policy: the blocking facade (``thoonk_actors.sync``) on the session's
real Redis; redis-py takes the snapshots.
"""

from __future__ import annotations

import math
import os
from typing import Any

import pytest
import redis
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from thoonk_actors import ThoonkError
from thoonk_actors.contract import JobKeys
from thoonk_actors.objects import ClaimedJob
from thoonk_actors.sync import SyncThoonk

from ..contract._redis import snapshot

SOAK = os.environ.get("THOONK_SOAK") == "1"
EXAMPLES = 2000 if SOAK else 300
QUEUE, OTHER = "sweep", "bystander"
KEYS = JobKeys.of(QUEUE)

pytestmark = pytest.mark.slow

_deep: list[Any] = []
DEEP_LIST: Any = _deep
for _ in range(5000):
    DEEP_LIST = [DEEP_LIST]

ids = st.one_of(
    st.sampled_from(["A", "B", "C", "missing"]),  # the jobs of the setup, and none
    st.just(""),
    st.just("x" * 1025),
    st.just("a\0b"),
    st.just("{sweep}"),
    st.just("\udcff\udcfe"),  # bytes that are not UTF-8, as our reader decodes them
    st.just("\ud800"),  # a lone surrogate that is no escaped byte
    st.text(max_size=20),
    st.integers(),
    st.none(),
    st.binary(max_size=8),
    st.floats(allow_nan=True),
    st.lists(st.integers(), max_size=2),
)
items = st.one_of(
    st.none(),
    st.just(math.nan),
    st.just(math.inf),
    st.just(DEEP_LIST),
    st.just({"a": {1, 2}}),
    st.just({(1, 2): "tuple key"}),
    st.just("\ud800"),
    st.just("x" * 100_000),
    st.just(b"bytes"),
    st.just(object()),
    st.text(max_size=30),
    st.integers(),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=3),
)
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
    "claimed", "stalled_ids",
)  # fmt: skip


def _call(job: Any, op: str, draw: st.DrawFn, held: dict[str, ClaimedJob]) -> Any:
    ref = lambda: _job_refs(draw, held)  # noqa: E731
    if op == "publish":
        return job.publish(draw(items), id=draw(st.one_of(st.none(), ids)))
    if op == "publish_many":
        return job.publish_many(draw(st.lists(items, max_size=3)))
    if op == "get":
        return job.get(timeout=0)
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
    if op in ("statistics", "available_ids", "workers", "claimed", "stalled_ids"):
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


names = st.one_of(
    st.just(""), st.just("a{b}"), st.just("x" * 5000), st.just("a\0b"), st.just("tab\there"),
    st.just("\ud800"), st.text(max_size=10), st.integers(), st.none(), st.binary(max_size=5),
)  # fmt: skip


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
