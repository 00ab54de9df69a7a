"""Every package exports each public name once, from a private module, documented.

One parametrized test for every sub-package (after trio's ``_tests/test_exports.py``):

* its implementation modules are private (``_name.py``);
* its public names (``__all__``, or the ``from ._x import Y as Y`` re-exports of
  ``__init__``) are imported once each, resolve, are public, and come from one of
  its own private modules (or are listed in ``FOREIGN``, re-exported from a lower
  layer on purpose);
* every public class and function of its private modules is exported or listed
  in ``INTERNAL`` (helpers shared by the package's modules), and defined once;
  for ``contract`` and ``embedded`` public constants too;
* every exported class and function has a docstring, and so has every public
  method of an exported class.

The CLI is left out on purpose: its only public name is ``main`` (its imports
follow tests/test_layers.py: other packages' public names only).
"""

from __future__ import annotations

import ast
import importlib
import inspect
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

import thoonk_actors

PACKAGES = ("transport", "contract", "embedded", "objects", "runtime", "metrics", "sync", "widgets")
#: Packages whose public constants must be exported (or internal) too.
CONSTANTS_CHECKED = {"contract", "embedded"}

#: Names of a lower layer a package re-exports so the layers above need not reach down.
FOREIGN: dict[str, set[str]] = {
    "embedded": {"URL_ENV"},
    "objects": {"DEFAULT_BUFFER_BYTES", "Gap", "Message", "ThoonkConnectionError",
                "ThoonkLoadingError", "ThoonkTimeoutError", "URL_ENV", "resolve_url_sync"},
}  # fmt: skip

#: Public names of private modules used across the package, not part of its API.
INTERNAL: dict[str, set[str]] = {
    "transport": {
        "PlainSocketStream", "connect_stream", "enable_keepalive", "open_stream", "tls_context",
        "error_from_reply", "reply_code", "pack_commands", "greet",
        "reason", "broken", "why_broken", "StreamErrors",  # _broken
        "handshake_commands", "may_resend", "resend_while_safe",
        "slot_map_from_shards", "slot_map_from_slots",
    },
    "contract": {
        "KEY_LAYOUT", "arg", "layout", "make_call", "ok_values", "check_count",  # _build
        "encoded_call", "layout_keys", "channel_arg", "name_arg",  # _build
        "unexpected", "as_list", "as_bytes", "as_int", "as_text", "status",  # _call
        "refusal",  # _refusals
        "check_item", "item_pairs",  # _feed
        "item_label", "token_arg", "text_arg", "jitter_arg",  # _job
        "FINISH_STATUSES", "CANCEL_OUTCOMES", "REAP_OUTCOMES", "REAP_REASONS",  # _job_results
        "HOLD_REASONS",  # _job_results
        "PRELUDE", "prelude_for",  # _scripts
        "READS", "WRITES", "NOT_COMMANDS", "upper_literals", "script_commands",  # _acl
        "acl_preamble",  # _acl
        "T",
    },
    "embedded": {
        "INSTALL_HINT", "known_binaries", "is_server_executable", "version_tuple",  # _binary
        "CHOSEN_BY_ENV", "CHOSEN_AS_NEWEST",  # _binary
        "RECORD_NAME", "StartRecord", "write_record", "read_record", "data_needs",  # _datadir
        "refuse_downgrade",  # _datadir
        "CONFIG_HEADER", "Paths", "absolute", "prepare_data_dir", "check_data_dir",  # _datadir
        "create_file", "read_small_file", "config_text", "conf_quote", "write_config",  # _datadir
        "is_our_config", "log_tail",  # _datadir
        "PROBE_TIMEOUT", "ErrorReply", "request", "Info", "Probe", "probe", "ping",  # _wire
        "POLL_INTERVAL", "pid_alive", "is_our_server", "read_pidfile",  # _process
        "remove_stale_files", "wait_gone", "spawn", "wait_ready", "terminate", "forget",  # _process
        "server_of", "locked", "require_ours", "find_running",  # _lifecycle
        "start_checked", "record_started",  # _lifecycle
        "log",  # _resolve
    },
    "objects": {
        "Outcome", "ResultRouter", "SharedWaits", "Waiter", "shared_waits", "waiting",
        "check_kinds", "decode_event_item", "decode_items", "delay_args", "discover",
        "known_event", "parse_position", "register",
        "DurabilitySettings", "check_durable",  # _durability
    },
    "runtime": {
        "ActorCounters", "QueueCounters", "RateMeter", "EventRouter", "FeedActor", "Mailbox",
        "HandlerDurations",
        "Missed", "JobWorker", "Handlers", "ClaimIdentities", "OutcomeWriter", "UpkeepSettings",
        "JobRegistration",
        "Prefetch", "floor",
        "block_stop_signals",
        "FeedRegistration", "Watchable", "supervise", "sleep_or_stop", "link_backoff",
        "heartbeat_loop",
        "reaper_loop", "lease_loop", "touch_all", "claims_watch_loop", "stop_when_drained",
        "Claims", "wait_drained",
        "configure_logging",
        "watched_object", "channels_of", "is_async_callable", "main", "SnapshotReader",
        "Rule", "Every", "Cron", "ScheduleRegistration", "tick_item", "ticker", "publish_tick",
        "StartPause",
        "import_target",  # _target: the app and a worker setup function
    },
    "metrics": {"QueueFigures", "Scrape", "ThoonkCollector", "families"},
    "sync": {
        "BlockingMethod", "Twin", "blocking_call",  # _blocking
        "ObjectMethods", "JobMethods", "FeedMethods", "SortedFeedMethods", "QueueMethods",  # _twins
        "ThoonkMethods",  # _twins
    },
    "widgets": {"LiveWidget", "parse_item", "short_json", "describe_error"},  # _common
}  # fmt: skip


