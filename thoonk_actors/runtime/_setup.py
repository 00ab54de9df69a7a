"""A start-up hook for the worker processes of :func:`run_workers`.

Synopsis::

    # myhooks.py: run in every worker process, around its app
    @asynccontextmanager
    async def open_probe(worker: WorkerContext, *, path: str) -> AsyncIterator[None]:
        ...                                  # before the app claims anything
        running = await worker.wait_running()  # (in a task) once it runs
        yield                                # the block is the app's lifetime

    run_workers("myapp:app", 2, worker_setup=WorkerSetup("myhooks:open_probe", {"path": "/x"}))

Why a dotted path and JSON arguments rather than a Python callable: each
worker is a fresh interpreter (``python -m thoonk_actors.runtime._child``), so
what it runs must be named and its arguments written on its command line, not
pickled. This is how add-ons above the runtime (the Prometheus exporter of
``thoonk worker --metrics-port``) run inside a worker without the runtime
importing them: the add-on hands over a :class:`WorkerSetup`, the runtime only
imports the path it was given.

In each worker: the client is connected, the setup function is called with a
:class:`WorkerContext` and the keyword arguments, and the async context manager
it returns is entered before the app opens (so a port it binds is bound
before any job is claimed); :attr:`WorkerContext.running` is set once the app
runs; on a stop the app closes first, then the hook's block, then the client.
A :class:`~thoonk_actors.UsageError` from the hook ends the worker with exit
code 2 (its message logged in one line), any other exception with 1; the
supervisor restarts it either way, as for any exit not asked for.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import trio

from .._errors import UsageError
from ._target import import_target

if TYPE_CHECKING:
    from ..objects import Thoonk
    from ._app import App
    from ._running import RunningApp

#: What a setup function is: ``function(worker, **kwargs)`` -> an async context manager.
SetupFunction = Callable[..., AbstractAsyncContextManager[object]]


@dataclass(frozen=True, slots=True)
class WorkerSetup:
    """``WorkerSetup("myhooks:open_probe", {"path": "/x"})``: what each worker process runs.

    Attributes:
        function: ``"module:function"``, importable in the worker processes
            (from the current directory, like the app). Called as
            ``function(worker, **kwargs)`` with a :class:`WorkerContext`; it
            returns an async context manager (``@asynccontextmanager``).
        kwargs: keyword arguments, JSON values (str, int, float, bool, None,
            lists, dicts with str keys): they cross to the worker on its
            command line.

    Raises:
        UsageError: ``function`` is not ``module:function``, or ``kwargs`` are
            not JSON values that come back unchanged.
    """

    function: str
    kwargs: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.function, str) or not _is_dotted(self.function):
            raise UsageError(
                f"a worker setup function is 'module:function' (for example "
                f"myhooks:open_probe), not {self.function!r}"
            )
        if not isinstance(self.kwargs, Mapping) or not all(
            isinstance(key, str) for key in self.kwargs
        ):
            raise UsageError(
                f"the worker setup's kwargs must be a mapping with str keys, not {self.kwargs!r}"
            )
        object.__setattr__(self, "kwargs", dict(self.kwargs))
        try:
            same = json.loads(json.dumps(self.kwargs, allow_nan=False)) == self.kwargs
        except (TypeError, ValueError):
            same = False
        if not same:
            raise UsageError(
                "the worker setup's kwargs cross to the worker processes as JSON: use str, int, "
                f"float, bool, None, lists and dicts with str keys, not {self.kwargs!r}"
            )

    def to_json(self) -> str:
        """The setup as one JSON text (the worker's ``--setup`` argument)."""
        return json.dumps({"function": self.function, "kwargs": self.kwargs}, allow_nan=False)

    @classmethod
    def from_json(cls, text: str) -> WorkerSetup:
        """The setup :meth:`to_json` wrote.

        Raises:
            UsageError: ``text`` is not such a JSON object.
        """
        try:
            data = json.loads(text)
            return cls(data["function"], data.get("kwargs", {}))
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise UsageError(f"not a worker setup: {text!r} ({exc})") from None

    def load(self) -> SetupFunction:
        """Import the function (in the supervisor first, so a typo stops it before any worker).

        Raises:
            UsageError: it cannot be imported or is not callable.
        """
        function = import_target(self.function, "module:function", "myhooks:open_probe")
        if not callable(function):
            raise UsageError(
                f"the worker setup {self.function!r} is a {type(function).__name__}, not a function"
            )
        return function

    def open(
        self, function: SetupFunction, worker: WorkerContext
    ) -> AbstractAsyncContextManager[object]:
        """``async with setup.open(setup.load(), worker)``: the hook's block (the worker's side).

        Raises:
            UsageError: the function did not return an async context manager.
        """
        manager: object = function(worker, **self.kwargs)
        if not isinstance(manager, AbstractAsyncContextManager):
            raise UsageError(
                f"the worker setup {self.function!r} returned a {type(manager).__name__}, not an "
                "async context manager; decorate it with @contextlib.asynccontextmanager"
            )
        return manager


def _is_dotted(target: str) -> bool:
    module, sep, attribute = target.partition(":")
    return bool(sep and module and attribute)


class WorkerContext:
    """What a :class:`WorkerSetup` function is given, in one worker process.

    Attributes:
        app: the app this process runs.
        slot: which worker of the supervisor this is, 0 to ``processes - 1``,
            kept by its restarts (worker ``i`` of the metrics serves on
            ``port + i``).
        thoonk: the connected client the app runs on.
        running: the running app (its :meth:`~RunningApp.statistics`), None
            until the app has started: the hook is entered before.
    """

    def __init__(self, app: App, slot: int, thoonk: Thoonk) -> None:
        self.app = app
        self.slot = slot
        self.thoonk = thoonk
        self.running: RunningApp | None = None
        self._started = trio.Event()

    async def wait_running(self) -> RunningApp:
        """``running = await worker.wait_running()``: once the app runs (in a task of the hook)."""
        await self._started.wait()
        assert self.running is not None
        return self.running

    def set_running(self, running: RunningApp) -> None:
        """The worker process says its app runs (wakes :meth:`wait_running`); not for hooks."""
        self.running = running
        self._started.set()
