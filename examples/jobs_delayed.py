"""Delayed jobs: publish now, claimable later — by the Redis server's clock.

Run it as it is (it uses the embedded Redis in ./.thoonk, or $THOONK_REDIS_URL):

    python examples/jobs_delayed.py
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import trio

import thoonk_actors


async def main() -> None:
    async with thoonk_actors.open_thoonk() as thoonk:
        reminders = thoonk.job("example-reminders")
        await reminders.delete()  # start from an empty queue

        # In 0.3 s (or at an aware datetime: a naive one is refused, since the
        # due time is compared with the server's clock).
        soon = await reminders.publish({"say": "tea is ready"}, delay=0.3)
        later = await reminders.publish(
            {"say": "meeting"}, at=datetime.now(UTC) + timedelta(hours=1)
        )

        # Until they are due they wait in job.scheduled: not claimable, but
        # they can be inspected, counted and retracted.
        waiting = dict(await reminders.scheduled())
        print("scheduled:", sorted(waiting) == sorted([soon, later]))
        assert (await reminders.statistics()).scheduled == 2
        assert await reminders.get(timeout=0) is None  # nothing is claimable yet
        await reminders.retract(later)

        # A worker waiting for work wakes up when the job falls due, not before.
        job = await reminders.get(timeout=5)
        assert job is not None and job.id == soon
        claimed_ms = dict(await reminders.claimed())[soon]
        assert claimed_ms >= waiting[soon]  # never early, by the server's clock
        print("claimed", job.item, "at or after its due time")
        await reminders.finish(job)


if __name__ == "__main__":
    trio.run(main)
