"""Request/reply over a job queue: publish_and_wait with a worker in the same program.

    python examples/jobs_request_reply.py
"""

from __future__ import annotations

import trio

import thoonk_actors


async def worker(thoonk: thoonk_actors.Thoonk, task_status: trio.TaskStatus[None]) -> None:
    squares = thoonk.job("example-squares")
    task_status.started()
    while True:
        job = await squares.get()
        assert job is not None
        await squares.finish(job, job.item * job.item)


async def main() -> None:
    async with thoonk_actors.open_thoonk() as thoonk, trio.open_nursery() as nursery:
        await nursery.start(worker, thoonk)
        squares = thoonk.job("example-squares")
        # Subscribed before publishing: the reply cannot be missed, even when
        # the worker is quicker than the publish reply.
        answers = [await squares.publish_and_wait(n, timeout=5) for n in range(1, 6)]
        print("squares:", answers)
        assert answers == [1, 4, 9, 16, 25]
        nursery.cancel_scope.cancel()


if __name__ == "__main__":
    trio.run(main)
