"""The Lua scripts of the contract, loaded from the package files.

Synopsis: ``script = load_script("job/publish")``; ``script.sha1`` for EVALSHA,
``script.source`` for EVAL / SCRIPT LOAD; ``all_scripts()`` for preloading.

Each script is ``scripts/<type>/<op>.lua`` with ``scripts/_prelude.lua`` (the
shared helpers) put in front of it, so line numbers in a Lua error message count
from the top of the prelude.
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable

PRELUDE = "_prelude.lua"


@dataclass(frozen=True, slots=True)
class Script:
    """One contract script: ``Script(name="job/publish", source=..., sha1=...)``.

    ``source`` is the full text sent to Redis (prelude included); ``sha1`` is its
    lowercase hex SHA1, the name Redis caches it under.
    """

    name: str
    source: str
    sha1: str

    @classmethod
    def from_source(cls, name: str, source: str) -> Script:
        """``Script.from_source("x", "return 1")``: compute the sha1 of ``source``."""
        return cls(name=name, source=source, sha1=hashlib.sha1(source.encode("utf-8")).hexdigest())


def _root() -> Traversable:
    return resources.files(__package__ or "thoonk_actors.contract").joinpath("scripts")


@functools.cache
def _prelude() -> str:
    return _root().joinpath(PRELUDE).read_text(encoding="utf-8")


@functools.cache
def load_script(name: str) -> Script:
    """``load_script("job/claim")``: the script of one operation, prelude included.

    Raises:
        FileNotFoundError: there is no ``scripts/<name>.lua`` (a bug, not a user error).
    """
    kind, _, op = name.partition("/")
    if not kind or not op or "/" in op or op.startswith("_"):
        raise FileNotFoundError(f"no contract script named {name!r}; expected '<type>/<op>'")
    body = _root().joinpath(kind, f"{op}.lua").read_text(encoding="utf-8")
    return Script.from_source(name, _prelude() + "\n" + body)


def script_names() -> tuple[str, ...]:
    """``script_names()`` -> ``("feed/items", "feed/publish", ...)``, sorted."""
    names = []
    for folder in _root().iterdir():
        if not folder.is_dir() or folder.name.startswith(("_", ".")):
            continue
        for entry in folder.iterdir():
            if entry.name.endswith(".lua") and not entry.name.startswith("_"):
                names.append(f"{folder.name}/{entry.name.removesuffix('.lua')}")
    return tuple(sorted(names))


def all_scripts() -> tuple[Script, ...]:
    """``all_scripts()``: every contract script, e.g. to SCRIPT LOAD them up front."""
    return tuple(load_script(name) for name in script_names())