def _package(name: str) -> ModuleType:
    if name == "widgets":
        pytest.importorskip("ipywidgets")
    return importlib.import_module(f"thoonk_actors.{name}")


def _directory(package: ModuleType) -> Path:
    return Path(str(package.__file__)).parent


def _imported_names(package: ModuleType) -> dict[str, tuple[int, str]]:
    """``name -> (level, module)`` of each ``from ... import`` in ``__init__``; each once."""
    tree = ast.parse((_directory(package) / "__init__.py").read_text(encoding="utf-8"))
    names: dict[str, tuple[int, str]] = {}
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.module != "__future__":
            for alias in node.names:
                name = alias.asname or alias.name
                assert name not in names, f"{package.__name__}: {name} imported twice"
                names[name] = (node.level, node.module or "")
    return names


def exported(package: ModuleType) -> list[str]:
    """``__all__``, or else the ``X as X`` re-exports of ``__init__``."""
    if hasattr(package, "__all__"):
        return list(package.__all__)
    tree = ast.parse((_directory(package) / "__init__.py").read_text(encoding="utf-8"))
    return [
        alias.name
        for node in tree.body
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
        if alias.asname == alias.name
    ]


def _definitions(package_name: str, directory: Path) -> dict[str, str]:
    """Public top-level names of the private modules: name -> module (each defined once)."""
    defined: dict[str, str] = {}
    for path in sorted(directory.glob("_*.py")):
        if path.name == "__init__.py":
            continue
        here: set[str] = set()
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                here.add(node.name)
            elif package_name in CONSTANTS_CHECKED and isinstance(node, ast.Assign | ast.AnnAssign):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                here.update(t.id for t in targets if isinstance(t, ast.Name))
        for name in here:
            if not name.startswith("_"):
                if name not in INTERNAL[package_name]:  # e.g. a TypeVar ``T`` per module
                    assert name not in defined, f"{name} in {defined[name]} and {path.name}"
                defined[name] = path.name
    return defined


@pytest.mark.parametrize("name", PACKAGES)
def test_modules_are_private(name: str) -> None:
    for path in _directory(_package(name)).glob("*.py"):
        assert path.name == "__init__.py" or path.name.startswith("_"), path


