"""Hostile data from another client of the same Redis (issue 17 item 7).

Each test performs the attack: it stores or publishes what a hostile client
would (through RawCodec, i.e. bytes we did not encode) and shows the typed
refusal, or that the worker keeps working and keeps its memory bounded.
"""

from __future__ import annotations

import logging
from typing import Any

import pytest
import trio

from tests.cli._cli import thoonk
from tests.polling import wait_until
from thoonk_actors import PayloadError, PayloadTooLargeError
from thoonk_actors.contract import DEFAULT_MAX_SIZE, JsonCodec, RawCodec
from thoonk_actors.objects import FeedEvent, open_thoonk
from thoonk_actors.runtime import App, Resync
from thoonk_actors.runtime._mailbox import Mailbox, Missed
from thoonk_actors.transport import DEFAULT_BUFFER_BYTES, Gap, Message

DEADLINE = 30
NESTED = b"[" * 200_000 + b"]" * 200_000  # deeper than any Python stack
BIG = RawCodec(max_size=1 << 30)  # what a hostile client can store


async def test_deeply_nested_json_is_a_payload_error(redis_url: str) -> None:
    with trio.fail_after(DEADLINE):
        async with open_thoonk(redis_url) as thoonk:
            await thoonk.feed("deep", codec=RawCodec()).publish(NESTED, id="x")
            with pytest.raises(PayloadError, match="nested too deeply"):
                await thoonk.feed("deep").get("x")
            with pytest.raises(PayloadError, match="nested too deeply"):
                JsonCodec().decode_result(NESTED)


async def test_an_item_over_max_size_is_refused_on_decode(redis_url: str) -> None:
    over = b'"' + b"a" * DEFAULT_MAX_SIZE + b'"'
    with trio.fail_after(DEADLINE):
        async with open_thoonk(redis_url) as thoonk:
            await thoonk.feed("huge", codec=BIG).publish(over, id="x")
            with pytest.raises(PayloadTooLargeError, match="was not decoded"):
                await thoonk.feed("huge").get("x")
            with pytest.raises(PayloadTooLargeError):
                await thoonk.feed("huge", codec=RawCodec()).get("x")
            # A reader that trusts the writer can still read it.
            assert len(await thoonk.feed("huge", codec=BIG).get("x")) == len(over)


def test_thoonk_get_refuses_a_huge_job_item_and_keeps_the_job(redis_url: str) -> None:
    async def store() -> str:
        async with open_thoonk(redis_url) as thoonk:
            return await thoonk.job("mail", codec=BIG).publish(b"x" * (DEFAULT_MAX_SIZE + 1))

    job_id = trio.run(store)
    done = thoonk("get", "mail", "--timeout", "5", url=redis_url)
    assert done.returncode != 0, done
    assert "over the codec's limit" in done.stderr, done.stderr
    assert done.stdout == ""

    async def still_stored() -> tuple[Any, ...]:
        async with open_thoonk(redis_url) as thoonk:
            job = thoonk.job("mail", codec=BIG)
            return (len(await job.item(job_id)), await job.stalled_ids())

    length, stalled = trio.run(still_stored)
    assert length == DEFAULT_MAX_SIZE + 1  # nothing lost: stalled with the error, not dropped
    assert job_id in stalled


async def test_a_poison_feed_item_is_skipped_and_later_publishes_are_handled(
    redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    app = App(redis_url)
    seen: list[Any] = []

    @app.feed("news")
    async def on_news(event: FeedEvent | Resync) -> None:
        seen.append(dict(event.items) if isinstance(event, Resync) else (event.id, event.item))

    with trio.fail_after(DEADLINE):
        async with open_thoonk(redis_url) as thoonk:
            await thoonk.feed("news", codec=RawCodec()).publish(NESTED, id="poison")
            await thoonk.feed("news").publish({"ok": 1}, id="good")
            async with app.open() as running:
                await wait_until(lambda: seen, what="the snapshot")
                await thoonk.feed("news").publish({"ok": 2}, id="later")
                await wait_until(lambda: ("later", {"ok": 2}) in seen, what="the later publish")
                stats = running.statistics().actor("news")
    assert seen[0] == {"good": {"ok": 1}}
    assert stats.restarts == 0
    assert "skipped stored item 'poison'" in caplog.text


async def test_big_events_overflow_the_subscription_by_bytes_not_count(redis_url: str) -> None:
    size = 5 * 1024 * 1024
    count = DEFAULT_BUFFER_BYTES // size + 4  # far below the count capacity (1024)
    payload = b"x" * size
    with trio.fail_after(DEADLINE):
        async with open_thoonk(redis_url) as thoonk:
            async with thoonk.subscribe(["big"]) as sub:
                # One at a time, each taken in before the next: 5 MB messages
                # sent back to back can pass the server's own pub/sub output
                # limit (32 MB by default) when this process is slow to read,
                # and the server then closes the connection.
                for sent in range(1, count + 1):
                    await thoonk.execute("PUBLISH", "big", payload)

                    def arrived(sent: int = sent) -> bool:
                        stats = sub.statistics()
                        return stats.buffered + stats.dropped == sent

                    await wait_until(arrived, what=f"event {sent} of {count} to arrive")
                stats = sub.statistics()
                assert stats.dropped > 0
                assert stats.buffered_bytes <= DEFAULT_BUFFER_BYTES
                kinds = [type(await sub.receive()) for _ in range(stats.buffered + 1)]
    assert kinds == [Message] * stats.buffered + [Gap]


async def test_an_actor_mailbox_overflows_by_bytes() -> None:
    box = Mailbox(1000)
    big = Message(b"news", b"x" * (5 * 1024 * 1024))
    for _ in range(400):
        box.offer(big)
    assert box.buffered_bytes <= DEFAULT_BUFFER_BYTES
    assert box.dropped == 400 - box.buffered
    received = [await box.receive() for _ in range(box.buffered + 1)]
    assert received[-1] == Missed("overflow")
    assert box.buffered_bytes == 0
