"""``thoonk feed tail NAME [-n N]``: the last N items of a feed, then its changes live.

Synopsis::

    thoonk feed tail news -n 5         # item / publish / edit / retract lines until Ctrl-C
    thoonk feed tail news --json       # one JSON object per line

Race-free: the events are subscribed before the items are read, and the output
is a diff against what was already printed, so an event that the read already
reflects is not printed twice. After a :class:`~thoonk_actors.transport.Gap`
(a reconnect, or events dropped because the terminal was slow) the feed is read
again and the difference printed as publish / edit / retract lines.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from typing import TYPE_CHECKING

from ..contract import FeedKeys, RawCodec
from ._common import (
    EXIT_OK,
    Subparsers,
    add_command,
    add_redis_options,
    emit,
    emit_json,
    terminal_safe,
    warn,
)
from ._items import decode_item, show
from ._run import run_with_thoonk

if TYPE_CHECKING:
    from ..objects import Feed, ObjectEvent, Thoonk

#: A line of output: (event, id, stored item or None).
Line = tuple[str, str, bytes | None]


def add_parser(
    commands: Subparsers[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    feed = add_command(
        commands,
        "feed",
        common,
        help="watch a feed (feed tail)",
        description="Feed commands (publish to a feed with `thoonk publish feed NAME ITEM`).",
        examples="  thoonk feed tail news -n 5\n",
    )
    actions = feed.add_subparsers(title="actions", metavar="ACTION", required=True)
    tail = add_command(
        actions,
        "tail",
        common,
        help="print the last N items, then follow publishes, edits and retracts",
        description=(
            "Print the last N items of a feed (oldest first), then every change as it "
            "happens, like `tail -f`, until Ctrl-C (exit 0; 130 if pressed before it is "
            "connected). Each line is EVENT, ID and "
            "ITEM separated by tabs: `item` for the items that were there, then `publish`, "
            "`edit` (with the item as compact JSON) and `retract`; `delete` when the feed is "
            "deleted. With --json, one JSON object per line: "
            '{"event": ..., "id": ..., "item": ...}.'
        ),
        examples="""\
  thoonk feed tail news              # the last 10 items, then live changes
  thoonk feed tail news -n 0         # only what happens from now on
  thoonk feed tail news --json | jq -r 'select(.event == "publish") | .item.title'
""",
    )
    tail.add_argument("name", metavar="NAME", help="the feed")
    tail.add_argument(
        "-n",
        "--lines",
        metavar="N",
        type=_count,
        default=10,
        help="how many of the existing items to print first (default: 10)",
    )
    add_redis_options(tail)
    tail.add_argument("--json", action="store_true", help="one JSON object per line")
    tail.set_defaults(handler=_tail)


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of items >= 0")
    return value


def _tail(args: argparse.Namespace) -> int:
    import trio  # here: the parser stays light (`thoonk --help` imports this module)

    from ._signals import cancel_on_sigint

    FeedKeys.of(args.name)

    async def command(thoonk: Thoonk) -> int:
        # Raw bytes: every stored item can be shown, JSON or not (see _items.decode_item).
        feed = thoonk.feed(args.name, codec=RawCodec())
        async with trio.open_nursery() as nursery:
            await nursery.start(cancel_on_sigint, nursery.cancel_scope)
            await _follow(feed, args.lines, _Printer(args.json))
        return EXIT_OK

    return run_with_thoonk(args, command)


class _Printer:
    """Writes lines as text (tab-separated) or JSON, flushed one by one."""

    def __init__(self, as_json: bool) -> None:
        self.as_json = as_json

    def __call__(self, line: Line) -> None:
        event, item_id, data = line
        if self.as_json:
            fields: dict[str, object] = {"event": event}
            if event != "delete":
                fields["id"] = item_id
            if data is not None:
                fields["item"] = decode_item(data)
            emit_json(fields)
        elif event == "delete":
            emit(event)
        elif data is None:
            emit(f"{event}\t{terminal_safe(item_id)}")
        else:
            item = terminal_safe(show(decode_item(data)))
            emit(f"{event}\t{terminal_safe(item_id)}\t{item}")


async def _follow(feed: Feed, first: int, out: _Printer) -> None:
    from ..objects import Gap

    async with feed.events() as events:  # subscribed before the read: nothing is missed
        if not await feed.exists():
            warn(f"feed {feed.name!r} does not exist yet; waiting for its first item")
        shown: dict[str, bytes] = dict(await feed.items())
        for item_id, data in list(shown.items())[len(shown) - first :]:
            out(("item", item_id, data))
        async for event in events:
            if isinstance(event, Gap):
                warn(f"events may have been missed ({event.reason}); re-reading the feed")
                fresh: dict[str, bytes] = dict(await feed.items())
                for change in diff(shown, fresh):
                    out(change)
                shown = fresh
                continue
            line = _apply(shown, event)
            if line is not None:
                out(line)


def _apply(shown: dict[str, bytes], event: ObjectEvent) -> Line | None:
    """Update ``shown`` with one event; the line to print, or None if nothing changed.

    Comparing with what was shown (not trusting the event name) is what keeps
    the output right when an event arrives that the first read already saw.
    """
    if event.event in ("publish", "edit"):
        if event.data is None or shown.get(event.id) == event.data:
            return None  # already shown (or a foreign event without its item)
        name = "edit" if event.id in shown else "publish"
        shown[event.id] = event.data
        return (name, event.id, event.data)
    if event.event == "retract":
        if shown.pop(event.id, None) is None:
            return None
        return ("retract", event.id, None)
    if event.event == "delete":
        shown.clear()
        return ("delete", "", None)
    return None  # config: nothing to show


def diff(old: dict[str, bytes], new: dict[str, bytes]) -> Iterator[Line]:
    """The lines that turn ``old`` into ``new``: retracts first, then new/changed items in order."""
    for item_id in old:
        if item_id not in new:
            yield ("retract", item_id, None)
    for item_id, data in new.items():
        before = old.get(item_id)
        if before is None:
            yield ("publish", item_id, data)
        elif before != data:
            yield ("edit", item_id, data)
