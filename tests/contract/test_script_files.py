"""The Lua files themselves: headers, keys only through KEYS, Redis 6.2 commands only."""

from __future__ import annotations

import hashlib
import re
from importlib import resources

import pytest

from thoonk_actors.contract import all_scripts, load_script, script_names
from thoonk_actors.contract._acl import acl_preamble
from thoonk_actors.contract._build import KEY_LAYOUT
from thoonk_actors.contract._scripts import prelude_for

SCRIPTS_DIR = resources.files("thoonk_actors.contract").joinpath("scripts")
NAMES = script_names()


def body(name: str) -> str:
    kind, op = name.split("/")
    return SCRIPTS_DIR.joinpath(kind, f"{op}.lua").read_text(encoding="utf-8")


def prelude() -> str:
    return SCRIPTS_DIR.joinpath("_prelude.lua").read_text(encoding="utf-8")


def test_every_operation_has_a_script() -> None:
    expected = {
        *(f"job/{op}" for op in (
            "publish", "publish_new", "publish_many", "claim", "finish", "finish_many",
            "cancel", "stall",
            "retry", "retract", "touch", "heartbeat", "reap", "release", "stats", "promote",
            "release_many", "held", "wait_state", "progress",
        )),
        "feed/publish", "feed/retract", "feed/items",
        *(f"sorted_feed/{op}" for op in (
            "append", "prepend", "publish_before", "publish_after", "edit", "move",
            "retract", "items",
        )),
        "queue/put", "queue/get",
        "object/create", "object/config", "object/delete", "object/register",
    }  # fmt: skip
    assert set(NAMES) == expected


@pytest.mark.parametrize("name", NAMES)
def test_header(name: str) -> None:
    lines = body(name).splitlines()
    assert lines[0].startswith(f"-- {name}: "), "the first line names the script"
    header = []
    for line in lines:
        if not line.startswith("--"):
            break
        header.append(line)
    text = "\n".join(header)
    assert "ARGV[1]" in text
    assert "Reply:" in text
    if KEY_LAYOUT[name] or "KEYS[" in body(name):
        assert "KEYS[1" in text


@pytest.mark.parametrize("name", NAMES)
def test_header_keys_match_the_python_layout(name: str) -> None:
    """The KEYS lines of the header list, in order, the fields Python passes."""
    declared = re.findall(r"^-- KEYS\[(\d+)\]\s+(\w+)", body(name), flags=re.M)
    layout = KEY_LAYOUT[name]
    assert [int(i) for i, _ in declared][: len(layout)] == list(range(1, len(layout) + 1))
    assert tuple(field for _, field in declared[: len(layout)]) == layout
    for _, extra in declared[len(layout) :]:
        assert extra in ("result", "registry")


# Commands whose first argument is a key: it must never be a literal.
_CALL = re.compile(r"redis\.p?call\(\s*'([A-Z]+)'\s*(,\s*(\S))?")
_KEYISH = re.compile(r"""['"](jobs|feeds|sorted_feeds|queues|(job|feed|sorted_feed|queue)\.\w+)""")


@pytest.mark.parametrize("name", [*NAMES, "_prelude"])
def test_keys_only_through_keys(name: str) -> None:
    source = prelude() if name == "_prelude" else body(name)
    code = "\n".join(line for line in source.splitlines() if not line.lstrip().startswith("--"))
    for match in _CALL.finditer(code):
        command, first = match.group(1), match.group(3)
        if command == "TIME":
            continue
        assert first not in ("'", '"'), f"{name}: {command} with a literal key/channel"
    assert not _KEYISH.search(code), f"{name} holds a key-like string literal"
    if name != "_prelude":
        # Key names come from KEYS; channels from ARGV.
        assert "KEYS[" in code or "KEYS" not in code


_REDIS7_ONLY = ("LMPOP", "BLMPOP", "ZMPOP", "BZMPOP", "SINTERCARD", "EXPIRETIME", "FCALL")


@pytest.mark.parametrize("name", [*NAMES, "_prelude"])
def test_runs_on_redis_62(name: str) -> None:
    source = prelude() if name == "_prelude" else body(name)
    assert not source.startswith("#!"), "shebang flags need Redis 7"
    for command in _REDIS7_ONLY:
        assert f"'{command}'" not in source
    assert "redis.setresp" not in source
    # Blocking commands are not allowed in scripts at all.
    assert not re.search(r"'B(L|R|Z)[A-Z]*POP'|'BLMOVE'|'BRPOPLPUSH'", source)


@pytest.mark.parametrize("name", NAMES)
def test_no_globals(name: str) -> None:
    """Scripts may not assign globals (Redis refuses it); every assignment is local."""
    code = body(name)
    for line in code.splitlines():
        stripped = line.strip()
        match = re.match(r"^([A-Za-z_]\w*)\s*=[^=]", stripped)
        if match:
            # A plain assignment must be to a name declared local earlier in the script.
            assert re.search(rf"local [\w, ]*\b{match.group(1)}\b", code), (name, line)


def test_script_objects() -> None:
    script = load_script("job/finish")
    assert script.name == "job/finish"
    source = prelude_for(body("job/finish")) + "\n" + body("job/finish")
    assert script.source == acl_preamble(source) + source
    assert script.sha1 == hashlib.sha1(script.source.encode()).hexdigest()
    assert load_script("job/finish") is script  # loaded once
    assert len(all_scripts()) == len(NAMES)
    assert len({s.sha1 for s in all_scripts()}) == len(NAMES)
    with pytest.raises(FileNotFoundError):
        load_script("job/_nope")
    with pytest.raises(FileNotFoundError):
        load_script("nonsense")


_DEFINED = re.compile(r"^local (?:function )?(\w+)", flags=re.M)


def test_a_script_gets_the_helpers_it_uses_and_only_those() -> None:
    """Each helper is a closure made on every run, so unused ones are left out."""
    helpers = set(_DEFINED.findall(prelude()))
    assert {"now_ms", "read", "read_many", "wrongtype", "UNPACK_MAX"} <= helpers
    claim = prelude_for(body("job/claim"))
    # read_each -> read_many -> read -> wrongtype, and UNPACK_MAX: taken along.
    assert {"read_each", "read_many", "read", "wrongtype", "UNPACK_MAX"} <= set(
        _DEFINED.findall(claim)
    )
    assert "next_free_id" not in _DEFINED.findall(claim)
    header = prelude().split("\n\n")[0]
    assert prelude_for("").startswith(header), "the header comment always comes first"


@pytest.mark.parametrize("name", NAMES)
def test_every_helper_a_script_names_is_defined_before_its_body(name: str) -> None:
    source = load_script(name).source
    included = set(_DEFINED.findall(source[: len(source) - len(body(name))]))
    code = "\n".join(line.split("--", 1)[0] for line in body(name).splitlines())
    for helper in set(_DEFINED.findall(prelude())):
        if re.search(rf"\b{helper}\b", code):
            assert helper in included, f"{name} uses {helper}"


def test_scripts_are_ascii() -> None:
    for name in NAMES:
        body(name).encode("ascii")
    prelude().encode("ascii")
