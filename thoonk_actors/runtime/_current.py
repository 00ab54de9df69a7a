"""The job a handler is working on, for handlers that want more than the item.

Synopsis::

    @app.job("emails")
    async def send(item):
        job = current_job()          # ClaimedJob: .id, .failures, .token, .queue
        log.info("sending %s (attempt %d)", job.id, job.failures + 1)
        await progress(0.5, {"step": "render"})      # async handlers

    @app.job("reports")
    def build(item):                 # a plain def handler runs in a thread
        progress_sync(0.5)

Works in async handlers and in plain ``def`` handlers (their thread gets a
copy of the context). Outside a handler it raises :class:`UsageError`.
"""

from __future__ import annotations

import contextvars
from typing import Any

import trio

from .._errors import UsageError
from ..objects import ClaimedJob, Job

CURRENT_JOB: contextvars.ContextVar[ClaimedJob] = contextvars.ContextVar("thoonk_current_job")
#: The queue whose handlers run in this context (set by the worker around its handler tasks).
CURRENT_QUEUE: contextvars.ContextVar[Job] = contextvars.ContextVar("thoonk_current_queue")


def current_job() -> ClaimedJob:
    """``job = current_job()``: the :class:`~thoonk_actors.objects.ClaimedJob` being handled."""
    try:
        return CURRENT_JOB.get()
    except LookupError:
        raise UsageError(
            "current_job() is only available inside a job handler run by the runtime"
        ) from None


def _handled(what: str) -> tuple[Job, ClaimedJob]:
    try:
        return CURRENT_QUEUE.get(), CURRENT_JOB.get()
    except LookupError:
        raise UsageError(
            f"{what} is only available inside a job handler run by the runtime; with a "
            "job you claimed yourself call jobs.progress(job, fraction, info)"
        ) from None


async def progress(fraction: float, info: Any = None) -> bool:
    """``await progress(0.5, {"step": "upload"})``: report how far the current job got.

    :meth:`Job.progress <thoonk_actors.objects.Job.progress>` for the job
    this handler is running (same throttle: True when the report was written,
    False when it was skipped as too soon after the last one).

    Raises:
        UsageError: outside a handler, a fraction outside [0, 1], or info that
            is not JSON (or over 4096 bytes). ClaimLostError: the claim went away.
    """
    queue, job = _handled("progress()")
    return await queue.progress(job, fraction, info)


def progress_sync(fraction: float, info: Any = None) -> bool:
    """``progress_sync(0.5)``: :func:`progress` for plain ``def`` handlers (run in threads).

    Blocks the handler's thread while the report is written by the worker's
    trio loop.
    """
    queue, job = _handled("progress_sync()")
    try:
        return trio.from_thread.run(queue.progress, job, fraction, info)
    except RuntimeError as exc:
        if "trio.from_thread" in str(exc) or "this thread" in str(exc):
            raise UsageError(
                "progress_sync() is for plain def handlers (they run in a thread); "
                "in an async handler use await progress(...)"
            ) from None
        raise
