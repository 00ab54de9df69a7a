"""Registry and lifecycle of every object type: create, config, delete, names, events.

Run once per type (job queue, feed, sorted feed, queue) through the shared
:class:`ThoonkObject` methods, plus the type-specific ways an object gets
registered (publishing registers it) and every key it leaves behind.
"""

from __future__ import annotations

from typing import Any

import pytest
import redis

from thoonk_actors import contract
from thoonk_actors._errors import (
    InvalidConfigError,
    NoSuchObjectError,
    ObjectExistsError,
    UsageError,
    WrongTypeError,
)
from thoonk_actors.objects import ObjectEvent, Thoonk, ThoonkObject, open_thoonk

from ..contract._redis import snapshot, x
from ._events import next_event

KINDS: list[contract.Kind] = ["job", "feed", "sorted_feed", "queue"]
#: a valid config for each type, and what config() then reads back
CONFIGS: dict[contract.Kind, tuple[dict[str, Any], contract.AnyConfig]] = {
    "job": ({"timeout": 30_000, "max_cancels": 3}, contract.JobConfig(30_000, 3)),
    "feed": ({"max_length": 5}, contract.FeedConfig(5)),
    "sorted_feed": ({}, contract.SortedFeedConfig()),
    "queue": ({}, contract.QueueConfig()),
}


def handle(thoonk: Thoonk, kind: contract.Kind, name: str) -> ThoonkObject[Any]:
    if kind == "job":
        return thoonk.job(name)
    if kind == "feed":
        return thoonk.feed(name)
    if kind == "sorted_feed":
        return thoonk.sorted_feed(name)
    return thoonk.queue(name)


async def use(thoonk: Thoonk, kind: contract.Kind, name: str) -> None:
    """Put something in the object, so that most of its keys exist."""
    if kind == "job":
        job = thoonk.job(name)
        await job.publish({"n": 1})
        claimed = await job.get(timeout=5)
        assert claimed is not None
        await job.cancel(claimed)
        await job.publish({"n": 2})
    elif kind == "feed":
        await thoonk.feed(name).publish({"n": 1})
    elif kind == "sorted_feed":
        await thoonk.sorted_feed(name).append({"n": 1})
    else:
        await thoonk.queue(name).put({"n": 1})


@pytest.mark.parametrize("kind", KINDS)
async def test_create_config_delete_with_events(
    thoonk: Thoonk, sync_redis: redis.Redis, kind: contract.Kind
) -> None:
    obj = handle(thoonk, kind, "things")
    settings, typed = CONFIGS[kind]
    registry = contract.REGISTRIES[kind]
    assert await obj.exists() is False
    assert await thoonk.names(kind) == []
    async with obj.events(["config", "delete"]) as events:
        assert await obj.create(settings) is True
        created = await next_event(events)
        assert created == ObjectEvent(
            kind, "things", "config", "", contract.object_create(obj.keys, settings).args[3]
        )
        assert await obj.exists() is True
        assert await thoonk.names(kind) == ["things"]
        assert x(sync_redis, "SMEMBERS", registry) == {b"things"}
        assert await obj.config() == typed

        # existing: refused, or accepted as it is with exist_ok (no event either way)
        before = snapshot(sync_redis)
        with pytest.raises(ObjectExistsError, match="exist_ok"):
            await obj.create(settings)
        assert await obj.create({}, exist_ok=True) is False
        assert snapshot(sync_redis) == before

        if kind == "feed":
            await obj.configure(max_length=None)
            assert await next_event(events) == ObjectEvent(
                "feed", "things", "config", "", b'{"max_length":null}'
            )
            assert await obj.config() == contract.FeedConfig()
        elif kind == "job":
            await obj.configure(timeout=1000)
            assert await next_event(events) == ObjectEvent(
                "job", "things", "config", "", b'{"timeout":1000}'
            )
            assert await obj.config() == contract.JobConfig(1000, 3)

        await use(thoonk, kind, "things")
        await obj.create(settings, exist_ok=True)
        assert await obj.delete() is True
        assert await next_event(events) == ObjectEvent(kind, "things", "delete", "", b"things")
        assert x(sync_redis, "KEYS", "*") == []  # every key, and the emptied registry
        assert await thoonk.names(kind) == []
        assert await obj.exists() is False

        # deleting again still announces it (so every process drops its state)
        assert await obj.delete() is False
        assert await next_event(events) == ObjectEvent(kind, "things", "delete", "", b"things")


