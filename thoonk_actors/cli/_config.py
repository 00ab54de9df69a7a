"""``thoonk config TYPE NAME``: show an object's config, or change it with ``--set`` / ``--unset``.

Synopsis::

    thoonk config job emails                                  # SETTING  VALUE  MEANING
    thoonk config job emails --set max_per_second=20 --set max_concurrent=3
    thoonk config feed news --unset max_length                # back to the default
    thoonk config job emails --json                           # {"type", "name", "config"}

The settings, their ranges and meanings are the contract's (``RANGES`` and
``MEANINGS`` in ``contract/_config.py``). Every change is checked before
anything is sent: an unknown setting or a bad value exits 2 and changes
nothing. The change itself is ``configure()`` of the object (one script, which
publishes a ``config`` event); an object that does not exist is refused
(exit 1), so a typo creates nothing.
"""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .._errors import NoSuchObjectError, UsageError
from ..contract import KEYS_BY_KIND, MEANINGS, RANGES, Kind, validate_config
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
    terminal_safe,
)
from ._run import run_with_thoonk

if TYPE_CHECKING:
    from ..objects import Thoonk, ThoonkObject


def _settings_help() -> str:
    lines = []
    for kind, rules in RANGES.items():
        names = ", ".join(rules) or "none yet"
        lines.append(f"  {TYPE_NAMES[kind]}: {names}")
    return "\n".join(lines)


def add_parser(
    commands: Subparsers[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    config = add_command(
        commands,
        "config",
        common,
        help="show or change the config of a job queue, feed, sorted feed or queue",
        description=(
            "Show the config of an existing object (every setting, with its default when it "
            "is not set), or change it: --set KEY=VALUE sets a setting, --unset KEY puts it "
            "back to its default; both may be repeated, and all changes are made at once by "
            "one script, which publishes a config event. Every setting is a whole number in "
            "a range; an unknown setting or a bad value is refused (exit 2) and nothing "
            "changes. An object that does not exist is refused (exit 1). With --json: "
            '{"type": ..., "name": ..., "config": {SETTING: VALUE, ...}} (null: not set, '
            "no bound), after the change when there is one."
        ),
        examples=f"""\
  thoonk config job emails
  thoonk config job emails --set max_per_second=20 --set max_concurrent=3
  thoonk config feed news --set max_length=1000
  thoonk config feed news --unset max_length
  thoonk config job emails --json | jq .config.max_per_second

settings:
{_settings_help()}
""",
    )
    config.add_argument("type", metavar="TYPE", type=object_type, help=(
        "job, feed, sorted-feed or queue"
    ))  # fmt: skip
    config.add_argument("name", metavar="NAME", help="the object's name")
    config.add_argument(
        "--set",
        dest="sets",
        metavar="KEY=VALUE",
        type=_assignment,
        action="append",
        default=[],
        help="set a setting (repeatable), e.g. max_per_second=20",
    )
    config.add_argument(
        "--unset",
        dest="unsets",
        metavar="KEY",
        action="append",
        default=[],
        help="put a setting back to its default (repeatable)",
    )
    add_redis_options(config)
    add_json(config, "the config")
    config.set_defaults(handler=_config)


def _assignment(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError(f"{text!r} is not KEY=VALUE (e.g. max_per_second=20)")
    return key.strip(), value.strip()


def changes_of(kind: Kind, sets: list[tuple[str, str]], unsets: list[str]) -> dict[str, Any]:
    """The ``configure()`` keywords of ``--set`` / ``--unset``, checked like ``configure`` does.

    Raises:
        UsageError: a setting given twice.
        InvalidConfigError: an unknown setting or a bad value.
    """
    changes: dict[str, Any] = {}
    for key, value in [*sets, *((key, None) for key in unsets)]:
        if key in changes:
            raise UsageError(f"the setting {key!r} is given twice; give it once")
        changes[key] = _number(value)
    validate_config(kind, changes)
    return changes


def _number(value: str | None) -> int | str | None:
    """``"20"`` -> 20; anything else stays as it is, for ``validate_config`` to refuse."""
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        return value


def _object(thoonk: Thoonk, kind: Kind, name: str) -> ThoonkObject[Any]:
    # Each kind's handle is the Thoonk method of that name (job, feed, sorted_feed, queue).
    make: Callable[[str], ThoonkObject[Any]] = getattr(thoonk, kind)
    return make(name)


def _config(args: argparse.Namespace) -> int:
    kind: Kind = args.type
    KEYS_BY_KIND[kind].of(args.name)  # a bad name is refused before connecting
    changes = changes_of(kind, args.sets, args.unsets)  # so is a bad change

    async def command(thoonk: Thoonk) -> int:
        obj = _object(thoonk, kind, args.name)
        if not await obj.exists():
            raise NoSuchObjectError(
                f"{obj.keys.label} does not exist; check the name and the type (`thoonk stats` "
                "lists every object; `thoonk register` adds one only other clients use)"
            )
        if changes:
            await obj.configure(**changes)
        settings = dataclasses.asdict(await obj.config())
        if args.json:
            emit_json({"type": TYPE_NAMES[kind], "name": args.name, "config": settings})
        else:
            emit(render(obj.keys.label, settings))
        return EXIT_OK

    return run_with_thoonk(args, command)


def render(label: str, settings: dict[str, int | None]) -> str:
    """The object's label, then one line per setting: name, value, meaning."""
    if not settings:
        return f"{terminal_safe(label)} has no settings"
    head = ["SETTING", "VALUE"]
    body = [[key, "-" if value is None else str(value)] for key, value in settings.items()]
    rows = table([head, *body]).splitlines()
    meanings = ["MEANING", *(MEANINGS[key] for key in settings)]
    return "\n".join([
        terminal_safe(label),
        *(f"{row}  {meaning}" for row, meaning in zip(rows, meanings, strict=True)),
    ])  # fmt: skip
