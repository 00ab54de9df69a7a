"""One worker process of :func:`run_workers` (its own trio loop).

Synopsis::

    python -m thoonk_actors.runtime._child examples.worker_app:app [--grace 10] [--burst]
        [--control FD] [--slot N] [--setup JSON]

Runs the app until stopped. A stop comes from two places, and the worker's
stop level is the higher of the two (docs/runtime.md, "Signals and grace"):

* its own SIGINT/SIGTERM, counted: the first is a graceful stop, the second
  stops at once, the third cancels everything. These are signals sent to
  this process from outside (``pkill``, systemd's ``KillMode=control-group``).
* the supervisor's orders on the pipe ``--control FD``: a byte ``1``
  (graceful) or ``2`` (at once). Orders are levels, not counts: the
  supervisor passing on the SIGTERM that this process also received directly
  is the same graceful stop, not a second signal. End of file on the pipe
  (the supervisor is gone) is a graceful stop, so no worker is left orphaned.

A stop is honoured whenever it arrives: the supervisor starts this process
with SIGINT/SIGTERM blocked (held until a :class:`SignalLatch` takes them
over); a stop while the target is importing ends the process at once with
exit 0 (nothing was claimed); one while the app is connecting (or its setup
hook is entered) cancels the start-up; one while the app itself opens stops
it as soon as it runs (only a third signal cancels it there: a cancel could
land as it opened). A running app is stopped, and the process ends once the
app, the setup hook's block and the client are all closed: nothing bounds
that wait but a third signal (a hook's own clean-up is not cut short). Exit
codes: 0 stopped cleanly, 1 crashed, 2 the target is wrong (or the worker
setup's input is: a :class:`UsageError` from it).

``--setup`` is a :class:`WorkerSetup` as JSON, ``--slot`` which worker of
the supervisor this is: the hook runs around the app (runtime/_setup.py).
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from collections.abc import Sequence
from contextlib import AsyncExitStack, suppress

import trio

from .._errors import UsageError
from .._nursery import open_service_nursery
from ..objects import default_worker_id, open_thoonk
from ._app import App
from ._logging import configure_logging
from ._running import RunningApp
from ._setup import SetupFunction, WorkerContext, WorkerSetup
from ._signals import STOP_SIGNALS, SignalLatch, StopRequested
from ._target import load_app

# Not __name__: run with -m, that would be "__main__".
log = logging.getLogger("thoonk_actors.runtime._child")

#: Stop levels: graceful (grace period), at once (handlers cancelled), cancel everything.
GRACEFUL, NOW, CANCEL = 1, 2, 3
#: The bytes of the supervisor's orders on the control pipe.
ORDERS = {b"1"[0]: GRACEFUL, b"2"[0]: NOW}


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv``, run the app until stopped; the exit code."""
    latch = SignalLatch().install()  # first: a signal held since exec arrives, recorded
    parser = argparse.ArgumentParser(prog="python -m thoonk_actors.runtime._child")
    parser.add_argument("target", help="module:app")
    parser.add_argument("--grace", type=float, default=None)
    parser.add_argument("--burst", action="store_true")
    parser.add_argument("--control", type=int, default=None)
    parser.add_argument("--setup", default=None, help="a WorkerSetup as JSON")
    parser.add_argument("--slot", type=int, default=0)
    args = parser.parse_args(argv)
    configure_logging()
    stop = _Stop(args.grace)
    try:
        with latch.interrupting():
            if args.control is not None:
                threading.Thread(
                    target=stop.read_orders, args=(args.control,), name="orders", daemon=True
                ).start()
            try:
                app = load_app(args.target)
                hook = None if args.setup is None else _Hook.load(args.setup, args.slot)
            except UsageError as exc:
                log.error("%s", exc)
                return 2
            stop.started_importing_done()
        trio.run(_serve, app, args.burst, stop, latch, hook)
    except UsageError as exc:  # the setup's input is wrong (a port in use): say so, no traceback
        log.error("%s", exc)
        return 2
    except (StopRequested, KeyboardInterrupt):
        # A stop before the app started (while importing the target): nothing
        # was claimed yet, so this is a clean stop.
        log.info("worker %d stopped before it started", os.getpid())
        return 0
    except Exception:
        log.exception("worker %d crashed", os.getpid())
        return 1
    return 0


