"""Progress: a handler tells how far it got; whoever waits for the result can follow it.

Run it as it is (it uses the embedded Redis in ./.thoonk, or $THOONK_REDIS_URL):

    python examples/job_progress.py

``thoonk top`` and the notebook JobBoard show the same progress for every running job.
"""

from __future__ import annotations

from typing import Any

import trio

import thoonk_actors
from thoonk_actors.contract import JobProgress
from thoonk_actors.objects import open_thoonk
from thoonk_actors.runtime import App

app = App()


@app.job("example-reports")
async def build_report(item: dict[str, Any]) -> str:
    pages = item["pages"]
    for page in range(1, pages + 1):
        await trio.sleep(0.25)  # stands for real work
        # Stored as the job's last progress and published as a `progress` event.
        # Calls in a tight loop are throttled (one write per 0.2 s per job).
        await thoonk_actors.progress(page / pages, {"page": page})
    return f"report of {pages} pages"


@app.job("example-exports")
def export(item: dict[str, Any]) -> str:
    """A plain function runs in a thread: it reports with progress_sync()."""
    thoonk_actors.progress_sync(0.5, {"rows": item["rows"] // 2})
    return "exported"


async def main() -> None:
    seen: list[JobProgress] = []
    with trio.fail_after(30):
        async with open_thoonk() as thoonk, app.open():
            reports = thoonk.job("example-reports")
            job_id = await reports.publish({"pages": 4})
            result = await reports.wait_result(job_id, on_progress=seen.append)
            exported = await thoonk.job("example-exports").publish_and_wait({"rows": 10})
    for p in seen:
        print(f"{p.fraction:>4.0%} {p.info}")
    print(result, "/", exported)
    assert result == "report of 4 pages" and exported == "exported"
    assert seen and seen[-1].fraction == 1.0  # the last report (1.0 is always written)


if __name__ == "__main__":
    trio.run(main)
