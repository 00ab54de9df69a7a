"""The least-privilege ACL line of docs/security.md is enough, and no more (issue 17.4).

The line is read from the page itself, so the page and the proof cannot
drift apart. As that user, the main flows run (jobs with results, feeds,
sorted feeds, queues, an App with a job worker and a feed actor, the CLI);
FLUSHALL, KEYS and the like are refused.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
import trio

from tests.polling import wait_until
from thoonk_actors.objects import FeedEvent, open_thoonk
from thoonk_actors.runtime import App, Resync
from thoonk_actors.transport import Message

from ..cli._cli import thoonk
from ._urls import url_with_user

DOC = Path(__file__).parents[2] / "docs" / "security.md"
USER, PASSWORD = "thoonk_least", "least-Privilege-pw"
DEADLINE = 30


def documented_acl_line() -> list[str]:
    text = DOC.read_text()
    block = text.split("<!-- acl-line -->", 1)[1].split("```", 2)[1]
    words = shlex.split(block.strip())
    assert words[:3] == ["ACL", "SETUSER", "thoonk"], words[:3]
    return words


def acl_setuser(user: str = USER, password: str = PASSWORD) -> list[str]:
    """The documented ``ACL SETUSER`` line for ``user`` with ``password``."""
    words = documented_acl_line()
    words[2] = user
    return [f">{password}" if w == ">CHANGE-ME" else w for w in words]


@pytest.fixture
def least_url(redis_url: str, sync_redis: redis.Redis) -> Iterator[str]:
    # The tests use a database other than 0.
    sync_redis.execute_command(*acl_setuser(), "+select")
    try:
        yield url_with_user(redis_url, USER, PASSWORD)
    finally:
        sync_redis.execute_command("ACL", "DELUSER", USER)


#: Commands the documented user may not run (other applications' keys and channels too).
REFUSED: tuple[tuple[str, ...], ...] = (
    ("FLUSHALL",),
    ("FLUSHDB",),
    ("KEYS", "*"),
    ("SCRIPT", "FLUSH"),
    ("CONFIG", "GET", "dir"),
    ("CLIENT", "KILL", "TYPE", "normal"),
    ("SWAPDB", "0", "1"),
    ("DEL", "other-app:data"),
    ("SET", "other-app:data", "gone"),
    ("PUBLISH", "other-app-channel", "x"),
)


def assert_refused(as_user: redis.Redis, commands: tuple[tuple[str, ...], ...]) -> None:
    for command in commands:
        with pytest.raises(redis.exceptions.NoPermissionError):
            as_user.execute_command(*command)


def run_main_flows(url: str, job_names: tuple[str, ...] = ("mail",)) -> None:
    """Jobs (each of ``job_names``) with results, feeds, sorted feeds, queues, an App
    with a job worker and a feed actor, as whoever ``url`` logs in as; bounded."""
    seen: list[Any] = []
    app = App(url)

    @app.job("work")
    async def work(item: dict[str, int]) -> int:
        return item["n"] * 2

    @app.feed("news")
    async def on_news(event: FeedEvent | Resync) -> None:
        seen.append(event)

    async def flows() -> None:
        async with open_thoonk(url) as t:
            for name in job_names:
                jobs = t.job(name)
                job_id = await jobs.publish({"to": "a"})
                claimed = await jobs.get(timeout=5)
                assert claimed is not None and claimed.id == job_id
                await jobs.finish(claimed, {"sent": True})
                assert await jobs.wait_result(job_id, timeout=5) == {"sent": True}
            jobs = t.job(job_names[0])
            other = await jobs.publish({"to": "b"})
            claimed = await jobs.get(timeout=5)
            assert claimed is not None
            await jobs.cancel(claimed)
            claimed = await jobs.get(timeout=5)
            assert claimed is not None
            await jobs.stall(claimed)
            await jobs.retry(other)
            await jobs.retract(other)
            await jobs.statistics()

            feed = t.feed("notes")
            async with t.subscribe([feed.channel("publish")]) as sub:
                await feed.publish({"a": 1}, id="x")
                message = await sub.receive()
            assert isinstance(message, Message) and message.data == b'x\0{"a":1}'
            await feed.publish({"a": 2}, id="x")
            await feed.retract("x")
            await feed.items()
            deck = t.sorted_feed("deck")
            first = await deck.append("one")
            await deck.prepend("zero")
            await deck.edit(first, "uno")
            await deck.move_to_begin(first)
            assert [item for _, item in await deck.items()] == ["uno", "zero"]
            queue = t.queue("tasks")
            await queue.put("t1")
            assert await queue.get(timeout=5) == "t1"
            assert set(await t.names("job")) >= set(job_names)

            async with app.open():
                news = t.feed("news")
                await wait_until(lambda: seen, what="the actor's first snapshot")
                await news.publish({"title": "hi"}, id="n1")
                assert await t.job("work").publish_and_wait({"n": 21}, timeout=10) == 42
                await wait_until(
                    lambda: any(isinstance(e, FeedEvent) and e.id == "n1" for e in seen),
                    what="the feed actor's event",
                )

    async def bounded() -> None:
        with trio.fail_after(DEADLINE):
            await flows()

    trio.run(bounded)


def test_main_flows_run_as_the_documented_acl_user(least_url: str, sync_redis: redis.Redis) -> None:
    sync_redis.set("other-app:data", "keep")
    run_main_flows(least_url)
    done = thoonk("stats", url=least_url)
    assert done.returncode == 0, done
    assert "mail" in done.stdout

    # What the user may not do.
    as_user = redis.Redis.from_url(least_url)
    try:
        assert_refused(as_user, REFUSED)
    finally:
        as_user.close()
    assert sync_redis.get("other-app:data") == b"keep"
