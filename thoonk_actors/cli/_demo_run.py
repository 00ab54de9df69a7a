"""What ``thoonk demo`` does once its arguments are parsed (``_demo`` has the parser and the story).

Synopsis: ``run_demo(args) -> exit code``. A module of its own so that the
parser, which ``thoonk --help`` builds, does not import trio, the runtime and
the embedded server.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator
from typing import Any

import trio

from .._errors import NotFoundError, ResultTimeoutError
from ..contract import JobStats
from ..embedded import URL_ENV, EmbeddedServer, ensure_embedded_server
from ..objects import Events, Feed, Gap, Job, Thoonk
from ._common import (
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_REFUSED,
    data_dir,
    emit_json,
)
from ._demo import DEMO_APP, POLL, QUEUE, RATE_WINDOW_MS, REPORTS, RESULTS, STOP_TIMEOUT
from ._demo_app import expected_result
from ._demo_report import Counters, DemoRun, problems, summary_json, summary_lines
from ._progress import Display
from ._run import run_with_thoonk


def run_demo(args: argparse.Namespace) -> int:
    """Run the demo (``thoonk demo``); its exit code."""
    url, server = _resolve(args)
    step = max(1, args.jobs // REPORTS)
    run = DemoRun(jobs=args.jobs, processes=args.processes, reports=args.jobs // step)
    demo = _Demo(args, run, step, Display(sys.stdout, quiet=args.json))

    async def command(thoonk: Thoonk) -> int:
        return await demo.main(thoonk, server)

    return run_with_thoonk(argparse.Namespace(**{**vars(args), "url": url}), command)


def _resolve(args: argparse.Namespace) -> tuple[str, EmbeddedServer | None]:
    """The Redis URL, and the embedded server when that is what the demo uses."""
    url: str | None = args.url or os.environ.get(URL_ENV)
    if url:
        return url, None
    server = ensure_embedded_server(data_dir(args))
    return server.url, server


class _Demo:
    """One run of the demo (see the module doc)."""

    def __init__(self, args: argparse.Namespace, run: DemoRun, step: int, display: Display) -> None:
        self.args = args
        self.run = run
        self.step = step
        self.display = display
        self.started = 0.0  # trio clock, when the workers were started

    async def main(self, thoonk: Thoonk, server: EmbeddedServer | None) -> int:
        run, display = self.run, self.display
        jobs, feed = thoonk.job(QUEUE), thoonk.feed(RESULTS)
        await jobs.delete()
        await feed.delete()
        before = await jobs.statistics()
        if server is None:
            how = ""
        elif server.started:
            how = " (the embedded Redis, started for the demo)"
        else:
            how = " (the embedded Redis)"
        display.note(f"Thoonk demo on {thoonk.where}{how}.")
        last_id = await self._publish(jobs)
        display.note(
            f"Starting {_workers(run.processes)}: thoonk worker {DEMO_APP} "
            f"--processes {run.processes} --burst"
        )
        which = "Every job reports" if self.step == 1 else f"Every {_nth(self.step)} job reports"
        display.note(f"{which} its result to the feed {RESULTS!r}; tailing it:")
        async with (
            jobs.events(("cancel", "stall")) as failures,
            feed.events(("publish", "edit")) as results,
            trio.open_nursery() as nursery,
        ):
            nursery.start_soon(self._count_failures, failures)
            nursery.start_soon(self._tail, feed, results)
            self.started = trio.current_time()
            nursery.start_soon(self._watch, jobs, before)
            run.workers_code = await self._run_workers(thoonk.url)
            nursery.cancel_scope.cancel()
        after = await jobs.statistics()
        if run.seconds is None and after.finishes - before.finishes >= run.jobs:
            run.seconds = trio.current_time() - self.started  # the last poll missed it: at most
        # The last state, without a rate or workers: they stopped (the summary has the rate).
        display.progress(
            after.finishes - before.finishes, after.publishes - before.publishes, final=True
        )
        display.close()
        code = await self._finish(jobs, feed, last_id, Counters.of(before), Counters.of(after))
        if server is not None and server.started:
            display.note(
                f"The demo started the embedded Redis server (data in {server.data_dir}); it "
                "keeps running for the next command: `thoonk server stop` stops it."
            )
        return code

    # ------------------------------------------------------------- the steps

    async def _publish(self, jobs: Job) -> str:
        n, step = self.run.jobs, self.step
        items = ({"n": i, "report": True} if i % step == 0 else {"n": i} for i in range(1, n + 1))
        start = trio.current_time()
        ids = await jobs.publish_many(items)
        seconds = self.run.publish_seconds = trio.current_time() - start
        self.display.note(
            f"Published {n:,} jobs to the job queue {QUEUE!r} in {seconds:.2f} s "
            f"(publish_many: {n / max(seconds, 1e-3):,.0f} jobs/s)."
        )
        return ids[-1]

    async def _run_workers(self, url: str) -> int:
        """Run the supervisor (``thoonk worker ... --burst``) to its end; its exit code.

        It gets its own session, so a terminal's Ctrl-C reaches only this
        process, which forwards it once (the supervisor then stops its workers
        gracefully; a second Ctrl-C stops them at once).
        """
        # -P and an empty private working directory: the demo's code is all in
        # the installed package, so a `trio.py` (or any module) lying in the
        # user's current directory must not be imported by its processes.
        # (`thoonk worker module:app` does import from the current directory
        # on purpose -- that is where the user's app is -- and its worker
        # processes inherit the supervisor's cwd, which is why the demo
        # changes the cwd rather than the supervisor's sys.path handling.)
        from ..runtime import LOG_LEVEL_ENV  # here: only the worker processes run the runtime

        argv = [sys.executable, "-P", "-m", "thoonk_actors", "worker", DEMO_APP]
        argv += ["--processes", str(self.run.processes), "--burst"]
        argv += ["--connect-timeout", repr(self.args.connect_timeout)]
        env = {**os.environ, URL_ENV: url}  # not on the command line: it may hold a password
        if getattr(self.args, "debug", False):
            argv.append("--debug")
        else:
            env[LOG_LEVEL_ENV] = "WARNING"  # their warnings and errors only, on stderr
        with (
            tempfile.TemporaryDirectory(prefix="thoonk-demo-") as empty,
            trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals,
        ):
            proc = await trio.lowlevel.open_process(
                argv, env=env, start_new_session=True, stdin=subprocess.DEVNULL, cwd=empty
            )
            try:
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(self._forward, signals, proc)
                    code = await proc.wait()
                    nursery.cancel_scope.cancel()
                return code
            finally:
                if proc.returncode is None:  # an error, or we are cancelled: do not orphan it
                    with trio.CancelScope(shield=True):
                        await _stop(proc)

    async def _forward(self, signals: AsyncIterator[int], proc: trio.Process) -> None:
        async for signum in signals:
            if not self.run.interrupted:
                self.run.interrupted = True
                self.display.note("Interrupted: stopping the workers gracefully...")
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signum)

    async def _watch(self, jobs: Job, before: JobStats) -> None:
        """Follow the counters: progress, live rate, when the first and last job finished."""
        recent: collections.deque[tuple[int, int]] = collections.deque()
        while True:
            stats = await jobs.statistics()
            elapsed = trio.current_time() - self.started
            finished = stats.finishes - before.finishes
            if finished > 0 and self.run.startup_seconds is None:
                self.run.startup_seconds, self.run.finished_at_startup = elapsed, finished
            if finished >= self.run.jobs and self.run.seconds is None:
                self.run.seconds = elapsed
            recent.append((stats.at_ms, stats.finishes))
            while len(recent) > 2 and recent[1][0] <= stats.at_ms - RATE_WINDOW_MS:
                recent.popleft()
            self._show_progress(stats, before, recent)
            await trio.sleep(POLL)

    def _show_progress(
        self, stats: JobStats, before: JobStats, recent: collections.deque[tuple[int, int]]
    ) -> None:
        rate = None
        if len(recent) > 1 and recent[-1][0] > recent[0][0]:
            rate = (recent[-1][1] - recent[0][1]) * 1000 / (recent[-1][0] - recent[0][0])
        self.display.progress(
            stats.finishes - before.finishes,
            stats.publishes - before.publishes,
            rate=rate,
            workers=stats.workers_alive,
        )

    async def _tail(self, feed: Feed, events: Events) -> None:
        width = len(f"{self.run.jobs:,}")
        async for event in events:
            if isinstance(event, Gap):
                continue  # only a display; the check reads the feed itself
            report = feed.decode_event(event).item
            if not isinstance(report, dict):
                continue
            again = "" if report.get("attempt", 1) == 1 else f", attempt {report['attempt']}"
            self.display.note(
                f"  job {report['n']:>{width},}: {report['steps']:>3} Collatz steps to reach 1 "
                f"(worker pid {report['pid']}{again})"
            )

    async def _count_failures(self, events: Events) -> None:
        async for event in events:
            if isinstance(event, Gap):
                self.run.failures_missed = True
            else:
                self.run.failures += 1

    async def _finish(
        self, jobs: Job, feed: Feed, last_id: str, before: Counters, after: Counters
    ) -> int:
        run = self.run
        found: list[str] = []
        if not run.interrupted:
            last: tuple[Any, Any] | None = None
            with contextlib.suppress(ResultTimeoutError, NotFoundError):
                last = (await jobs.wait_result(last_id, timeout=2), expected_result(run.jobs))
            feed_length = await feed.length()
            found = problems(run, before, after, feed_length=feed_length, last_result=last)
        if self.args.json:
            emit_json(summary_json(run, before, after, found))
        else:
            for line in summary_lines(run, before, after, found):
                self.display.note(line)
        if run.interrupted:
            return EXIT_INTERRUPTED
        if found:
            print(f"thoonk: error: counters inconsistent: {'; '.join(found)}", file=sys.stderr)
            return EXIT_REFUSED
        hint = " (with the same --url)" if self.args.url else ""
        self.display.note(
            f"Look again with `thoonk top --once` or `thoonk feed tail {RESULTS}`{hint}."
        )
        return EXIT_OK


def _nth(n: int) -> str:
    """``_nth(2000) -> "2,000th"``, ``_nth(2) -> "2nd"``."""
    suffix = "th" if n % 100 in (11, 12, 13) else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n:,}{suffix}"


def _workers(processes: int) -> str:
    return f"{processes} worker process{'' if processes == 1 else 'es'}"


async def _stop(proc: trio.Process) -> None:
    """SIGTERM (a graceful stop), then SIGKILL if it is still there after STOP_TIMEOUT."""
    with contextlib.suppress(ProcessLookupError):
        proc.send_signal(signal.SIGTERM)
    with trio.move_on_after(STOP_TIMEOUT):
        await proc.wait()
    if proc.returncode is None:
        proc.kill()
        await proc.wait()
