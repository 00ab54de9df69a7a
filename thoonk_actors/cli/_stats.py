"""``thoonk stats [--type TYPE]``: every registered object with its counts.

Synopsis::

    thoonk stats                  # one table per type
    thoonk stats --type job --json

Objects are found through the registry sets (``jobs``, ``feeds``,
``sorted_feeds``, ``queues``), where everything published by thoonk-actors is,
and by their keys (a bounded SCAN, see ``Thoonk.discover``): the original
JavaScript client never registers its job queues. Those are marked
"unregistered"; ``thoonk register TYPE NAME`` adds them to the registry.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from .._errors import InvalidNameError, WrongTypeError
from ..contract import REGISTRIES, Kind
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
    seconds,
    table,
    warn,
)
from ._run import run_with_thoonk

if TYPE_CHECKING:
    from ..objects import Discovery, Thoonk

#: ``thoonk_actors.objects.DISCOVERY_BUDGET_S``, repeated here so that the parser does not
#: import the objects (trio, redis-py); tests/cli/test_startup.py checks they are the same.
DISCOVERY_BUDGET_S = 2.0

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
    add_discovery_options(stats)
    add_redis_options(stats)
    add_json(stats, "a list of objects")
    stats.set_defaults(handler=_stats)


def add_discovery_options(parser: argparse.ArgumentParser) -> None:
    """``--no-scan`` and ``--scan-budget SECONDS``: how unregistered objects are looked for."""
    parser.add_argument(
        "--no-scan",
        dest="scan",
        action="store_false",
        help="list registered objects only: no SCAN of the keyspace for objects that other "
        "clients (the original JavaScript Thoonk) never registered",
    )
    parser.add_argument(
        "--scan-budget",
        metavar="SECONDS",
        type=seconds(allow_zero=False),
        default=DISCOVERY_BUDGET_S,
        help="stop looking for unregistered objects after this time (SCAN is O(keyspace); "
        f"default: {DISCOVERY_BUDGET_S:g})",
    )


async def find(thoonk: Thoonk, kinds: list[Kind], args: argparse.Namespace) -> Discovery:
    """The objects of ``kinds`` (registered, and found by their keys unless ``--no-scan``)."""
    found = await thoonk.discover(kinds, budget_s=args.scan_budget, scan=args.scan)
    if args.scan and not found.complete:
        warn(
            f"stopped looking for unregistered objects after {args.scan_budget:g} s (the "
            "keyspace is large): some may be missing; raise --scan-budget, or register "
            "them with `thoonk register TYPE NAME`"
        )
    for key in found.skipped:
        warn(f"skipped the key {key!r}: its name breaks the naming rule")
    return found


def _stats(args: argparse.Namespace) -> int:
    kinds: list[Kind] = list(REGISTRIES) if args.type is None else [args.type]

    async def command(thoonk: Thoonk) -> int:
        rows = await collect(thoonk, await find(thoonk, kinds, args), kinds)
        if args.json:
            emit_json(rows)
        else:
            emit(render(rows, kinds))
        return EXIT_OK

    return run_with_thoonk(args, command)


async def collect(thoonk: Thoonk, found: Discovery, kinds: list[Kind]) -> list[dict[str, Any]]:
    """One row per object of ``kinds``: type, name, registered and its counts."""
    rows = []
    for obj in found.objects:
        if obj.kind not in kinds:
            continue
        try:
            counts = await _counts(thoonk, obj.kind, obj.name)
        except InvalidNameError as exc:  # someone else wrote the registry
            warn(f"skipped {obj.name!r} in the {REGISTRIES[obj.kind]!r} registry: {exc}")
            continue
        except WrongTypeError as exc:  # found by its keys, but they are not this type's
            warn(f"skipped {obj.name!r}: its keys are not a {TYPE_NAMES[obj.kind]}'s ({exc})")
            continue
        rows.append({
            "type": TYPE_NAMES[obj.kind], "name": obj.name, "registered": obj.registered,
            **counts,
        })  # fmt: skip
    return rows


def name_cell(row: dict[str, Any]) -> str:
    """The NAME cell of a table: the name, marked when no registry names it."""
    return row["name"] if row["registered"] else f"{row['name']} (unregistered)"


def unregistered_note(rows: list[dict[str, Any]]) -> list[str]:
    """The line under the tables that says what "unregistered" means (none if none is)."""
    if all(row["registered"] for row in rows):
        return []
    return [
        "",
        "unregistered: found by its keys, in no registry (the original JavaScript Thoonk "
        "never registers); `thoonk register TYPE NAME` registers it",
    ]


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
            body = [[name_cell(row), *(str(row[c]) for c in COLUMNS[kind])] for row in mine]
            tables.append(table([header, *body]))
    if not tables:
        return f"No {PLURALS[kinds[0]]}." if len(kinds) == 1 else "No Thoonk objects."
    return "\n".join(["\n\n".join(tables), *unregistered_note(rows)])
