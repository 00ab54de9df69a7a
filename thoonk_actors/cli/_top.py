"""``thoonk top``: every job queue, feed and queue, refreshed in place until Ctrl-C.

Synopsis::

    thoonk top                       # redraws every second on a terminal; Ctrl-C quits (exit 0)
    thoonk top --once --json         # one snapshot, the rates measured over one interval

A snapshot is one ``statistics()`` script per job queue (a consistent view of
that queue, stamped with the server clock) and one length read per feed,
sorted feed and queue. The rate of a job queue is its finishes counter's
growth between two snapshots, over the server-clock time between them.
Objects that no registry names (an original JavaScript client's) are found by
a bounded SCAN (``Thoonk.discover``), repeated every ``RESCAN_S`` seconds (the
registries are read at every snapshot), and marked "unregistered".

Below the tables, every claimed job whose handler reported progress gets a
line with a text bar (at most :data:`PROGRESS_ROWS` per queue); one HGETALL
per job queue reads them.
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import shutil
import sys
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TextIO

from .._errors import InvalidNameError, WrongTypeError
from ..contract import REGISTRIES, JobProgress, JobStats, Kind
from ._common import (
    EXIT_OK,
    TYPE_NAMES,
    Subparsers,
    add_command,
    add_json,
    add_redis_options,
    emit_json,
    seconds,
    table,
    warn,
)
from ._run import run_with_thoonk
from ._stats import add_discovery_options, collect, find, name_cell, unregistered_note

if TYPE_CHECKING:
    from ..objects import Discovery, FoundObject, Thoonk

#: Job queue columns: (JSON key, table header).
JOB_COLUMNS = (
    ("available", "AVAILABLE"),
    ("claimed", "CLAIMED"),
    ("stalled", "STALLED"),
    ("scheduled", "SCHEDULED"),
    ("publishes", "PUBLISHES"),
    ("finishes", "FINISHES"),
    ("rate", "RATE/S"),
    ("workers", "WORKERS"),
    ("held", "HELD"),
)
#: Most running jobs with progress shown per queue (the most advanced first).
PROGRESS_ROWS = 10
#: Characters of a progress bar between its brackets.
PROGRESS_BAR = 20
#: The kinds shown with their length, in table order.
LENGTH_KINDS: tuple[Kind, ...] = ("feed", "sorted_feed", "queue")
#: Seconds between two SCANs for unregistered objects (each is O(keyspace)).
RESCAN_S = 30.0

# ANSI: cursor home, clear to the end of the line / of the screen, hide / show the cursor.
HOME, CLEAR_LINE, CLEAR_BELOW, CLEAR_SCREEN = "\x1b[H", "\x1b[K", "\x1b[J", "\x1b[2J"
HIDE_CURSOR, SHOW_CURSOR = "\x1b[?25l", "\x1b[?25h"


def add_parser(
    commands: Subparsers[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    top = add_command(
        commands,
        "top",
        common,
        help="watch every job queue (with its rate), feed and queue, refreshed live",
        description=(
            "A live table of every job queue (available, claimed, stalled, scheduled, publishes, "
            "finishes, finishes per second between two snapshots, live workers, and HELD: "
            "'rate' or 'concurrency' while the queue's max_per_second / max_concurrent config "
            "holds queued jobs back) and of every "
            "feed, sorted feed and queue (length), refreshed every --interval seconds until "
            "Ctrl-C (exit 0). On a terminal it redraws in place; otherwise each snapshot is "
            "printed after the previous one. --once prints one snapshot (after measuring the "
            "rates over one interval); --json prints each snapshot as one JSON object: "
            '{"time": ..., "objects": [...]}, the objects as in `thoonk stats --json`, '
            'job queues with a "rate".'
        ),
        examples="""\
  thoonk top
  thoonk top --interval 0.5
  thoonk top --once
  thoonk top --once --json | jq '.objects[] | select(.type == "job") | {name, rate}'
