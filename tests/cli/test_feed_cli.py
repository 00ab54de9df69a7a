"""``thoonk feed tail``: existing items, then live changes, a resync after a gap, Ctrl-C.

The tail runs as a real subprocess whose lines are read with deadlines; the
changes come from other ``thoonk`` processes, or (for what the command line
cannot do: retract a feed item, delete a feed) from contract scripts run with
redis-py, so every event is the one a real client sends.
"""

from __future__ import annotations

import json

import redis

from thoonk_actors import contract
from thoonk_actors.contract import FeedKeys

from ..contract._redis import raw_client, run
from ._cli import Follower, ok, one_line_error, thoonk


def publish(url: str, item_id: str, item: str) -> None:
    assert ok("publish", "feed", "news", item, "--id", item_id, url=url) == f"{item_id}\n"


def retract(url: str, item_id: str) -> None:
    client = raw_client(url)
    try:
        assert run(client, contract.feed_retract(FeedKeys.of("news"), item_id)) is True
    finally:
        client.close()


def delete(url: str) -> None:
    client = raw_client(url)
    try:
        run(client, contract.object_delete(FeedKeys.of("news")))
    finally:
        client.close()


def test_tail_prints_the_last_items_then_follows_until_ctrl_c(redis_url: str) -> None:
    for n in (1, 2, 3):
        publish(redis_url, f"a{n}", f'{{"n": {n}}}')
    with Follower(["feed", "tail", "news", "-n", "2", "--url", redis_url]) as tail:
        assert [tail.line(), tail.line()] == ['item\ta2\t{"n":2}', 'item\ta3\t{"n":3}']
        publish(redis_url, "b", "live text")
        assert tail.line() == 'publish\tb\t"live text"'
        publish(redis_url, "a2", '{"n": 22}')
        assert tail.line() == 'edit\ta2\t{"n":22}'
        retract(redis_url, "a1")  # never printed, but known: its retract shows
        assert tail.line() == "retract\ta1"
        delete(redis_url)
        assert tail.line() == "delete"
        publish(redis_url, "c", "[1, 2]")
        assert tail.line() == "publish\tc\t[1,2]"
        tail.sigint()
        assert tail.finish() == (0, [], [])


def test_tail_json_is_one_object_per_line(redis_url: str) -> None:
    publish(redis_url, "a", '{"title": "hello"}')
    with Follower(["feed", "tail", "news", "--json", "--url", redis_url]) as tail:
        assert json.loads(tail.line()) == {"event": "item", "id": "a", "item": {"title": "hello"}}
        publish(redis_url, "b", "42")
        assert json.loads(tail.line()) == {"event": "publish", "id": "b", "item": 42}
        publish(redis_url, "b", "43")
        assert json.loads(tail.line()) == {"event": "edit", "id": "b", "item": 43}
        retract(redis_url, "a")
        assert json.loads(tail.line()) == {"event": "retract", "id": "a"}
        delete(redis_url)
        assert json.loads(tail.line()) == {"event": "delete"}
        tail.sigint()
        assert tail.finish() == (0, [], [])


def test_tail_of_a_feed_that_does_not_exist_yet_waits_for_it(redis_url: str) -> None:
    with Follower(["feed", "tail", "news", "-n", "0", "--url", redis_url]) as tail:
        assert (
            tail.err_line() == "thoonk: feed 'news' does not exist yet; waiting for its first item"
        )
        publish(redis_url, "first", "hello")
        assert tail.line() == 'publish\tfirst\t"hello"'
        tail.sigint()
        assert tail.finish() == (0, [], [])


def test_tail_resyncs_after_a_gap_without_losing_or_repeating(
    redis_url: str, sync_redis: redis.Redis
) -> None:
    for item_id in ("a", "b"):
        publish(redis_url, item_id, f'"{item_id}"')
    with Follower(["feed", "tail", "news", "--url", redis_url]) as tail:
        assert [tail.line(), tail.line()] == ['item\ta\t"a"', 'item\tb\t"b"']
        # Drop the tail's pub/sub connection; what happens next may be missed.
        (pubsub,) = [
            c["id"] for c in sync_redis.client_list(_type="pubsub") if c.get("name") == "thoonk-cli"
        ]
        assert sync_redis.client_kill_filter(_id=pubsub) == 1
        publish(redis_url, "c", '"c"')
        retract(redis_url, "a")
        # Either live or from the re-read (the order differs), each exactly once.
        assert {tail.line(), tail.line()} == {'publish\tc\t"c"', "retract\ta"}
        notes: list[str] = []
        while "re-reading the feed" not in (notes[-1] if notes else ""):
            notes.append(tail.err_line())
        assert notes[-1] == "thoonk: events may have been missed (reconnected); re-reading the feed"
        publish(redis_url, "d", '"d"')
        assert tail.line() == 'publish\td\t"d"'  # and nothing in between
        tail.sigint()
        assert tail.finish() == (0, [], [])


def test_bad_arguments_exit_2() -> None:
    assert one_line_error(thoonk("feed", "tail", "news", "-n", "-1"), 2) == (
        "argument -n/--lines: '-1' is not a number of items >= 0 (see `thoonk feed tail --help`)"
    )
    assert one_line_error(thoonk("feed"), 2) == (
        "the following arguments are required: ACTION (see `thoonk feed --help`)"
    )
    assert one_line_error(thoonk("feed", "watch", "news"), 2).startswith(
        "argument ACTION: invalid choice: 'watch'"
    )
