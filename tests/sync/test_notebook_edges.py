"""What a notebook user runs into: top-level ``await``, interrupt tracebacks, imports.

* ``await q.aio.statistics()`` in a cell runs on Jupyter's asyncio loop:
  it must work there (the call runs in the connection's trio loop).
* A Ctrl-C (kernel interrupt) traceback ends at the user's call, without the
  portal's or ``threading``'s frames.
* ``import thoonk_actors.sync`` loads no widget (the facade does not import
  them; the widgets register themselves).
"""

from __future__ import annotations

import ast
import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from thoonk_actors import NotStalledError
from thoonk_actors.sync import AsyncView, SyncThoonk

from .test_facade import ROOT, run_child

SYNC_DIR = Path(ROOT) / "thoonk_actors" / "sync"


def test_aio_awaited_from_asyncio_runs_in_the_connection_loop(t: SyncThoonk) -> None:
    jobs = t.job("aio-cell")
    jobs.publish("x")
    news = t.feed("aio-news")

    async def cell() -> tuple[object, object, str]:  # a notebook cell with top-level await
        stats = await jobs.aio.statistics()
        new_id = await news.aio.publish({"title": "from asyncio"}, id="a1")
        with pytest.raises(NotStalledError) as caught:
            await jobs.aio.retry("no-such-job")  # exceptions keep their type
        return stats, new_id, caught.value.__class__.__name__

    assert isinstance(jobs.aio, AsyncView)
    stats, new_id, error = asyncio.run(cell())
    assert stats.available == 1 and stats.publishes == 1  # type: ignore[attr-defined]
    assert new_id == "a1" and news.get("a1") == {"title": "from asyncio"}
    assert error == "NotStalledError"


def test_aio_inside_the_connection_loop_is_the_trio_object(t: SyncThoonk) -> None:
    jobs = t.job("aio-loop")
    jobs.publish("y")

    async def in_loop() -> int:
        stats = await jobs.aio.statistics()  # a trio coroutine here, no bridge
        return int(stats.available)

    assert t.portal.run(in_loop) == 1


def test_cancelling_the_asyncio_task_cancels_the_call(t: SyncThoonk) -> None:
    jobs = t.job("aio-cancel")

    async def cell() -> None:
        task = asyncio.ensure_future(jobs.aio.get(timeout=None))  # blocks: nothing queued
        done, _ = await asyncio.wait({task}, timeout=0.2)
        assert not done
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(cell())
    job_id = jobs.publish("after")
    # The cancelled get() did not stay blocked in the loop: it took nothing.
    claimed = jobs.get(timeout=5)
    assert claimed is not None and claimed.id == job_id


def test_an_interrupt_traceback_ends_at_the_users_call(redis_url: str) -> None:
    done = run_child(
        """
        import os, signal, threading, time, traceback
        from thoonk_actors import sync

        t = sync.connect()
        jobs = t.job("interrupt-frames")
        threading.Timer(1.0, os.kill, (os.getpid(), signal.SIGINT)).start()

        def users_cell():
            jobs.get()  # blocks: nothing queued

        try:
            users_cell()
        except KeyboardInterrupt as exc:
            frames = traceback.extract_tb(exc.__traceback__)
            shown = traceback.format_exception(exc)
            print("FRAMES", "|".join(f"{os.path.basename(f.filename)}:{f.name}" for f in frames))
            print("CONTEXT", exc.__context__ is None)
            print("THREADING", any("threading.py" in line for line in shown))
        t.close()
        """,
        redis_url,
    )
    assert done.returncode == 0, done.stderr
    out = dict(line.split(" ", 1) for line in done.stdout.splitlines())
    frames = out["FRAMES"].split("|")
    # <string>:<module> -> users_cell -> the blocking twin's own frame; nothing deeper.
    assert frames == ["<string>:<module>", "<string>:users_cell", "_blocking.py:blocking"]
    assert out["CONTEXT"] == "True" and out["THREADING"] == "False"


def test_the_frames_left_are_hidden_from_ipython_tracebacks() -> None:
    # IPython drops frames whose locals hold __tracebackhide__ = True.
    for path, function in [("_blocking.py", "blocking"), ("_portal.py", "run")]:
        tree = ast.parse((SYNC_DIR / path).read_text(encoding="utf-8"))
        found = [
            node
            for node in ast.walk(tree)
            if isinstance(node, ast.FunctionDef) and node.name == function
        ]
        assert found, (path, function)
        first = found[0].body[1] if isinstance(found[0].body[0], ast.Expr) else found[0].body[0]
        assert isinstance(first, ast.Assign)
        assert ast.unparse(first) == "__tracebackhide__ = True", (path, function)


def test_importing_sync_imports_no_widgets() -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            textwrap.dedent(
                """
                import sys
                import thoonk_actors.sync
                print(sorted(m for m in sys.modules
                             if m.startswith("thoonk_actors.widgets") or m == "ipywidgets"))
                """
            ),
        ],
        env={**os.environ, "PYTHONPATH": ROOT},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_no_module_of_sync_imports_the_widgets() -> None:
    for path in SYNC_DIR.glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                assert "widgets" not in (node.module or ""), f"{path.name} imports {node.module}"
            if isinstance(node, ast.Import):
                assert not any("widgets" in a.name for a in node.names), path.name


def test_view_finds_the_widgets_through_the_registry(t: SyncThoonk) -> None:
    pytest.importorskip("ipywidgets")
    view = t.feed("registry").view()
    try:
        from thoonk_actors.widgets import FeedView

        assert isinstance(view, FeedView)
    finally:
        view.close()
    assert t.queue("registry")._repr_mimebundle_() == {"text/plain": "<sync Queue 'registry'>"}


def test_view_without_ipywidgets_says_what_to_install(
    t: SyncThoonk, monkeypatch: pytest.MonkeyPatch
) -> None:
    from thoonk_actors.sync import _views

    # As on a machine without the notebook extra: the import of ipywidgets fails.
    monkeypatch.setattr(_views, "_VIEWS", {})
    monkeypatch.setitem(sys.modules, "ipywidgets", None)
    for name in [m for m in sys.modules if m.startswith(_views.VIEWS_MODULE)]:
        monkeypatch.delitem(sys.modules, name)
    with pytest.raises(ImportError, match=r"pip install 'thoonk-actors\[notebook\]'") as info:
        t.job("no-widgets").view()
    assert info.value.name == "ipywidgets"
    assert isinstance(info.value.__cause__, ModuleNotFoundError)
    # A plain repr still works in a notebook without widgets.
    assert t.queue("no-widgets")._repr_mimebundle_() == {"text/plain": "<sync Queue 'no-widgets'>"}


_ = (signal, threading)  # used in the child processes' code
