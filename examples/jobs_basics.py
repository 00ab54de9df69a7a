"""Jobs, step by step: publish, claim, finish, read the result; a failure; a stall.

Run it as it is (it uses the embedded Redis in ./.thoonk, or $THOONK_REDIS_URL):

    python examples/jobs_basics.py
"""

from __future__ import annotations

import trio

import thoonk_actors


async def main() -> None:
    async with thoonk_actors.open_thoonk() as thoonk:
        emails = thoonk.job("example-emails")
        await emails.create({"max_cancels": 2}, exist_ok=True)

        # A producer publishes a job; any worker (Python or the original
        # JavaScript Thoonk Jobs) may claim it.
        job_id = await emails.publish({"to": "ada@example.org", "subject": "hello"})

        # A worker claims it. The claim carries a token: if a reaper took the
        # job back meanwhile, finishing with a stale token is refused.
        job = await emails.get(timeout=5)
        assert job is not None and job.id == job_id
        print("claimed", job.id, job.item)
        await emails.finish(job, {"sent": True})

        # The result stays readable for the queue's result_ttl (10 minutes by
        # default), so waiting after the fact still works.
        result = await emails.wait_result(job_id, timeout=5)
        print("result", result)
        assert result == {"sent": True}

        # A job that fails is cancelled: failure count + 1, back to the queue after
        # its retry backoff (1 s, then 2 s, 4 s ...); at max_cancels it is stalled
        # until a person retries it.
        flaky = await emails.publish({"to": "nobody@invalid"})
        for _ in range(2):
            job = await emails.get(timeout=5)
            assert job is not None and job.id == flaky
            outcome = await emails.cancel(job, error="SMTPRecipientsRefused: nobody@invalid")
            print("cancelled", outcome.outcome, "failures:", outcome.count)
        assert await emails.stalled_ids() == (flaky,)
        print("stalled because:", await emails.last_error(flaky))
        await emails.retract(flaky)  # or: await emails.retry(flaky)

        stats = await emails.statistics()
        print(f"available={stats.available} claimed={stats.claimed} stalled={stats.stalled}")


if __name__ == "__main__":
    trio.run(main)
