"""``thoonk config TYPE NAME [--set KEY=VALUE] [--unset KEY] [--json]``.

Policy as in every file of tests/cli: real subprocesses against real Redis;
the stored config is checked with another client (redis-py), and a refused
change must leave it exactly as it was.
"""

from __future__ import annotations

import json

import pytest
import redis

from thoonk_actors.contract import MEANINGS, RANGES, channel
from thoonk_actors.transport import URL_ENV

from ._cli import ok, one_line_error, thoonk

UNREACHABLE = "unix:///tmp/thoonk-nonexistent.sock"
JOB_DEFAULTS = {
    "timeout": 0,
    "max_cancels": 10,
    "result_ttl": 600_000,
    "retry_delay": 1000,
    "retry_delay_max": 300_000,
    "retry_factor": 2,
    "max_per_second": 0,
    "max_concurrent": 0,
    "durable": 0,
    "durable_timeout": 1000,
}


@pytest.fixture
def emails(redis_url: str) -> str:
    """A job queue 'emails' (created by a publish, no setting stored)."""
    ok("publish", "job", "emails", "x", "--id", "j1", url=redis_url)
    return redis_url


def stored(r: redis.Redis, key: str) -> dict[bytes, bytes]:
    """The config hash without ``created`` (written once, not a setting)."""
    return {k: v for k, v in r.hgetall(key).items() if k != b"created"}


def test_show_lists_every_setting_with_its_default_and_meaning(emails: str) -> None:
    lines = ok("config", "job", "emails", url=emails).splitlines()
    assert lines[0] == "job queue 'emails'"
    assert lines[1].split() == ["SETTING", "VALUE", "MEANING"]
    assert len(lines) == 2 + len(RANGES["job"])
    for line, (key, value) in zip(lines[2:], JOB_DEFAULTS.items(), strict=True):
        assert line.split(maxsplit=2) == [key, str(value), MEANINGS[key]]
    # The value column is right-aligned: every meaning starts in the same column.
    columns = {line.index(MEANINGS[key]) for line, key in zip(lines[2:], JOB_DEFAULTS, strict=True)}
    assert len(columns) == 1


def test_json_is_the_exact_config(emails: str) -> None:
    out = ok("config", "job", "emails", "--json", url=emails)
    assert out.count("\n") == 1
    assert json.loads(out) == {"type": "job", "name": "emails", "config": JOB_DEFAULTS}


def test_set_one_setting_stores_it_and_prints_the_new_config(
    emails: str, sync_redis: redis.Redis
) -> None:
    out = ok("config", "job", "emails", "--set", "max_per_second=20", url=emails)
    assert "max_per_second       20  claims per second" in out
    assert stored(sync_redis, "job.config:emails") == {b"max_per_second": b"20"}


def test_set_several_settings_at_once(emails: str, sync_redis: redis.Redis) -> None:
    out = ok(
        "config", "job", "emails", "--set", "max_per_second=20", "--set", "max_concurrent=3",
        "--set", "retry_delay=0", "--json", url=emails,
    )  # fmt: skip
    config = json.loads(out)["config"]
    assert config == {**JOB_DEFAULTS, "max_per_second": 20, "max_concurrent": 3, "retry_delay": 0}
    assert stored(sync_redis, "job.config:emails") == {
        b"max_per_second": b"20",
        b"max_concurrent": b"3",
        b"retry_delay": b"0",
    }
    # --unset puts one back to its default and leaves the others.
    out = ok("config", "job", "emails", "--unset", "max_concurrent", "--json", url=emails)
    assert json.loads(out)["config"]["max_concurrent"] == 0
    assert stored(sync_redis, "job.config:emails") == {
        b"max_per_second": b"20",
        b"retry_delay": b"0",
    }


def test_a_feed_max_length_is_set_and_unset(redis_url: str, sync_redis: redis.Redis) -> None:
    ok("publish", "feed", "news", "a", url=redis_url)
    assert ok("config", "feed", "news", url=redis_url) == (
        "feed 'news'\n"
        "SETTING     VALUE  MEANING\n"
        "max_length      -  items kept, the oldest evicted; unset = no bound\n"
    )
    ok("config", "feed", "news", "--set", "max_length=2", url=redis_url)
    assert stored(sync_redis, "feed.config:news") == {b"max_length": b"2"}
    for item in ("b", "c"):
        ok("publish", "feed", "news", item, url=redis_url)
    assert sync_redis.zcard("feed.ids:news") == 2  # the setting is the one the scripts read
    out = ok("config", "feed", "news", "--unset", "max_length", "--json", url=redis_url)
    assert out == '{"type":"feed","name":"news","config":{"max_length":null}}\n'
    assert stored(sync_redis, "feed.config:news") == {}


