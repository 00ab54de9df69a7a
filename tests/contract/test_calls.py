"""Building calls: keys, arguments, validation before anything is sent (no Redis)."""

from __future__ import annotations

import json

import pytest

from thoonk_actors._errors import InvalidConfigError, InvalidIdError, UsageError
from thoonk_actors.contract import (
    FeedConfig,
    FeedKeys,
    FinishRequest,
    JobConfig,
    JobKeys,
    NewJob,
    QueueKeys,
    SortedFeedKeys,
    feed_ids,
    feed_publish,
    job_available_ids,
    job_cancel,
    job_claim,
    job_finish,
    job_finish_many,
    job_publish,
    job_publish_many,
    job_reap,
    job_touch,
    job_wait_for_work,
    load_script,
    object_configure,
    object_create,
    object_delete,
    parse_config,
    queue_get,
    queue_put,
    sorted_feed_move,
    sorted_feed_publish_before,
    validate_config,
)

JOB = JobKeys.of("emails")
JOB_CLUSTER = JobKeys.of("emails", cluster=True)


def test_job_publish_call() -> None:
    call = job_publish(JOB, "j1", b'{"n":1}', priority=True)
    assert call.script == load_script("job/publish")
    assert call.keys == (
        "job.ids:emails",
        "job.items:emails",
        "job.published:emails",
        "job.claimed:emails",
        "job.stalled:emails",
        "job.cancelled:emails",
        "job.owners:emails",
        "job.errors:emails",
        "job.orphans:emails",
        "job.publishes:emails",
        "job.scheduled:emails",
        "job.ticks:emails",
        b"job.result:{emails}:j1",
        "jobs",
    )
    assert call.args == (
        b"j1",
        b'{"n":1}',
        b"1",
        b"event.job.publish:emails",
        b"emails",
        b"",
        b"event.job.schedule:emails",
        *(b"", b"", b""),  # not a tick of a recurring job
    )
    assert call.after == ()


def test_cluster_mode_moves_the_registry_out_of_the_script() -> None:
    call = job_publish(JOB_CLUSTER, "j1", b"1")
    assert "jobs" not in call.keys
    assert all("{emails}" in (k if isinstance(k, str) else k.decode()) for k in call.keys)
    assert call.after == (("SADD", "jobs", "emails"),)
    assert object_delete(JOB_CLUSTER).after == (("SREM", "jobs", "emails"),)
    assert object_create(JOB_CLUSTER).after == (("SADD", "jobs", "emails"),)
    assert object_configure(JOB_CLUSTER, {}).after == ()
    assert "jobs" in object_configure(JOB, {}).keys


def test_ids_are_validated_before_building() -> None:
    with pytest.raises(InvalidIdError):
        job_publish(JOB, "", b"1")
    with pytest.raises(InvalidIdError):
        job_publish(JOB, "a\0b", b"1")
    with pytest.raises(InvalidIdError):
        job_finish(JOB, "")
    with pytest.raises(InvalidIdError, match="claim token"):
        job_finish(JOB, "a", token="")
    with pytest.raises(InvalidIdError, match="worker id"):
        job_claim(JOB, "")
    with pytest.raises(InvalidIdError):
        job_publish_many(JOB, [NewJob("ok", b"1"), NewJob("", b"2")])
    with pytest.raises(InvalidIdError, match="claim token"):
        job_touch(JOB, "a", "")


def test_payloads_must_be_encoded_first() -> None:
    with pytest.raises(UsageError, match=r"codec\.encode"):
        job_publish(JOB, "a", "text")  # type: ignore[arg-type]
    with pytest.raises(UsageError, match=r"codec\.encode"):
        job_finish(JOB, "a", result={"x": 1})  # type: ignore[arg-type]
    with pytest.raises(UsageError, match=r"codec\.encode"):
        feed_publish(FeedKeys.of("f"), "a", None)  # type: ignore[arg-type]


