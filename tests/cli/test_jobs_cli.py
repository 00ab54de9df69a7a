"""``thoonk get / finish / cancel / stall / retry / retract``: the job lifecycle by hand.

Real subprocesses against the test database; stored state checked with redis-py.
"""

from __future__ import annotations

import json

import pytest
import redis

from ._cli import Follower, ok, one_line_error, thoonk, wait_until


def publish(url: str, *items: tuple[str, str]) -> None:
    for job_id, item in items:
        assert ok("publish", "job", "emails", item, "--id", job_id, url=url) == f"{job_id}\n"


def test_get_prints_id_token_and_item_and_json_adds_failures(redis_url: str) -> None:
    publish(redis_url, ("a", '{"to": "a@example.org"}'), ("b", "plain text"))
    assert ok("get", "emails", url=redis_url) == 'a\t1\t{"to":"a@example.org"}\n'
    assert json.loads(ok("get", "emails", "--timeout", "1", "--json", url=redis_url)) == {
        "queue": "emails",
        "id": "b",
        "token": "2",
        "failures": 0,
        "item": "plain text",
    }


def test_get_shows_an_item_that_is_not_json_as_text(
    redis_url: str, sync_redis: redis.Redis
) -> None:
    publish(redis_url, ("a", "x"))
    sync_redis.hset("job.items:emails", "a", b"not json \xff")  # another client's bytes
    assert json.loads(ok("get", "emails", "--json", url=redis_url))["item"] == "not json \\xff"


def test_get_with_nothing_to_claim_exits_1_after_the_timeout(redis_url: str) -> None:
    done = thoonk("get", "emails", "--timeout", "0.2", url=redis_url)
    assert (done.returncode, done.stdout, done.stderr) == (
        1,
        "",
        "thoonk: no job to claim in job queue 'emails' within 0.2 s\n",
    )


def test_get_waits_for_a_job_published_later(redis_url: str) -> None:
    with Follower(["get", "emails", "--json", "--url", redis_url]) as waiting:
        publish(redis_url, ("late", '"worth the wait"'))
        assert json.loads(waiting.line())["id"] == "late"
        assert waiting.finish() == (0, [], [])


def test_ctrl_c_while_get_waits_exits_130(redis_url: str, sync_redis: redis.Redis) -> None:
    with Follower(["get", "emails", "--url", redis_url]) as waiting:

        def blocked() -> bool:
            return any(
                c.get("name") == "thoonk-cli" and c.get("cmd") == "blmove"
                for c in sync_redis.client_list()
            )

        wait_until(blocked, "the get to wait in BLMOVE")
        waiting.sigint()
        assert waiting.finish() == (130, [], ["thoonk: interrupted"])
    assert sync_redis.llen("job.ids:emails") == 0


def test_the_whole_lifecycle_with_json(redis_url: str, sync_redis: redis.Redis) -> None:
    sync_redis.hset("job.config:emails", "max_cancels", 2)
    publish(redis_url, ("a", '{"n": 1}'))

    claim = json.loads(ok("get", "emails", "--json", url=redis_url))
    cancel = ok("cancel", "emails", "a", "--error", "smtp down", "--json", url=redis_url)
    due = sync_redis.zscore("job.scheduled:emails", "a")  # its retry backoff (server ms)
    assert due is not None
    assert json.loads(cancel) == {
        "queue": "emails",
        "id": "a",
        "outcome": "cancelled",
        "failures": 1,
        "retry_at_ms": int(due),
    }
    assert sync_redis.hget("job.errors:emails", "a") == b"smtp down"

    claim = json.loads(ok("get", "emails", "--json", url=redis_url))
    assert (claim["id"], claim["failures"]) == ("a", 1)
    cancel = ok("cancel", "emails", "a", "--token", claim["token"], "--json", url=redis_url)
    assert json.loads(cancel) == {
        "queue": "emails",
        "id": "a",
        "outcome": "stalled",
        "failures": 2,
    }
    assert sync_redis.smembers("job.stalled:emails") == {b"a"}

    retry = ok("retry", "emails", "a", "--json", url=redis_url)
    assert json.loads(retry) == {"queue": "emails", "id": "a", "outcome": "retried"}
    claim = json.loads(ok("get", "emails", "--json", url=redis_url))
    stall = ok("stall", "emails", "a", "--reason", "needs a person", "--json", url=redis_url)
    assert json.loads(stall) == {"queue": "emails", "id": "a", "outcome": "stalled"}
    assert sync_redis.hget("job.errors:emails", "a") == b"needs a person"
    ok("retry", "emails", "a", url=redis_url)

    claim = json.loads(ok("get", "emails", "--json", url=redis_url))
    finish = ok(
        "finish", "emails", "a", '{"sent": true}', "--token", claim["token"], "--json",
        url=redis_url,
    )  # fmt: skip
    assert json.loads(finish) == {
        "queue": "emails",
        "id": "a",
        "outcome": "finished",
        "result": {"sent": True},
    }
    assert sync_redis.hget("job.result:{emails}:a", "result") == b'{"sent":true}'
    assert sync_redis.get("job.finishes:emails") == b"1"


