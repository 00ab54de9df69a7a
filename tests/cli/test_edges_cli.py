"""Sharp edges of the command line: each a correct result or a one-sentence error.

Policy as in every file of tests/cli: real subprocesses against the test
database, stored state read with redis-py, outputs asserted exactly. Where an
argument follows ``--``, the URL comes from ``$THOONK_REDIS_URL`` (``--url``
after ``--`` would be an item).
"""

from __future__ import annotations

import json

import pytest
import redis

from thoonk_actors.contract import FeedKeys, JobKeys, SortedFeedKeys

from ._cli import ok, one_line_error, thoonk

Q = JobKeys.of("q")


def snapshot(client: redis.Redis) -> dict[bytes, bytes | None]:
    """Every key with its DUMP: what a refusal must leave as it was."""
    return {key: client.dump(key) for key in client.keys("*")}


# ----------------------------------------------------------- where ITEM goes


def test_publish_takes_options_before_the_item(redis_url: str, sync_redis: redis.Redis) -> None:
    assert ok("publish", "job", "q", "--id", "x", "ITEM", url=redis_url) == "x\n"
    assert ok("publish", "--priority", "job", "q", "--id", "y", "2", url=redis_url) == "y\n"
    assert sync_redis.hget(Q.items, "x") == b'"ITEM"'
    assert sync_redis.hget(Q.items, "y") == b"2"


@pytest.mark.parametrize(("item", "stored"), [("-5", b"-5"), ("-x", b'"-x"'), ("--id", b'"--id"')])
def test_an_item_that_starts_with_a_dash_goes_after_double_dash(
    redis_url: str, sync_redis: redis.Redis, item: str, stored: bytes
) -> None:
    done = thoonk(
        "publish", "job", "q", "--id", "neg", "--", item, env={"THOONK_REDIS_URL": redis_url}
    )
    assert (done.returncode, done.stdout, done.stderr) == (0, "neg\n", "")
    assert sync_redis.hget(Q.items, "neg") == stored


def test_an_item_that_starts_with_a_dash_without_double_dash_says_where_it_goes(
    redis_url: str, sync_redis: redis.Redis
) -> None:
    done = thoonk("publish", "job", "q", "-x", url=redis_url)
    assert one_line_error(done, 2) == (
        "unrecognized arguments: -x; an item that starts with '-' goes after '--' (e.g. "
        "`thoonk publish job q -- -x`), and every option before '--' (see `thoonk --help`)"
    )
    assert sync_redis.dbsize() == 0


# ------------------------------------------------------- JSON that is not


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ('{"text": "unterminated', "Unterminated string starting at character 10"),
        ("[1, 2", "Expecting ',' delimiter at character 6"),
        ('"abc', "Unterminated string starting at character 1"),
    ],
)
def test_publish_refuses_text_that_looks_like_json_but_does_not_parse(
    redis_url: str, sync_redis: redis.Redis, text: str, reason: str
) -> None:
    done = thoonk("publish", "feed", "news", text, url=redis_url)
    assert one_line_error(done, 2) == (
        f"{text!r} looks like JSON but is not valid JSON ({reason}); fix it, or pass --raw "
        "to store it as text"
    )
    assert sync_redis.dbsize() == 0  # nothing stored, not even the registry
    ok("publish", "feed", "news", text, "--raw", "--id", "as-text", url=redis_url)
    assert sync_redis.hget(FeedKeys.of("news").items, "as-text") == json.dumps(text).encode()


def test_finish_refuses_a_result_that_looks_like_json_but_does_not_parse(
    redis_url: str, sync_redis: redis.Redis
) -> None:
    ok("publish", "job", "q", "1", "--id", "a", url=redis_url)
    job_id, token, _ = ok("get", "q", url=redis_url).rstrip("\n").split("\t")
    before = snapshot(sync_redis)
    done = thoonk("finish", "q", job_id, '{"sent": tru', "--token", token, url=redis_url)
    assert one_line_error(done, 2).startswith("'{\"sent\": tru' looks like JSON but is not valid")
    assert snapshot(sync_redis) == before  # still claimed, nothing written


# --------------------------------------------------- ids that do not exist


