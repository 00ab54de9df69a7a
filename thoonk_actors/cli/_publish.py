"""``thoonk publish TYPE NAME [ITEM]``: put one item into a job queue, feed, sorted feed or queue.

Synopsis::

    thoonk publish job emails '{"to": "a@example.org"}'   # prints the new job's id
    echo hello | thoonk publish feed news                 # ITEM from stdin
"""

from __future__ import annotations

import argparse
import math
from datetime import datetime
from typing import TYPE_CHECKING, Any

from .._errors import UsageError
from ..contract import KEYS_BY_KIND, Kind, validate_id
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
    terminal_safe,
)
from ._items import read_item
from ._run import run_with_thoonk

if TYPE_CHECKING:
    from ..objects import Thoonk

EXAMPLES = """\
  thoonk publish job emails '{"to": "a@example.org"}'      # prints the job id
  thoonk publish job emails '{"to": "b@example.org"}' --priority
  thoonk publish job emails '{"to": "c@example.org"}' --delay 300   # claimable in 5 min
  thoonk publish job reports '"weekly"' --at 2030-01-07T09:00:00+01:00
  thoonk publish feed news 'hello world' --id greeting    # a string item
  thoonk publish queue tasks 42 --raw                     # the string "42", not a number
  jq -c . order.json | thoonk publish sorted-feed orders  # ITEM from stdin
  thoonk publish feed news --file item.json --json
"""


def add_parser(
    commands: Subparsers[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    publish = add_command(
        commands,
        "publish",
        common,
        help="publish an item to a job queue, feed, sorted feed or queue; prints its id",
        description=(
            "Publish one item and print its id. ITEM is parsed as JSON when it is valid "
            "JSON, else taken as a string (--raw: always a string). Without ITEM (or with "
            "'-'), the item is read from stdin; one trailing newline of stdin or --file is "
            "dropped."
        ),
        examples=EXAMPLES,
    )
    publish.add_argument(
        "type", metavar="TYPE", type=object_type, help="job, feed, sorted-feed or queue"
    )
    publish.add_argument("name", metavar="NAME", help="the object's name")
    publish.add_argument(
        "item", metavar="ITEM", nargs="?", help="the item (JSON or text); '-' reads stdin"
    )
    publish.add_argument("--file", metavar="PATH", help="read the item from this file")
    publish.add_argument("--raw", action="store_true", help="take the item as a string")
    publish.add_argument(
        "--id", metavar="ID", help="the item's id (default: a UUID; a number for sorted feeds)"
    )
    publish.add_argument(
        "--priority",
        action="store_true",
        help="jobs and queues: put it at the head, ahead of everything queued",
    )
    publish.add_argument(
        "--delay",
        metavar="SECONDS",
        type=_delay,
        help="jobs: claimable only after this many seconds (by the Redis server's clock)",
    )
    publish.add_argument(
        "--at",
        metavar="TIME",
        type=_at,
        help="jobs: claimable only from this ISO 8601 time with a UTC offset or Z "
        "(by the Redis server's clock); a time in the past queues it at once",
    )
    add_redis_options(publish)
    add_json(publish, "the type, name and id")
    publish.set_defaults(handler=_publish)


def _delay(text: str) -> float:
    """``--delay 2.5``: seconds >= 0 (argparse reports a bad value as a usage error)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"the delay must be seconds >= 0, not {text!r}")
    return value


def _at(text: str) -> datetime:
    """``--at 2030-01-07T09:00:00+01:00``: an aware time (a naive one is ambiguous)."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"not an ISO 8601 time: {text!r} (e.g. 2030-01-07T09:00:00+01:00)"
        ) from None
    if value.tzinfo is None or value.utcoffset() is None:
        raise argparse.ArgumentTypeError(
            f"{text!r} has no UTC offset: add one or Z (e.g. {text}Z for UTC), so it "
            "means one moment whatever the machine's time zone"
        )
    return value


def _publish(args: argparse.Namespace) -> int:
    kind: Kind = args.type
    delay: float | None = getattr(args, "delay", None)
    at: datetime | None = getattr(args, "at", None)
    if delay is not None and at is not None:
        raise UsageError("--delay and --at do not combine: give one of them")
    when = "--delay" if delay is not None else "--at" if at is not None else None
    if when is not None and kind != "job":
        raise UsageError(f"{when} applies to jobs; a {TYPE_NAMES[kind]} has no scheduled items")
    if when is not None and args.priority:
        raise UsageError(f"{when} and --priority do not combine: a delayed job joins the back")
    if args.priority and kind not in ("job", "queue"):
        raise UsageError(
            f"--priority applies to jobs and queues; a {TYPE_NAMES[kind]} keeps its own order"
        )
    # Checked before connecting: bad input never reaches Redis (and says so as exit 2).
    KEYS_BY_KIND[kind].of(args.name)
    if args.id is not None:
        validate_id(args.id)
    item = read_item(args)

    async def command(thoonk: Thoonk) -> int:
        item_id = await publish(
            thoonk, kind, args.name, item, id=args.id, priority=args.priority, delay=delay, at=at
        )
        if args.json:
            emit_json({"type": TYPE_NAMES[kind], "name": args.name, "id": item_id})
        else:
            emit(terminal_safe(item_id))
        return EXIT_OK

    return run_with_thoonk(args, command)


async def publish(
    thoonk: Thoonk,
    kind: Kind,
    name: str,
    item: Any,
    *,
    id: str | None,
    priority: bool,
    delay: float | None = None,
    at: datetime | None = None,
) -> str:
    """Publish ``item`` to the object ``kind``/``name``; its id."""
    if kind == "job":
        return await thoonk.job(name).publish(item, id=id, priority=priority, delay=delay, at=at)
    if kind == "queue":
        return await thoonk.queue(name).put(item, priority=priority, id=id)
    if kind == "feed":
        return await thoonk.feed(name).publish(item, id=id)
    return await thoonk.sorted_feed(name).append(item, id=id)
