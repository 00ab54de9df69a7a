"""The contract layer is sans-IO: no trio, no hiredis, no sockets."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import thoonk_actors.contract

CONTRACT_DIR = Path(thoonk_actors.contract.__file__).parent
IO_MODULES = ("trio", "hiredis", "socket", "ssl")
# Stdlib modules a sans-IO layer has no business importing.
FORBIDDEN_STDLIB = {
    "socket", "ssl", "select", "selectors", "asyncio", "threading", "subprocess",
    "multiprocessing", "http", "urllib", "signal",
}  # fmt: skip


def _imported_in_fresh_interpreter(module: str) -> set[str]:
    code = (
        "import sys\n"
        f"import {module}\n"
        f"print(' '.join(m for m in {IO_MODULES!r} if m in sys.modules))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    return set(out.stdout.split())


def test_contract_modules_import_only_the_stdlib_and_errors() -> None:
    for path in sorted(CONTRACT_DIR.glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level == 1:  # within the contract package
                    continue
                if node.level == 2:
                    assert node.module == "_errors", f"{path.name}: from ..{node.module}"
                    continue
                names = [node.module or ""]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                assert top in sys.stdlib_module_names, f"{path.name} imports {name}"
                assert top not in FORBIDDEN_STDLIB, f"{path.name} imports {name}"


def test_importing_the_contract_does_not_import_trio() -> None:
    assert "trio" not in _imported_in_fresh_interpreter("thoonk_actors.contract")


def test_importing_the_contract_does_not_import_io_modules() -> None:
    assert _imported_in_fresh_interpreter("thoonk_actors.contract") == set()
