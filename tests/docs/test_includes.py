"""Code embedded in docs/*.md is the example file, verbatim (run docs/sync_includes.py)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location("sync_includes", ROOT / "docs" / "sync_includes.py")
assert spec is not None and spec.loader is not None
sync_includes = importlib.util.module_from_spec(spec)
spec.loader.exec_module(sync_includes)

DOCS = sorted((ROOT / "docs").glob("*.md"))


@pytest.mark.parametrize("doc", DOCS, ids=[d.name for d in DOCS])
def test_embedded_examples_match_their_files(doc: Path) -> None:
    text = doc.read_text(encoding="utf-8")
    for match in sync_includes.BLOCK.finditer(text):
        path = ROOT / match["path"]
        assert path.is_file(), f"{doc.name} includes {match['path']}, which does not exist"
        assert match["body"] == path.read_text(encoding="utf-8"), (
            f"{doc.name}: the copy of {match['path']} is stale; run python docs/sync_includes.py"
        )
