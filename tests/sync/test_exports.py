"""``thoonk_actors.sync`` exports each public name once, from a private module."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import thoonk_actors.sync as sync

SYNC_DIR = Path(sync.__file__).parent


def reexports(package_dir: Path) -> dict[str, str]:
    """``name -> module`` of every ``from .module import name as name`` in ``__init__``."""
    tree = ast.parse((package_dir / "__init__.py").read_text(encoding="utf-8"))
    names: dict[str, str] = {}
    for node in tree.body:
        if isinstance(node, ast.ImportFrom):
            for alias in node.names:
                assert alias.asname == alias.name, "re-export as `import X as X`"
                assert alias.name not in names, f"{alias.name} exported twice"
                names[alias.name] = node.module or ""
    return names


def public_definitions(package_dir: Path) -> set[str]:
    """Top-level public classes and functions of the package's private modules."""
    found: set[str] = set()
    for path in package_dir.glob("_*.py"):
        if path.name == "__init__.py":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in tree.body:
            if isinstance(node, ast.ClassDef | ast.FunctionDef) and not node.name.startswith("_"):
                found.add(node.name)
    return found


def test_sync_names_come_from_private_modules() -> None:
    names = reexports(SYNC_DIR)
    assert {"connect", "SyncThoonk", "WorkerHandle", "HandlerError", "CallbackSubscription",
            "DrainTimeoutError"} <= set(names)  # fmt: skip
    for name, module in names.items():
        assert module.startswith("_"), f"{name} must come from a private module"
        assert getattr(sync, name) is not None


def test_every_public_class_and_function_of_sync_is_exported() -> None:
    assert public_definitions(SYNC_DIR) <= set(reexports(SYNC_DIR))


def test_public_methods_have_docstrings_that_open_with_a_usage_line() -> None:
    for cls in (sync.WorkerHandle, sync.CallbackSubscription):
        assert cls.__doc__ and "`" in cls.__doc__.splitlines()[0], cls
    for name, member in inspect.getmembers(sync.WorkerHandle):
        if not name.startswith("_") and callable(member):
            assert member.__doc__, name
