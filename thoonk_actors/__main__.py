"""``python -m thoonk_actors ...`` is the ``thoonk`` command."""

from __future__ import annotations

from thoonk_actors.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