def test_counts_are_bounded() -> None:
    with pytest.raises(UsageError, match="max_jobs"):
        job_claim(JOB, "w", max_jobs=0)
    with pytest.raises(UsageError, match="max_jobs"):
        job_claim(JOB, "w", max_jobs=True)
    with pytest.raises(UsageError, match="max_items"):
        queue_get(QueueKeys.of("q"), max_items=10_001)
    with pytest.raises(UsageError, match="stale_ms"):
        job_reap(JOB, stale_ms=-1, orphan_grace_ms=0)
    with pytest.raises(UsageError, match="max_cancels"):
        job_cancel(JOB, "a", max_cancels=-1)
    with pytest.raises(UsageError, match="timeout_s"):
        job_wait_for_work(JOB, timeout_s=-1)


def test_finish_arguments() -> None:
    assert job_finish(JOB, "a").args == (b"a", b"", b"0", b"", b"event.job.finish:emails")
    # An empty result is a result (the original could not tell them apart).
    assert job_finish(JOB, "a", token="7", result=b"").args[:4] == (b"a", b"7", b"1", b"")
    many = job_finish_many(JOB, [FinishRequest("a", "1", b"r"), FinishRequest("b")])
    assert many.args == (
        b"event.job.finish:emails",
        b"2",
        *(b"a", b"1", b"1", b"r"),
        *(b"b", b"", b"0", b""),
    )
    assert many.keys[-2:] == (b"job.result:{emails}:a", b"job.result:{emails}:b")


def test_cancel_arguments() -> None:
    call = job_cancel(JOB, "a", token="3", error="E" * 20_000, max_cancels=5, jitter=0.5)
    assert call.args[0:2] == (b"a", b"3")
    assert len(call.args[2]) == 16_384
    assert call.args[3:] == (
        b"5",
        b"event.job.cancel:emails",
        b"event.job.stall:emails",
        b"500",
        b"",
    )
    assert job_cancel(JOB, "a", retry_delay_ms=0).args[-1] == b"0"
    assert 0 <= int(job_cancel(JOB, "a").args[-2]) <= 999
    assert job_cancel(JOB, "a").args[1:4] == (b"", b"", b"")


def test_publish_many_arguments() -> None:
    call = job_publish_many(JOB, [NewJob("a", b"1"), NewJob("b", b"2", priority=True)])
    assert call.args == (
        b"event.job.publish:emails",
        b"emails",
        b"2",
        *(b"a", b"1", b"0"),
        *(b"b", b"2", b"1"),
        b"",
        b"event.job.schedule:emails",
    )
    delayed = job_publish_many(JOB, [NewJob("a", b"1")], delay_ms=1500)
    assert delayed.args[-2:] == (b"d1500", b"event.job.schedule:emails")
    assert call.keys[-3:] == (b"job.result:{emails}:a", b"job.result:{emails}:b", "jobs")


def test_reads_are_plain_commands() -> None:
    cmd = job_available_ids(JOB)
    assert cmd.args == ("LRANGE", "job.ids:emails", "0", "-1")
    assert cmd.decode([b"newest", b"oldest"]) == ("oldest", "newest")
    wait = job_wait_for_work(JOB, timeout_s=1.5)
    assert wait.args == ("BLMOVE", "job.ids:emails", "job.ids:emails", "RIGHT", "RIGHT", "1.5")
    assert wait.decode(None) is False
    assert wait.decode(b"x") is True
    assert feed_ids(FeedKeys.of("f"), 0, 9).args == ("ZRANGE", "feed.ids:f", "0", "9")


