"""Stop a running app on SIGINT / SIGTERM.

Synopsis::

    async with app.open() as running, trio.open_nursery() as nursery:
        await nursery.start(stop_on_signals, running)   # or app.run(handle_signals=True)
        await running.wait_stopped()

First signal: a graceful stop (claim no more, in-flight handlers get the
grace period). Second: stop now (handlers cancelled, their jobs released).
Third: cancel everything (the release still runs, shielded and bounded).
Only in the main thread (trio's rule for signal handlers).

For processes that must honour a stop at *any* moment (``thoonk worker``, its
worker processes): :func:`block_stop_signals` holds SIGINT/SIGTERM from the
first instruction, a :class:`SignalLatch` then records them (raising
:class:`StopRequested` only around plain-Python start-up work such as
importing the app) until the trio task that owns the stop takes them with
``latch.take()``. The rules are in docs/runtime.md, "Signals and grace".
"""

from __future__ import annotations

import logging
import signal
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

import trio

from ._running import RunningApp

log = logging.getLogger(__name__)

STOP_SIGNALS: tuple[signal.Signals, ...] = (signal.SIGINT, signal.SIGTERM)


async def stop_on_signals(
    running: RunningApp,
    grace: float | None = None,
    *,
    signals: Iterable[signal.Signals] = STOP_SIGNALS,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    """``await nursery.start(stop_on_signals, running)``: signals stop ``running`` (module doc)."""
    with trio.open_signal_receiver(*signals) as received:
        task_status.started()
        count = 0
        async for signum in received:
            count += 1
            name = signal.Signals(signum).name
            if count == 1:
                seconds = running.grace if grace is None else grace
                log.info(
                    "%s: stopping; running handlers get %g s to finish (send it again to "
                    "stop at once)", name, seconds,
                )  # fmt: skip
                running.stop_nowait(grace)
            elif count == 2:
                log.warning("%s again: cancelling running handlers, releasing their jobs", name)
                running.stop_nowait(0)
            else:
                log.warning("%s a third time: cancelling everything", name)
                running.cancel()


class StopRequested(BaseException):
    """Raised by a :class:`SignalLatch` while it interrupts (a stop before anything started)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


class SignalLatch:
    """SIGINT/SIGTERM recorded, never lost, outside a trio signal receiver (one per process).

    A worker process (and the supervisor) must honour a stop whenever it
    arrives, "from the first instruction to the last": the signals are
    blocked before Python runs (the supervisor starts its workers with them
    blocked; ``thoonk`` blocks them as its first instruction), then this latch
    takes them over. While :meth:`interrupting` (plain Python, e.g. importing
    the app) a signal raises :class:`StopRequested`, a clean early stop; any
    other time it is only recorded, never raised into trio's machinery, and
    the trio code that owns the stop reads the record with :meth:`take`
    once its own signal receiver is open. After that receiver closes (the
    last instants of the process) signals are recorded and ignored.
    """

    def __init__(self, signals: Iterable[signal.Signals] = STOP_SIGNALS) -> None:
        self.signals = tuple(signals)
        self._received: list[int] = []
        self._interrupting = False
        self._previous: dict[int, Any] = {}

    @property
    def received(self) -> tuple[int, ...]:
        """The signals recorded and not yet taken."""
        return tuple(self._received)

    def take(self) -> list[int]:
        """The signals recorded so far (oldest first); forgotten here."""
        taken, self._received = self._received, []
        return taken

    @contextmanager
    def interrupting(self) -> Iterator[None]:
        """``with latch.interrupting(): load_app(...)``: a signal raises StopRequested here."""
        if self._received:
            raise StopRequested(self._received[0])
        self._interrupting = True
        try:
            yield
        finally:
            self._interrupting = False

    def install(self) -> SignalLatch:
        """Take the signals over (main thread), then unblock them: held ones arrive now."""
        global _installed
        for signum in self.signals:
            self._previous[signum] = signal.signal(signum, self._handle)
        _installed = self
        signal.pthread_sigmask(signal.SIG_UNBLOCK, self.signals)
        return self

    def uninstall(self) -> None:
        """Give the signals back to the handlers found by :meth:`install`."""
        global _installed
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous.clear()
        if _installed is self:
            _installed = None

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        self._received.append(signum)
        if self._interrupting:
            self._interrupting = False
            raise StopRequested(signum)


_installed: SignalLatch | None = None


def installed_latch() -> SignalLatch | None:
    """The latch this process installed, if any (``thoonk worker`` installs one first thing)."""
    return _installed


def block_stop_signals() -> None:
    """Hold SIGINT/SIGTERM (this thread): they wait, pending, for a :class:`SignalLatch`.

    Also a ``preexec_fn``: a child started with it holds them from its first
    instruction, before Python itself has set anything up.
    """
    signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
