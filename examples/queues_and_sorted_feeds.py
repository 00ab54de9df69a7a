"""Queues (each item to exactly one consumer) and sorted feeds (ordered by hand).

    python examples/queues_and_sorted_feeds.py
"""

from __future__ import annotations

import trio

import thoonk_actors


async def main() -> None:
    async with thoonk_actors.open_thoonk() as thoonk:
        tasks = thoonk.queue("example-tasks")
        await tasks.delete()
        await tasks.put("write report")
        await tasks.put("answer mail")
        await tasks.put("fix the build", priority=True)  # jumps the line

        taken = [await tasks.get(timeout=1) for _ in range(3)]
        print("taken in order:", taken)
        assert taken == ["fix the build", "write report", "answer mail"]
        assert await tasks.get(timeout=0.1) is None  # empty: None after the timeout

        agenda = thoonk.sorted_feed("example-agenda")
        await agenda.delete()
        coffee = await agenda.append("coffee")
        talk = await agenda.append("talk")
        await agenda.publish_before(talk, "questions?", id="qa")
        await agenda.move_to_end("qa")
        await agenda.prepend("welcome")
        await agenda.edit(coffee, "coffee and tea")
        print("agenda:", [item for _, item in await agenda.items()])
        assert [item for _, item in await agenda.items()] == [
            "welcome", "coffee and tea", "talk", "questions?",
        ]  # fmt: skip


if __name__ == "__main__":
    trio.run(main)
