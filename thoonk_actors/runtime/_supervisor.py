"""Run N worker processes of one app, restart the ones that crash, forward signals.

Synopsis::

    from thoonk_actors.runtime import run_workers
    sys.exit(run_workers("examples.worker_app:app", processes=4))   # blocks

Each worker is ``python -m thoonk_actors.runtime._child module:app``: its own
interpreter and trio loop, in its own session (so a terminal's Ctrl-C reaches
only this supervisor, which forwards it once). The Redis URL is resolved once
here (``url``, else ``$THOONK_REDIS_URL``, else the embedded server, started
if needed) and handed to every worker in ``$THOONK_REDIS_URL``, so they all
share one embedded server. ``worker_setup`` (:class:`WorkerSetup`) names a
hook each worker runs around its app; its function is imported here first,
then in each worker (``--setup JSON``), which is told its slot (``--slot N``).

A worker that exits while no stop was asked for is restarted after a
backoff (0.5 s doubling to 10 s; back to 0.5 s after a run of a minute).

Stopping (docs/runtime.md, "Signals and grace"): the supervisor counts the
SIGINT/SIGTERM sent to it. The first is passed on to every worker as an
order on its control pipe ("stop gracefully", ``grace`` seconds for running
handlers), the second as "stop at once", the third is SIGKILL; so is a
worker still alive ``grace + KILL_MARGIN`` seconds after the first (its
claims come back through the reapers). Orders are levels, not signals: a
worker that also received the SIGTERM itself (systemd's
``KillMode=control-group``, ``pkill``) counts it once. Workers are started
with SIGINT/SIGTERM blocked, and a stop that arrives while the supervisor
itself starts up is held (:class:`SignalLatch`) and honoured as soon as it
can be: no signal is lost and none becomes a traceback.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys

import trio

from .._backoff import BackoffPolicy
from .._errors import UsageError
from .._nursery import open_service_nursery
from ..objects import URL_ENV, resolve_url_sync
from ._logging import configure_logging
from ._setup import WorkerSetup
from ._signals import (
    STOP_SIGNALS,
    SignalLatch,
    StopRequested,
    block_stop_signals,
    installed_latch,
)
from ._supervise import sleep_or_stop
from ._target import load_app

log = logging.getLogger(__name__)

RESTART_FIRST = 0.5
RESTART_MAX = 10.0
HEALTHY_AFTER = 60.0
#: Pauses before restarting a worker that exited: a run of a minute starts them over.
RESTART_BACKOFF = BackoffPolicy(
    first=RESTART_FIRST, maximum=RESTART_MAX, healthy_after=HEALTHY_AFTER
)
#: Seconds past the grace period after which a stopping worker is killed.
KILL_MARGIN = 10.0


def run_workers(
    target: str,
    processes: int = 1,
    *,
    url: str | None = None,
    grace: float | None = None,
    burst: bool = False,
    worker_setup: WorkerSetup | None = None,
    metrics_port: int | None = None,
    metrics_host: str | None = None,
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
        worker_setup: a hook each worker process runs around its app (the
            Prometheus exporter: ``thoonk_actors.metrics.worker_exporter(port)``,
            worker ``i`` serving on ``port + i``); see :class:`WorkerSetup`.
        metrics_port: removed: raises UsageError saying to pass
            ``worker_setup=worker_exporter(port, host)`` instead.
        metrics_host: removed, as ``metrics_port``.

    Returns:
        0 when every worker stopped cleanly, 1 when one had to be killed or
        failed while stopping.

    Raises:
        UsageError: ``target`` cannot be imported or is not an App; ``processes`` < 1;
            ``worker_setup``'s function cannot be imported; ``metrics_port`` given.
    """
    if isinstance(processes, bool) or not isinstance(processes, int) or processes < 1:
        raise UsageError(f"processes must be an int >= 1, not {processes!r}")
    if metrics_port is not None or metrics_host is not None:
        # The runtime does not import the metrics add-on (it sits above): the
        # add-on builds the hook. A clear error rather than a TypeError.
        raise UsageError(
            "run_workers(metrics_port=..., metrics_host=...) was removed: pass "
            "worker_setup=worker_exporter(port, host) (from thoonk_actors.metrics) instead"
        )
    if worker_setup is not None and not isinstance(worker_setup, WorkerSetup):
        raise UsageError(f"worker_setup must be a WorkerSetup, not a {type(worker_setup).__name__}")
    configure_logging()
    latch = installed_latch()  # `thoonk worker` installed one as its first instruction
    own_latch = latch is None
    if latch is None:
        latch = SignalLatch().install()
    try:
        try:
            with latch.interrupting():
                app = load_app(target)  # fail here, once, rather than in every worker
                if worker_setup is not None:
                    worker_setup.load()  # the same: a typo stops here
        except StopRequested as stop:
            log.info("%s: stopping before any worker started", stop)
            return 0
        resolved = resolve_url_sync(url or app.url)
        wait_grace = app.grace if grace is None else grace
        command = [sys.executable, "-m", "thoonk_actors.runtime._child", target]
        if grace is not None:
            command += ["--grace", repr(float(grace))]
        if burst:
            command.append("--burst")
        if worker_setup is not None:
            command += ["--setup", worker_setup.to_json()]
        env = {**os.environ, URL_ENV: resolved}
        pool = _Pool(command, env, processes, burst=burst, kill_after=wait_grace + KILL_MARGIN)
        return trio.run(pool.run, latch)
    finally:
        if own_latch:
            latch.uninstall()


