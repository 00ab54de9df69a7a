"""Running a command that talks to Redis, and turning any error into an exit code.

Synopsis::

    async def count(thoonk: Thoonk) -> int:
        print(await thoonk.feed(args.name).length())
        return EXIT_OK

    return run_with_thoonk(args, count)     # trio.run inside open_thoonk(args.url)

Exit codes (one table for every command, see :func:`exit_code`): 0 ok,
1 refused or not found, 2 usage, 3 cannot reach Redis (or the embedded server
failed), 130 interrupted.
"""

from __future__ import annotations

import argparse
import sys
import traceback
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from .._errors import EmbeddedServerError, ServerError, ThoonkError, UsageError
from ._common import (
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_REFUSED,
    EXIT_SERVER,
    EXIT_USAGE,
    terminal_safe,
)

if TYPE_CHECKING:
    from ..objects import Thoonk

#: CLIENT SETNAME of the command line's connections (``CLIENT LIST`` shows who is who).
CLIENT_NAME = "thoonk-cli"

Command = Callable[["Thoonk"], Awaitable[int]]


def run_with_thoonk(args: argparse.Namespace, command: Command) -> int:
    """``trio.run`` ``command(thoonk)`` inside ``open_thoonk(args.url)``; its exit code.

    ``args.connect_timeout`` bounds both one connection attempt and the retries,
    so an unreachable server is reported (exit 3) within that time. Errors are
    raised as themselves (never as a one-error ExceptionGroup) for
    :func:`exit_code` and :func:`report`.
    """
    import trio  # here, not above: `thoonk --help` need not import trio nor the transport

    from .._nursery import single_leaf
    from ..objects import default_worker_id, open_thoonk

    url: str | None = args.url
    timeout: float = args.connect_timeout

    async def main() -> int:
        async with open_thoonk(
            url,
            worker_id=f"{CLIENT_NAME}@{default_worker_id()}",
            client_name=CLIENT_NAME,
            connect_timeout=timeout,
            reconnect_timeout=timeout,
        ) as thoonk:
            return await command(thoonk)

    try:
        return trio.run(main)
    except BaseExceptionGroup as group:
        leaf = single_leaf(group)
        if leaf is None:
            raise
        raise leaf from leaf.__cause__


def check_redis(args: argparse.Namespace) -> tuple[str, str]:
    """``(url, where)`` once Redis at ``args.url`` answered a PING (see :func:`run_with_thoonk`).

    ``url`` is resolved (``$THOONK_REDIS_URL``, else the embedded server, started
    if needed) for handing to other processes; ``where`` is the same without a
    password, for messages. Raises like :func:`run_with_thoonk` (exit 3 when
    Redis cannot be reached within ``args.connect_timeout``).
    """
    found: list[tuple[str, str]] = []

    async def ping(thoonk: Thoonk) -> int:
        await thoonk.execute("PING")
        found.append((thoonk.url, thoonk.where))
        return EXIT_OK

    run_with_thoonk(args, ping)
    return found[0]


def _unreachable() -> tuple[type[Exception], ...]:
    """The errors that mean Redis cannot be used: the link broke, or the server still loads.

    They are the transport's (re-exported by the objects layer). Empty when
    the transport was never imported: none can have been raised then, and a
    usage error need not pay for importing them.
    """
    if "thoonk_actors.transport" not in sys.modules:
        return ()
    from ..objects import ThoonkConnectionError, ThoonkLoadingError, ThoonkTimeoutError

    return ThoonkConnectionError, ThoonkTimeoutError, ThoonkLoadingError


def exit_code(exc: BaseException) -> int:
    """The exit code for an error that ended a command.

    A broken link (``ThoonkConnectionError``, ``ThoonkTimeoutError``), a
    server still loading its data when the connect timeout ran out, or an
    embedded server that failed: exit 3.
    """
    if isinstance(exc, KeyboardInterrupt):
        return EXIT_INTERRUPTED
    if isinstance(exc, (EmbeddedServerError, *_unreachable())):
        return EXIT_SERVER
    if isinstance(exc, UsageError):
        return EXIT_USAGE
    return EXIT_REFUSED  # RefusedError, a Redis error reply, and any other "no"


def report(exc: BaseException, debug: bool) -> None:
    """Say what went wrong in one line on stderr (the traceback first with ``--debug``)."""
    if debug:
        traceback.print_exception(exc, file=sys.stderr)
    message = str(exc) or type(exc).__name__
    if isinstance(exc, ServerError) and not isinstance(exc, _unreachable()):
        message = f"Redis refused the command: {message}"
    elif not isinstance(exc, ThoonkError):
        message = f"unexpected {type(exc).__name__}: {message}"
        if not debug:
            message += " (run with --debug for the traceback)"
    print(f"thoonk: error: {terminal_safe(' '.join(message.split()))}", file=sys.stderr)
