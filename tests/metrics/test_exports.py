"""``thoonk_actors.metrics`` exports each public name once; importing it needs no library."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import thoonk_actors.metrics as metrics

METRICS_DIR = Path(metrics.__file__).parent
#: Used by the package's modules (and its tests), not part of its API.
INTERNAL = {"QueueFigures", "Scrape", "ThoonkCollector", "families"}


def test_every_public_class_and_function_is_exported_or_internal() -> None:
    exported = set(metrics.__all__)
    assert len(exported) == len(metrics.__all__)
    for name in exported:
        assert getattr(metrics, name) is not None
    for path in METRICS_DIR.glob("_*.py"):
        if path.name == "__init__.py":
            continue
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            kind = ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef
            if isinstance(node, kind) and not node.name.startswith("_"):
                assert node.name in exported | INTERNAL, f"{path.name}: {node.name}"


def test_importing_the_package_does_not_import_prometheus_client() -> None:
    code = "import sys, thoonk_actors.metrics; print('prometheus_client' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"