@pytest.mark.parametrize(
    "args",
    [
        ("finish", "q", "no-such-id"),
        ("finish", "q", "no-such-id", "--token", "3"),
        ("cancel", "q", "no-such-id", "--token", "3"),
        ("stall", "q", "no-such-id"),
        ("retry", "q", "no-such-id"),
    ],
)
def test_settling_an_id_that_never_existed_says_it_does_not_exist(
    redis_url: str, sync_redis: redis.Redis, args: tuple[str, ...]
) -> None:
    ok("publish", "job", "q", "1", "--id", "other", url=redis_url)
    before = snapshot(sync_redis)
    done = thoonk(*args, url=redis_url)
    assert one_line_error(done, 1) == (
        "job 'no-such-id' in job queue 'q' does not exist: it was never published, or it was "
        "already finished or retracted; check the id (`thoonk stats` lists the queues)"
    )
    assert snapshot(sync_redis) == before


def test_settling_a_queued_job_still_says_it_is_not_claimed(redis_url: str) -> None:
    ok("publish", "job", "q", "1", "--id", "queued", url=redis_url)
    done = thoonk("finish", "q", "queued", url=redis_url)
    assert one_line_error(done, 1).startswith(
        "job 'queued' in job queue 'q' is not claimed; only a claimed job can be finished"
    )


# ----------------------------------------------------------------- retract


def test_retract_removes_a_feed_item(redis_url: str, sync_redis: redis.Redis) -> None:
    ok("publish", "feed", "mynews", "hello", "--id", "a", url=redis_url)
    assert ok("retract", "mynews", "a", url=redis_url) == "retracted item 'a' of feed 'mynews'\n"
    assert not sync_redis.hexists(FeedKeys.of("mynews").items, "a")
    done = thoonk("retract", "mynews", "a", url=redis_url)
    assert one_line_error(done, 1) == (
        "feed 'mynews' has no item 'a' (already retracted, evicted by max_length, or never "
        "published); check the id"
    )


def test_retract_removes_a_sorted_feed_item(redis_url: str, sync_redis: redis.Redis) -> None:
    ok("publish", "sorted-feed", "deck", "intro", url=redis_url)
    assert json.loads(ok("retract", "deck", "1", "--json", url=redis_url)) == {
        "type": "sorted-feed", "name": "deck", "id": "1", "outcome": "retracted",
    }  # fmt: skip
    assert sync_redis.hlen(SortedFeedKeys.of("deck").items) == 0


def test_retract_of_a_job_is_unchanged(redis_url: str, sync_redis: redis.Redis) -> None:
    ok("publish", "job", "q", "1", "--id", "j", url=redis_url)
    assert json.loads(ok("retract", "q", "j", "--json", url=redis_url)) == {
        "queue": "q", "id": "j", "outcome": "retracted",
    }  # fmt: skip
    assert not sync_redis.hexists(Q.items, "j")


def test_retract_names_the_real_type_or_asks_for_it(
    redis_url: str, sync_redis: redis.Redis
) -> None:
    ok("publish", "feed", "shared", "x", "--id", "f", url=redis_url)
    ok("publish", "job", "shared", "x", "--id", "j", url=redis_url)
    ok("publish", "queue", "tasks", "x", url=redis_url)
    before = snapshot(sync_redis)
    assert one_line_error(thoonk("retract", "shared", "f", url=redis_url), 2) == (
        "'shared' is both a job queue and a feed; say which with --type"
    )
    assert one_line_error(thoonk("retract", "tasks", "1", url=redis_url), 2) == (
        "'tasks' is a queue, whose items cannot be retracted; they are taken one by one by its "
        "consumers"
    )
    assert one_line_error(thoonk("retract", "nothing", "a", url=redis_url), 1) == (
        "there is no job queue, feed or sorted feed named 'nothing'; check the name "
        "(`thoonk stats` lists them)"
    )
    assert snapshot(sync_redis) == before
    assert ok("retract", "shared", "f", "--type", "feed", url=redis_url) == (
        "retracted item 'f' of feed 'shared'\n"
    )
    assert sync_redis.hexists(JobKeys.of("shared").items, "j")  # the job is untouched
