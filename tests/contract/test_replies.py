"""Decoding replies into typed results and contract errors (no Redis).

Replies are written the way hiredis hands them over: bytes, int, list, None.
"""

from __future__ import annotations

import pytest

from thoonk_actors._errors import (
    BadStoredConfigError,
    ClaimLostError,
    DuplicateIdError,
    InvalidIdError,
    NoSuchObjectError,
    NotClaimedError,
    NotFoundError,
    NotStalledError,
    ObjectExistsError,
    RefusedError,
    ThoonkError,
    UnexpectedReplyError,
    WrongTypeError,
)
from thoonk_actors.contract import (
    REPLY_CODES,
    Claim,
    ClaimRecord,
    FeedKeys,
    FeedPublished,
    FinishRequest,
    HeldBack,
    JobCancelled,
    JobFinished,
    JobKeys,
    JobPublished,
    JobResult,
    JobStats,
    NewJob,
    QueueKeys,
    Reaped,
    ReapReport,
    Reply,
    SortedFeedKeys,
    feed_items,
    feed_publish,
    feed_retract,
    job_cancel,
    job_claim,
    job_failure_count,
    job_finish,
    job_finish_many,
    job_publish,
    job_publish_many,
    job_publish_new,
    job_reap,
    job_result,
    job_retract,
    job_retry,
    job_stall,
    job_stats,
    job_touch,
    object_config,
    object_configure,
    object_create,
    object_delete,
    parse_event,
    queue_get,
    sorted_feed_append,
    sorted_feed_move,
    sorted_feed_publish_after,
)

JOB = JobKeys.of("emails")


def test_reply_codes_cover_every_refusal() -> None:
    assert set(REPLY_CODES) == {
        "ok",
        "not_found",
        "not_claimed",
        "claim_lost",
        "not_stalled",
        "duplicate",
        "exists",
        "no_such_object",
        "wrongtype",
        "bad_config",
        "bad_anchor",
    }
    for code, cls in REPLY_CODES.items():
        if code not in ("ok", "bad_anchor"):
            assert cls is not None and issubclass(cls, RefusedError)


def test_publish() -> None:
    call = job_publish(JOB, "j1", b"1")
    assert call.decode([b"ok", b"j1", 1700]) == JobPublished("j1", 1700)
    with pytest.raises(DuplicateIdError, match="job 'j1' in job queue 'emails' already exists"):
        call.decode([b"duplicate", b"j1"])


def test_wrongtype_names_the_key() -> None:
    call = job_publish(JOB, "j1", b"1")
    with pytest.raises(WrongTypeError) as info:
        call.decode([b"wrongtype", b"job.ids:emails", b"list", b"string"])
    message = str(info.value)
    assert "'job.ids:emails'" in message
    assert "holds a string where the contract expects a list" in message
    assert "Nothing was changed" in message


def test_bad_config() -> None:
    with pytest.raises(BadStoredConfigError, match="'result_ttl' of job queue 'emails' holds 'x'"):
        job_finish(JOB, "j1").decode([b"bad_config", b"job.config:emails", b"result_ttl", b"x"])


def test_publish_many() -> None:
    call = job_publish_many(JOB, [NewJob("a", b"1"), NewJob("b", b"2")])
    assert call.decode([b"ok", 5, b"a", b"b"]) == (JobPublished("a", 5), JobPublished("b", 5))
    with pytest.raises(DuplicateIdError, match="job 'b'"):
        call.decode([b"duplicate", b"b"])


def test_claim() -> None:
    call = job_claim(JOB, "w1", max_jobs=5)
    assert call.decode([b"ok", 10, 0, 0]) == Claim(10, (), 0)
    reply: Reply = [b"ok", 10, 2, 1, b"a", b"{}", b"7", 0, b"b", b"[]", b"8", 2]
    assert call.decode(reply) == Claim(
        10, (ClaimRecord("a", b"{}", "7", 0), ClaimRecord("b", b"[]", "8", 2)), 1
    )
    with pytest.raises(UnexpectedReplyError):
        call.decode([b"ok", 10, 2, 0, b"a", b"{}", b"7", 0])


