"""What every command module shares: exit codes, the parser class, common options, output."""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, NoReturn

if TYPE_CHECKING:
    from ..contract import Kind

EXIT_OK = 0
EXIT_REFUSED = 1  # refused, or not found (no server running, unknown id, ...)
EXIT_USAGE = 2  # argparse's own code for a bad command line
EXIT_SERVER = 3  # cannot reach Redis, or the server failed
EXIT_INTERRUPTED = 130  # Ctrl-C where it is not the normal way to stop (128 + SIGINT)

DEFAULT_CONNECT_TIMEOUT = 5.0

Handler = Callable[[argparse.Namespace], int]
Subparsers = argparse._SubParsersAction  # argparse has no public name for it

#: TYPE on the command line -> the contract's object kind.
TYPES: dict[str, Kind] = {
    "job": "job",
    "feed": "feed",
    "sorted-feed": "sorted_feed",
    "queue": "queue",
}
#: The contract's object kind -> how the command line (and its JSON) spells it.
TYPE_NAMES: dict[Kind, str] = {kind: name for name, kind in TYPES.items()}


class HelpFormatter(argparse.HelpFormatter):
    """Fills one-line texts (descriptions) to the terminal; keeps texts with line breaks.

    So a description wraps like any help text, while an epilog of examples keeps
    one example per line.
    """

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        if "\n" not in text:
            return super()._fill_text(text, width, indent)
        return "".join(indent + line for line in text.splitlines(keepends=True))


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose usage errors are one line: what is wrong, where to look.

    A command's options may come before, between or after its positionals
    (``thoonk publish job q --id x ITEM``): a command without subcommands
    parses "intermixed".
    """

    _intermixing = False

    def parse_known_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> tuple[argparse.Namespace, list[str]]:
        nested = any(a.nargs in (argparse.PARSER, argparse.REMAINDER) for a in self._actions)
        if self._intermixing or nested:
            return super().parse_known_args(args, namespace)
        self._intermixing = True  # parse_known_intermixed_args calls this method again
        try:
            return self.parse_known_intermixed_args(args, namespace)
        finally:
            self._intermixing = False

    def error(self, message: str) -> NoReturn:
        if message.startswith("unrecognized arguments: ") and " -" in f" {message[24:]}":
            message += (
                "; an item that starts with '-' goes after '--' (e.g. `thoonk publish job q "
                "-- -x`), and every option before '--'"
            )
        self.exit(EXIT_USAGE, f"thoonk: error: {message} (see `{self.prog} --help`)\n")


def add_command(
    commands: Subparsers[argparse.ArgumentParser],
    name: str,
    common: argparse.ArgumentParser,
    *,
    help: str,
    description: str,
    examples: str,
) -> argparse.ArgumentParser:
    """A subcommand parser with the shared options and an ``examples:`` epilog."""
    return commands.add_parser(
        name,
        parents=[common],
        help=help,
        description=description,
        epilog=f"examples:\n{examples.rstrip()}\n",
        formatter_class=HelpFormatter,
    )


def add_data_dir(parser: argparse.ArgumentParser) -> None:
    """``--data-dir DIR``; absent from the namespace unless given (see ``data_dir``)."""
    parser.add_argument(
        "--data-dir",
        metavar="DIR",
        default=argparse.SUPPRESS,
        help="the embedded server's data directory (default: $THOONK_DATA_DIR or ./.thoonk)",
    )


def data_dir(args: argparse.Namespace) -> str | None:
    value: str | None = getattr(args, "data_dir", None)
    return value


def add_redis_options(parser: argparse.ArgumentParser) -> None:
    """``--url URL`` and ``--connect-timeout SECONDS`` for commands that talk to Redis."""
    parser.add_argument(
        "--url",
        metavar="URL",
        help="redis://, rediss:// or unix:// URL (default: $THOONK_REDIS_URL, else the "
        "embedded server of $THOONK_DATA_DIR or ./.thoonk, started when needed)",
    )
    parser.add_argument(
        "--connect-timeout",
        metavar="SECONDS",
        type=seconds(allow_zero=False),
        default=DEFAULT_CONNECT_TIMEOUT,
        help=f"give up (exit 3) when Redis cannot be reached within this time "
        f"(default: {DEFAULT_CONNECT_TIMEOUT:g})",
    )


def add_json(parser: argparse.ArgumentParser, what: str = "the outcome") -> None:
    """``--json``: machine output."""
    parser.add_argument("--json", action="store_true", help=f"print {what} as JSON")


def seconds(*, allow_zero: bool = True) -> Callable[[str], float]:
    """An argparse ``type`` for a finite number of seconds (> 0, or >= 0 with allow_zero)."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
        if math.isnan(value) or math.isinf(value) or value < 0 or (value == 0 and not allow_zero):
            bound = ">= 0" if allow_zero else "> 0"
            raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds {bound}")
        return value

    return parse


def number(what: str, *, minimum: int = 1) -> Callable[[str], int]:
    """An argparse ``type`` for a whole number of ``what`` (``processes``, ``jobs``) >= minimum."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = minimum - 1
        if value < minimum:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number of {what} >= {minimum}")
        return value

    return parse


def object_type(text: str) -> Kind:
    """An argparse ``type`` for TYPE: ``job``, ``feed``, ``sorted-feed`` or ``queue``."""
    kind = TYPES.get(text.replace("_", "-"))
    if kind is None:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an object type; use one of {', '.join(TYPES)}"
        )
    return kind


# Characters that move the cursor, end a field or a line, or reorder what a
# terminal shows: C0 and C1 controls, DEL, and the bidirectional overrides.
_UNSAFE = {
    **{c: f"\\x{c:02x}" for c in [*range(0x20), 0x7F, *range(0x80, 0xA0)]},
    **{c: f"\\u{c:04x}" for c in [0x2028, 0x2029, *range(0x202A, 0x202F), *range(0x2066, 0x206A)]},
    0x09: "\\t",
    0x0A: "\\n",
    0x0D: "\\r",
}


def terminal_safe(text: str) -> str:
    """``text`` with control characters escaped (``\\t``, ``\\n``, ``\\x1b``...), for human output.

    Ids and names come from Redis, where any client may store a TAB (which
    would forge a field of ``IFS=$'\\t' read``), a LF (which would forge a
    whole line of ``feed tail``) or an ESC sequence (which the terminal would
    run). ``--json`` output is not passed through this: it is exact.
    """
    return text.translate(_UNSAFE)


def emit(text: str) -> None:
    """Print one line of output at once (a reader on a pipe sees it immediately)."""
    print(text, flush=True)


def emit_json(value: Any) -> None:
    """Print one compact JSON document on one line."""
    emit(json.dumps(value, ensure_ascii=False, separators=(",", ":")))


def warn(message: str) -> None:
    """One line on stderr that is not an error (the command goes on)."""
    print(f"thoonk: {terminal_safe(message)}", file=sys.stderr, flush=True)


def table(rows: list[list[str]], *, right: int = 1) -> str:
    """Rows as aligned columns (two spaces apart); columns from ``right`` on right-aligned.

    Cells are made :func:`terminal_safe` (names come from Redis).
    """
    rows = [[terminal_safe(cell) for cell in row] for row in rows]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = []
    for row in rows:
        cells = [
            cell.rjust(width) if i >= right else cell.ljust(width)
            for i, (cell, width) in enumerate(zip(row, widths, strict=True))
        ]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)
