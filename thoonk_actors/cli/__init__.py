"""The ``thoonk`` command line: ``thoonk server``, ``thoonk demo``, ...

Synopsis: ``main(["server", "status", "--json"]) -> 0``; also ``python -m thoonk_actors``.
"""

from __future__ import annotations

from ._main import main as main

__all__ = ["main"]
