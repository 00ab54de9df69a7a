"""Objects only other clients use are listed, marked unregistered, and can be registered.

Issue 11, case 5. The original JavaScript Thoonk Jobs never writes the ``jobs``
registry (:mod:`tests.compat.js_client` sends its exact publish); a queue only
it uses is found by its keys (``Thoonk.discover``: a bounded SCAN) and listed
by the API, ``thoonk stats`` and ``thoonk top`` as unregistered until
``thoonk register`` adds it.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable

import pytest
import redis

from thoonk_actors import InvalidNameError, NoSuchObjectError, UsageError
from thoonk_actors.objects import FoundObject, Thoonk, open_thoonk

from ..cli._cli import ok, one_line_error, thoonk
from .js_client import JsJob


@pytest.fixture
async def client(redis_url: str) -> AsyncIterator[Thoonk]:
    async with open_thoonk(redis_url) as t:
        yield t


def js_only_queue(js_job_here: Callable[..., JsJob], sync_redis: redis.Redis) -> None:
    """A job queue used only by an original JS client: two publishes, one claim."""
    js = js_job_here("thumbnails")
    js.publish({"src": "a.png"})
    js.publish({"src": "b.png"})
    assert js.get(timeout=1) is not None
    assert sync_redis.exists("jobs") == 0  # the original never registers


async def test_a_js_only_queue_is_discovered_as_unregistered(
    client: Thoonk, js_job_here: Callable[..., JsJob], sync_redis: redis.Redis
) -> None:
    js_only_queue(js_job_here, sync_redis)
    await client.job("emails").publish("x")  # ours: registered on publish
    # Another program's look-alike keys: a hash is not a publishes counter, and a
    # name with a brace breaks the naming rule.
    sync_redis.hset("feed.publishes:not-a-counter", "f", "v")
    sync_redis.set("queue.publishes:{bad}", 1)

    found = await client.discover()
    assert found.complete
    assert found.objects == (
        FoundObject("job", "emails", True),
        FoundObject("job", "thumbnails", False),
    )
    assert found.names("job") == ["emails", "thumbnails"]
    assert found.unregistered == (FoundObject("job", "thumbnails", False),)
    assert found.skipped == ("queue.publishes:{bad}",)
    assert await client.names("job") == ["emails"]  # the registry alone
    assert (await client.discover("job", scan=False)).names("job") == ["emails"]

    assert await client.register("job", "thumbnails") is True
    assert await client.register("job", "thumbnails") is False  # idempotent
    assert sync_redis.smembers("jobs") == {b"emails", b"thumbnails"}
    found = await client.discover(["job"])
    assert found.unregistered == ()
    # Registering changed none of the queue's keys: the JS client goes on as before.
    assert sync_redis.llen("job.ids:thumbnails") == 1
    assert sync_redis.zcard("job.claimed:thumbnails") == 1


async def test_every_type_is_discovered_by_its_publishes_counter(
    client: Thoonk, sync_redis: redis.Redis
) -> None:
    # What another client of the contract writes when it publishes without registering.
    sync_redis.zadd("feed.ids:news", {"a": 1})
    sync_redis.hset("feed.items:news", "a", "x")
    sync_redis.incr("feed.publishes:news")
    sync_redis.incr("sorted_feed.publishes:deck")
    sync_redis.incr("queue.publishes:tasks")
    found = await client.discover()
    assert [(o.kind, o.name, o.registered) for o in found.objects] == [
        ("feed", "news", False),
        ("sorted_feed", "deck", False),
        ("queue", "tasks", False),
    ]
    assert (await client.discover("queue")).names("queue") == ["tasks"]


async def test_a_walk_that_runs_out_of_time_says_so(
    client: Thoonk, sync_redis: redis.Redis
) -> None:
    sync_redis.mset({f"other:{n}": n for n in range(500)})
    sync_redis.incr("job.publishes:late")
    # One SCAN step of one key at a time, and almost no time: the walk stops early.
    found = await client.discover(budget_s=1e-9, count=1)
    assert not found.complete
    full = await client.discover(count=10)
    assert full.complete and full.names("job") == ["late"]


async def test_bad_input_is_refused_with_typed_errors(
    client: Thoonk, sync_redis: redis.Redis
) -> None:
    with pytest.raises(UsageError, match="unknown object type 'jobs'"):
        await client.register("jobs", "x")  # type: ignore[arg-type]
    with pytest.raises(InvalidNameError, match="braces"):
        await client.register("job", "a{b}")
    with pytest.raises(NoSuchObjectError, match="job queue 'typo' has no key"):
        await client.register("job", "typo")
    with pytest.raises(UsageError, match="budget_s"):
        await client.discover(budget_s=0)
    with pytest.raises(UsageError, match="count"):
        await client.discover(count=0)
    with pytest.raises(UsageError, match="unknown object type"):
        await client.discover(["job", "nope"])  # type: ignore[list-item]
    assert sync_redis.exists("jobs") == 0  # nothing written


# ------------------------------------------------------------------------- CLI


def test_stats_top_and_register_on_the_command_line(
    redis_url: str, js_job_here: Callable[..., JsJob], sync_redis: redis.Redis
) -> None:
    js_only_queue(js_job_here, sync_redis)
    rows = json.loads(ok("stats", "--json", url=redis_url))
    assert rows == [
        {
            "type": "job", "name": "thumbnails", "registered": False, "available": 1,
            "claimed": 1, "stalled": 0, "scheduled": 0, "publishes": 2, "finishes": 0,
            "workers": 0,
        },
    ]  # fmt: skip
    text = ok("stats", url=redis_url)
    assert text.splitlines()[1].startswith("thumbnails (unregistered)  ")
    assert "`thoonk register TYPE NAME` registers it" in text
    assert json.loads(ok("stats", "--json", "--no-scan", url=redis_url)) == []

    done = thoonk("top", "--once", "--json", "--interval", "0.1", url=redis_url)
    assert (done.returncode, done.stderr) == (0, ""), done
    objects = json.loads(done.stdout)["objects"]
    assert [(o["name"], o["registered"], o["available"]) for o in objects] == [
        ("thumbnails", False, 1)
    ]
    top = ok("top", "--once", "--interval", "0.1", url=redis_url)
    assert "thumbnails (unregistered)" in top

    assert ok("register", "job", "thumbnails", url=redis_url) == (
        "registered job queue 'thumbnails'\n"
    )
    assert ok("register", "job", "thumbnails", url=redis_url) == (
        "job queue 'thumbnails' was registered already\n"
    )
    assert json.loads(ok("register", "job", "thumbnails", "--json", url=redis_url)) == {
        "type": "job", "name": "thumbnails", "added": False,
    }  # fmt: skip
    rows = json.loads(ok("stats", "--json", url=redis_url))
    assert [(r["name"], r["registered"]) for r in rows] == [("thumbnails", True)]
    assert "unregistered" not in ok("stats", url=redis_url)
    done = thoonk("top", "--once", "--json", "--interval", "0.1", url=redis_url)
    assert [o["registered"] for o in json.loads(done.stdout)["objects"]] == [True]


def test_register_refuses_what_is_not_there(redis_url: str) -> None:
    assert one_line_error(thoonk("register", "job", "typo", url=redis_url), 1) == (
        "job queue 'typo' has no key in this database, so there is nothing to register; "
        "check the name, the type and the database"
    )
    assert "braces are reserved" in one_line_error(
        thoonk("register", "job", "a{b}", url=redis_url), 2
    )
    assert "'jobs' is not an object type" in one_line_error(
        thoonk("register", "jobs", "x", url=redis_url), 2
    )