def test_text_output_is_one_sentence_per_action(redis_url: str, sync_redis: redis.Redis) -> None:
    publish(redis_url, ("a", "1"), ("b", "2"))
    sync_redis.hset("job.config:emails", "retry_delay", 0)  # no retry backoff: queued at once
    ok("get", "emails", url=redis_url)
    assert ok("cancel", "emails", "a", url=redis_url) == (
        "cancelled job 'a' of job queue 'emails'; it is queued again (failures: 1)\n"
    )
    ok("get", "emails", url=redis_url)  # b
    assert ok("stall", "emails", "b", url=redis_url) == ("stalled job 'b' of job queue 'emails'\n")
    assert ok("retry", "emails", "b", url=redis_url) == (
        "retried job 'b' of job queue 'emails'; it is queued again\n"
    )
    ok("get", "emails", url=redis_url)  # a
    assert ok("finish", "emails", "a", "done", "--raw", url=redis_url) == (
        "finished job 'a' of job queue 'emails'\n"
    )
    assert sync_redis.hget("job.result:{emails}:a", "result") == b'"done"'
    assert ok("retract", "emails", "b", url=redis_url) == (
        "retracted job 'b' of job queue 'emails'\n"
    )

    sync_redis.hdel("job.config:emails", "retry_delay")  # the default backoff again
    publish(redis_url, ("d", "4"))
    ok("get", "emails", url=redis_url)
    assert ok("cancel", "emails", "d", url=redis_url) == (
        "cancelled job 'd' of job queue 'emails'; it is queued again when its retry backoff "
        "ends (failures: 1)\n"
    )
    ok("retract", "emails", "d", url=redis_url)

    sync_redis.hset("job.config:emails", "max_cancels", 1)
    publish(redis_url, ("c", "3"))
    ok("get", "emails", url=redis_url)
    assert ok("cancel", "emails", "c", url=redis_url) == (
        "stalled job 'c' of job queue 'emails': its failure count (1) reached max_cancels\n"
    )


def test_finish_without_a_result(redis_url: str, sync_redis: redis.Redis) -> None:
    publish(redis_url, ("a", "1"))
    ok("get", "emails", url=redis_url)
    assert json.loads(ok("finish", "emails", "a", "--json", url=redis_url)) == {
        "queue": "emails",
        "id": "a",
        "outcome": "finished",
        "result": None,
    }
    assert sync_redis.hget("job.result:{emails}:a", "state") == b"finished"
    assert sync_redis.hexists("job.result:{emails}:a", "result") is False


#: A job that does not exist is said not to exist (not "not claimed" / "not stalled").
MISSING = (
    "job 'nope' in job queue 'emails' does not exist: it was never published, or it was "
    "already finished or retracted; check the id (`thoonk stats` lists the queues)"
)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["finish", "emails", "nope"],
            MISSING,
        ),
        (
            ["cancel", "emails", "nope"],
            MISSING,
        ),
        (
            ["stall", "emails", "nope"],
            MISSING,
        ),
        (
            ["retry", "emails", "nope"],
            MISSING,
        ),
        (
            ["retract", "emails", "nope"],
            "job 'nope' in job queue 'emails' does not exist (no id 'nope'); check the id",
        ),
    ],
)
def test_unknown_ids_exit_1_with_one_sentence(
    redis_url: str, argv: list[str], message: str
) -> None:
    publish(redis_url, ("other", "1"))
    assert one_line_error(thoonk(*argv, url=redis_url), 1) == message
    assert one_line_error(thoonk(*argv, "--json", url=redis_url), 1) == message


def test_a_stale_token_is_refused(redis_url: str, sync_redis: redis.Redis) -> None:
    publish(redis_url, ("a", "1"))
    first = json.loads(ok("get", "emails", "--json", url=redis_url))
    ok("cancel", "emails", "a", url=redis_url)
    second = json.loads(ok("get", "emails", "--json", url=redis_url))
    done = thoonk("finish", "emails", "a", "--token", first["token"], url=redis_url)
    message = one_line_error(done, 1)
    assert message.startswith("job 'a' in job queue 'emails' is no longer claimed by you")
    assert f":{second['token']}'" in message
    assert sync_redis.zscore("job.claimed:emails", "a") is not None  # still claimed


def test_debug_adds_the_traceback(redis_url: str) -> None:
    publish(redis_url, ("other", "1"))  # the queue exists; the job does not
    plain = thoonk("retract", "emails", "nope", url=redis_url)
    debug = thoonk("--debug", "retract", "emails", "nope", url=redis_url)
    assert debug.returncode == plain.returncode == 1
    assert "Traceback (most recent call last)" in debug.stderr
    assert "NotFoundError" in debug.stderr
    assert debug.stderr.endswith(plain.stderr)
    assert thoonk("retract", "emails", "nope", "--debug", url=redis_url).stderr == debug.stderr
