"""The sync twins stay typed copies of the async API: no drift, no ``Any``.

* Every public coroutine method of ``Job``, ``Feed``, ``SortedFeed`` and
  ``Queue`` has a :class:`BlockingMethod` line on its twin (``_twins.py``),
  pointing at that class's own function, and the blocking method a live twin
  hands out has the async method's signature.
* ``SyncThoonk`` mirrors the ``Thoonk`` methods it means to, and a new
  ``Thoonk`` coroutine must be mirrored or listed as not mirrored here.
* mypy infers the async methods' types for the twins (``typed_usage_ok.py``)
  and reports misuse of them (``typed_usage_bad.py``).
* The package ships ``py.typed``, or no type checker would read any of it.
"""

from __future__ import annotations

import inspect
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

import thoonk_actors
from thoonk_actors.objects import Feed, Job, Queue, SortedFeed, Thoonk
from thoonk_actors.sync import SyncFeed, SyncJob, SyncQueue, SyncSortedFeed, SyncThoonk
from thoonk_actors.sync._blocking import BlockingMethod

HERE = Path(__file__).parent
ROOT = HERE.parent.parent

TWINS: list[tuple[type, type]] = [
    (SyncJob, Job),
    (SyncFeed, Feed),
    (SyncSortedFeed, SortedFeed),
    (SyncQueue, Queue),
]

#: Thoonk coroutines a sync connection leaves out, and why.
NOT_MIRRORED = {
    "run": "takes contract calls: the objects' business",
    "run_many": "takes contract calls: the objects' business",
    "run_durable": "takes contract calls: the objects' business",
    "run_behind_block": "takes contract calls: the objects' business",
    "read": "takes contract commands: the objects' business",
    "pubsub": "a loop-bound resource",
    "result_router": "a loop-bound resource",
    "result_barrier": "works on a loop-bound result router",
}


def coroutine_methods(cls: type) -> set[str]:
    return {
        name
        for name in dir(cls)
        if not name.startswith("_") and inspect.iscoroutinefunction(getattr(cls, name))
    }


def twins_of(cls: type) -> dict[str, BlockingMethod[..., object]]:
    found: dict[str, BlockingMethod[..., object]] = {}
    for name in dir(cls):
        value = inspect.getattr_static(cls, name)
        if isinstance(value, BlockingMethod):
            found[name] = value
    return found


@pytest.mark.parametrize(("sync_cls", "async_cls"), TWINS, ids=lambda c: c.__name__)
def test_every_async_method_has_a_twin_of_that_very_method(sync_cls: type, async_cls: type) -> None:
    twins = twins_of(sync_cls)
    wanted = coroutine_methods(async_cls)
    missing = sorted(wanted - set(twins))
    assert not missing, (
        f"add to thoonk_actors/sync/_twins.py, in the table of {sync_cls.__name__}: "
        + "; ".join(f"{n} = BlockingMethod({async_cls.__name__}.{n})" for n in missing)
    )
    assert not set(twins) - wanted, f"twins of no async method: {sorted(set(twins) - wanted)}"
    for name, twin in twins.items():
        mirrored = getattr(async_cls, name)
        assert twin.method is mirrored, (
            f"{sync_cls.__name__}.{name} mirrors {twin.method.__qualname__}, but "
            f"{async_cls.__name__}.{name} is {mirrored.__qualname__}: give it its own line"
        )
        assert inspect.signature(twin.method) == inspect.signature(mirrored)


def test_sync_connection_mirrors_thoonk_or_says_why_not() -> None:
    twins = twins_of(SyncThoonk)
    wanted = coroutine_methods(Thoonk)
    assert not set(twins) & set(NOT_MIRRORED)
    unaccounted = sorted(wanted - set(twins) - set(NOT_MIRRORED))
    assert not unaccounted, f"mirror in ThoonkMethods or list in NOT_MIRRORED: {unaccounted}"
    assert set(twins) | set(NOT_MIRRORED) == wanted, "NOT_MIRRORED lists a method Thoonk lacks"
    for name, twin in twins.items():
        assert twin.method is getattr(Thoonk, name)


def test_a_live_twin_has_the_signature_name_and_doc_of_its_async_method(t: SyncThoonk) -> None:
    for sync_obj in (t.job("j"), t.feed("f"), t.sorted_feed("s"), t.queue("q")):
        async_obj = sync_obj._obj
        for name in twins_of(type(sync_obj)):
            blocking, coroutine = getattr(sync_obj, name), getattr(async_obj, name)
            assert not inspect.iscoroutinefunction(blocking), name
            assert inspect.signature(blocking) == inspect.signature(coroutine), name
            assert (blocking.__name__, blocking.__doc__) == (name, coroutine.__doc__)
    thoonk = t.portal.resource
    for name in twins_of(SyncThoonk):
        assert inspect.signature(getattr(t, name)) == inspect.signature(getattr(thoonk, name))


def test_twins_block_and_return_what_the_async_method_returns(t: SyncThoonk) -> None:
    feed = t.feed("twins")
    assert feed.publish("a", id="1") == "1"
    assert feed.items() == [("1", "a")]
    feed.configure(max_length=5)
    assert feed.config().max_length == 5
    assert t.names("feed") == ["twins"]
    assert t.execute("GET", "no-such-key", idempotent=True) is None


def test_a_twin_under_another_name_is_refused() -> None:
    # Python 3.11 wraps an error of __set_name__ in a RuntimeError; 3.12 does not.
    with pytest.raises((TypeError, RuntimeError)) as info:

        class Wrong:
            send = BlockingMethod(Feed.publish)

    error = info.value if isinstance(info.value, TypeError) else info.value.__cause__
    assert isinstance(error, TypeError)
    assert str(error) == "Wrong.send mirrors publish: use the same name"


def _mypy(*files: Path) -> list[tuple[str, int, str]]:
    """(file name, line, message) of each error mypy --strict reports in ``files``."""
    out = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-error-summary", *map(str, files)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode in (0, 1), out.stderr or out.stdout
    names = {f.name for f in files}
    errors = []
    for line in out.stdout.splitlines():
        found = re.match(r"(.+?):(\d+): error: (.*)", line)
        if found and Path(found[1]).name in names:
            errors.append((Path(found[1]).name, int(found[2]), found[3]))
    return errors


def test_mypy_sees_the_async_types_on_the_twins_and_reports_misuse() -> None:
    ok, bad = HERE / "typed_usage_ok.py", HERE / "typed_usage_bad.py"
    errors = _mypy(ok, bad)
    assert [e for e in errors if e[0] == ok.name] == []
    marked = [
        number
        for number, text in enumerate(bad.read_text(encoding="utf-8").splitlines(), 1)
        if re.search(r"\S  # error: ", text)
    ]
    assert len(marked) == 7
    assert sorted({line for name, line, _ in errors if name == bad.name}) == marked, errors


def test_the_package_ships_py_typed() -> None:
    package = Path(thoonk_actors.__file__).parent
    assert (package / "py.typed").is_file()
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert "py.typed" in config["tool"]["setuptools"]["package-data"]["thoonk_actors"]
