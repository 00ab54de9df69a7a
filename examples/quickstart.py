"""The quickstart of docs/index.md: publish a job, claim it, finish it, read the result.

    python examples/quickstart.py
"""

import trio

import thoonk_actors


async def main() -> None:
    async with thoonk_actors.open_thoonk() as thoonk:  # the embedded Redis, or $THOONK_REDIS_URL
        emails = thoonk.job("emails")
        job_id = await emails.publish({"to": "ada@example.org"})
        job = await emails.get(timeout=5)
        assert job is not None
        await emails.finish(job, {"sent": True})
        print(await emails.wait_result(job_id))


trio.run(main)
