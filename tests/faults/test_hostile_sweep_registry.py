"""A property-based sweep of the registry and lifecycle calls, for every object type.

``create`` (hostile configs: unknown settings, out-of-range and wrong-typed
values, non-dicts), ``configure`` (hostile changes), ``config``, ``delete`` and
``exists`` on a job queue, feed, sorted feed and queue, and the client's
``names(kind)`` with hostile kinds; on an object that exists or not, where
another client may have made the registry set or the config hash the wrong
type, or stored garbage in a setting. Each call returns a correct result
(checked against the registry and the config hash) or raises a typed
``ThoonkError``; a refused call changes nothing (a ``DUMP`` of the whole
keyspace before and after), a successful one changes only its own object's
keys and its own registry entry. A second test gives every type's handle,
lifecycle call and first write a hostile *name*: refused before anything is
sent.

Not swept, on purpose (Thoonk client methods): ``run``, ``run_many``, ``read``
and ``execute`` (the raw escape hatches: they send what they are given, any
command may change any key by design), ``pubsub``, ``subscribe`` and
``result_router`` (subscriptions: no key is read or written). The handle
constructors ``job`` / ``feed`` / ``sorted_feed`` / ``queue`` are swept through
the hostile names.

Bounded for CI; ``THOONK_SOAK=1`` runs many more examples.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
import redis
from hypothesis import given
from hypothesis import strategies as st

from thoonk_actors import ThoonkError, UsageError
from thoonk_actors.contract import KEYS_BY_KIND, REGISTRIES, Kind
from thoonk_actors.sync import SyncThoonk

from ..contract._redis import snapshot
from ._hostile import (
    DEEP_LIST,
    attempt,
    changes,
    configs,
    names,
    ok,
    pick_plant,
    plant_wrong_type,
    sweep_settings,
)

NAME, OTHER = "sweep", "bystander"
KINDS: tuple[Kind, ...] = ("job", "feed", "sorted_feed", "queue")
OPERATIONS = ("create", "configure", "config", "delete", "exists", "names")
PLANTS = ("registry", "config", "config garbage", "foreign config field")
#: A stored setting of each type that garbage can be written to (None: it has none).
A_SETTING: dict[Kind, str | None] = {
    "job": "timeout", "feed": "max_length", "sorted_feed": None, "queue": None,
}  # fmt: skip

pytestmark = pytest.mark.slow

kinds = st.one_of(
    st.sampled_from(KINDS),
    st.sampled_from(["jobs", "", "JOB", "job\0", "\ud800"]),
    st.none(), st.integers(), st.binary(max_size=3), st.just(DEEP_LIST),
)  # fmt: skip


def _handle(t: SyncThoonk, kind: Kind, name: Any) -> Any:
    return getattr(t, kind)(name)


def _setup(t: SyncThoonk, client: redis.Redis, kind: Kind, exists: bool) -> None:
    """Objects of every type named OTHER; ``kind`` named NAME too when ``exists``."""
    client.flushdb()
    for other in KINDS:
        _handle(t, other, OTHER).create({}, exist_ok=True)
    if exists:
        _handle(t, kind, NAME).create({}, exist_ok=True)


def _plant(client: redis.Redis, kind: Kind, plant: str | None) -> None:
    keys = KEYS_BY_KIND[kind].of(NAME)
    if plant == "registry":
        plant_wrong_type(client, keys.registry, "set")
    elif plant == "config":
        plant_wrong_type(client, keys.config, "hash")
    elif plant == "config garbage" and A_SETTING[kind] is not None:
        client.hset(keys.config, A_SETTING[kind], "soon")
    elif plant == "foreign config field":  # another client's setting: ours ignore it
        client.hset(keys.config, "colour", "blue")


def _registered(client: redis.Redis, kind: Kind) -> set[str]:
    return {m.decode("utf-8", "surrogateescape") for m in client.smembers(REGISTRIES[kind])}


def _fields(config: Any) -> dict[str, Any]:
    return {f.name: getattr(config, f.name) for f in dataclasses.fields(config)}


def _call(t: SyncThoonk, client: redis.Redis, kind: Kind, data: st.DataObject, check: bool) -> None:
    op = data.draw(st.sampled_from(OPERATIONS), "op")
    obj = _handle(t, kind, NAME)
    keys = KEYS_BY_KIND[kind].of(NAME)
    existed = check and (NAME in _registered(client, kind) or bool(client.exists(keys.config)))
    old = _fields(obj.config()) if check else {}
    if op == "create":
        config = data.draw(configs, "config")
        exist_ok = data.draw(st.booleans(), "exist_ok")
        out = attempt(client, op, lambda: obj.create(config, exist_ok=exist_ok), own=keys)
        if check and ok(out):
            assert out is (not existed), "create says whether it created the object"
            assert obj.exists() and NAME in t.names(kind)
            now = _fields(obj.config())
            if existed:
                assert now == old, "create with exist_ok left the config as it was"
            else:
                wanted = {k: v for k, v in (config or {}).items() if v is not None}
                assert {k: now[k] for k in wanted} == wanted
    elif op == "configure":
        change = data.draw(changes, "changes")
        out = attempt(client, op, lambda: obj.configure(**change), own=keys)
        if check and ok(out):
            assert existed, "configure of an object that was never created succeeded"
            now = _fields(obj.config())
            assert all(now[k] == v for k, v in change.items() if v is not None)
            assert all(now[k] == old[k] for k in old if k not in change)
    elif op == "delete":
        out = attempt(client, op, obj.delete, own=keys)
        if check and ok(out):
            assert out is existed
            assert not obj.exists() and NAME not in t.names(kind)
            assert not any(client.exists(k) for k in keys.all_keys())
    elif op == "exists":
        out = attempt(client, op, obj.exists, own=keys)
        if check and ok(out):
            assert out is existed
    elif op == "config":
        out = attempt(client, op, obj.config, own=keys)
        if check and ok(out):
            assert _fields(out) == old
    else:
        which = data.draw(kinds, "kind")
        out = attempt(client, op, lambda: t.names(which), own=None)
        if check and ok(out):
            assert out == sorted(_registered(client, which))


@sweep_settings(250, 2000)
@given(data=st.data())
def test_lifecycle_and_registry_calls_raise_typed_errors_and_change_nothing_when_refused(
    t: SyncThoonk, sync_redis: redis.Redis, data: st.DataObject
) -> None:
    kind = data.draw(st.sampled_from(KINDS), "type")
    _setup(t, sync_redis, kind, exists=data.draw(st.booleans(), "exists"))
    plant = pick_plant(data.draw, PLANTS)
    _plant(sync_redis, kind, plant)
    _call(t, sync_redis, kind, data, check=plant is None)


#: The first write of each type, with a valid item: what a hostile name must not reach.
FIRST_WRITE = {
    "job": lambda h: h.publish(1), "feed": lambda h: h.publish(1),
    "sorted_feed": lambda h: h.append(1), "queue": lambda h: h.put(1),
}  # fmt: skip


@sweep_settings(150, 1200)
@given(
    kind=st.sampled_from(KINDS),
    name=names,
    op=st.sampled_from(("create", "configure", "config", "delete", "exists", "write")),
)
def test_hostile_names_of_every_type_are_refused_before_anything_is_sent(
    t: SyncThoonk, sync_redis: redis.Redis, kind: Kind, name: Any, op: str
) -> None:
    _setup(t, sync_redis, kind, exists=True)

    def call() -> Any:
        obj = _handle(t, kind, name)
        if op == "write":
            return FIRST_WRITE[kind](obj)
        if op == "create":
            return obj.create({}, exist_ok=True)
        return getattr(obj, op)()

    try:
        keys = KEYS_BY_KIND[kind].of(name)
    except ThoonkError:  # the name is refused: nothing at all may change
        keys = None
    attempt(sync_redis, f"{kind} {op}", call, own=keys)


@pytest.mark.parametrize("kind", [["job"], {"feed": 1}, DEEP_LIST])
def test_names_of_an_unhashable_kind_is_a_usage_error(t: SyncThoonk, kind: Any) -> None:
    """Found by the sweep: ``names(["job"])`` raised a bare TypeError (unhashable type)."""
    with pytest.raises(UsageError, match="unknown object type"):
        t.names(kind)


def test_refusals_of_deeply_nested_values_are_typed_errors_with_short_messages(
    t: SyncThoonk, sync_redis: redis.Redis
) -> None:
    """Found by the sweep: a refusal quoting a value nested 5000 deep raised RecursionError.

    Each message quotes the bad value shortened (reprlib), so a hostile value
    can neither break the refusal nor flood a log with a 100 kB message.
    """
    _setup(t, sync_redis, "job", exists=True)
    before = snapshot(sync_redis)
    job, queue, deck = t.job(NAME), t.queue(NAME), t.sorted_feed(NAME)
    calls = {
        "create": lambda: t.feed(NAME).create({"max_length": DEEP_LIST}),
        "configure": lambda: job.configure(timeout=DEEP_LIST),
        "statistics": lambda: job.statistics(stale_ms=DEEP_LIST),
        "reap": lambda: job.reap(orphan_grace_ms=DEEP_LIST),
        "publish_many": lambda: job.publish_many([1], batch=DEEP_LIST),
        "get": lambda: job.get(timeout=DEEP_LIST),
        "wait_result": lambda: job.wait_result("A", timeout=DEEP_LIST),
        "wait_for_work": lambda: job.wait_for_work(DEEP_LIST),
        "queue get": lambda: queue.get(timeout=DEEP_LIST),
        "move": lambda: deck.move("A", DEEP_LIST),
        "names": lambda: t.names(DEEP_LIST),
    }
    for what, call in calls.items():
        with pytest.raises(ThoonkError) as refused:
            call()
        assert len(str(refused.value)) < 400, what
    assert snapshot(sync_redis) == before


def test_job_get_with_a_timeout_that_is_not_a_number_is_a_usage_error(t: SyncThoonk) -> None:
    """Found by the sweep: ``Job.get(timeout="0")`` raised a bare TypeError from math.isnan."""
    with pytest.raises(UsageError, match="timeout must be None or seconds"):
        t.job(NAME).get(timeout="0")
