"""The job a handler is working on, for handlers that want more than the item.

Synopsis::

    @app.job("emails")
    async def send(item):
        job = current_job()          # ClaimedJob: .id, .failures, .token, .queue
        log.info("sending %s (attempt %d)", job.id, job.failures + 1)

Works in async handlers and in plain ``def`` handlers (their thread gets a
copy of the context). Outside a handler it raises :class:`UsageError`.
"""

from __future__ import annotations

import contextvars

from .._errors import UsageError
from ..objects import ClaimedJob

CURRENT_JOB: contextvars.ContextVar[ClaimedJob] = contextvars.ContextVar("thoonk_current_job")


def current_job() -> ClaimedJob:
    """``job = current_job()``: the :class:`~thoonk_actors.objects.ClaimedJob` being handled."""
    try:
        return CURRENT_JOB.get()
    except LookupError:
        raise UsageError(
            "current_job() is only available inside a job handler run by the runtime"
        ) from None
