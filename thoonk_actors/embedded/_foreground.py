"""``thoonk server``: the embedded server tied to this process until it exits.

Synopsis: ``run_embedded_server_foreground(on_ready=print) -> 0``.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable
from types import FrameType

from .._errors import EmbeddedServerError, UsageError
from ._datadir import Paths, prepare_data_dir
from ._lifecycle import EmbeddedServer, find_running, locked, record_started, start_checked
from ._process import forget, terminate, wait_ready
from ._wire import Info

_SignalHandler = Callable[[int, FrameType | None], object] | int | signal.Handlers | None


def run_embedded_server_foreground(
    data_dir: str | os.PathLike[str] | None = None,
    *,
    timeout: float = 10.0,
    on_ready: Callable[[EmbeddedServer], object] | None = None,
    admin_commands: bool = False,
) -> int:
    """Run the embedded server until it exits; return its exit code (``thoonk server``).

    Same binary, config and data directory as :func:`ensure_embedded_server`, but
    tied to this process: SIGINT, SIGTERM and SIGHUP are forwarded to the server
    as SIGTERM (a clean shutdown that flushes the AOF; a second SIGINT would make
    Redis exit without flushing). Must run in the main thread, which owns signals.
    Other processes share the server through the socket while it runs.

    Args:
        data_dir: the data directory; default :func:`default_data_dir`.
        timeout: seconds to wait for the server to answer after starting.
        on_ready: called once with the :class:`EmbeddedServer` when it answers.
        admin_commands: keep CONFIG and DEBUG usable (see :func:`ensure_embedded_server`).

    Returns:
        The server's exit code (0 after a clean shutdown); 128 + n if it died of signal n.

    Raises:
        EmbeddedServerError: a server already runs there, the data directory is
            not safe, or it cannot start.
        UsageError: not called from the main thread.
    """
    if threading.current_thread() is not threading.main_thread():
        raise UsageError(
            "run_embedded_server_foreground() must run in the main thread, "
            "which receives the signals it forwards."
        )
    paths = Paths.of(data_dir)
    deadline = time.monotonic() + timeout
    prepare_data_dir(paths)
    stop_requested = False

    def forward(signum: int, frame: FrameType | None) -> None:
        nonlocal stop_requested
        stop_requested = True
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)

    with locked(paths, deadline):
        running = find_running(paths, deadline, timeout)
        if running is not None:
            raise EmbeddedServerError(
                f"A Thoonk server is already running in {paths.data_dir} "
                f"(pid {running.pid}, {paths.url}); stop it with `thoonk server stop`."
            )
        handled = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
        previous: dict[signal.Signals, _SignalHandler] = {
            sig: signal.getsignal(sig) for sig in handled
        }
        proc, choice = start_checked(paths, deadline, admin_commands=admin_commands)
        try:
            for sig in handled:
                signal.signal(sig, forward)
            try:
                info: Info | None = wait_ready(paths, proc, deadline, timeout)
            except EmbeddedServerError:
                if not stop_requested:
                    raise
                info = None  # stopped while starting: not an error
            server = None if info is None else record_started(paths, info, choice)
        except BaseException:
            _restore_signals(previous)
            terminate(proc)
            raise
    try:
        if server is not None and on_ready is not None:
            on_ready(server)
        code = proc.wait()
    except BaseException:
        terminate(proc)
        raise
    finally:
        _restore_signals(previous)
        forget(proc)
    return code if code >= 0 else 128 - code


def _restore_signals(previous: dict[signal.Signals, _SignalHandler]) -> None:
    for sig, handler in previous.items():
        if handler is not None:  # None: installed outside Python; nothing to restore
            signal.signal(sig, handler)
