"""Running ``thoonk`` as users do: a real subprocess, outputs read with deadlines.

Synopsis::

    done = thoonk("publish", "job", "emails", "x", url=redis_url)      # CompletedProcess
    with Follower([...]) as proc: proc.line(); proc.sigint(); proc.finish()
    code, output = in_terminal(["top", "--url", url], until=lambda out: "JOB" in out)  # a pty

The inherited ``THOONK_REDIS_URL`` is removed, so a test says which server it
means (``url=``, or ``env=``); stdin is empty unless ``input=`` is given.
"""

from __future__ import annotations

import os
import queue
import select
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from types import TracebackType
from typing import Any

from thoonk_actors.transport import URL_ENV

from ..polling import eventually as wait_until  # noqa: F401  # re-exported for the CLI tests

DEADLINE = 30.0
THOONK = [sys.executable, "-m", "thoonk_actors"]


def environment(env: dict[str, str] | None = None) -> dict[str, str]:
    # Bytecode: tests/conftest.py lets every subprocess keep it (_keep_bytecode).
    base = {k: v for k, v in os.environ.items() if k != URL_ENV}
    return {**base, **(env or {})}


def thoonk(
    *args: str,
    url: str | None = None,
    input: str | None = None,
    env: dict[str, str] | None = None,
    timeout: float = DEADLINE,
    cwd: str | os.PathLike[str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run ``thoonk ARGS`` (``--url URL`` appended when given) to completion."""
    argv = [*THOONK, *args, *(["--url", url] if url is not None else [])]
    return subprocess.run(
        argv,
        input=input if input is not None else "",
        capture_output=True,
        text=True,
        timeout=timeout,
        env=environment(env),
        cwd=cwd,
    )


def ok(*args: str, url: str | None = None, input: str | None = None) -> str:
    """``thoonk ARGS`` that must succeed with nothing on stderr; its stdout."""
    done = thoonk(*args, url=url, input=input)
    assert (done.returncode, done.stderr) == (0, ""), (args, done)
    return done.stdout


def one_line_error(done: subprocess.CompletedProcess[str], code: int) -> str:
    """Assert ``done`` failed with ``code``, no stdout and one stderr line; that line."""
    assert done.returncode == code, done
    assert done.stdout == "", done
    assert done.stderr.startswith("thoonk: error: "), done.stderr
    assert done.stderr.endswith("\n") and done.stderr.count("\n") == 1, done.stderr
    return done.stderr[len("thoonk: error: ") : -1]


class Follower:
    """A long-running ``thoonk`` (``feed tail``) whose output lines are read with deadlines.

    A reader thread per stream moves lines into queues, so a read that would
    block for ever fails the test instead.
    """

    def __init__(
        self,
        args: list[str],
        *,
        env: dict[str, str] | None = None,
        cwd: str | os.PathLike[str] | None = None,
    ) -> None:
        self.proc = subprocess.Popen(
            [*THOONK, *args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=environment(env),
            cwd=cwd,
        )
        self._out: queue.Queue[str | None] = queue.Queue()
        self._err: queue.Queue[str | None] = queue.Queue()
        assert self.proc.stdout is not None and self.proc.stderr is not None
        self._pumps = [
            threading.Thread(target=_pump, args=(stream, sink), daemon=True)
            for stream, sink in ((self.proc.stdout, self._out), (self.proc.stderr, self._err))
        ]
        for pump in self._pumps:
            pump.start()

    def line(self, timeout: float = DEADLINE) -> str:
        """The next stdout line (without its newline); fails after ``timeout`` s."""
        return _take(self._out, timeout, "a line on stdout")

    def err_line(self, timeout: float = DEADLINE) -> str:
        """The next stderr line (without its newline); fails after ``timeout`` s."""
        return _take(self._err, timeout, "a line on stderr")

    def sigint(self) -> None:
        self.proc.send_signal(signal.SIGINT)

    def finish(self, timeout: float = DEADLINE) -> tuple[int, list[str], list[str]]:
        """Wait for the exit; the code and the stdout / stderr lines not read yet."""
        code = self.proc.wait(timeout=timeout)
        return code, _rest(self._out, timeout), _rest(self._err, timeout)

    def __enter__(self) -> Follower:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        for pump in self._pumps:  # they end at EOF, now that the process is gone
            pump.join(DEADLINE)
        assert self.proc.stdout is not None and self.proc.stderr is not None
        self.proc.stdout.close()
        self.proc.stderr.close()


def _pump(stream: Iterator[str], sink: queue.Queue[str | None]) -> None:
    for line in stream:
        sink.put(line.rstrip("\n"))
    sink.put(None)  # end of stream


def _take(source: queue.Queue[str | None], timeout: float, what: str) -> str:
    try:
        line = source.get(timeout=timeout)
    except queue.Empty:
        raise AssertionError(f"timed out after {timeout:g} s waiting for {what}") from None
    if line is None:
        raise AssertionError(f"the stream ended while waiting for {what}")
    return line


def _rest(source: queue.Queue[str | None], timeout: float) -> list[str]:
    lines = []
    deadline = time.monotonic() + timeout
    while (line := source.get(timeout=max(deadline - time.monotonic(), 0.001))) is not None:
        lines.append(line)
    return lines


def in_terminal(
    args: list[str], *, until: Callable[[str], bool] | None = None, timeout: float = DEADLINE
) -> tuple[int, str]:
    """Run ``thoonk ARGS`` with stdout and stderr on a pseudo-terminal; (exit code, output).

    With ``until``, SIGINT is sent once ``until(output so far)`` is true. The
    terminal turns each ``\\n`` into ``\\r\\n``; the output is returned as
    written to the terminal.
    """
    master, slave = os.openpty()
    proc = subprocess.Popen(
        [*THOONK, *args], stdin=subprocess.DEVNULL, stdout=slave, stderr=slave, env=environment()
    )
    os.close(slave)
    output = b""
    interrupted = False
    deadline = time.monotonic() + timeout
    try:
        while True:
            ready, _, _ = select.select([master], [], [], max(deadline - time.monotonic(), 0))
            if not ready:
                raise AssertionError(f"timed out after {timeout:g} s; output so far: {output!r}")
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: every writer of the terminal is gone
                break
            if not data:
                break
            output += data
            if until is not None and not interrupted and until(output.decode(errors="replace")):
                proc.send_signal(signal.SIGINT)
                interrupted = True
        return proc.wait(timeout=max(deadline - time.monotonic(), 0.1)), output.decode()
    finally:
        os.close(master)
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def renew_heartbeats(client: Any, key: str) -> None:
    """Set every worker's heartbeat in ``key`` to the server's now.

    Each ``thoonk get`` process heartbeats once; on a loaded machine the first
    can be older than the 15-s window by the time ``stats``/``top`` runs. Tests
    of the tables renew them so they test the table, not the machine's speed.
    """
    seconds, micros = client.time()
    now_ms = seconds * 1000 + micros // 1000
    client.zadd(key, dict.fromkeys(client.zrange(key, 0, -1), now_ms))