class _Stop:
    """The stop level of this process: its own signals and the supervisor's orders meet here.

    Before trio runs, orders are only recorded (an order while the target is
    still importing ends the process: nothing was started). Inside trio,
    :meth:`raise_to` applies a higher level to the running app, or cancels
    the start-up if the app is not running yet; while the app opens, a stop
    short of cancelling everything waits until it runs (see :attr:`opening`).
    """

    def __init__(self, grace: float | None) -> None:
        self.grace = grace
        self.level = 0
        self.signals = 0
        self._lock = threading.Lock()
        self._importing = True
        self._token: trio.lowlevel.TrioToken | None = None
        self._pending_order = 0
        self.running: RunningApp | None = None
        self.startup: trio.CancelScope | None = None
        #: ``app.open()`` has been entered. A cancel of the start-up could land
        #: in the very step in which it returns, before :meth:`set_running`: the
        #: app would be cancelled as it opened, with its client (the hook's
        #: clean-up cut short, the workers' goodbyes failing). So from here a
        #: graceful or at-once stop waits for the app to run (one step, or the
        #: subscription of its feeds), then stops it; only a third cancels.
        self.opening = False
        #: Waiting for the app, the hook and the client to close (after the app stopped).
        self.closing: trio.CancelScope | None = None

    # ------------------------------------------------- the supervisor's orders

    def read_orders(self, fd: int) -> None:
        """The ``orders`` thread: read the control pipe until end of file."""
        while True:
            try:
                data = os.read(fd, 64)
            except OSError:
                data = b""
            levels = [ORDERS[byte] for byte in data if byte in ORDERS]
            if not data:
                levels = [GRACEFUL]
            self._order(max(levels, default=0), gone=not data)
            if not data:
                return

    def _order(self, level: int, *, gone: bool) -> None:
        if level == 0:
            return
        with self._lock:
            if self._importing:
                # Nothing claimed, nothing connected: end here, without a traceback.
                # Holding the lock keeps the main thread from starting the app meanwhile.
                log.info("worker %d stopped before it started", os.getpid())
                logging.shutdown()
                os._exit(0)
            token = self._token
            if token is None:
                self._pending_order = max(self._pending_order, level)
                return
        with suppress(trio.RunFinishedError):
            token.run_sync_soon(self._apply_order, level, gone)

    def _apply_order(self, level: int, gone: bool) -> None:
        if gone:
            log.warning("the supervisor is gone; stopping")
        self.raise_to(level, "the supervisor's order")

    def started_importing_done(self) -> None:
        with self._lock:
            self._importing = False

    def attach(self) -> None:
        """In trio: orders go to this loop from now on (the recorded one applied)."""
        with self._lock:
            self._token = trio.lowlevel.current_trio_token()
            pending, self._pending_order = self._pending_order, 0
        if pending:
            self.raise_to(pending, "the supervisor's order")

    # ------------------------------------------------------- own signals

    def signal(self, signum: int) -> None:
        """One SIGINT/SIGTERM sent to this process (in trio)."""
        self.signals += 1
        self.raise_to(min(self.signals, CANCEL), signal.Signals(signum).name)

    # ------------------------------------------------------------ applying

    def raise_to(self, level: int, why: str) -> None:
        if level <= self.level:
            return
        self.level = level
        if self.running is None and self.opening and level < CANCEL:
            log.info("%s: the app is opening; stopping it once it runs", why)
            return
        if self.running is None:
            log.info("%s: stopping before the app started", why)
            if self.startup is not None:
                self.startup.cancel()
            return
        self._apply(why)

    def _apply(self, why: str) -> None:
        running = self.running
        assert running is not None
        if self.level == GRACEFUL:
            seconds = running.grace if self.grace is None else self.grace
            log.info("%s: stopping; running handlers get %g s to finish", why, seconds)
            running.stop_nowait(self.grace)
        elif self.level == NOW:
            log.warning("%s: stopping at once; running handlers are cancelled", why)
            running.stop_nowait(0)
        else:
            log.warning("%s a third time: cancelling everything", why)
            running.cancel()
            if self.closing is not None:
                self.closing.cancel()

    def set_running(self, running: RunningApp) -> None:
        self.running = running
        if self.level:
            self._apply("a stop asked during start-up")


