"""The redis-server process: spawning it, waiting for it, and knowing it is ours.

Synopsis::

    proc = spawn(paths, binary, version)           # detached, umask 077, output to the log
    info = wait_ready(paths, proc, deadline, timeout)
    if is_our_server(pid, paths): os.kill(pid, signal.SIGTERM)

A pid from a pid file may have been reused (by ``tail -f redis.log``, say) and a
pid reported over the socket may be forged (anything can listen there), so no
pid is signalled or waited for before :func:`is_our_server` says that process
runs a redis-server binary, as this user, in this data directory.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import threading
import time

from .._errors import EmbeddedServerError
from ._binary import INSTALL_HINT, is_server_executable
from ._datadir import Paths, create_file, log_tail, read_small_file, write_config
from ._wire import PROBE_TIMEOUT, Info, ping, probe

# Interval of the few waits that have no event to wait on: a file lock with a
# deadline (flock has no timeout), a server that is loading its AOF, a process
# that is not our child exiting.
POLL_INTERVAL = 0.01
# Linux tells zombies, executables and working directories apart through /proc;
# elsewhere we ask ps.
_HAVE_PROC = os.path.isdir("/proc/self")

# Servers this process started, kept so that they are reaped when they exit (a
# zombie would look alive to os.kill(pid, 0)) and so that Popen.__del__ never
# warns about a child that is meant to outlive us.
_children: dict[int, subprocess.Popen[bytes]] = {}
_children_lock = threading.Lock()


def pid_alive(pid: int) -> bool:
    """Whether ``pid`` runs (an exited child not yet reaped does not)."""
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
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except FileNotFoundError:
        return False
    except OSError:
        return True
    return stat.rpartition(b")")[2].split()[:1] != [b"Z"]


def is_our_server(pid: int, paths: Paths) -> bool:
    """Whether ``pid`` is a live redis-server of this user running in ``paths.data_dir``.

    Linux: ``/proc/PID`` belongs to us, ``/proc/PID/exe`` is a redis-server
    binary (see :func:`is_server_executable`) and ``/proc/PID/cwd`` is the data
    directory (Redis chdirs to its ``dir``). Elsewhere ``ps`` gives the user and
    the executable (no working directory). Anything unreadable is "no".
    """
    if pid <= 1 or not pid_alive(pid):
        return False
    if not _HAVE_PROC:
        return _is_our_server_ps(pid)
    try:
        if os.stat(f"/proc/{pid}").st_uid != os.geteuid():
            return False
        exe = os.readlink(f"/proc/{pid}/exe")
        cwd = os.readlink(f"/proc/{pid}/cwd")
    except OSError:
        return False
    return is_server_executable(exe) and cwd == os.path.realpath(paths.data_dir)


def _is_our_server_ps(pid: int) -> bool:
    try:
        result = subprocess.run(
            ["ps", "-o", "uid=,comm=", "-p", str(pid)],
            capture_output=True,
            timeout=5,
            check=False,
            text=True,
        )
    except (OSError, subprocess.SubprocessError):
        return False
    uid, _, command = result.stdout.strip().partition(" ")
    return (
        result.returncode == 0
        and uid.isdigit()
        and int(uid) == os.geteuid()
        and is_server_executable(command.strip())
    )


def read_pidfile(paths: Paths) -> int | None:
    """The pid in ``redis.pid``, or None (no file, not a number, or a link)."""
    text = read_small_file(paths.pidfile)
    try:
        return None if text is None else int(text.strip())
    except ValueError:
        return None


def remove_stale_files(paths: Paths) -> None:
    """Remove the socket and pid file a dead server left (links themselves, never targets)."""
    for path in (paths.socket, paths.pidfile):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)


def wait_gone(pid: int, deadline: float) -> bool:
    """Wait until ``pid`` no longer runs; False at the deadline."""
    while pid_alive(pid):
        if time.monotonic() >= deadline:
            return False
        time.sleep(POLL_INTERVAL)
    return True


def spawn(
    paths: Paths, binary: str, version: str | None, *, admin_commands: bool = False
) -> subprocess.Popen[bytes]:
    """Start redis-server with our config, in its own session, output to the log.

    Its own session: the terminal's Ctrl-C (sent to the whole foreground process
    group) and the death of our process do not reach it. A second SIGINT makes
    Redis exit at once without flushing, so only we decide what it receives.
    umask 077: the AOF, pid file and log it creates are readable by us only.
    """
    write_config(paths, version, admin_commands=admin_commands)
    remove_stale_files(paths)
    log = create_file(paths.logfile, append=True)
    try:
        proc = subprocess.Popen(
            [binary, paths.conf],
            cwd=paths.data_dir,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,  # what Redis says before it opens its logfile
            start_new_session=True,
            close_fds=True,  # above all: not our server.lock descriptor
            umask=0o077,
        )
    except OSError as exc:
        raise EmbeddedServerError(
            f"Cannot run {binary!r}: {exc.strerror or exc}; {INSTALL_HINT}."
        ) from exc
    finally:
        os.close(log)
    with _children_lock:
        _children[proc.pid] = proc
    return proc


def wait_ready(
    paths: Paths, proc: subprocess.Popen[bytes] | None, deadline: float, timeout: float
) -> Info:
    """Wait until PING answers PONG (not LOADING), then return INFO's pid and version."""
    while True:
        remaining = deadline - time.monotonic()
        status = ping(paths.socket, timeout=max(0.05, min(PROBE_TIMEOUT, remaining)))
        if status == "PONG":
            found = probe(paths.socket)
            if found.info is not None:
                return found.info
            status = found.problem
        if proc is not None and proc.poll() is not None:
            forget(proc)
            raise EmbeddedServerError(
                f"redis-server exited with code {proc.returncode} before it answered; "
                f"the end of {paths.logfile}:\n{log_tail(paths)}"
            )
        if time.monotonic() >= deadline:
            raise EmbeddedServerError(
                f"redis-server did not answer on {paths.socket} within {timeout:g} s "
                f"(last: {status}); the end of {paths.logfile}:\n{log_tail(paths)}"
            )
        time.sleep(POLL_INTERVAL)


def terminate(proc: subprocess.Popen[bytes]) -> None:
    """Stop a server we failed to bring up, so that no half-started one lingers."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    forget(proc)


def forget(proc: subprocess.Popen[bytes]) -> None:
    """Stop tracking a child that has exited."""
    with _children_lock:
        _children.pop(proc.pid, None)