def test_finish() -> None:
    call = job_finish(JOB, "j1", token="7", result=b"r")
    assert call.decode([b"ok", b"j1", 99]) == JobFinished("j1", 99)
    with pytest.raises(NotClaimedError, match="only a claimed job can be finished") as info:
        call.decode([b"not_claimed", b"j1"])
    assert not isinstance(info.value, ClaimLostError)
    with pytest.raises(ClaimLostError, match="now held by 'w2:9'"):
        call.decode([b"claim_lost", b"j1", b"w2:9"])
    with pytest.raises(ClaimLostError, match="not held"):
        call.decode([b"claim_lost", b"j1", None])


def test_finish_many() -> None:
    call = job_finish_many(
        JOB, [FinishRequest("a", "1"), FinishRequest("b", "2"), FinishRequest("c")]
    )
    outcomes = call.decode([b"ok", 5, b"a", b"ok", b"b", b"claim_lost", b"c", b"not_claimed"])
    assert [(o.id, o.status) for o in outcomes] == [
        ("a", "ok"),
        ("b", "claim_lost"),
        ("c", "not_claimed"),
    ]
    assert outcomes[0].error is None
    assert isinstance(outcomes[1].error, ClaimLostError)
    assert isinstance(outcomes[2].error, NotClaimedError)
    with pytest.raises(UnexpectedReplyError):
        call.decode([b"ok", 5, b"a", b"ok"])
    with pytest.raises(WrongTypeError):
        call.decode([b"wrongtype", b"job.claimed:emails", b"zset", b"hash"])


def test_cancel_and_stall() -> None:
    call = job_cancel(JOB, "j1")
    assert call.decode([b"ok", b"j1", b"cancelled", 2, 0]) == JobCancelled("j1", "cancelled", 2)
    assert call.decode([b"ok", b"j1", b"cancelled", 2, 9]) == JobCancelled(
        "j1", "cancelled", 2, retry_at_ms=9
    )
    assert call.decode([b"ok", b"j1", b"stalled", 3, 0]) == JobCancelled("j1", "stalled", 3)
    with pytest.raises(NotClaimedError, match="can be cancelled"):
        call.decode([b"not_claimed", b"j1"])
    with pytest.raises(UnexpectedReplyError):
        call.decode([b"ok", b"j1", b"exploded", 3, 0])
    with pytest.raises(UnexpectedReplyError):
        call.decode([b"ok", b"j1", b"cancelled", 3])
    assert job_stall(JOB, "j1").decode([b"ok", b"j1"]) is None
    with pytest.raises(NotClaimedError, match="can be stalled"):
        job_stall(JOB, "j1").decode([b"not_claimed", b"j1"])


def test_retry_retract_touch() -> None:
    assert job_retry(JOB, "j1").decode([b"ok", b"j1", 5]) == 5
    with pytest.raises(NotStalledError, match="only a stalled job can be retried"):
        job_retry(JOB, "j1").decode([b"not_stalled", b"j1"])
    assert job_retract(JOB, "j1").decode([b"ok", b"j1"]) is None
    with pytest.raises(NotFoundError, match="job 'j1' in job queue 'emails' does not exist"):
        job_retract(JOB, "j1").decode([b"not_found", b"j1"])
    assert job_touch(JOB, "j1", "3").decode([b"ok", b"j1", 8]) == 8
    with pytest.raises(ClaimLostError):
        job_touch(JOB, "j1", "3").decode([b"claim_lost", b"j1", b"w:4"])


