"""``thoonk stats``: every registered object with its counts, as tables or JSON."""

from __future__ import annotations

import json

import redis

from thoonk_actors.sync import SyncThoonk

from ._cli import ok, one_line_error, renew_heartbeats, thoonk


def test_nothing_registered(redis_url: str) -> None:
    assert ok("stats", url=redis_url) == "No Thoonk objects.\n"
    assert ok("stats", "--type", "sorted-feed", url=redis_url) == "No sorted feeds.\n"
    assert json.loads(ok("stats", "--json", url=redis_url)) == []


def test_every_type_with_its_counts(redis_url: str, sync_redis: redis.Redis, t: SyncThoonk) -> None:
    # The objects are made through the API (the CLI's publish has tests of its
    # own); the claims go through `thoonk get`, one process (one worker) each.
    for n in range(3):
        t.job("emails").publish(str(n), id=f"e{n}")
    t.job("reports").publish("r")
    sync_redis.hset("job.config:emails", "retry_delay", 0)  # a cancelled job is queued at once
    ok("get", "emails", url=redis_url)  # e0: claimed, by a worker alive for 15 s
    ok("get", "emails", url=redis_url)  # e1
    ok("finish", "emails", "e0", url=redis_url)
    ok("cancel", "emails", "e1", url=redis_url)
    ok("get", "emails", url=redis_url)  # e2
    ok("stall", "emails", "e2", url=redis_url)
    for n in range(2):
        t.feed("news").publish(str(n))
    t.sorted_feed("deck").publish("x")
    t.queue("tasks").put_many([str(n) for n in range(4)])
    t.queue("a-queue").put("x")
    workers = sync_redis.zcard("job.workers:emails")  # one per `get` process
    renew_heartbeats(sync_redis, "job.workers:emails")

    rows = json.loads(ok("stats", "--json", url=redis_url))
    assert rows == [
        {
            "type": "job", "name": "emails", "registered": True,
            "available": 1, "claimed": 0, "stalled": 1,
            "scheduled": 0, "publishes": 3, "finishes": 1, "workers": workers,
        },
        {
            "type": "job", "name": "reports", "registered": True,
            "available": 1, "claimed": 0, "stalled": 0,
            "scheduled": 0, "publishes": 1, "finishes": 0, "workers": 0,
        },
        {"type": "feed", "name": "news", "registered": True, "length": 2},
        {"type": "sorted-feed", "name": "deck", "registered": True, "length": 1},
        {"type": "queue", "name": "a-queue", "registered": True, "length": 1},
        {"type": "queue", "name": "tasks", "registered": True, "length": 4},
    ]  # fmt: skip
    assert workers == 3

    assert ok("stats", url=redis_url) == (
        "JOB      AVAILABLE  CLAIMED  STALLED  SCHEDULED  PUBLISHES  FINISHES  WORKERS\n"
        "emails           1        0        1          0          3         1        3\n"
        "reports          1        0        0          0          1         0        0\n"
        "\n"
        "FEED  LENGTH\n"
        "news       2\n"
        "\n"
        "SORTED-FEED  LENGTH\n"
        "deck              1\n"
        "\n"
        "QUEUE    LENGTH\n"
        "a-queue       1\n"
        "tasks         4\n"
    )
    assert json.loads(ok("stats", "--type", "queue", "--json", url=redis_url)) == rows[4:]
    assert ok("stats", "--type", "feed", url=redis_url) == "FEED  LENGTH\nnews       2\n"


def test_a_bad_type_exits_2() -> None:
    assert one_line_error(thoonk("stats", "--type", "jobs"), 2) == (
        "argument --type: 'jobs' is not an object type; use one of job, feed, sorted-feed, "
        "queue (see `thoonk stats --help`)"
    )
