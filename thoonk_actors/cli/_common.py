"""What every command module shares: exit codes, the handler type, common options."""

from __future__ import annotations

import argparse
from collections.abc import Callable

EXIT_OK = 0
EXIT_REFUSED = 1  # refused, or not found (no server running, ...)
EXIT_USAGE = 2  # argparse's own code for a bad command line
EXIT_SERVER = 3  # cannot reach Redis, or the server failed

Handler = Callable[[argparse.Namespace], int]
Subparsers = argparse._SubParsersAction  # argparse has no public name for it


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
