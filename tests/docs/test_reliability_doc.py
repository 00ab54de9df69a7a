"""docs/reliability.md names the tests that prove each guarantee: they must exist."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "reliability.md"


def test_every_test_the_reliability_page_names_exists() -> None:
    text = DOC.read_text(encoding="utf-8")
    references = set(re.findall(r"(tests/[\w/]+\.py)::(\w+)", text))
    assert len(references) > 40, "the page lost its test references"
    missing = []
    for path, name in sorted(references):
        source = ROOT / path
        if not source.exists() or not re.search(
            rf"^(async )?def {name}\(", source.read_text(encoding="utf-8"), re.M
        ):
            missing.append(f"{path}::{name}")
    assert missing == [], "docs/reliability.md names tests that do not exist"


def test_every_test_file_the_page_links_exists() -> None:
    text = DOC.read_text(encoding="utf-8")
    links = set(re.findall(r"\]\(\.\./(tests/[\w/]+\.py)\)", text))
    assert links
    assert sorted(p for p in links if not (ROOT / p).exists()) == []
