"""``thoonk server``: run, start, stop and inspect the embedded Redis server.

Synopsis::

    thoonk server [--data-dir DIR]               # foreground; Ctrl-C stops it
    thoonk server start [--data-dir DIR] [--json]  # detached, shared by every process
    thoonk server status [--data-dir DIR] [--json]
    thoonk server stop [--data-dir DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import TYPE_CHECKING

from .._errors import EmbeddedServerError
from ._common import EXIT_OK, EXIT_REFUSED, Subparsers, add_data_dir, data_dir

if TYPE_CHECKING:
    from ..embedded import EmbeddedServer


def add_parser(
    commands: Subparsers[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    server = commands.add_parser(
        "server",
        parents=[common],
        help="run the embedded Redis server (foreground), or start/stop/status it",
        description=(
            "Without an action, run the embedded Redis server in the foreground until "
            "Ctrl-C. With start/stop/status, manage a detached server that every "
            "process on this machine shares through its unix socket."
        ),
    )
    add_data_dir(server)
    server.set_defaults(handler=_run_foreground)
    actions = server.add_subparsers(title="actions", metavar="ACTION")

    start = actions.add_parser(
        "start", parents=[common], help="start a detached server (or find it running)"
    )
    add_data_dir(start)
    _add_timeout(start)
    start.add_argument("--json", action="store_true", help="print the server as JSON")
    start.set_defaults(handler=_start)

    stop = actions.add_parser("stop", parents=[common], help="stop the server (flushes the AOF)")
    add_data_dir(stop)
    _add_timeout(stop)
    stop.add_argument("--json", action="store_true", help="print the outcome as JSON")
    stop.set_defaults(handler=_stop)

    status = actions.add_parser(
        "status", parents=[common], help="tell whether a server is running (exit 1 if not)"
    )
    add_data_dir(status)
    status.add_argument("--json", action="store_true", help="print the status as JSON")
    status.set_defaults(handler=_status)


def _add_timeout(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--timeout",
        type=float,
        default=10.0,
        metavar="SECONDS",
        help="how long to wait for the server (default: 10)",
    )


def _resolved(args: argparse.Namespace) -> str:
    from ..embedded import default_data_dir

    given = data_dir(args)
    return default_data_dir() if given is None else os.path.abspath(os.path.expanduser(given))


def _as_json(server: EmbeddedServer | None, data_dir: str, **extra: object) -> str:
    fields: dict[str, object] = {"running": server is not None, "data_dir": data_dir}
    if server is not None:
        fields.update(
            url=server.url,
            socket_path=server.socket_path,
            pid=server.pid,
            version=server.version,
            binary=server.binary,
            chosen=server.chosen,
        )
    fields.update(extra)
    return json.dumps(fields, sort_keys=True)


def _advise(server: EmbeddedServer) -> None:
    """Warn (stderr) when the server's Redis lacks the fixes of its line's newest patch."""
    from ..embedded import version_advice

    advice = version_advice(server.version)
    if advice is not None:
        print(f"thoonk: warning: {advice}", file=sys.stderr)


def _describe(server: EmbeddedServer) -> str:
    return f"{server.url} (Redis {server.version}, pid {server.pid}); data in {server.data_dir}"


def _which_binary(server: EmbeddedServer) -> str:
    """Which redis-server runs, and why that one (the status line after the first)."""
    from ..embedded import REDIS_SERVER_ENV

    if server.binary is None:
        return "Binary: unknown (not started by this version of thoonk-actors)."
    if server.chosen == REDIS_SERVER_ENV:
        why = f"set by {REDIS_SERVER_ENV}"
    else:
        why = f"{server.chosen or 'chosen'}; {REDIS_SERVER_ENV} overrides"
    return f"Binary: {server.binary} ({why})."


def _run_foreground(args: argparse.Namespace) -> int:
    from ..embedded import embedded_server_status, run_embedded_server_foreground

    where = _resolved(args)
    running = embedded_server_status(where)
    if running is not None:
        print(
            f"thoonk: error: a Thoonk server is already running at {_describe(running)}; "
            "stop it with `thoonk server stop` first.",
            file=sys.stderr,
        )
        return EXIT_REFUSED

    def ready(server: EmbeddedServer) -> None:
        print(f"Thoonk server running at {_describe(server)}.", flush=True)
        print(
            f"Log: {os.path.join(server.data_dir, 'redis.log')}. Press Ctrl-C to stop.",
            flush=True,
        )

    code = run_embedded_server_foreground(where, on_ready=ready)
    if code != 0:
        raise EmbeddedServerError(
            f"redis-server exited with code {code}; see {os.path.join(where, 'redis.log')}."
        )
    print("Thoonk server stopped.", flush=True)
    return EXIT_OK


def _start(args: argparse.Namespace) -> int:
    from ..embedded import ensure_embedded_server

    server = ensure_embedded_server(_resolved(args), timeout=args.timeout)
    if args.json:
        print(_as_json(server, server.data_dir, started=server.started))
    else:
        how = "started" if server.started else "already running"
        print(f"Thoonk server {how} at {_describe(server)}.")
    return EXIT_OK


def _stop(args: argparse.Namespace) -> int:
    from ..embedded import stop_embedded_server

    where = _resolved(args)
    was_running = stop_embedded_server(where, timeout=args.timeout)
    if args.json:
        print(json.dumps({"data_dir": where, "stopped": was_running}, sort_keys=True))
    elif was_running:
        print(f"Thoonk server in {where} stopped.")
    else:
        print(f"No Thoonk server was running in {where}.")
    return EXIT_OK if was_running else EXIT_REFUSED


def _status(args: argparse.Namespace) -> int:
    from ..embedded import embedded_server_status

    where = _resolved(args)
    server = embedded_server_status(where)
    if args.json:
        print(_as_json(server, where))
    elif server is not None:
        print(f"Thoonk server running at {_describe(server)}.")
        print(_which_binary(server))
        _advise(server)
    else:
        print(f"No Thoonk server is running in {where}.")
    return EXIT_OK if server is not None else EXIT_REFUSED
