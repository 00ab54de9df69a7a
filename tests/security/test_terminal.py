"""Ids from Redis cannot forge CLI output or drive the terminal (issue 17 item 8).

An id may hold TAB, LF and ESC. Human output escapes them (one line per
record, the documented number of tab-separated fields, no ESC reaching the
terminal); ``--json`` keeps the exact id.
"""

from __future__ import annotations

import json

import redis
import trio

from thoonk_actors.cli._common import terminal_safe
from thoonk_actors.objects import open_thoonk

from ..cli._cli import Follower, thoonk

HOSTILE = "a\tforged\nretract\tvictim\x1b[2J\x9b31m\u202eend"
ESCAPED = "a\\tforged\\nretract\\tvictim\\x1b[2J\\x9b31m\\u202eend"


def test_terminal_safe_escapes_every_control() -> None:
    assert terminal_safe(HOSTILE) == ESCAPED
    assert terminal_safe("plain id é 42") == "plain id é 42"
    assert all(c.isprintable() for c in terminal_safe("".join(map(chr, range(0xA0)))))


def _store(redis_url: str) -> None:
    async def main() -> None:
        async with open_thoonk(redis_url) as t:
            await t.feed("news").publish({"title": "x\x1b]0;owned\x07"}, id=HOSTILE)
            await t.job("mail").publish({"to": "b"}, id=HOSTILE)

    trio.run(main)


def test_feed_tail_get_and_finish_escape_ids_json_stays_exact(redis_url: str) -> None:
    _store(redis_url)
    with Follower(["feed", "tail", "news", "--url", redis_url]) as tail:
        line = tail.line()
        tail.sigint()
        _, rest, _ = tail.finish()
    assert line.split("\t") == ["item", ESCAPED, '{"title":"x\\u001b]0;owned\\u0007"}']
    assert rest == []  # the LF in the id forged no second line
    with Follower(["feed", "tail", "news", "--json", "--url", redis_url]) as tail:
        record = json.loads(tail.line())
        tail.sigint()
        tail.finish()
    assert record["id"] == HOSTILE

    got = thoonk("get", "mail", "--timeout", "5", url=redis_url)
    assert got.returncode == 0, got
    out_lines = got.stdout.splitlines()
    assert len(out_lines) == 1
    job_id, token, item = out_lines[0].split("\t")
    assert (job_id, json.loads(item)) == (ESCAPED, {"to": "b"})
    assert "\x1b" not in got.stdout + got.stderr

    done = thoonk("finish", "mail", HOSTILE, "--token", token, url=redis_url)
    assert done.returncode == 0, done
    assert len(done.stdout.splitlines()) == 1
    assert "\x1b" not in done.stdout + done.stderr and "\x9b" not in done.stdout


def test_stats_escapes_a_name_planted_in_the_registry(
    redis_url: str, sync_redis: redis.Redis
) -> None:
    sync_redis.sadd("feeds", "evil\x1b[2J\nforged line")
    done = thoonk("stats", url=redis_url)
    output = done.stdout + done.stderr
    assert "\x1b" not in output
    assert "forged line" not in output.splitlines()
    assert "\\x1b[2J" in output