def test_sorted_feed_validation() -> None:
    keys = SortedFeedKeys.of("p")
    with pytest.raises(InvalidIdError, match="itself"):
        sorted_feed_publish_before(keys, "a", b"1", id="a")
    with pytest.raises(InvalidIdError, match="itself"):
        sorted_feed_move(keys, "a", "after", "a")
    with pytest.raises(UsageError, match="anchor"):
        sorted_feed_move(keys, "a", "before")
    with pytest.raises(UsageError, match="anchor"):
        sorted_feed_move(keys, "a", "end", "b")
    with pytest.raises(UsageError, match="where"):
        sorted_feed_move(keys, "a", "middle")  # type: ignore[arg-type]
    assert sorted_feed_publish_before(keys, "x", b"1").args[:2] == (b"x", b"")


def test_queue_put_arguments() -> None:
    call = queue_put(QueueKeys.of("q"), "1", b"x", priority=True)
    assert call.keys == ("queue.ids:q", "queue.items:q", "queue.publishes:q", "queues")
    assert call.args == (b"1", b"x", b"1", b"q")


# ------------------------------------------------------------------- config


def test_validate_config() -> None:
    assert validate_config("job", {"timeout": 0, "max_cancels": 3, "result_ttl": 1}) == {
        "timeout": "0",
        "max_cancels": "3",
        "result_ttl": "1",
    }
    assert validate_config("feed", {"max_length": None}) == {"max_length": None}
    assert validate_config("queue", {}) == {}


@pytest.mark.parametrize(
    ("kind", "changes", "fragment"),
    [
        ("job", {"timeout": -1}, "int from 0 to"),
        ("job", {"timeout": 1.5}, "int from 0 to"),
        ("job", {"timeout": "30"}, "int from 0 to"),
        ("job", {"max_cancels": True}, "int from 0 to"),
        ("job", {"result_ttl": 0}, "int from 1 to"),
        ("job", {"max_length": 3}, "not a job queue setting"),
        ("feed", {"max_length": 0}, "int from 1 to"),
        ("feed", {"timeout": 1}, "settings are: max_length"),
        ("queue", {"x": 1}, "settings are: none"),
        ("sorted_feed", {"max_length": 1}, "not a sorted feed setting"),
    ],
)
def test_invalid_config(kind: str, changes: dict[str, object], fragment: str) -> None:
    with pytest.raises(InvalidConfigError, match=fragment):
        validate_config(kind, changes)  # type: ignore[arg-type]


def test_bad_config_is_refused_before_a_call_is_built() -> None:
    with pytest.raises(InvalidConfigError):
        object_create(JOB, {"timeout": -5})
    with pytest.raises(InvalidConfigError):
        object_configure(FeedKeys.of("f"), {"max_length": 0})


def test_create_and_config_arguments() -> None:
    call = object_create(JOB, {"timeout": 30_000, "max_cancels": 3}, exist_ok=True)
    assert call.keys == ("job.config:emails", "jobs")
    name, exist_ok, chan, payload, *pairs = call.args
    assert (name, exist_ok, chan) == (b"emails", b"1", b"event.job.config:emails")
    assert json.loads(payload) == {"timeout": 30_000, "max_cancels": 3}
    assert pairs == [b"timeout", b"30000", b"max_cancels", b"3"]
    conf = object_configure(FeedKeys.of("f"), {"max_length": None})
    assert conf.args == (b"f", b"event.feed.config:f", b'{"max_length":null}', b"0", b"max_length")
    delete = object_delete(FeedKeys.of("f"))
    assert delete.keys == (
        "feed.config:f",
        "feed.ids:f",
        "feed.items:f",
        "feed.publishes:f",
        "feeds",
    )
    assert delete.args == (b"f", b"event.feed.delete:f", b"4")


def test_parse_config() -> None:
    assert parse_config("job", {}, obj="x") == JobConfig(0, 10, 600_000, 1000, 300_000, 2)
    assert parse_config(
        "job", {b"timeout": b"5", b"created": b"1", b"other": b"?"}, obj="x"
    ) == JobConfig(timeout=5)
    assert parse_config("feed", {b"max_length": b"10"}, obj="x") == FeedConfig(10)
