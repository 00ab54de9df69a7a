"""job/publish_new (ids made by the publishing client) stores and announces what job/publish does.

The wrong-type refusals of every key are in test_job_checks_redis.py (its ``publish_new``
case); here: the same keys, values and event as the full script, and what the
lean script still refuses.
"""

from __future__ import annotations

import pytest
import redis

from thoonk_actors._errors import DuplicateIdError, WrongTypeError
from thoonk_actors.contract import JobKeys, job_claim, job_publish, job_publish_new

from ._redis import Events, run, snapshot, x

NEW = JobKeys.of("lean")
FULL = JobKeys.of("full")


def stored(client: redis.Redis, keys: JobKeys) -> dict[str, object]:
    """The queue's keys (registry membership included), publish times replaced by 'T'."""
    return {
        "ids": x(client, "LRANGE", keys.ids, 0, -1),
        "items": x(client, "HGETALL", keys.items),
        "published": x(client, "ZRANGE", keys.published, 0, -1),
        "publishes": x(client, "GET", keys.publishes),
        "registered": x(client, "SISMEMBER", keys.registry, keys.name),
        "types": [x(client, "TYPE", k) for k in (keys.ids, keys.items, keys.published)],
    }


@pytest.mark.parametrize("priority", [False, True])
def test_the_same_keys_values_and_event_as_the_full_script(
    r: redis.Redis, events: Events, priority: bool
) -> None:
    times = {}
    for keys, build in ((NEW, job_publish_new), (FULL, job_publish)):
        first = run(r, build(keys, "A", b'{"n":1}', priority=priority))
        second = run(r, build(keys, "B", b'{"n":2}', priority=priority))
        assert (first.id, second.id, second.due_ms) == ("A", "B", None)
        times[keys.name] = [first.at_ms, second.at_ms]
    assert stored(r, NEW) == stored(r, FULL)
    assert stored(r, NEW)["ids"] == ([b"A", b"B"] if priority else [b"B", b"A"])
    # The publish times are the server's, as the scripts replied them.
    for keys in (NEW, FULL):
        scores = x(r, "ZMSCORE", keys.published, "A", "B")
        assert [int(s) for s in scores] == times[keys.name]
    assert events.take() == [
        ("event.job.publish:lean", b"A"),
        ("event.job.publish:lean", b"B"),
        ("event.job.publish:full", b"A"),
        ("event.job.publish:full", b"B"),
    ]


def test_an_id_that_has_an_item_is_refused_and_nothing_changes(
    r: redis.Redis, events: Events
) -> None:
    run(r, job_publish(NEW, "A", b"1"))
    events.take()
    before = snapshot(r)
    with pytest.raises(DuplicateIdError, match="'A'"):
        run(r, job_publish_new(NEW, "A", b"2"))
    assert snapshot(r) == before
    assert events.take() == []


def test_a_refusal_after_some_writes_undoes_them(r: redis.Redis, events: Events) -> None:
    """The counter is written last: a counter that is not an integer undoes the rest."""
    run(r, job_publish(NEW, "A", b"1"))
    x(r, "SET", NEW.publishes, "many")
    x(r, "SREM", NEW.registry, NEW.name)  # so that the registry is written too, then undone
    events.take()
    before = snapshot(r)
    with pytest.raises(WrongTypeError, match=r"'job\.publishes:lean'"):
        run(r, job_publish_new(NEW, "B", b"2", priority=True))
    assert snapshot(r) == before
    assert events.take() == []


def test_a_job_published_lean_is_claimed_like_any_other(r: redis.Redis) -> None:
    run(r, job_publish_new(NEW, "A", b'{"n":1}'))
    claim = run(r, job_claim(NEW, "w"))
    assert [(job.id, job.item) for job in claim.jobs] == [("A", b'{"n":1}')]


@pytest.mark.parametrize(
    "plant",
    [("RPUSH", NEW.publishes, "x"), ("SET", NEW.publishes, "many"), ("SET", NEW.registry, "x")],
    ids=["counter type", "counter text", "registry"],
)
def test_a_refused_large_item_leaves_every_encoding_as_it_was(
    r: redis.Redis, events: Events, plant: tuple[str, ...]
) -> None:
    """An undone HSETNX of an item too big for a listpack left the hash converted.

    Found beside the same fault of feed/publish (the hostile sweep): DUMP, which
    the refusal tests compare, shows a hash's encoding.
    """
    run(r, job_publish_new(NEW, "A", b"small"))  # a listpack items hash to convert
    x(r, "DEL", plant[1])
    x(r, *plant)
    events.take()
    before = snapshot(r)
    with pytest.raises(WrongTypeError):
        run(r, job_publish_new(NEW, "B", b"x" * 100_000))
    assert snapshot(r) == before
    assert events.take() == []
