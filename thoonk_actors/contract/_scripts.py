"""The Lua scripts of the contract, loaded from the package files.

Synopsis: ``script = load_script("job/publish")``; ``script.sha1`` for EVALSHA,
``script.source`` for EVAL / SCRIPT LOAD; ``all_scripts()`` for preloading.

Each script is ``scripts/<type>/<op>.lua`` with the helpers it uses from
``scripts/_prelude.lua`` put in front of it (:func:`prelude_for`), so line numbers
in a Lua error message count from the top of those helpers.

A script that writes gets, before those helpers, the ACL check that
:func:`._acl.acl_preamble` generates from its text (issue 17: a call the user's
ACL refuses must change nothing).

Only the helpers a script calls (and the helpers those call) go in: a Lua
``local function`` is created anew on every run of a script, so every unused
helper would cost every call of every script a closure (the whole prelude:
1.5-3 us more Redis CPU per call, docs/benchmarks.md), and the ACL preamble,
generated from this text, would ask for commands the script never runs.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import re
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable

from ._acl import acl_preamble

PRELUDE = "_prelude.lua"


@dataclass(frozen=True, slots=True)
class Script:
    """One contract script: ``Script(name="job/publish", source=..., sha1=...)``.

    ``source`` is the full text sent to Redis (prelude included); ``sha1`` is its
    lowercase hex SHA1, the name Redis caches it under. ``light`` is the same
    script without the ACL command check (channels still checked), or None:
    the transport runs it on a connection that has already run this one.
    """

    name: str
    source: str
    sha1: str
    light: Script | None = None

    @classmethod
    def from_source(cls, name: str, source: str) -> Script:
        """``Script.from_source("x", "return 1")``: compute the sha1 of ``source``."""
        return cls(name=name, source=source, sha1=hashlib.sha1(source.encode("utf-8")).hexdigest())


def _root() -> Traversable:
    return resources.files(__package__ or "thoonk_actors.contract").joinpath("scripts")


@functools.cache
def _prelude() -> str:
    return _root().joinpath(PRELUDE).read_text(encoding="utf-8")


_DEFINES = re.compile(r"^local (?:function )?([A-Za-z_]\w*)", re.M)
_WORD = re.compile(r"[A-Za-z_]\w*")
_STRING = re.compile(r"'(?:[^'\\\n]|\\.)*'|\"(?:[^\"\\\n]|\\.)*\"")


def _names(text: str) -> frozenset[str]:
    """The words of Lua code outside comments and string literals."""
    code = "\n".join(_STRING.sub("''", line.split("--", 1)[0]) for line in text.splitlines())
    return frozenset(_WORD.findall(code))


@functools.cache
def _sections() -> tuple[tuple[str | None, frozenset[str], str], ...]:
    """The prelude as (defined name or None, names its code uses, text) blocks.

    A block starts after a blank line with a comment or a ``local`` at the left
    margin; anything else (a blank line inside a function) continues the block.
    """
    blocks: list[str] = []
    for text in _prelude().split("\n\n"):
        if blocks and not text.startswith(("--", "local ")):
            blocks[-1] += "\n\n" + text
        else:
            blocks.append(text)
    out = []
    for text in blocks:
        found = _DEFINES.search(text)
        out.append((found.group(1) if found else None, _names(text), text))
    return tuple(out)


def prelude_for(body: str) -> str:
    """The prelude blocks ``body`` needs: the helpers it names, and theirs, in file order.

    Comment-only blocks (the prelude's header and notes) are always kept.
    """
    sections = _sections()
    defined = {name: uses for name, uses, _ in sections if name is not None}
    wanted: set[str] = set()
    todo = [w for w in _names(body) if w in defined]
    while todo:
        name = todo.pop()
        if name not in wanted:
            wanted.add(name)
            todo.extend(w for w in defined[name] if w in defined and w != name)
    return "\n\n".join(text for name, _, text in sections if name is None or name in wanted)


@functools.cache
def load_script(name: str) -> Script:
    """``load_script("job/claim")``: the script of one operation, prelude included.

    A script that writes starts with the generated ACL check of ``_acl.py``.

    Raises:
        FileNotFoundError: there is no ``scripts/<name>.lua`` (a bug, not a user error).
    """
    kind, _, op = name.partition("/")
    if not kind or not op or "/" in op or op.startswith("_"):
        raise FileNotFoundError(f"no contract script named {name!r}; expected '<type>/<op>'")
    body = _root().joinpath(kind, f"{op}.lua").read_text(encoding="utf-8")
    source = prelude_for(body) + "\n" + body
    full = acl_preamble(source)
    if not full:
        return Script.from_source(name, source)
    light = Script.from_source(name, acl_preamble(source, commands=False) + source)
    return dataclasses.replace(Script.from_source(name, full + source), light=light)


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
