"""The ``thoonk`` entry point: argument parsing, error reporting and exit codes.

Each command lives in its own module and registers itself with ``add_parser``;
its handler returns an exit code or raises, and the error is reported here in
one sentence (a traceback only with ``--debug``).

Every parser is built on every run (argparse needs them all for ``thoonk
--help``), so a command module imports at its top only argparse, ``_common``,
``_run`` and the contract: trio, redis-py, the objects, the runtime, the
embedded server and the metrics exporter are imported by the handler that uses
them (``tests/cli/test_startup.py`` checks; ``benchmarks/cli_startup.py`` times it).

Exit codes: 0 ok, 1 refused or not found, 2 usage, 3 cannot reach Redis or the
server failed, 130 interrupted (see ``_run.exit_code``).
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from collections.abc import Iterable, Sequence

from . import (
    _config,
    _contract,
    _demo,
    _feed,
    _jobs,
    _metrics,
    _publish,
    _register,
    _schedules,
    _server,
    _stats,
    _top,
    _worker,
)
from ._common import EXIT_INTERRUPTED, EXIT_REFUSED, EXIT_USAGE, Handler, HelpFormatter, Parser
from ._run import exit_code, report


def _version() -> str:
    import importlib.metadata  # here: importing it costs more than some commands take

    try:
        return importlib.metadata.version("thoonk-actors")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


class _VersionAction(argparse.Action):
    """``--version``, like argparse's ``action="version"``, reading the version when given."""

    def __init__(self, option_strings: Sequence[str], dest: str = argparse.SUPPRESS) -> None:
        super().__init__(
            option_strings,
            dest,
            default=argparse.SUPPRESS,
            nargs=0,
            help="show program's version number and exit",
        )

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: object,
        option_string: str | None = None,
    ) -> None:
        print(f"thoonk-actors {_version()}")
        parser.exit()


def build_parser() -> argparse.ArgumentParser:
    """The whole ``thoonk`` parser; each command module adds its own subcommand."""
    # Options accepted both before and after the subcommand: SUPPRESS keeps a
    # subcommand's parser from overwriting a value given before it.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--debug",
        action="store_true",
        default=argparse.SUPPRESS,
        help="show tracebacks for errors, and debug logs",
    )
    parser: argparse.ArgumentParser = Parser(  # its subcommands are Parsers too
        prog="thoonk",
        description="Thoonk for Python on trio: feeds, queues and jobs on Redis.",
        epilog="Exit codes: 0 ok, 1 refused or not found, 2 usage, 3 cannot reach Redis.\n"
        "See docs/cli.md for every command with examples.",
        parents=[common],
        formatter_class=HelpFormatter,
    )
    parser.add_argument("--version", action=_VersionAction)
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")
    _publish.add_parser(commands, common)
    _jobs.add_parsers(commands, common)
    _feed.add_parser(commands, common)
    _stats.add_parser(commands, common)
    _top.add_parser(commands, common)
    _metrics.add_parser(commands, common)
    _register.add_parser(commands, common)
    _config.add_parser(commands, common)
    _schedules.add_parser(commands, common)
    _worker.add_parser(commands, common)
    _contract.add_parser(commands, common)
    _server.add_parser(commands, common)
    _demo.add_parser(commands, common)
    return parser


def _setup_logging(debug: bool) -> None:
    # The transport logs reconnects as warnings; show them as plain "thoonk:" lines.
    logging.basicConfig(
        level=logging.DEBUG if debug else logging.WARNING,
        format="thoonk: %(name)s: %(message)s" if debug else "thoonk: %(message)s",
    )


def main(argv: Sequence[str] | None = None, *, signal_mask: Iterable[int] | None = None) -> int:
    """Run ``thoonk`` with ``argv`` (default ``sys.argv[1:]``); return the exit code.

    Synopsis: ``main(["server", "start"]) -> 0``.

    ``signal_mask``: the signal mask to restore once the arguments are parsed
    (``thoonk_actors.cli.main`` holds SIGINT/SIGTERM until then); a command
    whose parser sets ``holds_stop_signals`` (``worker``) keeps them held and
    takes them over itself.
    """
    debug = False
    try:
        parser = build_parser()
        try:
            args = parser.parse_args(argv)
        except SystemExit as exc:  # argparse: 2 on a usage error, 0 after --help
            return exc.code if isinstance(exc.code, int) else EXIT_USAGE
        handler: Handler | None = getattr(args, "handler", None)
        if handler is None:
            parser.print_help(sys.stderr)
            return EXIT_USAGE
        debug = getattr(args, "debug", False)
        _setup_logging(debug)
        if signal_mask is not None and not getattr(args, "holds_stop_signals", False):
            signal.pthread_sigmask(signal.SIG_SETMASK, signal_mask)  # a held Ctrl-C lands here
        return handler(args)
    except KeyboardInterrupt:
        print("thoonk: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader went away (`thoonk feed tail news | head`); stop quietly, and
        # keep the interpreter from complaining when it flushes stdout at exit.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_REFUSED
    except Exception as exc:
        report(exc, debug)
        return exit_code(exc)


__all__ = ["build_parser", "main"]
