"""Helpers for tests that kill the embedded server under a live ``sync`` client.

Synopsis::

    with embedded_data_dir(monkeypatch) as path:   # THOONK_DATA_DIR, appendfsync always
        ...
        eventually(lambda: gone(pid), "the killed server to be gone")
        eventually(lambda: noticed_the_loss(t), "the client to read the EOF")
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator

import pytest

from thoonk_actors import sync
from thoonk_actors.embedded import stop_embedded_server


def gone(pid: int) -> bool:
    """Exited: no such process, or a zombie (its sockets are closed)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rpartition(b")")[2].split()[:1] == [b"Z"]
    except FileNotFoundError:
        return True


def noticed_the_loss(t: sync.SyncThoonk) -> bool:
    """Whether the client's shared connection has seen the server go (EOF read).

    A call racing with the kill may be written to the dead socket before the
    client reads the EOF; such a call fails (it may or may not have run, and the
    transport never re-sends those). The promise is about the calls after that.
    """
    shared = t.portal.resource.redis._shared
    return shared is None or not shared.usable


@contextlib.contextmanager
def embedded_data_dir(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A fresh embedded data directory, found through ``THOONK_DATA_DIR``; stopped after.

    AOF with ``appendfsync always`` (``THOONK_APPENDFSYNC``), so every
    acknowledged write is on disk when a kill lands. Under /tmp: a unix socket
    path must stay short.
    """
    root = tempfile.mkdtemp(prefix="th-", dir="/tmp" if os.path.isdir("/tmp") else None)
    path = os.path.join(root, "data")
    monkeypatch.delenv("THOONK_REDIS_URL", raising=False)
    monkeypatch.setenv("THOONK_DATA_DIR", path)
    monkeypatch.setenv("THOONK_APPENDFSYNC", "always")
    try:
        yield path
    finally:
        with contextlib.suppress(Exception):
            stop_embedded_server(path)
        shutil.rmtree(root, ignore_errors=True)
