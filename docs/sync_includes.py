"""Refresh the example files embedded in the docs: ``python docs/sync_includes.py``.

A doc embeds a file with a marker line followed by a fenced block::

    <!-- include: examples/jobs_basics.py -->
    ```python
    ...the file, verbatim...
    ```

This script rewrites every such block from the file; ``tests/docs`` fails when
a block and its file differ, so the docs never show code that CI did not run.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BLOCK = re.compile(r"<!-- include: (?P<path>\S+) -->\n```(?P<lang>\w*)\n(?P<body>.*?)```", re.S)


def render(doc: str) -> str:
    def replace(match: re.Match[str]) -> str:
        text = (ROOT / match["path"]).read_text(encoding="utf-8")
        return f"<!-- include: {match['path']} -->\n```{match['lang']}\n{text}```"

    return BLOCK.sub(replace, doc)


def main() -> int:
    changed = 0
    for path in sorted((ROOT / "docs").glob("*.md")):
        doc = path.read_text(encoding="utf-8")
        new = render(doc)
        if new != doc:
            path.write_text(new, encoding="utf-8")
            changed += 1
            print(f"updated {path.relative_to(ROOT)}")
    print(f"{changed} file(s) updated")
    return 0


if __name__ == "__main__":
    sys.exit(main())
