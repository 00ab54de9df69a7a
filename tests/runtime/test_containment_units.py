"""Small pieces of the worker's containment: how causes read, revoking once, writing inline."""

from __future__ import annotations

import pytest
import trio

from thoonk_actors.objects import ClaimedJob, open_thoonk
from thoonk_actors.runtime._handlers import Handlers
from thoonk_actors.runtime._registry import JobRegistration
from thoonk_actors.runtime._stats import QueueCounters
from thoonk_actors.runtime._worker import _cause, _claim_order
from thoonk_actors.runtime._writer import Outcome, OutcomeWriter

REAPED = "reaped: claim older than the timeout of 300000 ms"


@pytest.mark.parametrize(
    ("status", "error", "event", "cause"),
    [
        ("retracted", None, "touch", "retracted"),
        ("gone", None, "retract", "retracted"),
        ("finished", None, "touch", "finished by someone else"),
        ("gone", None, None, "finished or retracted"),
        ("stalled", None, "stall", "stalled by someone else"),
        ("stalled", REAPED, "stall", f"stalled by a reaper ({REAPED})"),
        ("queued", None, "cancel", "cancelled by someone else"),
        ("claimed", None, "cancel", "cancelled by someone else and claimed again"),
        ("queued", REAPED, "cancel", f"reaped ({REAPED})"),
        ("claimed", REAPED, None, f"reaped ({REAPED}) and claimed again"),
    ],
)
def test_causes_name_what_happened(status: str, error: str | None, event: str | None,
                                   cause: str) -> None:  # fmt: skip
    assert _cause(status, error, event) == cause


def test_release_order_is_the_claim_order() -> None:
    jobs = [ClaimedJob(n, None, t, 0, "q", ms) for n, t, ms in
            [("c", "12", 7), ("a", "9", 5), ("b", "10", 5)]]  # fmt: skip
    assert [j.id for j in sorted(jobs, key=_claim_order)] == ["a", "b", "c"]


async def test_a_buffered_job_is_revoked_once() -> None:
    async def handler(item: object) -> None:
        pass

    registration = JobRegistration.make(
        handler, "q", concurrency=1, timeout=None, max_cancels=None, prefetch=None
    )
    jobs_send, jobs_receive = trio.open_memory_channel[ClaimedJob](10)
    out_send, _ = trio.open_memory_channel[Outcome](10)
    handlers = Handlers(
        registration, jobs_receive, out_send, QueueCounters(),
        done=lambda: None, dropped=lambda job, cause: None,
    )  # fmt: skip
    job = ClaimedJob("a", None, "1", 0, "q")
    handlers.waiting[job.token] = job
    jobs_send.send_nowait(job)
    assert handlers.unsettled("1")
    assert handlers.revoke("1", "retracted") is True
    assert handlers.revoke("1", "retracted") is False
    assert handlers.revoke("2", "retracted") is False  # not held here


async def test_a_handler_writes_its_outcome_only_while_the_writers_are_idle(
    redis_url: str,
) -> None:
    async with open_thoonk(redis_url) as thoonk:
        job = thoonk.job("write-now")
        await job.create()
        first, second = await job.publish("a"), await job.publish("b")
        claimed = {c.id: c for c in await job.claim_many(2)}
        outstanding = {c.token: c for c in claimed.values()}
        send, receive = trio.open_memory_channel[Outcome](4)
        writer = OutcomeWriter(job, receive, outstanding, QueueCounters(), max_cancels=None)
        send.send_nowait((claimed[first], "A", None))  # queued: the writers' business
        assert not await writer.write_now((claimed[second], "B", None))
        assert claimed[second].token in outstanding  # nothing written
        receive.receive_nowait()
        assert await writer.write_now((claimed[second], "B", None))
        assert claimed[second].token not in outstanding
        assert await job.wait_result(second, timeout=5) == "B"
        assert writer.unwritten() == []
