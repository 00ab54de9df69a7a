"""Attacks on the embedded server's data directory, each performed for real, each failing.

Issue 17 items 1 and 2: a planted AOF, symbolic links, a directory others can
write, a fake server on the socket reporting a victim's pid, a stale pid file
naming an unrelated process. Victims are real processes (``sleep``, ``tail``)
and real files; the assertions check that they are untouched.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator

import pytest
import redis

from thoonk_actors import EmbeddedServerError
from thoonk_actors.embedded import (
    embedded_server_status,
    ensure_embedded_server,
    stop_embedded_server,
)

from ..polling import eventually

DEADLINE = 15.0


@pytest.fixture
def root() -> Iterator[str]:
    """A short private temp dir; the data dir is ``root/data``, victims live beside it."""
    path = tempfile.mkdtemp(prefix="th-", dir="/tmp" if os.path.isdir("/tmp") else None)
    try:
        yield path
    finally:
        with contextlib.suppress(EmbeddedServerError):
            stop_embedded_server(os.path.join(path, "data"))
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def data_dir(root: str) -> str:
    path = os.path.join(root, "data")
    os.mkdir(path, 0o700)
    return path


@pytest.fixture
def victim() -> Iterator[subprocess.Popen[bytes]]:
    """An unrelated process of ours that nothing may signal."""
    proc = subprocess.Popen(["sleep", "120"])
    try:
        yield proc
    finally:
        proc.kill()
        proc.wait()


def thoonk(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "thoonk_actors", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def aof_command(*args: str) -> bytes:
    out = [b"*%d\r\n" % len(args)]
    for arg in args:
        data = arg.encode()
        out.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(out)


# ----------------------------------------------------------- the directory


def test_a_directory_others_can_write_is_refused_and_left_alone(data_dir: str) -> None:
    os.chmod(data_dir, 0o777)
    with pytest.raises(EmbeddedServerError) as info:
        ensure_embedded_server(data_dir)
    message = str(info.value)
    assert "writable by other users (mode 777)" in message
    assert f"chmod 700 {data_dir}" in message
    assert os.listdir(data_dir) == []  # no config, no log, no server
    assert stat.S_IMODE(os.stat(data_dir).st_mode) == 0o777


def test_a_directory_of_another_user_is_refused(root: str) -> None:
    if os.geteuid() == 0:
        path = os.path.join(root, "theirs")
        os.mkdir(path, 0o700)
        os.chown(path, 65534, 65534)
    else:
        path = "/usr/share"  # exists, belongs to root: not ours
    with pytest.raises(EmbeddedServerError, match=r"belongs to user id .*, not to you"):
        ensure_embedded_server(path)
    with pytest.raises(EmbeddedServerError, match="not to you"):
        embedded_server_status(path)


def test_an_own_directory_others_may_read_is_made_private(data_dir: str) -> None:
    os.chmod(data_dir, 0o755)
    server = ensure_embedded_server(data_dir)
    assert stat.S_IMODE(os.stat(data_dir).st_mode) == 0o700
    # What Redis and we create is ours alone (umask 077, mode 0600).
    for name in ("redis.conf", "redis.log", "redis.pid", "server.lock"):
        mode = stat.S_IMODE(os.stat(os.path.join(data_dir, name)).st_mode)
        assert mode & 0o077 == 0, (name, oct(mode))
    assert server.started is True


def test_a_symlinked_data_directory_is_refused(root: str) -> None:
    real = os.path.join(root, "real")
    os.mkdir(real, 0o700)
    link = os.path.join(root, "data")
    os.symlink(real, link)
    with pytest.raises(EmbeddedServerError, match="is a symbolic link"):
        ensure_embedded_server(link)
    assert os.listdir(real) == []


# -------------------------------------------------------------- planted AOF


@pytest.fixture
def planted_module(root: str) -> tuple[str, str]:
    """A shared library whose load (dlopen) writes a marker file: native code running."""
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        pytest.skip("needs a C compiler to build the planted module")
    marker = os.path.join(root, "module-ran")
    source = os.path.join(root, "evil.c")
    library = os.path.join(root, "evil.so")
    with open(source, "w") as f:
        f.write(
            "#include <stdio.h>\n"
            "__attribute__((constructor)) static void planted(void) {\n"
            f'  FILE *f = fopen("{marker}", "w"); if (f) {{ fputs("ran", f); fclose(f); }}\n'
            "}\n"
        )
    subprocess.run([compiler, "-shared", "-fPIC", "-o", library, source], check=True)
    return library, marker


def test_a_planted_aof_cannot_load_a_module(data_dir: str, planted_module: tuple[str, str]) -> None:
    library, marker = planted_module
    with open(os.path.join(data_dir, "appendonly.aof"), "wb") as f:
        f.write(aof_command("SET", "innocent", "1") + aof_command("MODULE", "LOAD", library))
    with pytest.raises(EmbeddedServerError) as info:
        ensure_embedded_server(data_dir)
    assert "exited with code 1 before it answered" in str(info.value)
    assert "Unknown command" in str(info.value)  # the end of redis.log says why
    assert not os.path.exists(marker)  # the library was never loaded


@pytest.mark.parametrize(
    "command",
    [("CONFIG", "SET", "dir", "/tmp"), ("DEBUG", "SLEEP", "0"), ("MODULE", "LIST")],
)
def test_a_planted_aof_cannot_run_admin_commands(data_dir: str, command: tuple[str, ...]) -> None:
    with open(os.path.join(data_dir, "appendonly.aof"), "wb") as f:
        f.write(aof_command(*command))
    with pytest.raises(EmbeddedServerError, match=f"Unknown command.*{command[0]}"):
        ensure_embedded_server(data_dir)


def test_module_config_and_debug_are_refused_to_clients(data_dir: str) -> None:
    server = ensure_embedded_server(data_dir)
    client = redis.Redis(unix_socket_path=server.socket_path, socket_timeout=10)
    try:
        for command in (("MODULE", "LIST"), ("CONFIG", "GET", "dir"), ("DEBUG", "SLEEP", "0")):
            with pytest.raises(redis.ResponseError, match="unknown command"):
                client.execute_command(*command)
        assert client.ping() is True
    finally:
        client.close()


def test_admin_commands_are_an_explicit_option(data_dir: str) -> None:
    server = ensure_embedded_server(data_dir, admin_commands=True)
    client = redis.Redis(unix_socket_path=server.socket_path, socket_timeout=10)
    try:
        assert client.config_get("appendonly") == {"appendonly": "yes"}
        with pytest.raises(redis.ResponseError, match="unknown command"):
            client.execute_command("MODULE", "LIST")
    finally:
        client.close()


# ----------------------------------------------------------------- symlinks


def test_a_config_tmp_symlink_does_not_overwrite_its_target(root: str, data_dir: str) -> None:
    target = os.path.join(root, "precious.txt")
    with open(target, "w") as f:
        f.write("precious\n")
    os.symlink(target, os.path.join(data_dir, "redis.conf.tmp"))
    server = ensure_embedded_server(data_dir)
    assert server.started is True
    with open(target) as f:
        assert f.read() == "precious\n"
    conf = os.path.join(data_dir, "redis.conf")
    assert stat.S_ISREG(os.lstat(conf).st_mode)
    assert not os.path.lexists(conf + ".tmp")


@pytest.mark.parametrize("name", ["redis.log", "redis.conf", "redis.sock", "appendonly.aof"])
def test_a_symlink_in_the_data_directory_is_refused(root: str, data_dir: str, name: str) -> None:
    target = os.path.join(root, "precious.txt")
    with open(target, "w") as f:
        f.write("precious\n")
    os.symlink(target, os.path.join(data_dir, name))
    with pytest.raises(EmbeddedServerError, match=f"{name}' is a symbolic link"):
        ensure_embedded_server(data_dir)
    with open(target) as f:
        assert f.read() == "precious\n"
    assert not os.path.exists(os.path.join(data_dir, "redis.pid"))  # nothing started


# ------------------------------------------------------------- forged pids


class FakeServer:
    """Listens on ``path`` and answers INFO as a Redis whose pid is ``pid``."""

    def __init__(self, path: str, pid: int) -> None:
        self.commands: list[bytes] = []
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._sock.bind(path)
        self._sock.listen(16)
        self._info = f"# Server\r\nredis_version:7.2.0\r\nprocess_id:{pid}\r\n".encode()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            with conn:
                data = conn.recv(65536)
                self.commands.append(data)
                if b"SHUTDOWN" in data:
                    # Refuse, so that a stopper falls back to signalling the pid.
                    conn.sendall(b"-ERR Errors trying to SHUTDOWN. Check logs.\r\n")
                if b"PING" in data:
                    conn.sendall(b"+PONG\r\n")
                else:
                    conn.sendall(b"$%d\r\n%s\r\n" % (len(self._info), self._info))

    def close(self) -> None:
        # close() alone does not wake a thread blocked in accept(); shutdown() does
        # (accept then fails with EINVAL), so the join below returns at once.
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)
        self._sock.close()
        self._thread.join(DEADLINE)
        assert not self._thread.is_alive(), "the fake server's thread did not stop"


@pytest.fixture
def fake_server(data_dir: str, victim: subprocess.Popen[bytes]) -> Iterator[FakeServer]:
    with open(os.path.join(data_dir, "redis.pid"), "w") as f:
        f.write(f"{victim.pid}\n")
    server = FakeServer(os.path.join(data_dir, "redis.sock"), victim.pid)
    try:
        yield server
    finally:
        server.close()


def test_a_fake_socket_reporting_a_victim_pid_gets_nothing_killed(
    data_dir: str, victim: subprocess.Popen[bytes], fake_server: FakeServer
) -> None:
    with pytest.raises(EmbeddedServerError, match=f"says its pid is {victim.pid}"):
        stop_embedded_server(data_dir, timeout=2)
    with pytest.raises(EmbeddedServerError, match="refusing to use it"):
        ensure_embedded_server(data_dir, timeout=2)
    with pytest.raises(EmbeddedServerError, match="not a redis-server of yours"):
        embedded_server_status(data_dir)
    result = thoonk("server", "stop", "--data-dir", data_dir, "--timeout", "2")
    assert result.returncode != 0
    assert f"says its pid is {victim.pid}" in result.stderr
    assert victim.poll() is None  # alive: never signalled
    # It was asked who it is, and never sent SHUTDOWN or anything else.
    assert all(b"INFO" in c for c in fake_server.commands), fake_server.commands


def test_a_stale_pid_reused_by_tail_is_never_killed(data_dir: str) -> None:
    log = os.path.join(data_dir, "redis.log")
    with open(log, "w") as f:
        f.write("an old log\n")
    # The worst case: a process whose command line says "redis" and whose cwd is the data dir.
    tail = subprocess.Popen(["tail", "-f", log], cwd=data_dir, stdout=subprocess.DEVNULL)
    try:
        with open(os.path.join(data_dir, "redis.pid"), "w") as f:
            f.write(f"{tail.pid}\n")
        assert embedded_server_status(data_dir) is None
        status = thoonk("server", "status", "--data-dir", data_dir)
        assert status.returncode == 1
        assert "No Thoonk server is running" in status.stdout
        stop = thoonk("server", "stop", "--data-dir", data_dir)
        assert "No Thoonk server was running" in stop.stdout
        assert stop_embedded_server(data_dir) is False
        assert tail.poll() is None  # alive
        # And a real server starts in its place, leaving tail alone.
        server = ensure_embedded_server(data_dir)
        assert server.pid != tail.pid
        assert stop_embedded_server(data_dir) is True
        assert tail.poll() is None
    finally:
        tail.kill()
        tail.wait()


def test_stop_kills_only_a_verified_server(data_dir: str) -> None:
    server = ensure_embedded_server(data_dir)
    assert stop_embedded_server(data_dir) is True
    eventually(lambda: not os.path.exists(f"/proc/{server.pid}"), "the server to be gone")