def test_reap_and_stats() -> None:
    call = job_reap(JOB, stale_ms=1000, orphan_grace_ms=1000)
    assert call.decode([b"ok", 7, 0]) == ReapReport(7, ())
    reply: Reply = [b"ok", 7, 2, b"a", b"cancelled", b"timeout", b"b", b"dropped", b"owner_gone"]
    assert call.decode(reply) == ReapReport(
        7, (Reaped("a", "cancelled", "timeout"), Reaped("b", "dropped", "owner_gone"))
    )
    assert call.decode([b"ok", 7, 1, b"g", b"dropped", b"ghost"]) == ReapReport(
        7, (Reaped("g", "dropped", "ghost"),)
    )
    with pytest.raises(UnexpectedReplyError):
        call.decode([b"ok", 7, 1, b"a", b"cancelled", b"boredom"])
    stats = job_stats(JOB, stale_ms=1000).decode([b"ok", 1, 2, 3, 4, 5, 6, 7, 8, 9, b""])
    assert stats == JobStats(1, 2, 3, 4, 5, 6, 7, 8, scheduled=9)
    held = job_stats(JOB, stale_ms=1000).decode([b"ok", 1, 2, 3, 4, 5, 6, 7, 8, 9, b"rate"])
    assert held.held_back == "rate"
    for bad in ([b"ok", 1, 2, 3, 4, 5, 6, 7, 8, 9], [b"ok", 1, 2, 3, 4, 5, 6, 7, 8, 9, b"mood"]):
        with pytest.raises(UnexpectedReplyError):
            job_stats(JOB, stale_ms=1000).decode(bad)


def test_a_claim_held_back_by_a_limit_says_why_and_when() -> None:
    call = job_claim(JOB, "w1", max_jobs=5)
    assert call.decode([b"ok", 10, 0, 0, b"rate", 40]) == Claim(10, (), 0, HeldBack("rate", 40))
    reply: Reply = [b"ok", 10, 1, 0, b"a", b"{}", b"7", 0, b"concurrency", 1000]
    assert call.decode(reply) == Claim(
        10, (ClaimRecord("a", b"{}", "7", 0),), 0, HeldBack("concurrency", 1000)
    )
    for bad in (
        [b"ok", 10, 0, 0, b"mood", 40],
        [b"ok", 10, 0, 0, b"rate", -1],
        [b"ok", 10, 0, 0, 1],
    ):
        with pytest.raises(UnexpectedReplyError):
            call.decode(bad)


def test_job_reads() -> None:
    assert job_failure_count(JOB, "a").decode(None) == 0
    assert job_failure_count(JOB, "a").decode(b"2") == 2
    assert job_result(JOB, "a").decode([]) is None
    assert job_result(JOB, "a").decode([b"state", b"finished", b"at", b"5"]) == JobResult(
        "a", "finished", 5, None
    )
    assert job_result(JOB, "a").decode(
        [b"state", b"finished", b"at", b"5", b"result", b""]
    ) == JobResult("a", "finished", 5, b"")
    with pytest.raises(UnexpectedReplyError):
        job_result(JOB, "a").decode([b"state", b"exploded", b"at", b"5"])


def test_object_lifecycle() -> None:
    assert object_create(JOB).decode([b"ok", 1]) is True
    assert object_create(JOB, exist_ok=True).decode([b"ok", 0]) is False
    with pytest.raises(ObjectExistsError, match="job queue 'emails' already exists; pass exist_ok"):
        object_create(JOB).decode([b"exists", b"emails"])
    assert object_configure(JOB, {"timeout": 5}).decode([b"ok"]) is None
    with pytest.raises(NoSuchObjectError, match="does not exist; create it first"):
        object_configure(JOB, {"timeout": 5}).decode([b"no_such_object", b"emails"])
    assert object_delete(JOB).decode([b"ok", 1]) is True
    assert object_delete(JOB).decode([b"ok", 0]) is False
    cmd = object_config(FeedKeys.of("f"))
    assert cmd.args == ("HGETALL", "feed.config:f")
    assert cmd.decode([b"max_length", b"3", b"created", b"1"]).max_length == 3
    with pytest.raises(BadStoredConfigError, match="max_length"):
        cmd.decode([b"max_length", b"zero"])


def test_feed() -> None:
    keys = FeedKeys.of("news")
    call = feed_publish(keys, "a", b"x")
    assert call.decode([b"ok", b"publish", 9]) == FeedPublished("a", "publish", 9, ())
    assert call.decode([b"ok", b"edit", 9, b"o1", b"o2"]) == FeedPublished(
        "a", "edit", 9, ("o1", "o2")
    )
    assert feed_retract(keys, "a").decode([b"ok", 1]) is True
    assert feed_retract(keys, "a").decode([b"ok", 0]) is False
    assert feed_items(keys).decode([b"ok", b"a", b"1", b"b", b"2"]) == (("a", b"1"), ("b", b"2"))
    with pytest.raises(UnexpectedReplyError):
        feed_items(keys).decode([b"ok", b"a"])