class _Hook:
    """The worker setup of this process, its function imported (before trio runs)."""

    def __init__(self, setup: WorkerSetup, function: SetupFunction, slot: int) -> None:
        self.setup = setup
        self.function = function
        self.slot = slot

    @classmethod
    def load(cls, text: str, slot: int) -> _Hook:
        setup = WorkerSetup.from_json(text)
        return cls(setup, setup.load(), slot)


async def _serve(
    app: App, burst: bool, stop: _Stop, latch: SignalLatch, hook: _Hook | None
) -> None:
    finished = trio.Event()
    async with open_service_nursery() as nursery:
        await nursery.start(_count_signals, stop, latch)
        stop.attach()
        with trio.CancelScope() as startup:
            stop.startup = startup
            if stop.level:
                startup.cancel()
            await nursery.start(_run_app, app, burst, stop, hook, finished)
        stop.startup = None
        if startup.cancel_called:
            # A stop cancelled the start-up. _run_app has ended, everything it
            # opened closed: a task that calls task_status.started() inside a
            # cancelled start() is not moved to this nursery (trio's rule), and
            # start() returns only once it is done. That holds even when the
            # cancel landed in the step in which app.open() returned (a third
            # signal can, see _Stop.opening): the app is then recorded
            # (stop.running), and cancelled at once.
            if stop.running is None:
                log.info("worker %d stopped before it started", os.getpid())
            else:
                log.info("worker %d stopped as it started", os.getpid())
        else:
            # Not only stopped: closed, the hook's block ended and the client too
            # (cancelling earlier would cut a hook's own clean-up short); a third
            # signal cancels that wait, and with it the clean-up.
            with trio.CancelScope() as stop.closing:
                if stop.level >= CANCEL:
                    stop.closing.cancel()
                await finished.wait()
        nursery.cancel_scope.cancel()


async def _run_app(
    app: App,
    burst: bool,
    stop: _Stop,
    hook: _Hook | None,
    finished: trio.Event,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Connect, enter the setup hook (before any job is claimed), run the app; ``finished``
    once all three are closed (set however this ends: nobody waits for it in vain)."""
    try:
        async with (
            open_thoonk(app.url, worker_id=default_worker_id()) as thoonk,
            AsyncExitStack() as stack,
        ):
            worker = None
            if hook is not None:
                worker = WorkerContext(app, hook.slot, thoonk)
                await stack.enter_async_context(hook.setup.open(hook.function, worker))
            stop.opening = True
            running = await stack.enter_async_context(app.open(thoonk=thoonk, burst=burst))
            log.info("worker %s running %r", running.worker_id, app)
            if worker is not None:
                worker.set_running(running)
            stop.set_running(running)  # a stop asked meanwhile applies now
            task_status.started()  # (does nothing if a stop cancelled the start-up)
            await running.wait_stopped()
    finally:
        finished.set()


async def _count_signals(
    stop: _Stop, latch: SignalLatch, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
) -> None:
    with trio.open_signal_receiver(*STOP_SIGNALS) as received:
        for signum in latch.take():  # held before this receiver existed
            stop.signal(signum)
        task_status.started()
        async for signum in received:
            stop.signal(signum)


if __name__ == "__main__":
    sys.exit(main())
