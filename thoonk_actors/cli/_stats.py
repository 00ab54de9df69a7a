"""``thoonk stats [--type TYPE]``: every registered object with its counts.

Synopsis::

    thoonk stats                  # one table per type
    thoonk stats --type job --json

Objects are found through the registry sets (``jobs``, ``feeds``,
``sorted_feeds``, ``queues``): everything published through the contract is
registered there.
"""

from __future__ import annotations

import argparse
from typing import Any

from .._errors import InvalidNameError
from ..contract import REGISTRIES, Kind
from ..objects import Thoonk
from ._common import (
    EXIT_OK,
    TYPE_NAMES,
    Subparsers,
    add_command,
    add_json,
    add_redis_options,
    emit,
    emit_json,
    object_type,
    table,
    warn,
)
from ._run import run_with_thoonk

#: The count columns of each type, in table order (JSON uses the same names).
COLUMNS: dict[Kind, tuple[str, ...]] = {
    "job": ("available", "claimed", "stalled", "scheduled", "publishes", "finishes", "workers"),
    "feed": ("length",),
    "sorted_feed": ("length",),
    "queue": ("length",),
}
PLURALS: dict[Kind, str] = {
    "job": "job queues",
    "feed": "feeds",
    "sorted_feed": "sorted feeds",
    "queue": "queues",
}


def add_parser(
    commands: Subparsers[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    stats = add_command(
        commands,
        "stats",
        common,
        help="list every job queue, feed, sorted feed and queue with its counts",
        description=(
            "List every registered object with its counts: job queues (available, claimed, "
            "stalled, scheduled, publishes, finishes, live workers), feeds, sorted feeds and "
            "queues (length). With --json: a list of objects, each with its type, name and counts."
        ),
        examples="""\
  thoonk stats
  thoonk stats --type job
  thoonk stats --json | jq '.[] | select(.type == "job" and .stalled > 0) | .name'
""",
    )
    stats.add_argument(
        "--type",
        metavar="TYPE",
        type=object_type,
        help="only this type: job, feed, sorted-feed or queue",
    )
    add_redis_options(stats)
    add_json(stats, "a list of objects")
    stats.set_defaults(handler=_stats)


def _stats(args: argparse.Namespace) -> int:
    kinds: list[Kind] = list(REGISTRIES) if args.type is None else [args.type]

    async def command(thoonk: Thoonk) -> int:
        rows = [row for kind in kinds for row in await collect(thoonk, kind)]
        if args.json:
            emit_json(rows)
        else:
            emit(render(rows, kinds))
        return EXIT_OK

    return run_with_thoonk(args, command)


async def collect(thoonk: Thoonk, kind: Kind) -> list[dict[str, Any]]:
    """One row per registered object of ``kind``: type, name and its counts."""
    rows = []
    for name in await thoonk.names(kind):
        try:
            counts = await _counts(thoonk, kind, name)
        except InvalidNameError as exc:  # someone else wrote the registry
            warn(f"skipped {name!r} in the {REGISTRIES[kind]!r} registry: {exc}")
            continue
        rows.append({"type": TYPE_NAMES[kind], "name": name, **counts})
    return rows


async def _counts(thoonk: Thoonk, kind: Kind, name: str) -> dict[str, int]:
    if kind == "job":
        stats = await thoonk.job(name).statistics()
        return {
            "available": stats.available,
            "claimed": stats.claimed,
            "stalled": stats.stalled,
            "scheduled": stats.scheduled,
            "publishes": stats.publishes,
            "finishes": stats.finishes,
            "workers": stats.workers_alive,
        }
    if kind == "feed":
        return {"length": await thoonk.feed(name).length()}
    if kind == "sorted_feed":
        return {"length": await thoonk.sorted_feed(name).length()}
    return {"length": await thoonk.queue(name).length()}


def render(rows: list[dict[str, Any]], kinds: list[Kind]) -> str:
    """One table per type that has objects (name left, counts right-aligned)."""
    tables = []
    for kind in kinds:
        mine = [row for row in rows if row["type"] == TYPE_NAMES[kind]]
        if mine:
            header = [TYPE_NAMES[kind].upper(), *(c.upper() for c in COLUMNS[kind])]
            body = [[row["name"], *(str(row[c]) for c in COLUMNS[kind])] for row in mine]
            tables.append(table([header, *body]))
    if not tables:
        return f"No {PLURALS[kinds[0]]}." if len(kinds) == 1 else "No Thoonk objects."
    return "\n\n".join(tables)