@pytest.mark.parametrize("name", PACKAGES)
def test_public_names_are_exported_once_from_a_private_module(name: str) -> None:
    package = _package(name)
    names = exported(package)
    assert names, f"{name} exports nothing"
    assert len(names) == len(set(names)), f"{name}: a name is listed twice"
    imported = _imported_names(package)
    for each in names:
        assert not each.startswith("_"), f"{name}.{each} is private"
        assert getattr(package, each) is not None, each
        level, module = imported[each]
        if each in FOREIGN.get(name, set()):
            assert level == 2, f"{name}.{each} is re-exported from a lower layer's package"
        else:
            assert level == 1 and module.startswith("_"), f"{each} must come from a private module"
    # What __init__ re-exports as public is in __all__ too.
    if hasattr(package, "__all__"):
        reexports = {n for n, (level, _) in imported.items() if not n.startswith("_") and level}
        assert reexports <= set(names), sorted(reexports - set(names))


@pytest.mark.parametrize("name", PACKAGES)
def test_every_public_definition_is_exported_or_internal(name: str) -> None:
    package = _package(name)
    defined = _definitions(name, _directory(package))
    names = set(exported(package))
    missing = set(defined) - names - INTERNAL[name]
    assert not missing, f"{name}: export these or list them in INTERNAL: {sorted(missing)}"
    stale = INTERNAL[name] - set(defined)
    assert not stale, f"{name}: INTERNAL lists names that no longer exist: {sorted(stale)}"
    assert not INTERNAL[name] & names, f"{name}: exported and internal: {INTERNAL[name] & names}"


@pytest.mark.parametrize("name", PACKAGES)
def test_exported_classes_and_functions_are_documented(name: str) -> None:
    package = _package(name)
    assert (package.__doc__ or "").strip(), f"{name} has no package docstring"
    for each in exported(package):
        value = getattr(package, each)
        if not (inspect.isclass(value) or inspect.isfunction(value)):
            continue
        assert (value.__doc__ or "").strip(), f"{name}.{each} has no docstring"
        if inspect.isclass(value) and value.__module__.startswith(package.__name__):
            for member, attribute in vars(value).items():
                if member.startswith("_") or not inspect.isfunction(attribute):
                    continue
                assert (attribute.__doc__ or "").strip(), f"{name}.{each}.{member}: no docstring"


def test_sync_docstrings_open_with_a_usage_line() -> None:
    import thoonk_actors.sync as sync

    for cls in (sync.WorkerHandle, sync.CallbackSubscription):
        assert cls.__doc__ and "`" in cls.__doc__.splitlines()[0], cls


# ------------------------------------------------ what importing a package pulls in


@pytest.mark.parametrize(
    ("module", "not_imported"),
    [
        ("thoonk_actors", "trio"),  # the top level is lazy where it needs trio
        ("thoonk_actors.metrics", "prometheus_client"),  # an optional extra
        ("thoonk_actors.transport", "thoonk_actors.embedded"),  # the transport is below it
        ("thoonk_actors.sync", "thoonk_actors.widgets"),  # widgets register themselves
        ("thoonk_actors.sync", "ipywidgets"),
    ],
)
def test_importing_does_not_import(module: str, not_imported: str) -> None:
    code = f"import sys, {module}; print({not_imported!r} in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# --------------------------------------------------------------- the top level


def test_every_lazy_name_resolves() -> None:
    for name in thoonk_actors._LAZY:
        assert getattr(thoonk_actors, name) is not None, name
    assert set(thoonk_actors._LAZY) <= set(dir(thoonk_actors))


def test_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no_such_thing"):
        thoonk_actors.no_such_thing  # type: ignore[attr-defined]  # noqa: B018


def test_the_main_names_are_the_real_objects() -> None:
    from thoonk_actors.objects import open_thoonk
    from thoonk_actors.runtime import App

    assert thoonk_actors.open_thoonk is open_thoonk
    assert thoonk_actors.App is App
