"""Find, start and stop the embedded server of a data directory, one per directory.

Synopsis::

    server = ensure_embedded_server()     # find it running, or start it
    server.url                            # 'unix:///home/me/project/.thoonk/redis.sock'
    stop_embedded_server()                # SHUTDOWN (the AOF is flushed), wait for exit

Everything here is synchronous and blocks (subprocesses, file locks, a socket);
from trio call it as ``await trio.to_thread.run_sync(ensure_embedded_server)``.
``server.lock`` in the data directory is ``flock``-ed around every
check-and-start and stop, so two processes that ask at once end up with one
server.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import signal
import subprocess
import time
from collections.abc import Iterator

from .._errors import EmbeddedServerError
from ._binary import BinaryChoice, choose_redis_server
from ._datadir import (
    Paths,
    check_data_dir,
    prepare_data_dir,
    read_record,
    refuse_downgrade,
    write_record,
)
from ._process import (
    POLL_INTERVAL,
    is_our_server,
    read_pidfile,
    remove_stale_files,
    spawn,
    terminate,
    wait_gone,
    wait_ready,
)
from ._wire import ErrorReply, Info, Probe, probe, request


@dataclasses.dataclass(frozen=True, slots=True)
class EmbeddedServer:
    """A running embedded redis-server, as :func:`ensure_embedded_server` found or started it.

    Attributes:
        url: ``unix:///abs/path/redis.sock`` (percent-encoded), for ``Thoonk.connect``
            or ``redis.Redis.from_url``.
        socket_path: the unix socket's absolute path.
        pid: the server's process id (checked: a redis-server of ours in ``data_dir``).
        data_dir: the absolute data directory.
        version: the server's ``redis_version``.
        started: ``True`` if this call started it, ``False`` if it was already running.
        binary: the redis-server binary it runs, or None if unknown (started by
            hand, or by a version of this package that did not record it).
        chosen: why that binary: ``'THOONK_REDIS_SERVER'`` or ``'the newest found'``
            (see :func:`~thoonk_actors.embedded.find_redis_server`), or None.
    """

    url: str
    socket_path: str
    pid: int
    data_dir: str
    version: str
    started: bool
    binary: str | None = None
    chosen: str | None = None


def server_of(
    paths: Paths, info: Info, *, started: bool, choice: BinaryChoice | None = None
) -> EmbeddedServer:
    """The server as found (binary from ``server.json`` if it names this version) or started."""
    binary = chosen = None
    if choice is not None:
        binary, chosen = choice.path, choice.reason
    else:
        record = read_record(paths)
        if record is not None and record.version == info.version:
            binary, chosen = record.binary, record.reason
    return EmbeddedServer(
        url=paths.url,
        socket_path=paths.socket,
        pid=info.pid,
        data_dir=paths.data_dir,
        version=info.version,
        started=started,
        binary=binary,
        chosen=chosen,
    )


def start_checked(
    paths: Paths, deadline: float, *, admin_commands: bool
) -> tuple[subprocess.Popen[bytes], BinaryChoice]:
    """Under the lock, no server running: choose the binary, refuse a downgrade, spawn it.

    Raises:
        EmbeddedServerError: no binary, or the data was written by a newer Redis
            line than the chosen binary's (nothing is changed then).
    """
    choice = choose_redis_server(timeout=max(0.05, deadline - time.monotonic()))
    refuse_downgrade(paths, choice.path, choice.version)
    return spawn(paths, choice.path, choice.version, admin_commands=admin_commands), choice


def record_started(paths: Paths, info: Info, choice: BinaryChoice) -> EmbeddedServer:
    """Once it answers: note in ``server.json`` which Redis now owns the data."""
    write_record(paths, info.version, choice.path, choice.reason)
    return server_of(paths, info, started=True, choice=choice)


@contextlib.contextmanager
def locked(paths: Paths, deadline: float) -> Iterator[None]:
    """Hold ``server.lock`` (an exclusive flock) until the block ends.

    flock has no timeout, so a non-blocking attempt is retried until the
    deadline; a holder that died released the lock with its file descriptors.
    Each call opens the file anew, so threads of one process exclude each other too.
    """
    import fcntl  # POSIX only; imported here so the module imports everywhere.

    flags = os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW
    try:
        fd = os.open(paths.lock, flags, 0o600)
    except OSError as exc:
        raise EmbeddedServerError(
            f"Cannot open {paths.lock!r}: {exc.strerror} (a symbolic link is refused); "
            "remove it and try again."
        ) from exc
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
                time.sleep(POLL_INTERVAL)
        yield
    finally:
        os.close(fd)  # releases the lock


def require_ours(paths: Paths, info: Info) -> Info:
    """``info`` if its pid is a redis-server of ours in the data directory, else refuse.

    Anything can listen on a socket path and claim any pid: we neither send it
    our data nor signal the pid it names.
    """
    if not is_our_server(info.pid, paths):
        raise EmbeddedServerError(
            f"Something answers on {paths.socket} like Redis but says its pid is "
            f"{info.pid}, which is not a redis-server of yours running in "
            f"{paths.data_dir}; refusing to use it or to signal that pid. Find what "
            f"listens there (`ss -xlp | grep {os.path.basename(paths.socket)}`) and stop it."
        )
    return info


def find_running(paths: Paths, deadline: float, timeout: float) -> Info | None:
    """Under the lock: the healthy server of this directory, or None after cleaning up.

    A server that is alive but does not answer (hung, or started by hand and
    not listening yet) is waited for until the deadline, never replaced: two
    servers must not write one AOF. One that dies meanwhile (a connection reset
    by a process being killed) counts as gone.
    """
    while True:
        found: Probe = probe(paths.socket)
        if found.info is not None:
            require_ours(paths, found.info)
            return wait_ready(paths, None, deadline, timeout)  # may still be LOADING
        pid = read_pidfile(paths)
        suspect = pid is not None and is_our_server(pid, paths)
        if not suspect and (not found.listening or pid is not None):
            # Nothing listens, or only the socket of a server whose process is gone.
            remove_stale_files(paths)
            return None
        if time.monotonic() >= deadline:
            who = f"A redis-server (pid {pid})" if suspect else "A process"
            raise EmbeddedServerError(
                f"{who} holds {paths.data_dir!r} but does not answer on its socket "
                f"({found.problem or 'not listening'}); stop it, or see {paths.logfile!r}."
            )
        time.sleep(POLL_INTERVAL)


def ensure_embedded_server(
    data_dir: str | os.PathLike[str] | None = None,
    *,
    timeout: float = 10.0,
    admin_commands: bool = False,
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
            with mode 0700 if missing; an existing one must be yours and
            writable by nobody else (it is chmod-ed 0700).
        timeout: seconds for the whole call (lock, start, AOF loading).
        admin_commands: keep CONFIG and DEBUG usable on a server this call starts
            (test fixtures; MODULE stays disabled). Off by default: whoever can
            reach the socket could otherwise rewrite files through CONFIG SET.

    Raises:
        EmbeddedServerError: no binary, an untrusted data directory, data
            written by a newer Redis line than the chosen binary's, cannot
            start, or no answer in time (the message includes the end of ``redis.log``).
    """
    paths = Paths.of(data_dir)
    deadline = time.monotonic() + timeout
    prepare_data_dir(paths)
    with locked(paths, deadline):
        info = find_running(paths, deadline, timeout)
        if info is not None:
            return server_of(paths, info, started=False)
        proc, choice = start_checked(paths, deadline, admin_commands=admin_commands)
        try:
            info = wait_ready(paths, proc, deadline, timeout)
            return record_started(paths, info, choice)
        except BaseException:
            terminate(proc)
            raise


