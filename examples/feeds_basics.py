"""Feeds: publish, edit, retract, a bounded feed, and live events.

    python examples/feeds_basics.py
"""

from __future__ import annotations

import trio

import thoonk_actors
from thoonk_actors.transport import Gap


async def main() -> None:
    async with thoonk_actors.open_thoonk() as thoonk:
        news = thoonk.feed("example-news")
        await news.delete()  # start from nothing, so the example can run again
        await news.create({"max_length": 3})

        # Subscribing returns once Redis acknowledged it: nothing after this is missed.
        async with news.events(["publish", "edit", "retract"]) as events:
            first = await news.publish({"title": "Hello"})
            await news.publish({"title": "Hello, world"}, id=first)  # same id: an edit
            for n in range(3):
                await news.publish({"title": f"story {n}"}, id=f"story-{n}")
            # max_length 3: publishing the fourth item evicted the oldest one,
            # announced with a retract event before the publish event.

            seen = []
            with trio.fail_after(5):
                while len(seen) < 6:
                    event = await events.receive()
                    if isinstance(event, Gap):  # reconnect or overflow: re-read the feed
                        continue
                    decoded = news.decode_event(event)
                    seen.append((decoded.event, decoded.id))
                    print(f"{decoded.event:8} {decoded.id} {decoded.item}")

        assert seen[:2] == [("publish", first), ("edit", first)]
        assert ("retract", first) in seen
        assert await news.ids() == ["story-0", "story-1", "story-2"]
        print("now:", await news.items())
        assert await news.retract("story-0") is True
        assert await news.length() == 2


if __name__ == "__main__":
    trio.run(main)
