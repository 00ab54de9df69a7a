"""Writes the walkthrough notebooks from the cells below: ``python notebooks/make_notebooks.py``.

The notebooks are plain source here (easy to review and diff) and written as
unexecuted ``.ipynb`` files. CI executes them on a real kernel
(``tests/notebooks``); their cells assert what they show, so a notebook that
stops telling the truth fails.
"""

from __future__ import annotations

from pathlib import Path

import nbformat

HERE = Path(__file__).resolve().parent

Cell = tuple[str, str]  # ("md" | "code", source)


def md(text: str) -> Cell:
    return ("md", text.strip())


def code(text: str) -> Cell:
    return ("code", text.strip())


FEEDS: list[Cell] = [
    md("""
# Feeds: live data that stays

A **feed** keeps items in publish order in Redis and announces every change
(publish, edit, retract) on pub/sub. This notebook uses the blocking API
(`thoonk_actors.sync`), which runs its own trio loop in a background thread —
so it works here, inside Jupyter's running event loop, with no `nest_asyncio`.

With no URL, `connect()` uses `$THOONK_REDIS_URL`, or else starts the embedded
Redis in `./.thoonk/` (a unix socket, with persistence): nothing to install.
"""),
    code("""
from thoonk_actors import sync

t = sync.connect()
t
"""),
    md("""
A feed is a handle: cheap to make, created in Redis on first publish.
`max_length` bounds it — the oldest items are retracted as new ones arrive.
"""),
    code("""
news = t.feed("notebook-news")
news.delete()                      # start from nothing, so the notebook can run again
news.create({"max_length": 5})
first = news.publish({"title": "Thoonk on trio", "score": 3})
news.publish({"title": "Feeds in notebooks", "score": 5}, id="feeds")
news.items()
"""),
    code("""
assert [i for i, _ in news.items()] == [first, "feeds"]
assert news.get("feeds") == {"title": "Feeds in notebooks", "score": 5}
"""),
    md("""
## A live view

The last expression of a cell shows the feed's widget: newest first, a publish
box and a retract button on every item. It follows the feed's events, so
anything published from here, another notebook, a worker process or the
`thoonk` command line shows up as it happens.
"""),
    code("""
view = news.view()
view
"""),
    code("""
import time

news.publish({"title": "Published after the view opened"}, id="late")

deadline = time.monotonic() + 10
while view.ids()[:1] != ["late"] and time.monotonic() < deadline:
    time.sleep(0.05)
assert view.ids()[0] == "late", view.ids()
view.ids()
"""),
    md("""
Publishing an existing id is an **edit** (the item moves to the newest place);
`retract` removes one. The view follows both.
"""),
    code("""
news.publish({"title": "Thoonk on trio (edited)", "score": 4}, id=first)
news.retract("feeds")

deadline = time.monotonic() + 10
while view.ids() != [first, "late"] and time.monotonic() < deadline:
    time.sleep(0.05)
assert view.ids() == [first, "late"], view.ids()
assert view.state()["items"][first]["score"] == 4
"""),
    md("""
## Events as a blocking iterator

`events()` subscribes before it returns, so nothing published afterwards is
missed. `timeout` ends the loop when the feed goes quiet.
"""),
    code("""
with news.events(timeout=5) as events:
    news.publish({"title": "one more"}, id="more")
    news.retract("more")
    seen = [next(events), next(events)]
seen
"""),
    code("""
assert [(e.event, e.id) for e in seen] == [("publish", "more"), ("retract", "more")]
"""),
    md("""
`max_length` at work: five is the most this feed keeps.
"""),
    code("""
for n in range(8):
    news.publish({"title": f"story {n}"}, id=f"story-{n}")
assert news.length() == 5
news.ids()
"""),
    code("""
view.close()
t.close()
"""),
]

JOBS: list[Cell] = [
    md("""
# Jobs: tasks that are never lost

A **job queue** hands each task to one worker, which must **finish** it,
**cancel** it (it goes back to the queue and its failure count grows) or
**stall** it (it waits for a person to retry it). A claim carries a token, and
a reaper takes back the claims of workers that died — nothing is lost.

The queue is wire-compatible with the original JavaScript *Thoonk Jobs*: a
Node producer and this notebook can share it.
"""),
    code("""
from thoonk_actors import sync

t = sync.connect()
emails = t.job("notebook-emails")
emails.delete()
emails.create({"max_cancels": 2})
"""),
    code("""
job_id = emails.publish({"to": "ada@example.org", "subject": "hello"})
emails.statistics()
"""),
    md("""
A worker claims the next job with `get` (`timeout` in seconds; `None` when
nothing came). The claimed job carries its item, its claim token and its
failure count.
"""),
    code("""
job = emails.get(timeout=5)
job
"""),
    code("""
assert job.id == job_id and job.failures == 0
emails.finish(job, {"sent": True})
emails.wait_result(job_id, timeout=5)
"""),
    md("""
## The board

The job queue's widget shows the counts, the finish rate, and the stalled and
claimed jobs with their failure counts and last errors — with buttons to retry,
stall and retract.
"""),
    code("""
board = emails.view()
board
"""),
    md("""
A job that keeps failing: each cancel puts it back and counts a failure; at
`max_cancels` (2 here) it is stalled and waits for a person.
"""),
    code("""
flaky = emails.publish({"to": "nobody@invalid"})
for attempt in range(2):
    job = emails.get(timeout=5)
    emails.cancel(job, error="SMTPRecipientsRefused: nobody@invalid")
assert emails.stalled_ids() == (flaky,)
emails.last_error(flaky)
"""),
    code("""
import time

deadline = time.monotonic() + 10
while [row[0] for row in board.state()["stalled"]] != [flaky] and time.monotonic() < deadline:
    time.sleep(0.05)
assert [row[0] for row in board.state()["stalled"]] == [flaky]
board.state()["stalled"]
"""),
    md("""
Clicking **Retry** on the board queues it again (here we call what the button
calls):
"""),
    code("""
board.retry(flaky)
deadline = time.monotonic() + 10
while board.counts.get("available") != 1 and time.monotonic() < deadline:
    time.sleep(0.05)
assert board.counts["available"] == 1 and board.state()["stalled"] == []
board.counts
"""),
    md("""
## Request / reply

`publish_and_wait` subscribes before publishing, so the reply cannot be missed.
Here a worker runs in a thread of this notebook, using the same connection.
"""),
    code("""
import threading

squares = t.job("notebook-squares")
squares.delete()

def worker():
    for _ in range(3):
        job = squares.get(timeout=10)
        squares.finish(job, job.item ** 2)

threading.Thread(target=worker, daemon=True).start()
answers = [squares.publish_and_wait(n, timeout=10) for n in (2, 3, 4)]
assert answers == [4, 9, 16]
answers
"""),
    code("""
emails.retract(flaky)
board.close()
t.close()
"""),
]

NOTEBOOKS: dict[str, list[Cell]] = {
    "01-feeds.ipynb": FEEDS,
    "02-jobs.ipynb": JOBS,
}


def build(cells: list[Cell]) -> nbformat.NotebookNode:
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    notebook.cells = [
        nbformat.v4.new_markdown_cell(src) if kind == "md" else nbformat.v4.new_code_cell(src)
        for kind, src in cells
    ]
    return notebook


def main() -> None:
    for name, cells in NOTEBOOKS.items():
        nbformat.write(build(cells), HERE / name)
        print(f"wrote notebooks/{name}")


if __name__ == "__main__":
    main()
