"""``thoonk publish``: every type, where the item comes from, how it is parsed, refusals.

Policy (every file in tests/cli): real subprocesses (``python -m thoonk_actors``)
against the test database (``--url`` with the ``redis_url`` fixture); the
stored state is checked with redis-py (``sync_redis``); exit codes and outputs
are asserted exactly; nothing waits with a sleep.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import redis

from ._cli import DEADLINE, environment, ok, one_line_error, thoonk

UNREACHABLE = "unix:///tmp/thoonk-nonexistent.sock"


def test_each_type_prints_the_id_and_registers_the_object(
    redis_url: str, sync_redis: redis.Redis
) -> None:
    job_id = ok("publish", "job", "emails", '{"to": "a@example.org"}', url=redis_url).strip()
    assert uuid.UUID(job_id).version == 4
    assert sync_redis.hget("job.items:emails", job_id) == b'{"to":"a@example.org"}'
    assert sync_redis.lrange("job.ids:emails", 0, -1) == [job_id.encode()]

    assert ok("publish", "feed", "news", "hello world", "--id", "greeting", url=redis_url) == (
        "greeting\n"
    )
    assert sync_redis.hget("feed.items:news", "greeting") == b'"hello world"'

    assert ok("publish", "sorted-feed", "deck", "intro", url=redis_url) == "1\n"
    assert ok("publish", "sorted_feed", "deck", "outro", url=redis_url) == "2\n"
    assert sync_redis.lrange("sorted_feed.ids:deck", 0, -1) == [b"1", b"2"]

    out = ok("publish", "queue", "tasks", "[1, 2]", "--json", url=redis_url)
    published = json.loads(out)
    assert out.count("\n") == 1
    assert published == {"type": "queue", "name": "tasks", "id": published["id"]}
    assert sync_redis.hget("queue.items:tasks", published["id"]) == b"[1,2]"

    registries = {r: sync_redis.smembers(r) for r in ("jobs", "feeds", "sorted_feeds", "queues")}
    assert registries == {
        "jobs": {b"emails"},
        "feeds": {b"news"},
        "sorted_feeds": {b"deck"},
        "queues": {b"tasks"},
    }


@pytest.mark.parametrize(
    ("argv", "stored"),
    [
        (["42"], b"42"),
        (["42", "--raw"], b'"42"'),
        (['{"a": [1, true, null]}'], b'{"a":[1,true,null]}'),
        (['{"a": [1, true, null]}', "--raw"], b'"{\\"a\\": [1, true, null]}"'),
        (['"quoted"'], b'"quoted"'),
        (["null"], b"null"),
        (["{not json", "--raw"], b'"{not json"'),  # without --raw: refused (test_edges_cli)
        (["NaN"], b'"NaN"'),  # not JSON for other languages: a string
        (["héllo wörld"], '"héllo wörld"'.encode()),
        ([""], b'""'),
    ],
)
def test_an_item_is_json_when_it_is_valid_json_else_a_string(
    redis_url: str, sync_redis: redis.Redis, argv: list[str], stored: bytes
) -> None:
    assert ok("publish", "feed", "news", *argv, "--id", "x", url=redis_url) == "x\n"
    assert sync_redis.hget("feed.items:news", "x") == stored


@pytest.mark.parametrize(
    ("args", "stdin", "stored"),
    [
        ([], '{"a": 1}\n', b'{"a":1}'),  # no ITEM, stdin is a pipe
        (["-"], "hello\n", b'"hello"'),  # one trailing newline is dropped
        (["-"], "two\nlines\n\n", b'"two\\nlines\\n"'),  # only one
        (["-", "--raw"], "7\r\n", b'"7"'),
    ],
)
def test_the_item_from_stdin(
    redis_url: str, sync_redis: redis.Redis, args: list[str], stdin: str, stored: bytes
) -> None:
    done = thoonk("publish", "queue", "tasks", *args, "--id", "t", url=redis_url, input=stdin)
    assert (done.returncode, done.stdout, done.stderr) == (0, "t\n", "")
    assert sync_redis.hget("queue.items:tasks", "t") == stored


def test_the_item_from_a_file(redis_url: str, sync_redis: redis.Redis, tmp_path: Path) -> None:
    path = tmp_path / "item.json"
    path.write_text('{"title": "from a file"}\n', encoding="utf-8")
    assert ok("publish", "feed", "news", "--file", str(path), "--id", "f", url=redis_url) == "f\n"
    assert sync_redis.hget("feed.items:news", "f") == b'{"title":"from a file"}'

    text = tmp_path / "note.txt"
    text.write_text("plain text\n", encoding="utf-8")
    assert ok("publish", "feed", "news", "--file", str(text), "--id", "g", url=redis_url) == "g\n"
    assert sync_redis.hget("feed.items:news", "g") == b'"plain text"'


def test_priority_puts_jobs_and_queue_items_at_the_head(
    redis_url: str, sync_redis: redis.Redis
) -> None:
    for name in ("first", "second"):
        ok("publish", "job", "emails", name, "--id", name, url=redis_url)
        ok("publish", "queue", "tasks", name, "--id", name, url=redis_url)
    ok("publish", "job", "emails", "urgent", "--id", "urgent", "--priority", url=redis_url)
    ok("publish", "queue", "tasks", "urgent", "--id", "urgent", "--priority", url=redis_url)
    # Consumers pop from the right: urgent, then the oldest.
    assert sync_redis.lrange("job.ids:emails", 0, -1) == [b"second", b"first", b"urgent"]
    assert sync_redis.lrange("queue.ids:tasks", 0, -1) == [b"second", b"first", b"urgent"]
    assert ok("get", "emails", "--timeout", "0", url=redis_url).split("\t")[0] == "urgent"


def test_a_duplicate_id_is_refused_with_exit_1(redis_url: str, sync_redis: redis.Redis) -> None:
    ok("publish", "job", "emails", "one", "--id", "j", url=redis_url)
    message = one_line_error(
        thoonk("publish", "job", "emails", "two", "--id", "j", url=redis_url), 1
    )
    assert message == (
        "job 'j' in job queue 'emails' already exists; publish under another id, "
        "or retract the old one first"
    )
    assert sync_redis.hget("job.items:emails", "j") == b'"one"'


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (
            ["feed", "news", "x", "--priority"],
            None,
            "--priority applies to jobs and queues; a feed keeps its own order",
        ),
        (
            ["sorted-feed", "deck", "x", "--priority"],
            None,
            "--priority applies to jobs and queues; a sorted-feed keeps its own order",
        ),
        (
            ["blog", "news", "x"],
            None,
            "argument TYPE: 'blog' is not an object type; use one of job, feed, sorted-feed, "
            "queue (see `thoonk publish --help`)",
        ),
        (
            ["feed", "bad{name}", "x"],
            None,
            "feed name 'bad{name}' holds '{'; braces are reserved for Redis Cluster hash "
            "tags, so leave them out of the name",
        ),
        (
            ["job", "emails", "x", "--id", ""],
            None,
            "an id must not be empty; leave it out to get a generated one",
        ),
        (
            ["feed", "news"],
            "",
            "stdin was empty; pipe the item in, or give an empty one as an argument ('')",
        ),
        (
            ["feed", "news", "x", "--file", "/nonexistent/item.json"],
            None,
            "give the item either as an argument or with --file, not both",
        ),
        (
            ["feed", "news", "--file", "/nonexistent/item.json"],
            None,
            "cannot read --file '/nonexistent/item.json': No such file or directory",
        ),
        (
            ["feed"],
            None,
            "the following arguments are required: NAME (see `thoonk publish --help`)",
        ),
    ],
)
def test_usage_errors_exit_2_before_any_connection(
    args: list[str], stdin: str | None, message: str
) -> None:
    # An unreachable server proves nothing was sent: that would be exit 3.
    done = thoonk("publish", *args, url=UNREACHABLE, input=stdin)
    assert one_line_error(done, 2) == message


def test_no_item_on_a_terminal_is_a_usage_error(redis_url: str) -> None:
    pty = pytest.importorskip("pty")
    leader, follower = pty.openpty()
    try:
        done = subprocess.run(
            [sys.executable, "-m", "thoonk_actors", "publish", "feed", "news", "--url", redis_url],
            stdin=follower,
            capture_output=True,
            text=True,
            timeout=DEADLINE,
            env=environment(),
        )
    finally:
        os.close(follower)
        os.close(leader)
    assert one_line_error(done, 2) == (
        "no item: give it as an argument, with --file PATH, or pipe it on stdin"
    )
