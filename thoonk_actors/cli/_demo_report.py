"""What a ``thoonk demo`` run did, checked against Redis's own counters, and its summary.

Synopsis::

    run = DemoRun(jobs=20_000, processes=2, reports=10)       # filled in while it runs
    found = problems(run, before, after, feed_length=10, last_result=(got, expected))
    summary_lines(run, before, after, found)  /  summary_json(run, before, after, found)

The check compares the queue's counters before and after the run: every job
published by this run was finished (``publishes`` and ``finishes`` grew by the
same number, the number published), nothing is left queued, claimed or
stalled, the results feed holds one item per reported job, the last job's
stored result is the one the handler computes, and every worker process
stopped cleanly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..contract import JobStats


@dataclass(frozen=True, slots=True)
class Counters:
    """The counts of a job queue that the check compares (from ``Job.statistics()``)."""

    publishes: int
    finishes: int
    available: int
    claimed: int
    stalled: int

    @classmethod
    def of(cls, stats: JobStats) -> Counters:
        return cls(stats.publishes, stats.finishes, stats.available, stats.claimed, stats.stalled)


@dataclass(slots=True)
class DemoRun:
    """One run, filled in as it goes (times in seconds, from starting the workers)."""

    jobs: int
    processes: int
    reports: int  # jobs whose handler publishes its result to the feed
    publish_seconds: float = 0.0
    startup_seconds: float | None = None  # until the first finish was seen
    finished_at_startup: int = 0  # how many had finished by then
    seconds: float | None = None  # until the last finish was seen
    failures: int = 0  # cancel and stall events of the queue
    failures_missed: bool = False  # events were lost, so ``failures`` is a lower bound
    workers_code: int | None = None
    interrupted: bool = False


def problems(
    run: DemoRun,
    before: Counters,
    after: Counters,
    *,
    feed_length: int,
    last_result: tuple[Any, Any] | None,
) -> list[str]:
    """What is off, each as a short clause; [] when every counter is consistent.

    ``last_result`` is (stored result, expected result) of the last job, or
    None when it could not be read.
    """
    found: list[str] = []
    published = after.publishes - before.publishes
    finished = after.finishes - before.finishes
    if published != run.jobs:
        found.append(f"the publishes counter grew by {published:,}, not {run.jobs:,}")
    if finished != published:
        found.append(f"{published:,} jobs were published but {finished:,} finished")
    for count, what in (
        (after.available, "still queued"),
        (after.claimed, "still claimed"),
        (after.stalled, "stalled"),
    ):
        if count:
            found.append(f"{count:,} job{'' if count == 1 else 's'} {what}")
    if feed_length != run.reports:
        found.append(f"the results feed holds {feed_length:,} reports, not {run.reports:,}")
    if last_result is None:
        found.append("the last job's result could not be read")
    elif last_result[0] != last_result[1]:
        found.append(f"the last job's result is {last_result[0]!r}, not {last_result[1]!r}")
    if run.workers_code != 0:
        found.append(f"the worker processes' supervisor exited with code {run.workers_code}")
    return found


def summary_json(
    run: DemoRun, before: Counters, after: Counters, found: list[str]
) -> dict[str, Any]:
    """The summary as data (``thoonk demo --json``)."""
    return {
        "jobs": run.jobs,
        "processes": run.processes,
        "published": after.publishes - before.publishes,
        "finished": after.finishes - before.finishes,
        "failures": run.failures,
        "failures_exact": not run.failures_missed,
        "publish_seconds": round(run.publish_seconds, 3),
        "startup_seconds": _round(run.startup_seconds),
        "seconds": _round(run.seconds),
        "jobs_per_second": _round(_rate(run), 1),
        "jobs_per_second_after_startup": _round(_rate(run, after_startup=True), 1),
        "available": after.available,
        "claimed": after.claimed,
        "stalled": after.stalled,
        "reports": run.reports,
        "interrupted": run.interrupted,
        "consistent": not found and not run.interrupted,
        "problems": found,
    }


def summary_lines(run: DemoRun, before: Counters, after: Counters, found: list[str]) -> list[str]:
    """The summary for people; the last line says whether the counters are consistent."""
    published = after.publishes - before.publishes
    finished = after.finishes - before.finishes
    rate = _rate(run)
    workers = f"{run.processes} worker process{'' if run.processes == 1 else 'es'}"
    lines = [
        "",
        "Summary",
        f"  jobs        {published:,} published, {finished:,} finished by {workers}",
    ]
    if run.seconds is not None and rate is not None:
        startup = run.startup_seconds or 0.0
        lines.append(
            f"  time        {run.seconds:.2f} s from starting the workers to the last finish, "
            f"{startup:.2f} s of it starting up"
        )
        running = _rate(run, after_startup=True)
        lines.append(
            f"  rate        {rate:,.0f} jobs/s"
            + ("" if running is None else f" (about {running:,.0f} jobs/s once started)")
        )
    more = " (or more: events were missed)" if run.failures_missed else ""
    lines.append(f"  failures    {run.failures:,}{more}")
    lines.append(
        f"  counters    publishes +{published:,}, finishes +{finished:,}; "
        f"{after.available:,} available, {after.claimed:,} claimed, {after.stalled:,} stalled"
    )
    if run.interrupted:
        lines.append(
            f"Interrupted: {finished:,} of {run.jobs:,} jobs finished; the workers stopped "
            "gracefully and the rest stay queued (the next `thoonk demo` starts afresh)."
        )
    elif not found:
        lines.append(
            f"all counters consistent ({run.reports:,} reports in the results feed, "
            "the last job's result checked)"
        )
    return lines


def _rate(run: DemoRun, *, after_startup: bool = False) -> float | None:
    """Jobs per second from starting the workers (or from the first finish) to the last finish."""
    if run.seconds is None:
        return None
    if not after_startup:
        return run.jobs / max(run.seconds, 1e-3)
    if run.startup_seconds is None or run.seconds <= run.startup_seconds:
        return None
    return (run.jobs - run.finished_at_startup) / (run.seconds - run.startup_seconds)


def _round(value: float | None, digits: int = 3) -> float | None:
    return None if value is None else round(value, digits)
