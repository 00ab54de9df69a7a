"""``thoonk demo``: 20,000 jobs through a multiprocess worker, watched live, then checked.

Synopsis::

    thoonk demo                              # embedded Redis, 20,000 jobs, 2 worker processes
    thoonk demo --jobs 2000 --processes 3 --url redis://localhost:6379/0 --json

In order: delete the demo's job queue and results feed (so every run starts
from zero); publish the jobs with ``publish_many``; subscribe to the results
feed and to the queue's cancel / stall events; start ``thoonk worker
thoonk_actors.cli._demo_app:app --processes N --burst`` (the runtime's
supervisor and its worker processes, which stop once the queue is drained);
meanwhile show the progress from the queue's counters and print each result
reported to the feed; finally check the counters (``_demo_report``) and print
the summary. Ctrl-C stops the workers gracefully (exit 130).
"""

from __future__ import annotations

import argparse

from ._common import (
    Subparsers,
    add_command,
    add_data_dir,
    add_json,
    add_redis_options,
    number,
)

#: The demo's job queue and its results feed (``thoonk demo`` deletes both first).
QUEUE = "thoonk-demo"
RESULTS = "thoonk-demo-results"
DEMO_APP = "thoonk_actors.cli._demo_app:app"
#: Seconds between two reads of the queue's counters (progress, and when the last job finished).
POLL = 0.05
#: The live rate is measured over this many milliseconds (server clock).
RATE_WINDOW_MS = 1000
#: After an error or a second Ctrl-C, seconds the workers get before they are killed.
STOP_TIMEOUT = 15.0
#: About this many jobs report their result to the feed, whatever --jobs is.
REPORTS = 10


def add_parser(
    commands: Subparsers[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    demo = add_command(
        commands,
        "demo",
        common,
        help="publish 20,000 jobs, process them with 2 worker processes, check the counters",
        description=(
            f"Publish --jobs small jobs to the job queue {QUEUE!r} (deleted first, like the "
            f"feed {RESULTS!r}) with publish_many, and process them with `thoonk worker "
            f"{DEMO_APP} --processes N --burst`: N worker processes under the runtime's "
            "supervisor, each handler counting the Collatz steps of its job's number. While "
            "they work it shows a progress bar with the live rate and prints the results a few "
            "jobs report to the feed; at the end it prints a summary and checks every counter "
            "(exit 1 if one is off). Needs nothing but the embedded Redis; Ctrl-C stops the "
            "workers gracefully (exit 130)."
        ),
        examples="""\
  thoonk demo
  thoonk demo --jobs 100000 --processes 3
  thoonk demo --url redis://localhost:6379/0 --json
""",
    )
    demo.add_argument(
        "--jobs", metavar="N", type=number("jobs"), default=20_000, help="default: 20000"
    )
    demo.add_argument(
        "--processes",
        metavar="N",
        type=number("processes"),
        default=2,
        help="worker processes (default: 2)",
    )
    add_redis_options(demo)
    add_data_dir(demo)
    add_json(demo, "the summary (and nothing else)")
    demo.set_defaults(handler=_demo)


def _demo(args: argparse.Namespace) -> int:
    from ._demo_run import run_demo  # the parser stays light: `thoonk --help` imports this

    return run_demo(args)
