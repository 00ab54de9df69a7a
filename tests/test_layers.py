"""Which package may import which: the layers of docs/architecture.md, enforced.

Every module of ``thoonk_actors`` is parsed with :mod:`ast` and every import in
it (at any level: module, function, ``TYPE_CHECKING``) is mapped to the
package it comes from and the package it reaches. An import is allowed when
the target is the same package, or a package ``ALLOWED`` lists for it, and
(across packages) names no private module (``thoonk_actors.runtime._stats``,
``from ..runtime import _logging``). The top-level private modules
(``_errors``, ``_nursery``, ``_redact``, ``_backoff``) are the shared ``core``: everyone
may use them. redis-py and hiredis are the transport's (and the embedded
server's wire probe's) business only.

What today's code still breaks is listed in ``KNOWN_VIOLATIONS`` with the
reason; the test also fails when a listed violation is gone, so the list only
shrinks.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import thoonk_actors

PACKAGE_DIR = Path(thoonk_actors.__file__).parent
ROOT = "thoonk_actors"

#: Sub-packages; the top-level ``_*.py`` modules are ``core``, ``__init__``/``__main__`` ``top``.
SUBPACKAGES = (
    "transport", "contract", "embedded", "objects", "runtime", "metrics", "sync", "widgets", "cli",
)  # fmt: skip

#: package -> the other packages it may import (besides itself and ``core``).
ALLOWED: dict[str, frozenset[str]] = {
    "core": frozenset(),
    # "The transport knows nothing of Thoonk."
    "transport": frozenset(),
    # sans-IO: no transport (tests/contract/test_sansio.py also keeps out trio).
    "contract": frozenset(),
    # The embedded server sits beside the transport: it reads the URL
    # variable and raises the transport's connection error.
    "embedded": frozenset({"transport"}),
    # "Each method = one contract operation", over the transport.
    "objects": frozenset({"transport", "contract", "embedded"}),
    # "The runtime uses only the objects' public async API."
    "runtime": frozenset({"contract", "objects"}),
    # An add-on of the runtime: reads its statistics.
    "metrics": frozenset({"contract", "objects", "runtime"}),
    # "The sync facade and widgets use only the runtime and objects."
    "sync": frozenset({"contract", "objects", "runtime"}),
    # Widgets depend on the facade, never the other way round.
    "widgets": frozenset({"contract", "objects", "runtime", "sync"}),
    # The CLI is above everything but the transport (it goes through objects).
    "cli": frozenset({"contract", "embedded", "objects", "runtime", "metrics", "sync"}),
    # The package's own front door re-exports public names of every layer.
    "top": frozenset(SUBPACKAGES),
}

#: third-party modules only some packages may import.
RESTRICTED_LIBRARIES: dict[str, frozenset[str]] = {
    "redis": frozenset({"transport", "embedded"}),
    "hiredis": frozenset({"transport", "embedded"}),
}

#: (importing module, imported module) -> why it is still there. Only shrinks.
KNOWN_VIOLATIONS: dict[tuple[str, str], str] = {}

#: Packages that may touch the transport client under a ``Thoonk`` (its ``redis`` attribute).
TRANSPORT_CLIENT_USERS = frozenset({"transport", "embedded", "objects"})


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE_DIR.parent).with_suffix("").parts
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def package_of(module: str) -> str:
    """``transport`` for ``thoonk_actors.transport._client``; ``core``/``top`` at the root."""
    parts = module.split(".")
    if len(parts) == 1 or parts[1] in ("__main__",):
        return "top"
    if parts[1] in SUBPACKAGES:
        return parts[1]
    return "core"


def _is_module(name: str) -> bool:
    path = PACKAGE_DIR.parent.joinpath(*name.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def _imports(path: Path) -> list[str]:
    """Every module ``path`` imports (absolute names), with ``from X import _y`` as ``X._y``."""
    module = module_name(path)
    is_package = path.name == "__init__.py"
    here = module.split(".") if is_package else module.split(".")[:-1]
    found: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = here[: len(here) - (node.level - 1)]
                target = ".".join([*base, *([node.module] if node.module else [])])
            else:
                target = node.module or ""
            for alias in node.names:
                # ``from .. import contract`` imports the package ``contract``;
                # ``from ..runtime import _logging`` a private module.
                if target.startswith(ROOT) and _is_module(f"{target}.{alias.name}"):
                    found.append(f"{target}.{alias.name}")
                else:
                    found.append(target)
    return found


def _is_private_of_other(source: str, target: str) -> bool:
    src_pkg, dst_pkg = package_of(source), package_of(target)
    if src_pkg == dst_pkg or dst_pkg in ("core", "top"):
        return False
    return any(part.startswith("_") for part in target.split(".")[2:])


def violations() -> dict[tuple[str, str], str]:
    """(module, imported) -> what rule it breaks, for the whole package."""
    found: dict[tuple[str, str], str] = {}
    for path in sorted(PACKAGE_DIR.rglob("*.py")):
        source = module_name(path)
        src_pkg = package_of(source)
        for target in _imports(path):
            top = target.split(".")[0]
            if top in RESTRICTED_LIBRARIES:
                if src_pkg not in RESTRICTED_LIBRARIES[top]:
                    found[(source, top)] = f"{src_pkg} may not import {top}"
                continue
            if top != ROOT:
                continue
            dst_pkg = package_of(target)
            if dst_pkg not in ("core", src_pkg) and dst_pkg not in ALLOWED[src_pkg]:
                found[(source, target)] = f"{src_pkg} may not import {dst_pkg}"
            elif _is_private_of_other(source, target):
                found[(source, target)] = f"private module of {dst_pkg}"
    return found


def test_every_package_has_a_rule() -> None:
    for path in PACKAGE_DIR.iterdir():
        if path.is_dir() and (path / "__init__.py").exists():
            assert path.name in SUBPACKAGES, f"add {path.name} to SUBPACKAGES and ALLOWED"
    assert set(ALLOWED) == {"core", "top", *SUBPACKAGES}


def test_imports_follow_the_layers() -> None:
    unexpected = {k: v for k, v in violations().items() if k not in KNOWN_VIOLATIONS}
    assert not unexpected, "\n".join(f"{s} -> {t}: {why}" for (s, t), why in unexpected.items())


def test_only_the_objects_reach_the_transport_client() -> None:
    """``thoonk.redis`` is the objects' business; the layers above use ``Thoonk``'s methods."""
    found = [
        f"{module_name(path)}:{node.lineno}"
        for path in sorted(PACKAGE_DIR.rglob("*.py"))
        if package_of(module_name(path)) not in TRANSPORT_CLIENT_USERS
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Attribute) and node.attr == "redis"
    ]
    assert not found, f"use Thoonk's methods (where, open_derived, ...), not .redis: {found}"


def test_known_violations_still_exist() -> None:
    gone = set(KNOWN_VIOLATIONS) - set(violations())
    assert not gone, f"fixed: remove from KNOWN_VIOLATIONS: {sorted(gone)}"


@pytest.mark.parametrize(
    ("source", "target", "broken"),
    [
        ("thoonk_actors.runtime._x", "thoonk_actors.transport", True),
        ("thoonk_actors.runtime._x", "thoonk_actors.objects", False),
        ("thoonk_actors.runtime._x", "thoonk_actors.objects._base", True),
        ("thoonk_actors.runtime._x", "thoonk_actors.runtime._mailbox", False),
        ("thoonk_actors.runtime._x", "thoonk_actors._errors", False),
        ("thoonk_actors.sync._x", "thoonk_actors.widgets", True),
        ("thoonk_actors.transport._x", "thoonk_actors.contract", True),
    ],
)
def test_the_rule_itself(source: str, target: str, broken: bool) -> None:
    src_pkg, dst_pkg = package_of(source), package_of(target)
    allowed = dst_pkg in ("core", src_pkg) or dst_pkg in ALLOWED[src_pkg]
    assert (not allowed or _is_private_of_other(source, target)) is broken
