"""A feed actor: keep a live copy of a feed, rebuilt whenever it may have missed events.

Run it as it is (embedded Redis in ./.thoonk, or $THOONK_REDIS_URL)::

    python examples/feed_actor.py

The handler gets every event of the feed, in order, from one actor task. It
first gets a ``Resync`` with the stored items, and gets another one whenever
it fell behind (its mailbox overflowed), the connection was restored, or it
crashed and was restarted: replacing the copy with ``event.items`` and then
applying the events that follow always ends with the stored state.
"""

from __future__ import annotations

from typing import Any

import trio

from thoonk_actors.objects import FeedEvent, open_thoonk
from thoonk_actors.runtime import App, Resync

app = App()
headlines: dict[str, Any] = {}
last_seen = trio.Event()


@app.feed("example-news")
async def on_news(event: FeedEvent | Resync) -> None:
    if isinstance(event, Resync):
        print(f"resync ({event.reason}): {len(event.items)} stored items")
        headlines.clear()
        headlines.update(event.items)
    elif event.event in ("publish", "edit"):
        print(f"{event.event:8} {event.id}: {event.item['title']}")
        headlines[event.id] = event.item
    elif event.event == "retract":
        print(f"retract  {event.id}")
        headlines.pop(event.id, None)
        if event.id == "story-6":
            last_seen.set()


async def main() -> None:
    async with open_thoonk() as thoonk:
        news = thoonk.feed("example-news")
        await news.delete()  # start from an empty feed
        await news.create({"max_length": 5})  # older stories are evicted (retracted)
        await news.publish({"title": "an old story"}, id="story-0")
        async with app.open(thoonk=thoonk) as running:
            for i in range(1, 8):
                await news.publish({"title": f"story number {i}"}, id=f"story-{i}")
            await news.publish({"title": "story number 7, updated"}, id="story-7")
            await news.retract("story-6")
            with trio.fail_after(10):
                await last_seen.wait()
            stats = running.statistics().actor("example-news")
        stored = dict(await news.items())
    print(f"the actor handled {stats.handled} events and {stats.resyncs} resync")
    print("its copy:", sorted(headlines))
    assert headlines == stored
    assert sorted(stored) == ["story-3", "story-4", "story-5", "story-7"]


if __name__ == "__main__":
    trio.run(main)
