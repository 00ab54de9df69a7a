"""Child processes for the concurrency tests (real processes, killed or raced for real).

Synopsis::

    python tests/concurrency/_child.py reap  <url> <queue> <total> <max_sweeps>
    python tests/concurrency/_child.py pop   <url> <queue>
    python tests/concurrency/_child.py claim <url> <queue> <n> <worker_id> <beat_ms>

* ``reap``: sweeps with ``Job.reap`` until every one of ``total`` jobs has been
  given back once (has a cancel count) and nothing is claimed (or ``max_sweeps``
  ran out: exit code 3);
  prints one JSON line: ``{"sweeps": n, "reaped": [[id, outcome, reason], ...]}``.
* ``pop``: an original JS worker's first step only: ``BRPOP job.ids:<queue> 0``;
  prints the popped id and then blocks for ever, before its claim (kill it).
* ``claim``: our worker: ``claim_many(n)``, prints the claimed ids as a JSON list,
  then heartbeats every ``beat_ms`` for ever, never finishing (kill it).

Each writes its one line and flushes, so the parent can wait for it on the pipe.
"""

from __future__ import annotations

import json
import sys
import threading

import redis
import trio

from thoonk_actors.objects import open_thoonk


def say(value: object) -> None:
    sys.stdout.write(json.dumps(value) + "\n")
    sys.stdout.flush()


async def reap(url: str, queue: str, total: int, max_sweeps: int) -> int:
    reaped: list[list[str]] = []
    async with open_thoonk(url, worker_id=f"reaper-{queue}") as thoonk:
        jobs = thoonk.job(queue)
        for sweep in range(1, max_sweeps + 1):
            report = await jobs.reap()
            reaped.extend([r.id, r.outcome, r.reason] for r in report.reaped)
            stats = await jobs.statistics()
            returned = await thoonk.execute("HLEN", jobs.keys.cancelled)
            if returned == total and stats.claimed == 0:
                say({"sweeps": sweep, "reaped": reaped})
                return 0
    say({"sweeps": max_sweeps, "reaped": reaped})
    return 3


def pop(url: str, queue: str) -> int:
    client = redis.Redis.from_url(url)
    popped = client.brpop([f"job.ids:{queue}"], timeout=0)
    assert popped is not None and isinstance(popped[1], bytes), popped
    say(popped[1].decode())
    threading.Event().wait()  # "dies" here, before the claim: the parent SIGKILLs us
    return 1


async def claim(url: str, queue: str, n: int, worker_id: str, beat_ms: int) -> int:
    async with open_thoonk(url, worker_id=worker_id) as thoonk:
        jobs = thoonk.job(queue)
        claimed = await jobs.claim_many(n)
        say([job.id for job in claimed])
        while True:  # alive until killed: a worker's heartbeat loop
            await trio.sleep(beat_ms / 1000)
            await jobs.heartbeat()


def main(argv: list[str]) -> int:
    role, url, queue, *rest = argv
    if role == "reap":
        return trio.run(reap, url, queue, int(rest[0]), int(rest[1]))
    if role == "pop":
        return pop(url, queue)
    if role == "claim":
        return trio.run(claim, url, queue, int(rest[0]), rest[1], int(rest[2]))
    raise SystemExit(f"unknown role {role!r}")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
