"""The lists of conftest.py say exactly which object and runtime tests run on the cluster.

Read from the sources (no cluster needed): every module of tests/objects and
tests/runtime is re-run by a ``test_on_cluster_*.py`` module (``from
tests.<suite>.<module> import ...``) or named in ``NOT_ON_A_CLUSTER``, never
both; a module of ``REDIS_TESTS_ONLY`` has every test that takes a Redis
fixture imported; a module re-run with ``import *`` is not in that list.
"""

from __future__ import annotations

import ast
from pathlib import Path

from tests.cluster.conftest import BOUNDED, NOT_ON_A_CLUSTER, REDIS_TESTS_ONLY

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
SUITES = ("objects", "runtime")
#: Fixtures that reach Redis: a test taking one of them needs a server.
REDIS_FIXTURES = frozenset({"redis_url", "redis_url_db0", "sync_redis", "thoonk", "t"})


def _reruns() -> dict[str, set[str]]:
    """Module path -> the names each test_on_cluster_*.py imports from it ("*": all)."""
    found: dict[str, set[str]] = {}
    for path in sorted(HERE.glob("test_on_cluster_*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module:
                parts = node.module.split(".")
                if len(parts) == 3 and parts[0] == "tests" and parts[1] in SUITES:
                    module = "/".join(parts) + ".py"
                    found.setdefault(module, set()).update(a.name for a in node.names)
    return found


def _modules() -> set[str]:
    return {
        f"tests/{suite}/{path.name}"
        for suite in SUITES
        for path in (ROOT / "tests" / suite).glob("test_*.py")
    }


def _redis_tests(module: str) -> set[str]:
    tree = ast.parse((ROOT / module).read_text(encoding="utf-8"))
    return {
        node.name
        for node in tree.body
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and node.name.startswith("test_")
        and {a.arg for a in node.args.args} & REDIS_FIXTURES
    }


def test_every_module_runs_on_the_cluster_or_says_why_not() -> None:
    reruns, modules = _reruns(), _modules()
    missing = modules - set(reruns) - set(NOT_ON_A_CLUSTER)
    assert not missing, f"re-run these on the cluster or list them in NOT_ON_A_CLUSTER: {missing}"
    assert not set(reruns) & set(NOT_ON_A_CLUSTER), "re-run and listed as not re-run"
    listed = set(NOT_ON_A_CLUSTER) | REDIS_TESTS_ONLY | set(BOUNDED)
    assert listed <= modules, f"conftest.py lists modules that do not exist: {listed - modules}"


def test_partial_reruns_take_every_test_that_uses_redis() -> None:
    reruns = _reruns()
    for module in REDIS_TESTS_ONLY:
        names = reruns.get(module, set())
        assert "*" not in names, f"{module} is re-run whole: take it out of REDIS_TESTS_ONLY"
        left_out = _redis_tests(module) - names
        assert not left_out, f"{module}: these use Redis, import them too: {left_out}"
    partial = {m for m, names in reruns.items() if "*" not in names}
    assert partial <= REDIS_TESTS_ONLY, f"partly re-run, not listed: {partial - REDIS_TESTS_ONLY}"
