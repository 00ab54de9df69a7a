"""A private redis-server a test may stop, kill and restart (never the session's server).

Synopsis::

    with PrivateRedis() as server:               # unix socket in a short tmp dir
        url = server.url
        server.stop(); server.start("--key-load-delay", "300")

The bundled redis-server by default (CI guarantees only that one);
``THOONK_TEST_REDIS_SERVER=/usr/bin/redis-server`` picks another binary.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from types import TracebackType

from thoonk_actors.embedded import find_redis_server

SERVER_ENV = "THOONK_TEST_REDIS_SERVER"


class PrivateRedis:
    """One redis-server process on a unix socket, AOF on, in its own directory."""

    def __init__(self, *args: str) -> None:
        # A unix socket path must stay short: not under pytest's long tmp_path.
        self.dir = tempfile.mkdtemp(prefix="thp-", dir="/tmp" if os.path.isdir("/tmp") else None)
        self.socket = os.path.join(self.dir, "r.sock")
        self.args = args
        # THOONK_TEST_REDIS_SERVER runs these tests on another redis-server binary.
        self.binary = os.environ.get(SERVER_ENV) or find_redis_server()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"unix://{self.socket}?db=0"

    def start(self, *extra: str, wait: bool = True) -> None:
        """Start the server (``wait``: until its socket accepts connections)."""
        argv = [self.binary, "--port", "0", "--unixsocket", self.socket]
        argv += ["--dir", self.dir, "--save", "", "--appendonly", "yes"]
        argv += ["--appendfsync", "always", *self.args, *extra]
        self.proc = subprocess.Popen(
            argv,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        if wait:
            self.wait_accepting()

    def wait_accepting(self, deadline: float = 15.0) -> None:
        end = time.monotonic() + deadline
        while time.monotonic() < end:
            probe = socket.socket(socket.AF_UNIX)
            try:
                probe.connect(self.socket)
                return
            except OSError:
                time.sleep(0.01)  # polling interval, not a wait for an effect
            finally:
                probe.close()
        raise AssertionError("the private redis-server did not start")

    def stop(self) -> None:
        """SIGTERM and wait (Redis flushes the AOF on a clean stop)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=30)
        self.proc = None
        if os.path.exists(self.socket):
            os.unlink(self.socket)

    def kill(self) -> None:
        """SIGKILL: the server dies with no chance to clean up."""
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(timeout=30)
        self.proc = None
        if os.path.exists(self.socket):
            os.unlink(self.socket)

    def __enter__(self) -> PrivateRedis:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.kill()
        shutil.rmtree(self.dir, ignore_errors=True)
