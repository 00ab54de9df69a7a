"""The ``thoonk`` command line: publish, get / finish / cancel / stall / retry / retract,
feed tail, stats, top, worker, contract, server, demo (``docs/cli.md`` has them all).

Synopsis: ``main(["server", "status", "--json"]) -> 0``; also ``python -m thoonk_actors``.

This module stays light (the commands are imported inside :func:`main`), so
that holding SIGINT/SIGTERM is the program's first instruction.
"""

from __future__ import annotations

import signal
from collections.abc import Sequence

_STOP = (signal.SIGINT, signal.SIGTERM)


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``thoonk`` with ``argv`` (default ``sys.argv[1:]``); return the exit code.

    SIGINT/SIGTERM are held (blocked) while the commands are imported and the
    arguments parsed: ``thoonk worker`` then takes them over so that a stop
    is honoured at any moment of its start-up; every other command gets them
    back as usual (a held Ctrl-C is then "interrupted", exit 130).
    """
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, _STOP)
    from ._main import main as run

    return run(argv, signal_mask=mask)


__all__ = ["main"]