""",
    )
    top.add_argument(
        "--interval",
        metavar="SECONDS",
        type=seconds(allow_zero=False),
        default=1.0,
        help="seconds between snapshots (default: 1)",
    )
    top.add_argument("--once", action="store_true", help="print one snapshot and exit")
    add_discovery_options(top)
    add_redis_options(top)
    add_json(top, "each snapshot")
    top.set_defaults(handler=_top)


@dataclass(frozen=True, slots=True)
class Snapshot:
    """What ``top`` shows at one moment: each job queue's stats, the other objects' rows."""

    taken: datetime.datetime
    jobs: dict[str, JobStats]
    others: list[dict[str, Any]]
    #: Job queues that no registry names (found by their keys).
    unregistered_jobs: frozenset[str] = frozenset()
    #: queue name -> the last progress of its claimed jobs that reported one
    progress: dict[str, tuple[JobProgress, ...]] = field(default_factory=dict)


class Finder:
    """The objects to show: the registries at every call, a SCAN every ``RESCAN_S`` s."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.scanned: Discovery | None = None
        self.scanned_at = -math.inf

    async def __call__(self, thoonk: Thoonk) -> Discovery:
        import trio

        from ..objects import Discovery

        kinds = list(REGISTRIES)
        if self.args.scan and trio.current_time() - self.scanned_at >= RESCAN_S:
            self.scanned = await find(thoonk, kinds, self.args)
            self.scanned_at = trio.current_time()
            return self.scanned
        registered = await thoonk.discover(kinds, scan=False)
        if self.scanned is None:
            return registered
        known = {(o.kind, o.name) for o in registered.objects}
        extra = [o for o in self.scanned.unregistered if (o.kind, o.name) not in known]
        order = {kind: i for i, kind in enumerate(REGISTRIES)}
        objects: list[FoundObject] = sorted(
            [*registered.objects, *extra], key=lambda o: (order[o.kind], o.name)
        )
        return Discovery(tuple(objects), self.scanned.complete)


def _top(args: argparse.Namespace) -> int:
    import trio  # here: the parser stays light (`thoonk --help` imports this module)

    from ._signals import cancel_on_sigint

    out = sys.stdout
    live = out.isatty() and not args.json and not args.once

    async def command(thoonk: Thoonk) -> int:
        where, finder = thoonk.where, Finder(args)
        if args.once:
            first = await take_snapshot(thoonk, await finder(thoonk))
            await trio.sleep(args.interval)
            _show(out, args, where, await take_snapshot(thoonk, await finder(thoonk)), first,
                  live=False)  # fmt: skip
            return EXIT_OK
        async with trio.open_nursery() as nursery:
            await nursery.start(cancel_on_sigint, nursery.cancel_scope)
            await _follow(thoonk, out, args, where, finder, live=live)
        return EXIT_OK

    return run_with_thoonk(args, command)


async def _follow(
    thoonk: Thoonk,
    out: TextIO,
    args: argparse.Namespace,
    where: str,
    finder: Finder,
    *,
    live: bool,
) -> None:
    """Show a snapshot every ``args.interval`` seconds, until cancelled."""
    import trio

    if live:
        out.write(HIDE_CURSOR + CLEAR_SCREEN)
    try:
        current, before = await take_snapshot(thoonk, await finder(thoonk)), None
        while True:
            _show(out, args, where, current, before, live=live)
            await trio.sleep(args.interval)
            current, before = await take_snapshot(thoonk, await finder(thoonk)), current
    finally:
        if live:
            out.write(SHOW_CURSOR)
            out.flush()


async def take_snapshot(thoonk: Thoonk, found: Discovery) -> Snapshot:
    """The counts of every object ``found``, now."""
    taken = datetime.datetime.now(datetime.UTC)
    jobs: dict[str, JobStats] = {}
    unregistered: set[str] = set()
    progress: dict[str, tuple[JobProgress, ...]] = {}
    for obj in found.objects:
        if obj.kind != "job":
            continue
        try:
            jobs[obj.name] = await thoonk.job(obj.name).statistics()
        except InvalidNameError as exc:  # someone else wrote the registry
            warn(f"skipped {obj.name!r} in the {REGISTRIES['job']!r} registry: {exc}")
            continue
        except WrongTypeError as exc:  # found by its keys, but they are not a job queue's
            warn(f"skipped {obj.name!r}: its keys are not a job queue's ({exc})")
            continue
        if not obj.registered:
            unregistered.add(obj.name)
        if jobs[obj.name].claimed:
            progress[obj.name] = await thoonk.job(obj.name).progress_all()
    others = await collect(thoonk, found, list(LENGTH_KINDS))
    return Snapshot(taken, jobs, others, frozenset(unregistered), progress)


def rate(new: JobStats, old: JobStats | None) -> float | None:
    """Finishes per second between two stats of one queue; None without a usable pair."""
    if old is None or new.at_ms <= old.at_ms or new.finishes < old.finishes:
        return None  # first snapshot, same millisecond, or the queue was deleted meanwhile
    return (new.finishes - old.finishes) * 1000 / (new.at_ms - old.at_ms)


