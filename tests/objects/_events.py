"""Receiving one object event in a test, with a deadline."""

from __future__ import annotations

import trio

from thoonk_actors.objects import Events, ObjectEvent


async def next_event(events: Events) -> ObjectEvent:
    """The next event (not a gap) within 10 s, or the test fails."""
    with trio.fail_after(10):
        event = await events.receive()
    assert isinstance(event, ObjectEvent), event
    return event
