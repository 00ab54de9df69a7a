"""What a type checker must infer for the blocking twins (read by mypy in test_twins.py, never run).

Each ``assert_type`` fails the mypy run if the twin's type drifts from its
async method's, or falls back to ``Any`` (``assert_type(x, str)`` with ``x:
Any`` is an error).
"""

from __future__ import annotations

from typing import Any, assert_type

from thoonk_actors.contract import JobStats
from thoonk_actors.objects import ClaimedJob, Discovery, Snapshot
from thoonk_actors.sync import SyncThoonk


def usage(t: SyncThoonk) -> None:
    assert_type(t.feed("news").publish({"title": "hello"}), str)
    assert_type(t.feed("news").publish("x", id="1"), str)
    assert_type(t.feed("news").snapshot(), Snapshot)
    assert_type(t.feed("news").retract("1"), bool)
    assert_type(t.feed("news").exists(), bool)
    assert_type(t.feed("news").configure(max_length=10), None)
    emails = t.job("emails")
    assert_type(emails.publish({"to": "a@example.org"}, priority=True), str)
    job = emails.get(timeout=5)
    assert_type(job, ClaimedJob | None)
    if job is not None:
        assert_type(emails.finish(job, {"sent": True}), None)
    assert_type(emails.retract("x"), None)
    assert_type(emails.statistics(), JobStats)
    assert_type(emails.wait_result("x", timeout=5), Any)
    assert_type(t.queue("tasks").put_many([1, 2]), list[str])
    assert_type(t.sorted_feed("deck").append("intro"), str)
    assert_type(t.sorted_feed("deck").move_to_end("1"), None)
    assert_type(t.names("job"), list[str])
    assert_type(t.discover(["job"], scan=False), Discovery)
    assert_type(t.register("job", "emails"), bool)


async def in_a_notebook_cell(t: SyncThoonk) -> None:
    # ``aio``: the async object's methods, awaited on the kernel's asyncio loop.
    assert_type(await t.job("emails").aio.statistics(), JobStats)
    assert_type(await t.feed("news").aio.publish({"title": "hello"}), str)
    assert_type(await t.sorted_feed("deck").aio.append("intro"), str)
    assert_type(await t.queue("tasks").aio.put_many([1, 2]), list[str])