@pytest.mark.parametrize("kind", KINDS)
async def test_delete_leaves_the_others_alone(
    thoonk: Thoonk, sync_redis: redis.Redis, kind: contract.Kind
) -> None:
    await use(thoonk, kind, "gone")
    await use(thoonk, kind, "kept")
    await handle(thoonk, kind, "kept").create(CONFIGS[kind][0], exist_ok=True)
    kept_before = {k: v for k, v in snapshot(sync_redis).items() if b"kept" in k}
    assert await handle(thoonk, kind, "gone").delete() is True
    after = snapshot(sync_redis)
    registry = contract.REGISTRIES[kind].encode()
    assert set(after) == set(kept_before) | {registry}
    assert {k: after[k] for k in kept_before} == kept_before
    assert x(sync_redis, "SMEMBERS", registry) == {b"kept"}


@pytest.mark.parametrize("kind", ["feed", "sorted_feed", "queue"])
async def test_using_an_object_registers_it(thoonk: Thoonk, kind: contract.Kind) -> None:
    await use(thoonk, kind, "b")
    await use(thoonk, kind, "a")
    assert await thoonk.names(kind) == ["a", "b"]
    assert await handle(thoonk, kind, "a").exists() is True
    assert await handle(thoonk, kind, "a").config() == type(CONFIGS[kind][1])()  # defaults
    others = [k for k in KINDS if k != kind]
    assert [await thoonk.names(k) for k in others] == [[], [], []]


BAD_CONFIGS: list[tuple[contract.Kind, dict[str, Any], str]] = [
    ("feed", {"max_length": 0}, "from 1 to"),
    ("feed", {"max_length": -3}, "max_length"),
    ("feed", {"max_length": "10"}, "must be an int"),
    ("feed", {"max_length": 2.5}, "must be an int"),
    ("feed", {"max_length": True}, "must be an int"),
    ("feed", {"maxlength": 10}, "'maxlength' is not a feed setting; the settings are: max_length"),
    ("job", {"timeout": -1}, "timeout"),
    ("job", {"result_ttl": 0}, "result_ttl"),
    ("job", {"max_length": 3}, "not a job queue setting"),
    ("sorted_feed", {"max_length": 3}, "settings are: none"),
    ("queue", {"timeout": 3}, "not a queue setting"),
]


@pytest.mark.parametrize(("kind", "config", "message"), BAD_CONFIGS)
async def test_bad_config_is_refused_and_nothing_written(
    thoonk: Thoonk,
    sync_redis: redis.Redis,
    kind: contract.Kind,
    config: dict[str, Any],
    message: str,
) -> None:
    obj = handle(thoonk, kind, "things")
    with pytest.raises(InvalidConfigError, match=message):
        await obj.create(config)
    assert x(sync_redis, "KEYS", "*") == []
    with pytest.raises(InvalidConfigError, match=message):
        await obj.create(config, exist_ok=True)
    assert x(sync_redis, "KEYS", "*") == []

    await obj.create(CONFIGS[kind][0])
    before = snapshot(sync_redis)
    with pytest.raises(InvalidConfigError, match=message):
        await obj.configure(**config)
    assert snapshot(sync_redis) == before
    assert await obj.config() == CONFIGS[kind][1]


@pytest.mark.parametrize("kind", KINDS)
async def test_configuring_a_missing_object_is_refused(
    thoonk: Thoonk, sync_redis: redis.Redis, kind: contract.Kind
) -> None:
    with pytest.raises(NoSuchObjectError, match="create it first"):
        await handle(thoonk, kind, "nothing").configure()
    assert x(sync_redis, "KEYS", "*") == []


@pytest.mark.parametrize("kind", KINDS)
async def test_a_registry_of_another_type_is_refused(
    thoonk: Thoonk, sync_redis: redis.Redis, kind: contract.Kind
) -> None:
    x(sync_redis, "SET", contract.REGISTRIES[kind], "not a set")
    before = snapshot(sync_redis)
    obj = handle(thoonk, kind, "things")
    with pytest.raises(WrongTypeError):
        await obj.create()
    with pytest.raises(WrongTypeError):
        await obj.delete()
    with pytest.raises(WrongTypeError):
        await thoonk.names(kind)
    assert snapshot(sync_redis) == before


async def test_names_of_an_unknown_type(thoonk: Thoonk) -> None:
    with pytest.raises(UsageError, match="unknown object type 'deck'"):
        await thoonk.names("deck")  # type: ignore[arg-type]


@pytest.mark.parametrize("kind", ["feed", "sorted_feed", "queue"])
async def test_cluster_key_names_on_a_standalone_server(
    redis_url: str, sync_redis: redis.Redis, kind: contract.Kind
) -> None:
    """Cluster mode hash-tags the name; the registry is kept with a plain SADD after."""
    async with open_thoonk(redis_url, cluster=True) as thoonk:
        await use(thoonk, kind, "tagged")
        assert await thoonk.names(kind) == ["tagged"]
        assert all(
            k == contract.REGISTRIES[kind].encode() or k.endswith(b":{tagged}")
            for k in x(sync_redis, "KEYS", "*")
        )
        obj = handle(thoonk, kind, "tagged")
        assert await obj.delete() is True
        assert x(sync_redis, "KEYS", "*") == []
