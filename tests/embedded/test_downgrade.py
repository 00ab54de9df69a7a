"""Data written by a newer Redis line is never handed to an older redis-server.

Policy: real servers only. A data directory is written by the newest redis-server
on the machine (``/usr/bin/redis-server``, 7.0 here) after the bundled wheel's
(6.2) wrote it first; starting it again with the wheel's binary must be refused
with a message naming the version and the binary to use, and leave every file
as it was. Skipped, with the reason, where the machine has only one release line.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Iterator

import pytest
import redis

from thoonk_actors import EmbeddedServerError
from thoonk_actors.embedded import (
    binary_version,
    bundled_redis_server,
    embedded_server_status,
    ensure_embedded_server,
    run_embedded_server_foreground,
    stop_embedded_server,
)
from thoonk_actors.embedded._binary import version_tuple

from .test_embedded import data_dir as data_dir


@pytest.fixture
def two_lines() -> tuple[str, str, str, str]:
    """(older binary, its version, newer binary, its version): two release lines."""
    bundled = bundled_redis_server()
    system = shutil.which("redis-server", path="/usr/bin:/usr/local/bin")
    if bundled is None or system is None:
        pytest.skip("needs the bundled wheel's redis-server and one in /usr/bin or /usr/local/bin")
    old, new = binary_version(bundled), binary_version(system)
    if old is None or new is None or version_tuple(new)[:2] <= version_tuple(old)[:2]:
        pytest.skip(f"needs two release lines; the wheel has {old}, {system} has {new}")
    return bundled, old, system, new


def snapshot(folder: str) -> dict[str, tuple[int, int, str]]:
    """Every entry under ``folder``: mode, mtime and content hash (files)."""
    found: dict[str, tuple[int, int, str]] = {}
    for root, dirs, files in os.walk(folder):
        for name in dirs + files:
            path = os.path.join(root, name)
            st = os.lstat(path)
            digest = ""
            if name in files:
                with open(path, "rb") as f:
                    digest = hashlib.sha256(f.read()).hexdigest()
            found[os.path.relpath(path, folder)] = (st.st_mode, st.st_mtime_ns, digest)
    return found


def write_and_stop(data_dir: str, key: str) -> None:
    server = ensure_embedded_server(data_dir)
    client = redis.Redis(unix_socket_path=server.socket_path, socket_timeout=10)
    try:
        client.set(key, "kept")
    finally:
        client.close()
    assert stop_embedded_server(data_dir) is True


def read_key(data_dir: str, key: str) -> bytes | None:
    server = ensure_embedded_server(data_dir)
    client = redis.Redis(unix_socket_path=server.socket_path, socket_timeout=10)
    try:
        value = client.get(key)
    finally:
        client.close()
    assert isinstance(value, bytes | None)
    return value


@pytest.fixture
def upgraded(
    data_dir: str, two_lines: tuple[str, str, str, str], monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    """A data directory written by the older line, then by the newer one (stopped)."""
    old_binary, _, new_binary, new_version = two_lines
    monkeypatch.setenv("THOONK_REDIS_SERVER", old_binary)
    write_and_stop(data_dir, "from-old")
    monkeypatch.setenv("THOONK_REDIS_SERVER", new_binary)
    assert read_key(data_dir, "from-old") == b"kept"  # upgrading is fine
    write_and_stop(data_dir, "from-new")
    with open(os.path.join(data_dir, "server.json")) as f:
        assert json.load(f) == {
            "version": new_version,
            "binary": new_binary,
            "reason": "THOONK_REDIS_SERVER",
        }
    assert stat_mode(os.path.join(data_dir, "server.json")) == 0o600
    assert os.path.isdir(os.path.join(data_dir, "appendonlydir"))
    yield data_dir


def stat_mode(path: str) -> int:
    return os.lstat(path).st_mode & 0o777


def test_an_older_binary_is_refused_and_nothing_changes(
    upgraded: str, two_lines: tuple[str, str, str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    old_binary, old_version, new_binary, new_version = two_lines
    before = snapshot(upgraded)
    monkeypatch.setenv("THOONK_REDIS_SERVER", old_binary)
    with pytest.raises(EmbeddedServerError) as info:
        ensure_embedded_server(upgraded)
    assert str(info.value) == (
        f"The data directory {upgraded} was last run with Redis {new_version} "
        f"({new_binary}); {old_binary} is Redis {old_version}, an older release line that "
        "cannot read it (it would refuse it, or start empty). Nothing was changed. To keep "
        f"the data, set THOONK_REDIS_SERVER={new_binary} and start again; or use another "
        "data directory (--data-dir or THOONK_DATA_DIR)."
    )
    with pytest.raises(EmbeddedServerError, match="was last run with Redis"):
        run_embedded_server_foreground(upgraded)
    assert embedded_server_status(upgraded) is None
    assert snapshot(upgraded) == before
    # Following the advice brings every write back.
    monkeypatch.setenv("THOONK_REDIS_SERVER", new_binary)
    assert read_key(upgraded, "from-old") == b"kept"
    assert read_key(upgraded, "from-new") == b"kept"


def test_without_a_record_the_multipart_aof_still_refuses_an_older_binary(
    upgraded: str, two_lines: tuple[str, str, str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # A directory written before server.json existed, or by a server started by hand.
    os.unlink(os.path.join(upgraded, "server.json"))
    before = snapshot(upgraded)
    old_binary, old_version, _, _ = two_lines
    monkeypatch.setenv("THOONK_REDIS_SERVER", old_binary)
    with pytest.raises(EmbeddedServerError) as info:
        ensure_embedded_server(upgraded)
    folder = os.path.join(upgraded, "appendonlydir")
    message = str(info.value)
    assert message.startswith(f"The data directory {upgraded} holds data written by Redis >= 7.")
    assert folder in message
    assert f"{old_binary} is Redis {old_version}, an older release line" in message
    assert "set THOONK_REDIS_SERVER to a redis-server >= 7." in message
    assert snapshot(upgraded) == before


def test_a_record_naming_a_newer_line_refuses_even_without_its_files(data_dir: str) -> None:
    # The record alone decides (any one binary will do); the newer binary is gone,
    # and the advice says so.
    write_and_stop(data_dir, "k")
    record = os.path.join(data_dir, "server.json")
    with open(record, "w") as f:
        json.dump({"version": "99.1.0", "binary": "/gone/redis-server", "reason": "x"}, f)
    before = snapshot(data_dir)
    with pytest.raises(EmbeddedServerError) as info:
        ensure_embedded_server(data_dir)
    assert (
        "set THOONK_REDIS_SERVER to a redis-server >= 99.1 that you trust (server.json names "
        "/gone/redis-server, which is gone)"
    ) in str(info.value)
    assert snapshot(data_dir) == before


def test_a_linked_record_is_refused_and_its_target_left_alone(data_dir: str) -> None:
    write_and_stop(data_dir, "k")
    record = os.path.join(data_dir, "server.json")
    target = os.path.join(os.path.dirname(data_dir), "elsewhere")
    with open(target, "w") as f:
        f.write("not ours\n")
    os.unlink(record)
    os.symlink(target, record)
    with pytest.raises(EmbeddedServerError, match=r"server\.json' is a symbolic link"):
        ensure_embedded_server(data_dir)
    with open(target) as f:
        assert f.read() == "not ours\n"
