"""``thoonk_actors.widgets`` exports each public name once, from a private module."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.sync.test_exports import public_definitions, reexports

widgets = pytest.importorskip("thoonk_actors.widgets")
WIDGETS_DIR = Path(widgets.__file__).parent


def test_widget_names_come_from_private_modules() -> None:
    names = reexports(WIDGETS_DIR)
    assert {"FeedView", "JobBoard", "WorkerPanel"} <= set(names)
    for name, module in names.items():
        assert module.startswith("_"), f"{name} must come from a private module"
        assert getattr(widgets, name) is not None


def test_every_widget_is_exported() -> None:
    internal = {"LiveWidget", "parse_item", "short_json", "describe_error"}  # _common helpers
    assert public_definitions(WIDGETS_DIR) - internal <= set(reexports(WIDGETS_DIR))
