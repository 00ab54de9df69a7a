"""``thoonk demo``: a placeholder until the actor runtime lands.

It says so, checks the one thing that exists already (the embedded server) and
reports what it did. The real demo replaces this module.
"""

from __future__ import annotations

import argparse

from ..transport._embedded import ensure_embedded_server, stop_embedded_server
from ._common import EXIT_OK, Subparsers, add_data_dir, data_dir


def add_parser(
    commands: Subparsers[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    demo = commands.add_parser(
        "demo",
        parents=[common],
        help="a short tour (for now: checks the embedded Redis server)",
    )
    add_data_dir(demo)
    demo.set_defaults(handler=_demo)


def _demo(args: argparse.Namespace) -> int:
    print(
        "The Thoonk demo (a feed, a job queue and workers as trio actors) arrives with "
        "the actor runtime; it is not written yet."
    )
    server = ensure_embedded_server(data_dir(args))
    print(
        f"What it did: checked the embedded Redis server at {server.url} "
        f"(Redis {server.version}, pid {server.pid}, data in {server.data_dir}): "
        "it answers PING."
    )
    if server.started:
        stop_embedded_server(server.data_dir)
        print("It started the server for this check and stopped it again.")
    else:
        print("The server was already running and was left running.")
    return EXIT_OK
