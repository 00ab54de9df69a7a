"""The ``thoonk`` entry point: argument parsing, error reporting and exit codes.

Each command lives in its own module and registers itself with ``add_parser``;
its handler returns an exit code or raises a :class:`ThoonkError`, which is
reported here in one sentence (a traceback only with ``--debug``).

Exit codes: 0 ok, 1 refused or not found, 2 usage, 3 cannot reach Redis or the
server failed, 130 interrupted.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import sys
import traceback
from collections.abc import Sequence

from .._errors import EmbeddedServerError, ThoonkError, UsageError
from ..transport import ThoonkConnectionError, ThoonkTimeoutError
from . import _demo, _server
from ._common import EXIT_REFUSED, EXIT_SERVER, EXIT_USAGE, Handler

EXIT_INTERRUPTED = 130


def _version() -> str:
    try:
        return importlib.metadata.version("thoonk-actors")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def build_parser() -> argparse.ArgumentParser:
    """The whole ``thoonk`` parser; each command module adds its own subcommand."""
    # Options accepted both before and after the subcommand: SUPPRESS keeps a
    # subcommand's parser from overwriting a value given before it.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--debug",
        action="store_true",
        default=argparse.SUPPRESS,
        help="show tracebacks for errors",
    )
    parser = argparse.ArgumentParser(
        prog="thoonk",
        description="Thoonk for Python on trio: feeds, queues and jobs on Redis.",
        parents=[common],
    )
    parser.add_argument("--version", action="version", version=f"thoonk-actors {_version()}")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")
    _server.add_parser(commands, common)
    _demo.add_parser(commands, common)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``thoonk`` with ``argv`` (default ``sys.argv[1:]``); return the exit code.

    Synopsis: ``main(["server", "start"]) -> 0``.
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse: 2 on a usage error, 0 after --help
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    handler: Handler | None = getattr(args, "handler", None)
    if handler is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    debug: bool = getattr(args, "debug", False)
    try:
        return handler(args)
    except KeyboardInterrupt:
        print("thoonk: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except ThoonkError as exc:
        _report(exc, debug)
        return _exit_code(exc)
    except Exception as exc:  # a bug: still one sentence unless --debug
        _report(exc, debug, unexpected=True)
        return EXIT_REFUSED


def _exit_code(exc: ThoonkError) -> int:
    if isinstance(exc, EmbeddedServerError | ThoonkConnectionError | ThoonkTimeoutError):
        return EXIT_SERVER
    if isinstance(exc, UsageError):
        return EXIT_USAGE
    return EXIT_REFUSED  # RefusedError, and any other deliberate "no"


def _report(exc: BaseException, debug: bool, *, unexpected: bool = False) -> None:
    if debug:
        traceback.print_exception(exc, file=sys.stderr)
    message = str(exc) or type(exc).__name__
    if unexpected:
        message = f"unexpected {type(exc).__name__}: {message}"
        if not debug:
            message += " (run with --debug for the traceback)"
    print(f"thoonk: error: {message}", file=sys.stderr)


__all__ = ["build_parser", "main"]