def test_types_without_settings_say_so(redis_url: str) -> None:
    ok("publish", "queue", "tasks", "a", url=redis_url)
    assert ok("config", "queue", "tasks", url=redis_url) == "queue 'tasks' has no settings\n"
    out = ok("config", "queue", "tasks", "--json", url=redis_url)
    assert json.loads(out) == {"type": "queue", "name": "tasks", "config": {}}


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            ["--set", "max_per_secnd=20"],
            "'max_per_secnd' is not a job queue setting; the settings are: durable, "
            "durable_timeout, max_cancels, max_concurrent, max_per_second, result_ttl, "
            "retry_delay, retry_delay_max, retry_factor, timeout",
        ),
        (
            ["--set", "max_per_second=2000000"],
            "job queue setting 'max_per_second' must be an int from 0 to 1000000 (claims per "
            "second across all workers, 0 = unlimited), not 2000000",
        ),
        (
            ["--set", "max_concurrent=-1"],
            "job queue setting 'max_concurrent' must be an int from 0 to 2147483647 (jobs "
            "claimed at once across all workers, 0 = unlimited), not -1",
        ),
        (
            ["--set", "max_per_second=fast"],
            "job queue setting 'max_per_second' must be an int from 0 to 1000000 (claims per "
            "second across all workers, 0 = unlimited), not 'fast'",
        ),
        (["--set", "retry_factor=1.5"], "job queue setting 'retry_factor' must be an int"),
        (["--unset", "colour"], "'colour' is not a job queue setting"),
        (
            ["--set", "max_concurrent=2", "--unset", "max_concurrent"],
            "the setting 'max_concurrent' is given twice; give it once",
        ),
    ],
    ids=["unknown key", "too large", "negative", "not a number", "not an int", "unset unknown",
         "twice"],
)  # fmt: skip
def test_a_refused_change_exits_2_and_changes_nothing(
    emails: str, sync_redis: redis.Redis, changes: list[str], message: str
) -> None:
    # A good change in the same command is not made either: all or nothing.
    ok("config", "job", "emails", "--set", "max_per_second=20", url=emails)
    before = sync_redis.hgetall("job.config:emails")
    argv = ["config", "job", "emails", "--set", "max_cancels=3", *changes]
    assert one_line_error(thoonk(*argv, url=emails), 2).startswith(message)
    assert sync_redis.hgetall("job.config:emails") == before
    assert json.loads(ok("config", "job", "emails", "--json", url=emails))["config"] == {
        **JOB_DEFAULTS,
        "max_per_second": 20,
    }


def test_a_refused_change_is_refused_before_connecting() -> None:
    argv = ["config", "job", "emails", "--set", "max_per_second=-5"]
    done = thoonk(*argv, env={URL_ENV: UNREACHABLE})
    assert one_line_error(done, 2).startswith("job queue setting 'max_per_second' must be")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--set", "max_per_second"], "argument --set: 'max_per_second' is not KEY=VALUE"),
        (["--set", "=3"], "argument --set: '=3' is not KEY=VALUE"),
    ],
)
def test_a_malformed_set_is_a_usage_error(emails: str, argv: list[str], message: str) -> None:
    done = thoonk("config", "job", "emails", *argv, url=emails)
    assert one_line_error(done, 2).startswith(message)


@pytest.mark.parametrize("changes", [[], ["--set", "max_per_second=20"]], ids=["show", "set"])
def test_an_unknown_object_exits_1_and_creates_nothing(
    redis_url: str, sync_redis: redis.Redis, changes: list[str]
) -> None:
    done = thoonk("config", "job", "emials", *changes, url=redis_url)
    assert one_line_error(done, 1) == (
        "job queue 'emials' does not exist; check the name and the type (`thoonk stats` "
        "lists every object; `thoonk register` adds one only other clients use)"
    )
    assert sync_redis.keys("*emials*") == []
    assert not sync_redis.sismember("jobs", "emials")


def test_another_type_of_the_same_name_is_unknown(emails: str) -> None:
    done = thoonk("config", "feed", "emails", url=emails)
    assert one_line_error(done, 1).startswith("feed 'emails' does not exist")


def test_a_bad_name_or_type_is_a_usage_error() -> None:
    env = {URL_ENV: UNREACHABLE}
    done = thoonk("config", "job", "a}b", env=env)
    assert one_line_error(done, 2).startswith("job queue name 'a}b' holds '}'")
    done = thoonk("config", "jobs", "emails", env=env)
    assert one_line_error(done, 2).startswith("argument TYPE: 'jobs' is not an object type")


def test_a_change_publishes_a_config_event(emails: str, sync_redis: redis.Redis) -> None:
    pubsub = sync_redis.pubsub()
    try:
        config_channel = channel("job", "config", "emails")
        pubsub.subscribe(config_channel)
        assert pubsub.get_message(timeout=5)["type"] == "subscribe"  # type: ignore[index]
        ok("config", "job", "emails", "--set", "max_concurrent=4", url=emails)
        message = pubsub.get_message(timeout=10)
        assert message is not None and message["channel"] == config_channel.encode()
        assert b"max_concurrent" in message["data"]
    finally:
        pubsub.close()
