"""The embedded package exports each public name once; the transport never imports it."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import thoonk_actors.embedded as embedded
import thoonk_actors.transport as transport

PACKAGE_DIR = Path(embedded.__file__).parent
# Helpers shared between the private modules, not meant for other layers.
INTERNAL = {
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
}  # fmt: skip
# Exported here for convenience, defined by the transport.
REEXPORTED = {"URL_ENV"}


def _public_names(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names.update(t.id for t in targets if isinstance(t, ast.Name))
    return {n for n in names if not n.startswith("_")}


def test_all_is_sorted_unique_and_importable() -> None:
    assert len(embedded.__all__) == len(set(embedded.__all__))
    for name in embedded.__all__:
        assert getattr(embedded, name) is not None


def test_every_public_name_is_exported() -> None:
    defined: dict[str, str] = {}
    for path in sorted(PACKAGE_DIR.glob("_*.py")):
        for name in _public_names(path) - INTERNAL:
            assert name not in defined, f"{name} defined in {defined.get(name)} and {path.name}"
            defined[name] = path.name
    assert set(defined) | REEXPORTED == set(embedded.__all__)


def test_modules_are_private() -> None:
    for path in PACKAGE_DIR.glob("*.py"):
        assert path.name == "__init__.py" or path.name.startswith("_")


def test_the_transport_does_not_import_the_embedded_package() -> None:
    code = "import sys, thoonk_actors.transport; print('thoonk_actors.embedded' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
    # Only the compatibility shim at the old path mentions it (and nothing imports the shim).
    for path in Path(transport.__file__).parent.glob("*.py"):
        if path.name != "_embedded.py":
            assert "embedded import" not in path.read_text(encoding="utf-8"), path.name


def test_the_old_import_path_still_works() -> None:
    from thoonk_actors.transport import _embedded

    assert _embedded.ensure_embedded_server is embedded.ensure_embedded_server
    assert _embedded.find_redis_server is embedded.find_redis_server