def test_sorted_feed() -> None:
    keys = SortedFeedKeys.of("p")
    assert sorted_feed_append(keys, b"x").decode([b"ok", b"12"]) == "12"
    with pytest.raises(DuplicateIdError, match="item 'k'"):
        sorted_feed_append(keys, b"x", id="k").decode([b"duplicate", b"k"])
    after = sorted_feed_publish_after(keys, "anchor", b"x", id="k")
    with pytest.raises(NotFoundError, match="item 'anchor' in sorted feed 'p' does not exist"):
        after.decode([b"not_found", b"anchor"])
    move = sorted_feed_move(keys, "k", "before", "z")
    with pytest.raises(NotFoundError, match="item 'z'"):
        move.decode([b"not_found", b"z"])
    with pytest.raises(NotFoundError, match="item 'k'"):
        move.decode([b"not_found", b"k"])
    with pytest.raises(InvalidIdError):
        move.decode([b"bad_anchor", b"k"])


def test_queue() -> None:
    keys = QueueKeys.of("q")
    assert queue_get(keys).decode([b"ok"]) == ()
    assert queue_get(keys).decode([b"ok", b"1", b"x"]) == (("1", b"x"),)


@pytest.mark.parametrize(
    "reply",
    [None, 5, b"ok", [], [5], [b"mystery", b"x"]],
)
def test_shapes_that_break_the_contract(reply: object) -> None:
    with pytest.raises(UnexpectedReplyError, match="does not follow"):
        job_publish(JOB, "j1", b"1").decode(reply)  # type: ignore[arg-type]


def test_errors_are_thoonk_errors() -> None:
    assert issubclass(UnexpectedReplyError, ThoonkError)
    assert issubclass(ClaimLostError, NotClaimedError)


def test_parse_event() -> None:
    event = parse_event(b"event.job.finish:emails", b"j1\0a\0b")
    assert (event.kind, event.event, event.name, event.id, event.data) == (
        "job",
        "finish",
        "emails",
        "j1",
        b"a\0b",  # split at the first NUL only
    )
    assert parse_event(b"event.job.finish:emails", b"j1").data is None
    assert parse_event(b"event.job.finish:emails", b"j1\0").data == b""
    assert parse_event("event.sorted_feed.position:a:b", b"x\0begin:").name == "a:b"
    config = parse_event(b"event.feed.config:n", b'{"max_length":3}')
    assert (config.id, config.data) == ("", b'{"max_length":3}')
    for bad in (b"job.finish:x", b"event.nope.finish:x", b"event.job.finish", b"event.job.:x"):
        with pytest.raises(UnexpectedReplyError):
            parse_event(bad, b"")


def test_one_pass_decoders() -> None:
    """publish, publish_new, claim, finish: every ``ok`` form in one pass, else refused."""
    assert job_publish(JOB, "j1", b"1", delay_ms=5).decode([b"ok", b"j1", 5, 9]) == JobPublished(
        "j1", 5, due_ms=9
    )
    with pytest.raises(WrongTypeError, match=r"'job\.claimed:emails'"):
        job_claim(JOB, "w1").decode([b"wrongtype", b"job.claimed:emails", b"zset", b"hash"])
    with pytest.raises(DuplicateIdError, match="job 'j1'"):
        job_publish_new(JOB, "j1", b"1").decode([b"duplicate", b"j1"])
    # ``ok`` replies of another shape (an integer sent as text: no script does).
    for call, reply in (
        (job_publish(JOB, "j1", b"1"), [b"ok", b"j1", b"5"]),
        (job_publish(JOB, "j1", b"1"), [b"ok", b"j1"]),
        (job_publish_new(JOB, "j1", b"1"), [b"ok", b"j1", b"5"]),
        (job_claim(JOB, "w1"), [b"ok", b"10", 0, 0]),
        (job_claim(JOB, "w1"), [b"ok", 10, 1, 0, b"a", b"{}", b"7", b"0"]),
        (job_finish(JOB, "j1"), [b"ok", b"j1", b"99"]),
    ):
        with pytest.raises(UnexpectedReplyError):
            call.decode(reply)  # type: ignore[arg-type]
