"""The ``thoonk`` command line: publish, get / finish / cancel / stall / retry / retract,
feed tail, stats, top, worker, contract, server, demo (``docs/cli.md`` has them all).

Synopsis: ``main(["server", "status", "--json"]) -> 0``; also ``python -m thoonk_actors``.
"""

from __future__ import annotations

from ._main import main as main

__all__ = ["main"]