class _Worker:
    """One worker process and the write end of its control pipe."""

    def __init__(self, proc: trio.Process, control: int) -> None:
        self.proc = proc
        self.control = control

    def order(self, level: int) -> None:
        """Write a stop order (1 graceful, 2 at once); a worker already gone is fine."""
        with contextlib.suppress(OSError):
            os.write(self.control, str(level).encode())


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
        self._workers: dict[int, _Worker] = {}
        self._stopping = trio.Event()
        self._signals = 0
        self._level = 0  # the stop order every worker has (0: none yet)
        self._failed = False

    async def run(self, latch: SignalLatch) -> int:
        async with open_service_nursery() as nursery:
            await nursery.start(self._forward_signals, latch)
            nursery.start_soon(self._kill_late)
            async with open_service_nursery() as keepers:
                for slot in range(self._processes):
                    keepers.start_soon(self._keep, slot)
            nursery.cancel_scope.cancel()
        return 1 if self._failed else 0

    async def _keep(self, slot: int) -> None:
        backoff = RESTART_BACKOFF.start()
        while not self._stopping.is_set():
            backoff.run_started()
            worker = await self._start(slot)
            proc = worker.proc
            log.info("worker %d started (pid %d)", slot, proc.pid)
            try:
                code = await proc.wait()
            finally:
                del self._workers[slot]
                os.close(worker.control)
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
            delay = backoff.run_failed()
            log.warning(
                "worker %d (pid %d) exited (%s); restarting in %.1f s",
                slot, proc.pid, _describe(code), delay,
            )  # fmt: skip
            await sleep_or_stop(delay, self._stopping)

    async def _start(self, slot: int) -> _Worker:
        """Start one worker: its own session, SIGINT/SIGTERM held, a control pipe."""
        control_read, control_write = os.pipe()  # both close-on-exec; pass_fds shares one
        try:
            proc = await trio.lowlevel.open_process(
                [*self._command, "--slot", str(slot), "--control", str(control_read)],
                env=self._env,
                start_new_session=True,  # a terminal's Ctrl-C reaches only the supervisor
                pass_fds=(control_read,),
                preexec_fn=block_stop_signals,  # held from its first instruction (module doc)
            )
        except BaseException:
            os.close(control_write)
            raise
        finally:
            os.close(control_read)
        worker = self._workers[slot] = _Worker(proc, control_write)
        if self._level:  # a stop came while it was being started: it gets the order too
            worker.order(self._level)
        return worker

    async def _forward_signals(
        self, latch: SignalLatch, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
    ) -> None:
        with trio.open_signal_receiver(*STOP_SIGNALS) as received:
            for signum in latch.take():  # held while the supervisor started: no worker yet
                self._on_signal(signum)
            task_status.started()
            async for signum in received:
                self._on_signal(signum)

    def _on_signal(self, signum: int) -> None:
        self._signals += 1
        name = signal.Signals(signum).name
        if self._signals == 1:
            log.info("%s: stopping %d workers", name, len(self._workers))
            self._stopping.set()
        if self._signals <= 2:
            if self._signals == 2:
                log.warning("%s again: the workers stop at once", name)
            self._level = self._signals
            for worker in list(self._workers.values()):
                worker.order(self._level)
        else:
            log.warning("%s a third time: killing the workers", name)
            self._kill()

    async def _kill_late(self) -> None:
        await self._stopping.wait()
        await trio.sleep(self._kill_after)
        if self._workers:
            log.warning("killing %d workers still running", len(self._workers))
            self._failed = True
            self._kill()

    def _kill(self) -> None:
        for worker in list(self._workers.values()):
            if worker.proc.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    worker.proc.send_signal(signal.SIGKILL)


def _describe(code: int) -> str:
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"
