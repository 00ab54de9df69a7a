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
    md("""
## Thousands of items

The view pages: 25 rows of a fixed height, newest first, the total in the
header, **Newer** / **Older** to move. Its rows are made once and reused, and
it redraws at most five times a second however fast items arrive — so a
feed of thousands costs the browser the same as a feed of five.
"""),
    code("""
big = t.feed("notebook-big")
big.delete()
for n in range(2000):
    big.publish({"reading": n}, id=f"r{n}")
big_view = big.view()
big_view
"""),
    code("""
deadline = time.monotonic() + 10
while big_view.total != 2000 and time.monotonic() < deadline:
    time.sleep(0.05)
assert big_view.total == 2000 and big_view.ids()[:2] == ["r1999", "r1998"]
big_view.show_page(1)                  # what the "Older" button does
assert big_view.ids()[0] == "r1974"
big_view.show_page(0)
big_view.page_label.value
"""),
    md("""
## `await` in a cell

A cell may `await` the async API directly (Jupyter runs it on its asyncio
loop; the call runs in the connection's trio loop):
"""),
    code("""
length = await news.aio.length()
assert length == 5
length
"""),
    md("""
## Clean-up (not run by *Run All*)

The views above stay live as long as the connection is open. To close them
and the connection, uncomment and run the cell below; closing the kernel
does the same.
"""),
    code("""
# view.close(); big_view.close()
# t.close()
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
for _ in range(2):
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
    md("""
For a busy queue the board has a job id **search** (state, item, failures,
last error), a **filter** over the stalled and claimed lists, pages of stalled
jobs, and **Retry all** / **Retract all** for the stalled jobs that match.
"""),
    code("""
details = board.show_job(flaky)      # what the "Show job" button does
assert details["state"] == "queued" and details["item"] == {"to": "nobody@invalid"}
details
"""),
    code("""
emails.retract(flaky)
"""),
    md("""
## Later, every so often, and how far along

A job can wait before it becomes claimable: `publish(item, delay=seconds)` (or
`at=` an aware datetime). It waits in the queue's *scheduled* set until it is
due **by the Redis server's clock**, then a claim takes it as usual.
"""),
    code("""
later = emails.publish({"to": "grace@example.org", "subject": "reminder"}, delay=1.0)
assert emails.statistics().scheduled == 1
assert emails.get(timeout=0) is None          # not claimable before it is due
job = emails.get(timeout=10)                  # claimed once the server says it is due
assert job.id == later
emails.finish(job)
emails.statistics()
"""),
    md("""
A **recurring job** is a handler of an `App` with `@app.every(seconds)` or
`@app.cron("*/5 * * * *", tz=...)`: every worker process runs the ticker, and
each tick runs **once** whatever the number of processes. An `App` runs on
trio; here it runs in a thread of this notebook until three ticks ran.
"""),
    code("""
import threading

import trio

from thoonk_actors import App

ticks = []
app = App(t.url)

@app.every(0.3, name="notebook-heartbeat")
async def heartbeat(tick):
    ticks.append(tick["tick"])

async def until_three_ticks():
    with trio.fail_after(30):
        async with app.open():
            while len(ticks) < 3:
                await trio.sleep(0.05)

t.job("notebook-heartbeat").delete()
runner = threading.Thread(target=trio.run, args=(until_three_ticks,))
runner.start()
runner.join()
assert len(ticks) == len(set(ticks)) >= 3    # each tick once
ticks
"""),
    md("""
A long job can report its **progress**: inside a handler
`await thoonk_actors.progress(fraction, info)` (`progress_sync` in a thread
handler); with a claimed job in hand, `jobs.progress(job, fraction, info)`.
The last value is stored until the claim ends, published as a `progress`
event, shown as a bar on the board and in `thoonk top`, and `wait_result(...,
on_progress=...)` follows it.
"""),
    code("""
reports = t.job("notebook-reports")
reports.delete()
report_id = reports.publish({"pages": 4})
report = reports.get(timeout=5)
reports.progress(report, 0.5, {"page": 2})
reports_board = reports.view()
settle_deadline = time.monotonic() + 10
while report_id not in reports_board.state()["progress"] and time.monotonic() < settle_deadline:
    time.sleep(0.05)
assert report_id in reports_board.state()["progress"]
reports_board
"""),
    code("""
reports.progress_of(report_id)
"""),
    code("""
reports.finish(report, "report of 4 pages")
assert reports.progress_of(report_id) is None   # the progress goes with the claim
reports.wait_result(report_id, timeout=5)
"""),
    md("""
## Clean-up (not run by *Run All*)

The views above stay live as long as the connection is open. To close them
and the connection, uncomment and run the cell below; closing the kernel
does the same.
"""),
    code("""
# board.close(); reports_board.close()
# t.close()
"""),
]

WORKERS: list[Cell] = [
    md("""
# Workers in the notebook: a function, a queue, a live panel

`t.process(queue, fn)` runs a **job worker for a function defined right
here**, in the background of the connection — the same runtime as
`thoonk worker` (claiming in batches, graceful stop, failures counted), in
this kernel. A plain `def` runs in threads, an `async def` as trio tasks;
the notebook stays free to publish, inspect and plot while it works.
"""),
    code("""
import time

from thoonk_actors import sync

t = sync.connect()
thumbs = t.job("notebook-thumbnails")
thumbs.delete()                    # start from an empty queue, so the notebook can run again


def settle(check, deadline=30):
    \"\"\"Wait until check() is true: the widgets update from a background thread.\"\"\"
    end = time.monotonic() + deadline
    while not check() and time.monotonic() < end:
        time.sleep(0.05)
    assert check()
"""),
    md("""
## A function becomes a worker

It is an ordinary function: it gets a job's item and returns its result.
Try it by hand first.
"""),
    code("""
import hashlib


def thumbnail(item):
    digest = hashlib.sha256(item["image"].encode()).hexdigest()[:8]
    return {"thumbnail": f"{item['image']}.{digest}.small.png"}


thumbnail({"image": "photo-0"})
"""),
    md("""
`process` starts the worker and returns its handle: `concurrency` handlers
at once (threads, for a plain `def`), and the options of `@app.job`
(`timeout`, `max_cancels`, `prefetch`). Running this cell again replaces the
worker with the function as it is now.
"""),
    code("""
worker = t.process("notebook-thumbnails", thumbnail, concurrency=4)
assert worker.running
worker
"""),
    md("""
The handle as a cell's last expression shows its **WorkerPanel**. Now give
it work: a thousand jobs in one round trip.
"""),
    code("""
ids = thumbs.publish_many({"image": f"photo-{n}"} for n in range(1000))
len(ids)
"""),
    code("""
panel = worker.view()
panel
"""),
    md("""
`wait()` blocks until the queue is drained (nothing queued, nothing claimed,
nothing in flight) and returns the worker's statistics. The progress bar is
the queue's finished jobs out of those ever published to it.
"""),
    code("""
stats = worker.wait(timeout=60)
stats
"""),
    code("""
assert stats.finished == 1000 and stats.failed == 0
settle(lambda: panel.progress.max == 1000 and panel.progress.value == 1000)
assert panel.progress.bar_style == "success"
assert thumbs.wait_result(ids[0], timeout=5) == thumbnail({"image": "photo-0"})
panel.state()["progress"]
"""),
    md("""
## When the function fails

An exception **cancels** the job: it goes back to the queue with its
failure count + 1 and the error kept. At `max_cancels` failures it is
**stalled** — put aside until a person looks. This worker is an `async def`;
its failures show in its panel (with the job id) and in the queue's JobBoard.

The runtime also logs every failure as a warning; the panels show them, so
we turn that log down here.
"""),
    code("""
import logging

logging.getLogger("thoonk_actors").setLevel(logging.ERROR)

emails = t.job("notebook-flaky-emails")
emails.delete()


async def send(item):
    if item["to"].endswith("@invalid"):
        raise ValueError(f"no such domain: {item['to']}")
    return {"sent": item["to"]}


mailer = t.process("notebook-flaky-emails", send, concurrency=2, max_cancels=2)
good = emails.publish({"to": "ada@example.org"})
bad = emails.publish({"to": "nobody@invalid"})
mailer.wait(timeout=30)
"""),
    md("""
The first failure cancelled the job (attempt 1), the second stalled it:
"""),
    code("""
assert emails.wait_result(good, timeout=5) == {"sent": "ada@example.org"}
assert [(e.job_id, e.failures) for e in mailer.errors()] == [(bad, 0), (bad, 1)]
assert emails.stalled_ids() == (bad,)
emails.last_error(bad)
"""),
    code("""
mailer_panel = mailer.view()
mailer_panel
"""),
    code("""
settle(lambda: [job_id for job_id, _ in mailer_panel.state()["errors"]] == [bad, bad])
errors_text = "".join(o["text"] for o in mailer_panel.errors.outputs)
assert f"job {bad} (attempt 2): ValueError: no such domain: nobody@invalid" in errors_text
mailer_panel.state()["errors"]
"""),
    md("""
The queue's **JobBoard** lists the stalled job with its failure count and
last error, and a Retry button.
"""),
    code("""
board = emails.view()
board
"""),
    code("""
settle(lambda: [row[0] for row in board.state()["stalled"]] == [bad])
(job_id, failures, error), = board.state()["stalled"]
assert error == "ValueError: no such domain: nobody@invalid"
board.state()["stalled"]
"""),
    md("""
Fix the function and run `process` again: it replaces the worker. Then
**Retry** the stalled job (here we call what the button calls).
"""),
    code("""
async def send(item):
    if item["to"].endswith("@invalid"):
        return {"skipped": item["to"]}      # not worth retrying
    return {"sent": item["to"]}


mailer = t.process("notebook-flaky-emails", send, concurrency=2, max_cancels=2)
board.retry(bad)
assert emails.wait_result(bad, timeout=10) == {"skipped": "nobody@invalid"}
settle(lambda: board.state()["stalled"] == [] and board.counts.get("finished") == 2)
board.counts
"""),
    md("""
## Callbacks for feed events

`subscribe(callback)` calls a function for every event of a feed, in a
worker thread (so a slow callback never holds up the connection), in order.
An exception in the callback is logged and the next event still arrives.
"""),
    code("""
headlines = []
news = t.feed("notebook-headlines")
news.delete()

sub = news.subscribe(lambda event: headlines.append((event.event, event.id)))
news.publish({"title": "Workers in notebooks"}, id="workers")
news.retract("workers")
settle(lambda: len(headlines) == 2)
sub.close()
headlines
"""),
    code("""
assert headlines == [("publish", "workers"), ("retract", "workers")]
"""),
    md("""
## Stopping

`stop()` is graceful: claiming stops, running jobs get the grace period to
finish, anything left is released back to the queue — nothing stays claimed.
Closing the connection stops its workers too.
"""),
    md("""
## A dashboard

`Dashboard` lays out the views of several queues and feeds (by name, or the
objects themselves) in a grid.
"""),
    code("""
from thoonk_actors.widgets import Dashboard

dashboard = Dashboard("notebook-thumbnails", "notebook-flaky-emails", news, t=t, columns=2)
dashboard
"""),
    code("""
thumbs_board, emails_board, news_view = dashboard.views
settle(lambda: thumbs_board.counts.get("finished") == 1000 and news_view.total == 0)
[type(view).__name__ for view in dashboard.views]
"""),
    code("""
worker.stop()
mailer.stop()
assert not worker.running and not mailer.running
assert thumbs.statistics().claimed == 0 and emails.statistics().claimed == 0
settle(lambda: panel.stop_button.disabled and not panel.start_button.disabled)
worker.statistics()
"""),
    md("""
## Clean-up (not run by *Run All*)

The views above stay live as long as the connection is open. To close them
and the connection, uncomment and run the cell below; closing the kernel
does the same.
"""),
    code("""
# panel.close(); mailer_panel.close(); board.close(); dashboard.close()
# t.close()
"""),
]

NOTEBOOKS: dict[str, list[Cell]] = {
    "01-feeds.ipynb": FEEDS,
    "02-jobs.ipynb": JOBS,
    "03-workers-and-widgets.ipynb": WORKERS,
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
    for number, cell in enumerate(notebook.cells):
        cell["id"] = f"cell-{number:02d}"  # stable ids: rewriting changes only what changed
    return notebook


def main() -> None:
    for name, cells in NOTEBOOKS.items():
        nbformat.write(build(cells), HERE / name)
        print(f"wrote notebooks/{name}")


if __name__ == "__main__":
    main()
