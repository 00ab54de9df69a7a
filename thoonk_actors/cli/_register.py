"""``thoonk register TYPE NAME``: put an object that no registry names into its registry.

Synopsis::

    thoonk register job thumbnails        # a queue only original JavaScript clients use
    thoonk register job thumbnails --json

The original JavaScript Thoonk Jobs never writes the ``jobs`` registry;
``thoonk stats`` and ``thoonk top`` find such queues by their keys and mark
them "unregistered". Registering one (``Thoonk.register``, one idempotent
script) makes it a registered object like any other; it changes none of its keys.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from ..contract import KIND_LABELS
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
from ._run import run_with_thoonk

if TYPE_CHECKING:
    from ..objects import Thoonk


def add_parser(
    commands: Subparsers[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    register = add_command(
        commands,
        "register",
        common,
        help="add an existing object that no registry names (an original JS client's) to it",
        description=(
            "Add an existing job queue, feed, sorted feed or queue to its type's registry "
            "(jobs, feeds, sorted_feeds, queues). The original JavaScript Thoonk never "
            "registers its job queues; `thoonk stats` lists them as unregistered. Registering "
            "is idempotent and changes none of the object's keys; a name with no key at all "
            'is refused (exit 1). With --json: {"type": ..., "name": ..., "added": true|false}.'
        ),
        examples="""\
  thoonk register job thumbnails
  thoonk stats --json | jq -r '.[] | select(.registered | not) | "\\(.type) \\(.name)"'
""",
    )
    register.add_argument("type", metavar="TYPE", type=object_type, help=(
        "job, feed, sorted-feed or queue"
    ))  # fmt: skip
    register.add_argument("name", metavar="NAME", help="the object's name")
    add_redis_options(register)
    add_json(register, "the outcome")
    register.set_defaults(handler=_register)


def _register(args: argparse.Namespace) -> int:
    async def command(thoonk: Thoonk) -> int:
        added = await thoonk.register(args.type, args.name)
        if args.json:
            emit_json({"type": TYPE_NAMES[args.type], "name": args.name, "added": added})
        else:
            what = f"{KIND_LABELS[args.type]} {terminal_safe(repr(args.name))}"
            emit(f"registered {what}" if added else f"{what} was registered already")
        return EXIT_OK

    return run_with_thoonk(args, command)
