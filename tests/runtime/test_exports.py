"""Every public name of the runtime is exported once, from a private module."""

from __future__ import annotations

import ast
from pathlib import Path

import thoonk_actors.runtime as runtime

RUNTIME_DIR = Path(runtime.__file__).parent


def _reexports() -> dict[str, str]:
    tree = ast.parse((RUNTIME_DIR / "__init__.py").read_text(encoding="utf-8"))
    names: dict[str, str] = {}
    for node in tree.body:
        if isinstance(node, ast.ImportFrom):
            for alias in node.names:
                assert alias.asname == alias.name, "re-export as `import X as X`"
                assert alias.name not in names, f"{alias.name} exported twice"
                names[alias.name] = node.module or ""
    return names


def test_modules_are_private() -> None:
    for path in RUNTIME_DIR.glob("*.py"):
        assert path.name == "__init__.py" or path.name.startswith("_"), path.name


def test_public_names_are_reexported_and_importable() -> None:
    names = _reexports()
    assert {"App", "RunningApp", "Resync", "current_job", "run_workers"} <= set(names)
    for name, module in names.items():
        assert module.startswith("_"), f"{name} must come from a private module"
        assert getattr(runtime, name) is not None


def test_every_public_class_and_function_is_exported_or_internal() -> None:
    exported = set(_reexports())
    internal = {
        # used across the runtime's modules, not part of its API
        "ActorCounters", "QueueCounters", "RateMeter", "EventRouter", "FeedActor", "Mailbox",
        "HandlerDurations",
        "Missed", "JobWorker", "Handlers", "ClaimIdentities", "OutcomeWriter", "UpkeepSettings",
        "JobRegistration",
        "Prefetch", "floor",
        "SignalLatch", "StopRequested", "installed_latch", "block_stop_signals",
        "FeedRegistration", "Watchable", "supervise", "sleep_or_stop", "LinkBackoff",
        "heartbeat_loop",
        "reaper_loop", "lease_loop", "touch_all", "claims_watch_loop", "stop_when_drained",
        "configure_logging",
        "watched_object", "channels_of", "is_async_callable", "main", "SnapshotReader",
        "Rule", "Every", "Cron", "ScheduleRegistration", "tick_item", "ticker", "publish_tick",
        "Activity", "StartPause",
    }  # fmt: skip
    for path in RUNTIME_DIR.glob("_*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in tree.body:
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                continue
            if not node.name.startswith("_"):
                assert node.name in exported | internal, f"{path.name}: {node.name}"