def embedded_server_status(data_dir: str | os.PathLike[str] | None = None) -> EmbeddedServer | None:
    """Return the running embedded server of ``data_dir``, or None; never starts one.

    Synopsis: ``embedded_server_status('/srv/app/.thoonk') -> EmbeddedServer | None``.

    ``started`` is always False. Read-only: takes no lock and removes nothing.

    Raises:
        EmbeddedServerError: the data directory is not safe to use; or something
            accepts connections on the socket but does not answer INFO (a hung
            server, or not Redis at all), or answers with a pid that is not a
            redis-server of ours in the data directory.
    """
    paths = Paths.of(data_dir)
    check_data_dir(paths)
    found = probe(paths.socket)
    if found.info is not None:
        return server_of(paths, require_ours(paths, found.info), started=False)
    pid = read_pidfile(paths)
    if found.listening and (pid is None or is_our_server(pid, paths)):
        raise EmbeddedServerError(
            f"Something accepts connections on {paths.socket} but does not answer "
            f"({found.problem}); see {paths.logfile!r}."
        )
    return None


def stop_embedded_server(
    data_dir: str | os.PathLike[str] | None = None, *, timeout: float = 10.0
) -> bool:
    """Stop the embedded server of ``data_dir``; return whether one was running.

    Synopsis: ``stop_embedded_server() -> True``.

    Sends SHUTDOWN over the socket (Redis flushes the AOF and removes its
    socket and pid file); a server that does not answer but whose pid file names
    a live redis-server of ours gets SIGTERM. Waits until the process has exited.
    No pid is signalled unless it is a redis-server of this user running in the
    data directory (a stale pid file or a forged INFO reply must not kill anything).

    Raises:
        EmbeddedServerError: it did not exit within ``timeout`` seconds; the data
            directory is not safe; or what answers on the socket is not ours.
    """
    paths = Paths.of(data_dir)
    if not os.path.isdir(paths.data_dir):
        return False
    check_data_dir(paths)
    deadline = time.monotonic() + timeout
    with locked(paths, deadline):
        found = probe(paths.socket)
        if found.info is not None:
            pid = require_ours(paths, found.info).pid
            try:
                request(paths.socket, "SHUTDOWN", timeout=max(0.05, deadline - time.monotonic()))
            except EOFError:
                pass  # success: the server closed the connection as it exited
            except (OSError, ErrorReply):
                # It refused (a failing AOF rewrite, say) or vanished; a signal
                # still makes it exit cleanly if it can.
                _terminate_pid(pid, paths)
        else:
            pidfile_pid = read_pidfile(paths)
            if pidfile_pid is not None and is_our_server(pidfile_pid, paths):
                pid = pidfile_pid
                _terminate_pid(pid, paths)
            elif found.listening:
                raise EmbeddedServerError(
                    f"Something accepts connections on {paths.socket} but does not answer "
                    f"({found.problem}), and no redis-server of yours is named in "
                    f"{paths.pidfile}; stop it by hand."
                )
            else:
                remove_stale_files(paths)
                return False
        if not wait_gone(pid, deadline):
            raise EmbeddedServerError(
                f"The server (pid {pid}) did not exit within {timeout:g} s; see {paths.logfile!r}."
            )
        remove_stale_files(paths)
        return True


def _terminate_pid(pid: int, paths: Paths) -> None:
    # Checked again right before the signal: the pid may have exited and been reused.
    if is_our_server(pid, paths):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
