"""Run N worker processes of one app, restart the ones that crash, forward signals.

Synopsis::

    from thoonk_actors.runtime import run_workers
    sys.exit(run_workers("examples.worker_app:app", processes=4))   # blocks

Each worker is ``python -m thoonk_actors.runtime._child module:app``: its own
interpreter and trio loop, in its own session (so a terminal's Ctrl-C reaches
only this supervisor, which forwards it once). The Redis URL is resolved once
here (``url``, else ``$THOONK_REDIS_URL``, else the embedded server, started
if needed) and handed to every worker in ``$THOONK_REDIS_URL``, so they all
share one embedded server.

A worker that exits while no stop was asked for is restarted after a
backoff (0.5 s doubling to 10 s; back to 0.5 s after a run of a minute). The
first SIGINT/SIGTERM is forwarded (graceful stop, ``grace`` seconds for
running handlers); a second is forwarded too (the workers stop at once); a
third, or a worker still alive ``grace + KILL_MARGIN`` seconds after the
first, gets SIGKILL (its claims come back through the reapers).
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys

import trio

from .._errors import UsageError
from .._nursery import open_service_nursery
from ..embedded import URL_ENV, resolve_url_sync
from ._logging import configure_logging
from ._supervise import sleep_or_stop
from ._target import load_app

log = logging.getLogger(__name__)

RESTART_FIRST = 0.5
RESTART_MAX = 10.0
HEALTHY_AFTER = 60.0
#: Seconds past the grace period after which a stopping worker is killed.
KILL_MARGIN = 10.0


def run_workers(
    target: str,
    processes: int = 1,
    *,
    url: str | None = None,
    grace: float | None = None,
    burst: bool = False,
) -> int:
    """``sys.exit(run_workers("myapp:app", 4))``: run worker processes until SIGINT/SIGTERM.

    Blocks (it runs its own trio loop; call it from the main thread of a
    program, e.g. the ``thoonk worker`` command).

    Args:
        target: ``"module:app"``, importable from the current directory.
        processes: how many worker processes (each runs every registration).
        url: the Redis URL; None: the app's, else ``$THOONK_REDIS_URL``, else
            the embedded server (started once, here, and shared).
        grace: seconds running handlers get to finish on a stop (default: the app's).
        burst: each worker stops once every queue is drained; returns when all did.

    Returns:
        0 when every worker stopped cleanly, 1 when one had to be killed or
        failed while stopping.

    Raises:
        UsageError: ``target`` cannot be imported or is not an App; ``processes`` < 1.
    """
    if isinstance(processes, bool) or not isinstance(processes, int) or processes < 1:
        raise UsageError(f"processes must be an int >= 1, not {processes!r}")
    configure_logging()
    app = load_app(target)  # fail here, once, rather than in every worker
    resolved = resolve_url_sync(url or app.url)
    wait_grace = app.grace if grace is None else grace
    command = [sys.executable, "-m", "thoonk_actors.runtime._child", target]
    command += ["--parent", str(os.getpid())]
    if grace is not None:
        command += ["--grace", repr(float(grace))]
    if burst:
        command.append("--burst")
    env = {**os.environ, URL_ENV: resolved}
    pool = _Pool(command, env, processes, burst=burst, kill_after=wait_grace + KILL_MARGIN)
    return trio.run(pool.run)


class _Pool:
    """The worker processes and their keepers."""

    def __init__(
        self,
        command: list[str],
        env: dict[str, str],
        processes: int,
        *,
        burst: bool,
        kill_after: float,
    ) -> None:
        self._command = command
        self._env = env
        self._processes = processes
        self._burst = burst
        self._kill_after = kill_after
        self._procs: dict[int, trio.Process] = {}
        self._stopping = trio.Event()
        self._failed = False

    async def run(self) -> int:
        async with open_service_nursery() as nursery:
            await nursery.start(self._forward_signals)
            async with open_service_nursery() as keepers:
                for slot in range(self._processes):
                    keepers.start_soon(self._keep, slot)
            nursery.cancel_scope.cancel()
        return 1 if self._failed else 0

    async def _keep(self, slot: int) -> None:
        delay = RESTART_FIRST
        while not self._stopping.is_set():
            started = trio.current_time()
            proc = await trio.lowlevel.open_process(
                self._command, env=self._env, start_new_session=True
            )
            self._procs[slot] = proc
            log.info("worker %d started (pid %d)", slot, proc.pid)
            try:
                code = await proc.wait()
            finally:
                del self._procs[slot]
                if proc.returncode is None:  # we were cancelled: do not leave it behind
                    proc.kill()
            if self._stopping.is_set():
                if code != 0 and code not in (-signal.SIGTERM, -signal.SIGINT):
                    log.warning("worker %d (pid %d) stopped with code %s", slot, proc.pid, code)
                    self._failed = True
                return
            if self._burst and code == 0:
                log.info("worker %d (pid %d) is done", slot, proc.pid)
                return
            if trio.current_time() - started >= HEALTHY_AFTER:
                delay = RESTART_FIRST
            log.warning(
                "worker %d (pid %d) exited (%s); restarting in %.1f s",
                slot, proc.pid, _describe(code), delay,
            )  # fmt: skip
            await sleep_or_stop(delay, self._stopping)
            delay = min(delay * 2, RESTART_MAX)

    async def _forward_signals(self, task_status: trio.TaskStatus[None]) -> None:
        with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as received:
            task_status.started()
            count = 0
            async with trio.open_nursery() as nursery:
                async for signum in received:
                    count += 1
                    if count == 1:
                        log.info(
                            "%s: stopping %d workers", signal.Signals(signum).name, len(self._procs)
                        )
                        self._stopping.set()
                        nursery.start_soon(self._kill_late)
                    if count <= 2:
                        self._send(signum)
                    else:
                        self._send(signal.SIGKILL)

    async def _kill_late(self) -> None:
        await trio.sleep(self._kill_after)
        if self._procs:
            log.warning("killing %d workers still running", len(self._procs))
            self._failed = True
            self._send(signal.SIGKILL)

    def _send(self, signum: int) -> None:
        for proc in list(self._procs.values()):
            if proc.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.send_signal(signum)


def _describe(code: int) -> str:
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"