def rows(new: Snapshot, old: Snapshot | None) -> list[dict[str, Any]]:
    """The snapshot's rows (as ``thoonk stats --json``, job queues with their rate)."""
    out: list[dict[str, Any]] = []
    for name, stats in new.jobs.items():
        out.append({
            "type": "job", "name": name, "registered": name not in new.unregistered_jobs,
            "available": stats.available,
            "claimed": stats.claimed, "stalled": stats.stalled, "scheduled": stats.scheduled,
            "publishes": stats.publishes,
            "finishes": stats.finishes,
            "rate": rate(stats, None if old is None else old.jobs.get(name)),
            "workers": stats.workers_alive,
            "held": stats.held_back,
            "progress": [
                {"id": p.id, "fraction": p.fraction, "info": p.info}
                for p in new.progress.get(name, ())
            ],
        })  # fmt: skip
    return out + new.others


def render(rows: list[dict[str, Any]]) -> list[str]:
    """The tables: job queues, then feeds, sorted feeds and queues (those that exist)."""
    tables: list[str] = []
    jobs = [row for row in rows if row["type"] == "job"]
    if jobs:
        header = ["JOB", *(title for _, title in JOB_COLUMNS)]
        body = [[name_cell(row), *(_cell(row[key]) for key, _ in JOB_COLUMNS)] for row in jobs]
        tables.append(table([header, *body]))
    running = [
        [row["name"], p["id"], progress_bar(p["fraction"]), _info(p["info"])]
        for row in jobs
        for p in sorted(row.get("progress", ()), key=lambda p: -p["fraction"])[:PROGRESS_ROWS]
    ]
    if running:
        tables.append(table([["JOB", "RUNNING", "PROGRESS", "INFO"], *running], right=4))
    for kind in LENGTH_KINDS:
        mine = [row for row in rows if row["type"] == TYPE_NAMES[kind]]
        if mine:
            header = [TYPE_NAMES[kind].upper(), "LENGTH"]
            tables.append(table([header, *([name_cell(row), str(row["length"])] for row in mine)]))
    text = "\n\n".join(tables or ["No Thoonk objects."])
    return [*text.splitlines(), *unregistered_note(rows)]


def progress_bar(fraction: float, width: int = PROGRESS_BAR) -> str:
    """``progress_bar(0.4, 10)`` -> ``"[####......]  40%"``: a fraction as plain text."""
    done = round(max(0.0, min(1.0, fraction)) * width)
    return f"[{'#' * done}{'.' * (width - done)}] {fraction:>4.0%}"


def _info(info: Any) -> str:
    if info is None:
        return ""
    text = info if isinstance(info, str) else json.dumps(info, separators=(",", ":"))
    return text if len(text) <= 40 else text[:39] + "…"


def _cell(value: int | float | str | None) -> str:
    if value is None:
        return "-"
    if isinstance(value, str):
        return value
    if isinstance(value, float):
        return f"{value:.1f}" if value < 10 else f"{value:,.0f}"
    return str(value)


def _show(
    out: TextIO,
    args: argparse.Namespace,
    where: str,
    new: Snapshot,
    old: Snapshot | None,
    *,
    live: bool,
) -> None:
    taken, objects = new.taken, rows(new, old)
    if args.json:
        emit_json({"time": taken.isoformat(timespec="milliseconds"), "objects": objects})
        return
    clock = time.strftime("%H:%M:%S", time.localtime(taken.timestamp()))
    every = "" if args.once else f"  every {args.interval:g} s, Ctrl-C quits"
    lines = [f"thoonk top  {where}  {clock}{every}", "", *render(objects)]
    if live:  # redraw in place: each line over the old one, then clear what is left
        out.write(HOME + "".join(f"{line}{CLEAR_LINE}\n" for line in _fit(lines)) + CLEAR_BELOW)
    else:
        out.write("\n".join(lines) + "\n" + ("" if args.once else "\n"))
    out.flush()


def _fit(lines: list[str]) -> list[str]:
    """What fits on the terminal: a screen that scrolled could not be redrawn in place."""
    columns, rows = shutil.get_terminal_size()
    if len(lines) >= rows:
        hidden = len(lines) - rows + 2
        lines = [*lines[: rows - 2], f"... {hidden} more lines (a taller terminal shows them)"]
    return [line[:columns] for line in lines]
